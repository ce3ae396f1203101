//! SQLite backups (`opm_store::backup`): a copy taken while a writer is busy is consistent and
//! verifies; a tampered audit chain, a truncated copy or a newer schema is refused; restore
//! refuses a database in use and, without the flag, an existing one, and keeps what it replaced.

use std::sync::Arc;

use opm_store::backup::{self, RestoreOptions};
use opm_store::{SqliteStore, Store};
use sqlx::Connection;

use crate::fixtures::*;

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_holds_every_write_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    for index in 0..20 {
        publish(&store, "busy", &format!("before {index}")).await;
    }
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for index in 0..200 {
                publish(&store, "busy", &format!("during {index}")).await;
            }
        })
    };
    let destination = dir.path().join("backup.db");
    let summary = backup::backup(&url(&path), &destination).await.unwrap();
    writer.await.unwrap();
    assert!(destination.is_file() && !dir.path().join("backup.db.partial").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&destination).unwrap().permissions().mode() & 0o777, 0o600);
    // 20 versions before the backup started, at most all 220; the chain was verified from one
    // prompt creation plus one entry per version.
    assert!((20..=220).contains(&summary.versions), "{summary:?}");
    assert_eq!(summary.audit_entries, summary.versions + 1, "{summary:?}");
    assert_eq!(summary.prompts, 1);
    // A second backup never overwrites the first.
    let error = backup::backup(&url(&path), &destination).await.unwrap_err();
    assert_eq!(error.code(), "database_exists", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_truncated_backup_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        publish(&store, "welcome", "v1").await;
        publish(&store, "welcome", "v2").await;
    }
    let good = dir.path().join("good.db");
    backup::backup(&url(&path), &good).await.unwrap();

    let tampered = dir.path().join("tampered.db");
    std::fs::copy(&good, &tampered).unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url(&tampered)).await.unwrap();
    sqlx::query("DROP TRIGGER audit_no_update").execute(&mut conn).await.unwrap();
    sqlx::query("UPDATE audit SET reason = 'rewritten' WHERE seq = 2").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let error = backup::verify_backup(&tampered).await.unwrap_err();
    assert!(error.code() == "backup_invalid" && error.to_string().contains("broken at entry 2"), "{error}");

    let newer = dir.path().join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url(&newer)).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let error = backup::verify_backup(&newer).await.unwrap_err();
    assert!(error.to_string().contains("newer OPM"), "{error}");

    let truncated = dir.path().join("truncated.db");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let error = backup::verify_backup(&truncated).await.unwrap_err();
    assert_eq!(error.code(), "backup_invalid", "{error}");
    // A refused backup is never restored.
    let target = dir.path().join("restored.db");
    assert!(backup::restore(&tampered, &url(&target), RestoreOptions::default()).await.is_err());
    assert!(!target.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_live_or_existing_database_and_keeps_what_it_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let sqlite = Arc::new(SqliteStore::open(&path).await.unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    publish(&store, "welcome", "v1").await;
    let copy = dir.path().join("copy.db");
    backup::backup(&url(&path), &copy).await.unwrap();
    publish(&store, "welcome", "v2").await;

    let live = backup::restore(&copy, &url(&path), RestoreOptions { replace_existing: true }).await.unwrap_err();
    assert_eq!(live.code(), "database_in_use", "{live}");
    sqlite.close().await;
    let existing = backup::restore(&copy, &url(&path), RestoreOptions::default()).await.unwrap_err();
    assert_eq!(existing.code(), "database_exists", "{existing}");

    let summary = backup::restore(&copy, &url(&path), RestoreOptions { replace_existing: true }).await.unwrap();
    assert_eq!(summary.versions, 1);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    assert_eq!(store.get_prompt(&default_project(), &prompt("welcome")).await.unwrap().latest_version, Some(1));
    assert_eq!(verify_chain(&store).await, Ok(2));
    // The database it replaced (two versions) is kept beside, whole.
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("opm.db.replaced-") && !name.ends_with("-wal") && !name.ends_with("-shm"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let old: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join(&aside[0])).await.unwrap());
    assert_eq!(old.get_prompt(&default_project(), &prompt("welcome")).await.unwrap().latest_version, Some(2));
}
