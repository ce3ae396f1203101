//! OPM's storage port: the [`Store`] trait every backend implements, the types it speaks, and the
//! SQLite ([`sqlite`]) and PostgreSQL ([`postgres`]) backends.
//!
//! Invariants every backend keeps (checked by the conformance suite in `tests/conformance`, run against both backends):
//! - every mutation and its audit entry commit in one transaction; a failed call writes nothing;
//! - version numbers are 1, 2, 3… per prompt with no gaps, even under concurrent writers;
//! - the audit trail is one hash chain ([`opm_core::audit`]) appended under a lock, never edited;
//! - a committed change is announced on [`Store::subscribe`] (to every replica, on PostgreSQL);
//! - SQL lives only in this crate; queries bind parameters and never format values into SQL;
//! - stored generations ([`GenerationRow`]) are telemetry: batched, unaudited, never announced;
//! - at most one active rollout per label, and while it is active only it moves the label.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use opm_core::audit::{AuditEntry, AuditRecord};
use opm_core::auth::{ApiKey, Role};
use opm_core::content::VersionContent;
use opm_core::governance::{ChangeRequest, GovernancePolicy};
use opm_core::label::{Label, LabelChange, LabelTarget};
use opm_core::names::{LabelName, ProjectName, PromptName, TagName};
use opm_core::prompt::{Actor, Prompt, PromptVersion};
use opm_core::rollout::Rollout;
use tokio::sync::broadcast;

pub mod backup;
mod engine;
pub mod error;
mod generations;
pub mod governance;
mod leadership;
mod ops;
pub mod postgres;
mod rollouts;
mod rows;
mod session;
mod sql;
pub mod sqlite;

pub use error::StoreError;
pub use generations::{
    Feedback, GenerationOutcome, GenerationRow, GroupStats, MAX_FEEDBACK_COMMENT_CHARS, MAX_GENERATION_ID_BYTES,
    NewFeedback, Percentiles, SpendRow, StatsGroupBy, StatsQuery,
};
pub use governance::{
    ChangeRequestFilter, NewChangeRequest, PolicyChange, RequestAction, RequestDecision, StoredPolicy,
};
pub use leadership::Leadership;
pub use postgres::PostgresStore;
pub use rollouts::{NewRollout, RolloutFilter, RolloutUpdate};
pub use sqlite::SqliteStore;

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Who is making a change, under which request and when, recorded in the audit entry.
#[derive(Debug, Clone)]
pub struct MutationContext {
    pub actor: Actor,
    pub request_id: Option<String>,
    /// When the change happens, by the caller's clock (the registry's, adjustable in tests): every
    /// timestamp the mutation stores (created, updated, revoked, label moved, audited) is this one,
    /// truncated to microseconds. The store never reads the system clock for them.
    pub at: DateTime<Utc>,
}

impl MutationContext {
    /// A change by `actor` at `at`, outside any request.
    pub fn new(actor: Actor, at: DateTime<Utc>) -> Self {
        Self { actor, request_id: None, at }
    }

    /// [`MutationContext::at`] truncated to the microseconds every backend stores (and the audit
    /// hash covers).
    pub(crate) fn stamp(&self) -> DateTime<Utc> {
        rows::truncate_micros(self.at)
    }
}

/// A project (namespace).
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub name: ProjectName,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new prompt.
#[derive(Debug, Clone)]
pub struct NewPrompt {
    pub project: ProjectName,
    pub name: PromptName,
    pub description: String,
    pub tags: Vec<TagName>,
}

/// Changes to a prompt's description and tags (`None` leaves a field as it is).
#[derive(Debug, Clone, Default)]
pub struct PromptPatch {
    pub description: Option<String>,
    pub tags: Option<Vec<TagName>>,
}

/// Filters and page for listing prompts. Results are ordered by name.
#[derive(Debug, Clone)]
pub struct PromptFilter {
    pub tag: Option<TagName>,
    /// Only prompts that have this label (`latest` matches every prompt with a version).
    pub label: Option<LabelName>,
    pub include_archived: bool,
    /// Start after this name (cursor).
    pub after: Option<PromptName>,
    pub limit: u32,
}

/// A version to publish.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub content: VersionContent,
    pub message: String,
    /// When set and the prompt does not exist, it is created with these fields in the same
    /// transaction; when `None` and the prompt does not exist, the call fails with not found.
    pub create_prompt: Option<NewPrompt>,
}

/// What publishing did.
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    pub version: PromptVersion,
    /// `false` when the content equalled the latest version's and that version was returned.
    pub created: bool,
    pub prompt_created: bool,
}

