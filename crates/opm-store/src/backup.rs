//! SQLite backups: an online, consistent copy of a live database ([`backup`]), the checks a copy
//! must pass before anyone trusts it ([`verify_backup`]), and putting a copy in place of a stopped
//! server's database ([`restore`]).
//!
//! The copy is `VACUUM INTO`: one read transaction, so it is the database as of one commit, and in
//! WAL mode it neither blocks the running server's writer nor waits for it. It is written to
//! `DEST.partial`, synced, verified, then renamed to `DEST`, so a `DEST` that exists is complete.
//! Verification runs `PRAGMA integrity_check`, recomputes the whole audit hash chain, compares its
//! head with the `audit_head` row, and refuses a schema this binary does not know (a newer OPM's).
//! PostgreSQL has its own tools (`pg_dump`, `pg_restore`); these functions say so for a
//! `postgres://` URL rather than pretend.

use std::path::{Path, PathBuf};
use std::time::Duration;

use opm_core::audit::ChainVerifier;
use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode, SqlitePoolOptions};
use sqlx::{Connection, SqliteConnection};

use crate::sqlite::{MIGRATOR, SqliteStore};
use crate::{DatabaseUrl, Store, StoreError, StoreResult};

/// What a verified backup (or a restored database) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The backup file (for a restore: the database written).
    pub path: PathBuf,
    pub bytes: u64,
    /// The newest migration applied in the copy.
    pub schema_version: i64,
    pub projects: u64,
    pub prompts: u64,
    pub versions: u64,
    /// Audit entries checked; the chain verified from the first to the last.
    pub audit_entries: u64,
    pub audit_head_hash: String,
}

/// How [`restore`] treats an existing database.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Replace an existing database (it is kept beside as `opm.db.replaced-TIMESTAMP`). A database a
    /// running process has open is refused even so.
    pub replace_existing: bool,
}

/// Writes an online, consistent copy of the SQLite database named by `database_url` to
/// `destination` (which must not exist), verifies it and returns what it holds.
pub async fn backup(database_url: &str, destination: &Path) -> StoreResult<BackupSummary> {
    let source = sqlite_file(database_url, "back up")?;
    if !source.is_file() {
        return Err(StoreError::InvalidInput(format!("there is no SQLite database at {}", source.display())));
    }
    if destination.exists() {
        return Err(StoreError::DatabaseExists(format!(
            "{} already exists; choose a new file name (backups are never overwritten)",
            destination.display()
        )));
    }
    let partial = with_suffix(destination, ".partial");
    remove_if_exists(&partial)?;
    let options = SqliteConnectOptions::new().filename(&source).busy_timeout(Duration::from_secs(10));
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let target = partial
        .to_str()
        .ok_or_else(|| StoreError::InvalidInput(format!("the backup path {} is not valid UTF-8", partial.display())))?;
    sqlx::query("VACUUM INTO ?").bind(target).execute(&mut conn).await?;
    conn.close().await?;
    restrict_permissions(&partial)?;
    sync_file(&partial)?;
    let summary = match verify_backup(&partial).await {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, destination).map_err(|error| io_error("rename the finished backup", error))?;
    sync_parent(destination)?;
    Ok(BackupSummary { path: destination.to_owned(), ..summary })
}

/// Checks a backup file without changing it: SQLite's integrity check, a schema this binary knows,
/// and the audit chain recomputed from the first entry to the `audit_head` row.
pub async fn verify_backup(path: &Path) -> StoreResult<BackupSummary> {
    let bytes = std::fs::metadata(path).map_err(|error| io_error(&format!("read {}", path.display()), error))?.len();
    let invalid = |why: String| StoreError::BackupInvalid(format!("{}: {why}", path.display()));
    // `immutable`: no locks, no -wal or -shm files; nobody writes a backup.
    let options = SqliteConnectOptions::new().filename(path).read_only(true).immutable(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|error| invalid(format!("not a readable SQLite database ({error})")))?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&pool)
        .await
        .map_err(|error| invalid(format!("not a readable SQLite database ({error})")))?;
    if integrity != ["ok"] {
        return Err(invalid(format!("integrity check failed: {}", integrity.join("; "))));
    }
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&pool)
        .await
        .map_err(|_| invalid("not an OPM database (no migration table)".into()))?;
    let known: Vec<i64> = MIGRATOR.iter().map(|migration| migration.version).collect();
    if let Some(unknown) = applied.iter().find(|version| !known.contains(version)) {
        return Err(invalid(format!("written by a newer OPM (schema migration {unknown} is unknown to this binary)")));
    }
    let schema_version = applied.last().copied().ok_or_else(|| invalid("no migration was ever applied".into()))?;
    let projects = count(&pool, "SELECT count(*) FROM projects").await?;
    let prompts = count(&pool, "SELECT count(*) FROM prompts").await?;
    let versions = count(&pool, "SELECT count(*) FROM versions").await?;
    let (head_seq, head_hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&pool).await?;
    let store = SqliteStore::read_only(pool);
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        const PAGE: u32 = 1000;
        let page = store.audit_chain_page(after, PAGE).await?;
        for entry in &page {
            verifier.check(entry).map_err(|broken| {
                invalid(format!("the audit chain is broken at entry {}: {}", broken.seq, broken.reason))
            })?;
            after = entry.seq;
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    if after != head_seq || verifier.head_hash() != head_hash {
        return Err(invalid(format!(
            "the audit chain ends at entry {after} but the audit head says {head_seq} (entries missing)"
        )));
    }
    Ok(BackupSummary {
        path: path.to_owned(),
        bytes,
        schema_version,
        projects,
        prompts,
        versions,
        audit_entries: verifier.checked(),
        audit_head_hash: head_hash,
    })
}

