//! What only the SQLite backend promises: the file is created in WAL mode, data survives a reopen,
//! two stores (processes) on one file still serialize their writes, and `connect` dispatches.

use std::sync::Arc;

use opm_store::{SqliteStore, Store, StoreError};
use sqlx::Connection;

use crate::assert_err;
use crate::fixtures::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_the_file_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-name.db");
    assert!(!path.exists());
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.exists());
    store.ping().await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        publish(&store, "welcome", "v1").await;
        publish(&store, "welcome", "v2").await;
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let prompt_now = store.get_prompt(&default_project(), &prompt("welcome")).await.unwrap();
    assert_eq!(prompt_now.latest_version, Some(2));
    assert_eq!(verify_chain(&store).await, Ok(3));
    assert_eq!(publish(&store, "welcome", "v3").await.version, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_serialize_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let first: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let second: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    first.create_prompt(&new_prompt("shared"), &ctx()).await.unwrap();
    let tasks: Vec<_> = [first.clone(), second.clone()]
        .into_iter()
        .enumerate()
        .map(|(which, store)| {
            tokio::spawn(async move {
                for index in 0..20 {
                    let new = new_version(&format!("store {which} publish {index}"));
                    store.publish_version(&default_project(), &prompt("shared"), &new, &ctx()).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let versions = second.list_versions(&default_project(), &prompt("shared"), None, 100).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), (1..=40).rev().collect::<Vec<u32>>());
    assert_eq!(verify_chain(&first).await, Ok(41));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_dispatches_on_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("opm.db").display());
    let store = opm_store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    publish(&store, "welcome", "v1").await;

    let memory = opm_store::connect("sqlite::memory:").await.unwrap();
    publish(&memory, "welcome", "v1").await;
    assert_eq!(verify_chain(&memory).await, Ok(2));

    let unsupported = opm_store::connect("mysql://root@localhost/opm").await.map(|store| store.backend());
    assert_err!(unsupported, StoreError::InvalidInput(_));
}