/// Which version of a prompt to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    Label(LabelName),
    Version(u32),
}

/// A resolved prompt: the prompt, the label it was resolved through (if any) and the version.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub prompt: Prompt,
    /// The label and its target, when resolved by label.
    pub label: Option<Label>,
    pub version: PromptVersion,
}

/// A key to store (the secret itself is never stored).
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub project: Option<ProjectName>,
    pub secret_hash: String,
    /// When the key stops working; `None` for never. Must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Audit filters; entries come newest first, paged by `before_seq`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub project: Option<String>,
    /// Entries whose target is this prompt or something under it.
    pub prompt: Option<String>,
    /// Matches the actor's key id or name.
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (exclusive, so `since`/`until` ranges tile).
    pub until: Option<DateTime<Utc>>,
    /// Only entries with `seq` below this (cursor).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// What changed, announced after commit so caches can drop what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    /// A prompt, one of its versions or one of its labels changed.
    Prompt { project: ProjectName, prompt: PromptName },
    /// An API key was created or revoked.
    Key { id: String },
    /// A project was created.
    Project { project: ProjectName },
    /// Notifications may have been missed (listener reconnected): drop everything.
    Resync,
}

/// The storage port. Backends are selected at start-up and used as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Receives change events committed by this process and, on PostgreSQL, by other replicas.
    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent>;

    // Projects. The `default` project exists after migrations.
    async fn create_project(&self, name: &ProjectName, ctx: &MutationContext) -> StoreResult<Project>;
    async fn list_projects(&self) -> StoreResult<Vec<Project>>;
    async fn get_project(&self, name: &ProjectName) -> StoreResult<Project>;

    // Prompts.
    async fn create_prompt(&self, new: &NewPrompt, ctx: &MutationContext) -> StoreResult<Prompt>;
    /// Returns archived prompts too (with `archived: true`).
    async fn get_prompt(&self, project: &ProjectName, name: &PromptName) -> StoreResult<Prompt>;
    async fn list_prompts(&self, project: &ProjectName, filter: &PromptFilter) -> StoreResult<Vec<Prompt>>;
    /// Archived prompts refuse updates; a patch that changes nothing writes nothing (no audit entry).
    async fn update_prompt(
        &self,
        project: &ProjectName,
        name: &PromptName,
        patch: &PromptPatch,
        ctx: &MutationContext,
    ) -> StoreResult<Prompt>;
    /// Archives (`true`) or restores (`false`); archiving an archived prompt is a conflict.
    async fn set_archived(
        &self,
        project: &ProjectName,
        name: &PromptName,
        archived: bool,
        ctx: &MutationContext,
    ) -> StoreResult<Prompt>;

    // Versions.
    /// Publishes a version, or returns the latest one unchanged when its content hash is equal.
    /// Archived prompts refuse new versions.
    async fn publish_version(
        &self,
        project: &ProjectName,
        name: &PromptName,
        new: &NewVersion,
        ctx: &MutationContext,
    ) -> StoreResult<PublishOutcome>;
    /// Versions newest first, `before` is a version-number cursor.
    async fn list_versions(
        &self,
        project: &ProjectName,
        name: &PromptName,
        before: Option<u32>,
        limit: u32,
    ) -> StoreResult<Vec<PromptVersion>>;
    async fn get_version(&self, project: &ProjectName, name: &PromptName, version: u32) -> StoreResult<PromptVersion>;

    // Labels. `latest` is automatic: it is listed and resolvable but never stored or moved.
    /// Points a label at a target whose versions must exist; records history and audit.
    /// Archived prompts refuse it; setting the target the label already has writes nothing.
    async fn set_label(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        target: &LabelTarget,
        reason: &str,
        ctx: &MutationContext,
    ) -> StoreResult<Label>;
    /// Restores the label's previous target (the `from` of its newest history entry), so two
    /// rollbacks toggle. Archived prompts refuse it.
    async fn rollback_label(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        reason: &str,
        ctx: &MutationContext,
    ) -> StoreResult<Label>;
    /// Stored labels and the automatic `latest` (when a version exists), ordered by name.
    async fn list_labels(&self, project: &ProjectName, name: &PromptName) -> StoreResult<Vec<Label>>;
    /// Newest first. `latest` has no history; a label that never existed is not found.
    async fn label_history(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        limit: u32,
    ) -> StoreResult<Vec<LabelChange>>;
    /// Resolves a label or version number; archived prompts are not resolvable.
    async fn resolve(&self, project: &ProjectName, name: &PromptName, selector: &Selector) -> StoreResult<Resolved>;

    // API keys.
    async fn create_key(&self, new: &NewApiKey, ctx: &MutationContext) -> StoreResult<ApiKey>;
    /// Keys of one project, or every key (global ones included) for `None`; revoked keys too.
    async fn list_keys(&self, project: Option<&ProjectName>) -> StoreResult<Vec<ApiKey>>;
    /// Revokes a key. The last active global admin key cannot be revoked
    /// ([`StoreError::LastAdminKey`], checked inside the write transaction).
    async fn revoke_key(&self, id: &str, ctx: &MutationContext) -> StoreResult<ApiKey>;
    /// Moves each key's `last_used_at` forward to the given time (never back), in one transaction,
    /// without an audit entry or a change event. Unknown ids are ignored.
    async fn record_key_use(&self, uses: &[(String, DateTime<Utc>)]) -> StoreResult<()>;
    /// Finds a key (revoked or not) by the hash of its secret.
    async fn find_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Every key ever created, revoked ones included.
    async fn count_keys(&self) -> StoreResult<u64>;

    // Audit.
    /// Appends a standalone entry (e.g. an authorization failure) to the chain; `at` is stored to
    /// the microsecond.
    async fn append_audit(&self, record: AuditRecord) -> StoreResult<AuditEntry>;
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
    /// Entries with `seq > after_seq` in ascending order, for chain verification.
    async fn audit_chain_page(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>>;

    // Generations: telemetry, written without audit entries or change events.
    /// Inserts a batch in one transaction; ids already stored are skipped (not an error). Returns
    /// how many rows were new. A row that fails its checks fails the batch before anything is written.
    async fn insert_generations(&self, rows: &[GenerationRow]) -> StoreResult<u64>;
    /// Gateway spend per project, key and UTC day from `first_day` on. Each batch of
    /// [`Store::insert_generations`] adds the costs of its new rows in its own transaction.
    async fn spend_since(&self, first_day: NaiveDate) -> StoreResult<Vec<SpendRow>>;
    /// The generation, if it exists in this project.
    async fn get_generation(&self, project: &ProjectName, id: &str) -> StoreResult<GenerationRow>;
    /// Every stored generation, in every project.
    async fn count_generations(&self) -> StoreResult<u64>;
    /// Deletes at most `limit` of the oldest generations started before `cutoff`, with their
    /// feedback, and returns how many; call it until it returns less than `limit`.
    async fn delete_generations_before(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Records feedback on a generation of the project (several per generation are fine).
    async fn add_feedback(&self, new: &NewFeedback) -> StoreResult<Feedback>;
    /// The generation's feedback, oldest first.
    async fn list_feedback(&self, project: &ProjectName, generation_id: &str) -> StoreResult<Vec<Feedback>>;
    /// Statistics of a prompt's generations in a time window, one entry per group: versions newest
    /// first, labels, models and arms by name, calls without one ([`GroupStats::NONE`]) last.
    async fn generation_stats(&self, query: &StatsQuery) -> StoreResult<Vec<GroupStats>>;

    // Rollouts: at most one active (progressing or paused) per label; while one is active,
    // `set_label` and `rollback_label` refuse that label with `RolloutInProgress`.
    /// Starts a rollout in one transaction: the prompt exists and is not archived, both versions
    /// exist, the label's target is `expected_target` (else `LabelTargetChanged`), no rollout of the
    /// label is active (else `RolloutInProgress`); the label moves to `target` (history kind `set`)
    /// and one `rollout.start` audit entry is written.
    async fn create_rollout(&self, new: &NewRollout, ctx: &MutationContext) -> StoreResult<Rollout>;
    /// Writes a transition in one transaction if `expected_revision` is the stored revision (else
    /// `RolloutConflict`; a finished rollout refuses every transition), moving the label when
    /// `label_target` differs from its target; one audit entry with `update.action`.
    async fn update_rollout(&self, update: &RolloutUpdate, ctx: &MutationContext) -> StoreResult<Rollout>;
    /// The rollout, or `RolloutNotFound`.
    async fn get_rollout(&self, project: &ProjectName, prompt: &PromptName, id: i64) -> StoreResult<Rollout>;
    /// Newest first.
    async fn list_rollouts(&self, filter: &RolloutFilter) -> StoreResult<Vec<Rollout>>;

    // Governance: one policy per project, and change requests on protected labels.
    /// The project's policy; the default (protecting nothing) at revision 0 when none was set.
    async fn get_policy(&self, project: &ProjectName) -> StoreResult<StoredPolicy>;
    /// Replaces the policy if its revision is `expected_revision` (else `PolicyConflict`), with one
    /// audit entry (`change`'s action) holding the old and new policies.
    async fn set_policy(
        &self,
        project: &ProjectName,
        policy: &GovernancePolicy,
        expected_revision: i64,
        change: PolicyChange,
        reason: &str,
        ctx: &MutationContext,
    ) -> StoreResult<StoredPolicy>;
    /// Files a pending request, recording the label's current target for the compare-and-set.
    async fn create_change_request(&self, new: &NewChangeRequest, ctx: &MutationContext) -> StoreResult<ChangeRequest>;
    async fn get_change_request(&self, project: &ProjectName, id: i64) -> StoreResult<ChangeRequest>;
    /// Newest first.
    async fn list_change_requests(&self, filter: &ChangeRequestFilter) -> StoreResult<Vec<ChangeRequest>>;
    /// Approves, rejects or cancels a pending request in one transaction. The approval that
    /// completes it moves the label if it still points at the request's recorded target; if not,
    /// the request is marked stale (committed) and the call fails with `ChangeRequestStale`. The
    /// author's approval is refused (four eyes).
    async fn decide_change_request(
        &self,
        decision: &RequestDecision,
        ctx: &MutationContext,
    ) -> StoreResult<ChangeRequest>;

    // Leadership.
    /// Tries to become the single leader for `name` among every process sharing this database.
    /// `None`: another holds it. PostgreSQL: a session advisory lock on a dedicated connection, so
    /// a leader that dies releases it; SQLite: one leader per store instance (SQLite serves one
    /// process).
    async fn try_lead(&self, name: &str) -> StoreResult<Option<Box<dyn Leadership>>>;
}

/// Opens the store a database URL names, applying pending migrations:
/// `sqlite:PATH`, `sqlite://PATH` (`sqlite:///abs/path` for an absolute path), `sqlite::memory:`,
/// or `postgres://…` / `postgresql://…`.
pub async fn connect(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match DatabaseUrl::parse(database_url)? {
        DatabaseUrl::SqliteFile(path) => Arc::new(SqliteStore::open(&path).await?),
        DatabaseUrl::SqliteMemory => Arc::new(SqliteStore::open_in_memory().await?),
        DatabaseUrl::Postgres => Arc::new(PostgresStore::connect(database_url).await?),
    };
    Ok(store)
}

/// Which backend a database URL names.
#[derive(Debug, PartialEq, Eq)]
enum DatabaseUrl {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres,
}

impl DatabaseUrl {
    fn parse(url: &str) -> StoreResult<DatabaseUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres);
        }
        let Some(rest) = url.strip_prefix("sqlite:") else {
            // Only the scheme is echoed: the rest may hold a password.
            let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
            return Err(StoreError::InvalidInput(format!(
                "unsupported database URL scheme `{scheme}`: use `sqlite:PATH`, `sqlite://PATH` or `postgres://…`"
            )));
        };
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path == ":memory:" {
            return Ok(DatabaseUrl::SqliteMemory);
        }
        if path.is_empty() || path.contains('?') {
            return Err(StoreError::InvalidInput(format!(
                "SQLite URL `{url}` needs a file path and takes no options, e.g. `sqlite://data/opm.db`"
            )));
        }
        Ok(DatabaseUrl::SqliteFile(PathBuf::from(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expected: Option<DatabaseUrl>) {
        assert_eq!(DatabaseUrl::parse(url).ok(), expected, "{url}");
    }

    #[test]
    fn database_urls() {
        let file = |path: &str| Some(DatabaseUrl::SqliteFile(PathBuf::from(path)));
        check("sqlite:opm.db", file("opm.db"));
        check("sqlite://data/opm.db", file("data/opm.db"));
        check("sqlite:///var/lib/opm/opm.db", file("/var/lib/opm/opm.db"));
        check("sqlite::memory:", Some(DatabaseUrl::SqliteMemory));
        check("sqlite://:memory:", Some(DatabaseUrl::SqliteMemory));
        check("postgres://opm@localhost/opm", Some(DatabaseUrl::Postgres));
        check("postgresql://opm:secret@db:5432/opm", Some(DatabaseUrl::Postgres));
        check("sqlite:", None);
        check("sqlite://opm.db?mode=rwc", None);
        check("mysql://root@localhost/opm", None);
        check("opm.db", None);
    }

    #[test]
    fn unsupported_scheme_hides_credentials() {
        let error = DatabaseUrl::parse("mysql://root:hunter2@localhost/opm").unwrap_err().to_string();
        assert!(error.contains("`mysql`") && !error.contains("hunter2"), "{error}");
    }
}
