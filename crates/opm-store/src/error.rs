//! The store's one error enum. Messages name the thing that was missing or in conflict; database
//! details are kept for the log and never shown to API clients.

use opm_core::{CoreError, ErrorKind};

/// Errors from a [`crate::Store`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("project `{0}` does not exist")]
    ProjectNotFound(String),
    #[error("project `{0}` already exists")]
    ProjectExists(String),
    #[error("prompt `{0}` does not exist")]
    PromptNotFound(String),
    #[error("prompt `{0}` already exists")]
    PromptExists(String),
    #[error("prompt `{0}` is archived; restore it first")]
    PromptArchived(String),
    #[error("prompt `{0}` is not archived")]
    PromptNotArchived(String),
    #[error("prompt `{prompt}` has no version {version}")]
    VersionNotFound { prompt: String, version: u32 },
    #[error("prompt `{0}` has no versions yet")]
    NoVersions(String),
    #[error("prompt `{prompt}` has no label `{label}`")]
    LabelNotFound { prompt: String, label: String },
    #[error("label `{label}` of prompt `{prompt}` has no previous target to roll back to")]
    NothingToRollBack { prompt: String, label: String },
    #[error("API key `{0}` does not exist")]
    KeyNotFound(String),
    #[error("API key `{0}` is already revoked")]
    KeyRevoked(String),
    #[error("an API key with id `{0}` or the same secret already exists")]
    KeyExists(String),
    #[error(
        "API key `{0}` is the last active global admin key; create another global admin key before revoking it, or the registry is locked out"
    )]
    LastAdminKey(String),
    #[error("label `{label}` of prompt `{prompt}` points at {actual}, not {expected}; read it again")]
    LabelTargetChanged { prompt: String, label: String, expected: String, actual: String },
    #[error("prompt `{prompt}` has no rollout {id}")]
    RolloutNotFound { prompt: String, id: i64 },
    #[error("label `{label}` is being rolled out (rollout {id}); promote or abort that rollout first")]
    RolloutInProgress { label: String, id: i64 },
    #[error("rollout {id} is at revision {actual}, not {expected}: it changed since it was read")]
    RolloutConflict { id: i64, expected: i64, actual: i64 },
    #[error("the governance policy is at revision {actual}, not {expected}: it changed since it was read")]
    PolicyConflict { expected: i64, actual: i64 },
    #[error("change request {id} does not exist in this project")]
    ChangeRequestNotFound { id: i64 },
    #[error(
        "change request {id} is stale: the label points at {actual}, not {expected} as when it was filed; file a new request"
    )]
    ChangeRequestStale { id: i64, expected: String, actual: String },
    #[error("generation `{id}` does not exist in project `{project}`")]
    GenerationNotFound { project: String, id: String },
    #[error("the backup is not usable: {0}")]
    BackupInvalid(String),
    #[error("{0}")]
    DatabaseExists(String),
    #[error("{0}")]
    DatabaseInUse(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Domain(#[from] CoreError),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database answers reads but cannot write: disk full, a file-size limit, read-only storage.
    #[error("the database cannot write (disk full or read-only storage): {0}")]
    NotWritable(String),
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl StoreError {
    /// The protocol-neutral kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::ProjectNotFound(_)
            | StoreError::PromptNotFound(_)
            | StoreError::VersionNotFound { .. }
            | StoreError::NoVersions(_)
            | StoreError::LabelNotFound { .. }
            | StoreError::KeyNotFound(_)
            | StoreError::GenerationNotFound { .. }
            | StoreError::RolloutNotFound { .. }
            | StoreError::ChangeRequestNotFound { .. } => ErrorKind::NotFound,
            StoreError::ProjectExists(_)
            | StoreError::PromptExists(_)
            | StoreError::PromptArchived(_)
            | StoreError::PromptNotArchived(_)
            | StoreError::NothingToRollBack { .. }
            | StoreError::KeyRevoked(_)
            | StoreError::KeyExists(_)
            | StoreError::LastAdminKey(_)
            | StoreError::LabelTargetChanged { .. }
            | StoreError::RolloutInProgress { .. }
            | StoreError::RolloutConflict { .. }
            | StoreError::DatabaseExists(_)
            | StoreError::DatabaseInUse(_)
            | StoreError::PolicyConflict { .. }
            | StoreError::ChangeRequestStale { .. } => ErrorKind::Conflict,
            StoreError::BackupInvalid(_) => ErrorKind::Invalid,
            StoreError::InvalidInput(_) => ErrorKind::Invalid,
            StoreError::Domain(error) => error.kind(),
            StoreError::Unavailable(_) | StoreError::NotWritable(_) => ErrorKind::Unavailable,
            StoreError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The stable code from the error catalogue.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::ProjectNotFound(_) => "project_not_found",
            StoreError::ProjectExists(_) => "project_exists",
            StoreError::PromptNotFound(_) => "prompt_not_found",
            StoreError::PromptExists(_) => "prompt_exists",
            StoreError::PromptArchived(_) => "prompt_archived",
            StoreError::PromptNotArchived(_) => "prompt_not_archived",
            StoreError::VersionNotFound { .. } => "version_not_found",
            StoreError::NoVersions(_) => "no_versions",
            StoreError::LabelNotFound { .. } => "label_not_found",
            StoreError::NothingToRollBack { .. } => "nothing_to_roll_back",
            StoreError::KeyNotFound(_) => "key_not_found",
            StoreError::KeyRevoked(_) => "key_revoked",
            StoreError::KeyExists(_) => "key_exists",
            StoreError::LastAdminKey(_) => "last_admin_key",
            StoreError::GenerationNotFound { .. } => "generation_not_found",
            StoreError::LabelTargetChanged { .. } => "label_target_changed",
            StoreError::RolloutNotFound { .. } => "rollout_not_found",
            StoreError::RolloutInProgress { .. } => "rollout_in_progress",
            // The same code as the core's refused transitions: either way the rollout is not in the
            // state the caller assumed.
            StoreError::RolloutConflict { .. } => "rollout_state_conflict",
            StoreError::BackupInvalid(_) => "backup_invalid",
            StoreError::DatabaseExists(_) => "database_exists",
            StoreError::DatabaseInUse(_) => "database_in_use",
            StoreError::PolicyConflict { .. } => "policy_conflict",
            StoreError::ChangeRequestNotFound { .. } => "change_request_not_found",
            StoreError::ChangeRequestStale { .. } => "change_request_stale",
            StoreError::InvalidInput(_) => "invalid_input",
            StoreError::Domain(error) => error.code(),
            StoreError::Unavailable(_) => "store_unavailable",
            StoreError::NotWritable(_) => "store_not_writable",
            StoreError::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(error.to_string())
            }
            sqlx::Error::Database(database_error) if is_not_writable_code(database_error.code().as_deref()) => {
                StoreError::NotWritable(error.to_string())
            }
            sqlx::Error::Database(database_error) if is_unavailable_code(database_error.code().as_deref()) => {
                StoreError::Unavailable(error.to_string())
            }
            sqlx::Error::Database(database_error) if database_error.code().as_deref() == Some("22021") => {
                // PostgreSQL refuses NUL characters in text; SQLite would have stored them.
                StoreError::Domain(CoreError::InvalidContent("text must not contain NUL characters".into()))
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(inner) => StoreError::from(inner),
            other => StoreError::Internal(format!("migration failed: {other}")),
        }
    }
}