/// Verifies `backup`, then makes it the SQLite database named by `database_url`. Refuses a
/// database some process has open (stop the server first) and, unless
/// [`RestoreOptions::replace_existing`], any existing database.
pub async fn restore(backup: &Path, database_url: &str, options: RestoreOptions) -> StoreResult<BackupSummary> {
    let target = sqlite_file(database_url, "restore")?;
    verify_backup(backup).await?;
    let wal = with_suffix(&target, "-wal");
    if target.exists() {
        if in_use(&target).await? {
            return Err(StoreError::DatabaseInUse(format!(
                "{} is open in a running process (an `opm serve`?); stop it before restoring",
                target.display()
            )));
        }
        if !options.replace_existing {
            return Err(StoreError::DatabaseExists(format!(
                "{} already exists; pass --force to replace it (it is kept beside as a .replaced file)",
                target.display()
            )));
        }
    }
    if let Some(parent) = target.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| io_error("create the data directory", error))?;
    }
    let incoming = with_suffix(&target, ".restoring");
    remove_if_exists(&incoming)?;
    std::fs::copy(backup, &incoming).map_err(|error| io_error("copy the backup", error))?;
    sync_file(&incoming)?;
    if target.exists() {
        // The old database and its WAL move together, so the kept copy stays whole.
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = with_suffix(&target, &format!(".replaced-{stamp}"));
        std::fs::rename(&target, &aside).map_err(|error| io_error("move the old database aside", error))?;
        if wal.exists() {
            std::fs::rename(&wal, with_suffix(&aside, "-wal"))
                .map_err(|error| io_error("move the old WAL aside", error))?;
        }
    }
    // A WAL or shared-memory file left by the old database must never be applied to the new one.
    remove_if_exists(&wal)?;
    remove_if_exists(&with_suffix(&target, "-shm"))?;
    std::fs::rename(&incoming, &target).map_err(|error| io_error("move the restored database in place", error))?;
    sync_parent(&target)?;
    let summary = verify_backup(&target).await?;
    Ok(summary)
}

/// The SQLite file a URL names, or a clear refusal for PostgreSQL and in-memory databases.
fn sqlite_file(database_url: &str, what: &str) -> StoreResult<PathBuf> {
    match DatabaseUrl::parse(database_url)? {
        DatabaseUrl::SqliteFile(path) => Ok(path),
        DatabaseUrl::SqliteMemory => {
            Err(StoreError::InvalidInput(format!("an in-memory database has nothing to {what}")))
        }
        DatabaseUrl::Postgres => Err(StoreError::InvalidInput(format!(
            "`opm backup` is for SQLite; to {what} PostgreSQL use its own tools: \
             `pg_dump --format=custom` and `pg_restore` (see docs/deploy.md)"
        ))),
    }
}

/// Whether another process has the database open: a connection in exclusive locking mode cannot
/// read a WAL database while others hold it (SQLite's own locks on the file and its -shm file).
async fn in_use(path: &Path) -> StoreResult<bool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::ZERO)
        .locking_mode(SqliteLockingMode::Exclusive);
    let mut conn = match SqliteConnection::connect_with(&options).await {
        Ok(conn) => conn,
        Err(error) if is_busy(&error) => return Ok(true),
        Err(error) => return Err(error.into()),
    };
    let probe = async {
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await?;
        sqlx::query("SELECT count(*) FROM sqlite_master").execute(&mut conn).await?;
        sqlx::query("ROLLBACK").execute(&mut conn).await
    }
    .await;
    let _ = conn.close().await;
    match probe {
        Ok(_) => Ok(false),
        Err(error) if is_busy(&error) => Ok(true),
        Err(error) => Err(error.into()),
    }
}

async fn count(pool: &sqlx::SqlitePool, sql: &'static str) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database) => {
            matches!(database.code().as_deref(), Some("5") | Some("6") | Some("517") | Some("261"))
        }
        _ => false,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_exists(path: &Path) -> StoreResult<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_error(&format!("remove {}", path.display()), error)),
    }
}

/// A backup holds every prompt and the key hashes: readable by its owner only.
fn restrict_permissions(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|error| io_error(&format!("restrict the permissions of {}", path.display()), error))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn sync_file(path: &Path) -> StoreResult<()> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|error| io_error(&format!("sync {}", path.display()), error))
}

fn sync_parent(path: &Path) -> StoreResult<()> {
    let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|error| io_error(&format!("sync {}", parent.display()), error))
}

fn io_error(what: &str, error: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot {what}: {error}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[tokio::test]
    async fn postgres_and_memory_urls_are_refused_with_the_right_tool() {
        let dir = tempfile::tempdir().unwrap();
        let error = backup("postgres://opm:secret@db/opm", &dir.path().join("b.db")).await.unwrap_err();
        assert!(error.to_string().contains("pg_dump") && !error.to_string().contains("secret"), "{error}");
        let error = backup("sqlite::memory:", &dir.path().join("b.db")).await.unwrap_err();
        assert_eq!(error.code(), "invalid_input");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, b"this is not a database, just some bytes to fill a page").unwrap();
        let error = verify_backup(&path).await.unwrap_err();
        assert_eq!(error.code(), "backup_invalid", "{error}");
    }
}