/// Database error codes that mean "no room or no permission to write": PostgreSQL's disk full
/// (53100) and read-only transaction (25006, a standby); SQLite's full (13), read-only (8 and its
/// extended codes) and the write-side I/O errors (write 778, fsync 1034, directory fsync 1290,
/// truncate 1546: what a full disk or a file-size limit produces).
fn is_not_writable_code(code: Option<&str>) -> bool {
    match code {
        Some("53100" | "25006") => true,
        Some(sqlstate) if sqlstate.len() == 5 => false,
        Some(sqlite_code) => sqlite_code
            .parse::<u32>()
            .is_ok_and(|code| matches!(code & 0xff, 13 | 8) || matches!(code, 778 | 1034 | 1290 | 1546)),
        None => false,
    }
}

/// Database error codes that mean "try again later" rather than "this call is wrong".
///
/// PostgreSQL reports five-character SQLSTATEs: connection exceptions (08…), insufficient
/// resources (53…) and operator intervention such as a shutdown (57P…). SQLite reports (extended)
/// result codes as numbers whose low byte is the primary code: busy (5) and locked (6).
fn is_unavailable_code(code: Option<&str>) -> bool {
    match code {
        Some(sqlstate) if sqlstate.len() == 5 => {
            sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57P")
        }
        Some(sqlite_code) => sqlite_code.parse::<u32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(code: &str, unavailable: bool) {
        assert_eq!(is_unavailable_code(Some(code)), unavailable, "{code}");
    }

    #[test]
    fn unavailable_codes() {
        check("5", true); // SQLITE_BUSY
        check("517", true); // SQLITE_BUSY_SNAPSHOT
        check("6", true); // SQLITE_LOCKED
        check("2067", false); // SQLITE_CONSTRAINT_UNIQUE
        check("08006", true); // connection failure
        check("53300", true); // too many connections
        check("57P01", true); // admin shutdown
        check("23505", false); // unique violation
        check("40001", false); // serialization failure
        assert!(!is_unavailable_code(None));
    }

    #[test]
    fn not_writable_codes() {
        for code in ["13", "8", "264", "1032", "778", "1034", "1290", "1546", "53100", "25006"] {
            assert!(is_not_writable_code(Some(code)), "{code}");
        }
        for code in ["5", "10", "266", "2067", "53300", "08006", "23505"] {
            assert!(!is_not_writable_code(Some(code)), "{code}");
        }
        assert!(!is_not_writable_code(None));
    }
}
