//! What only the PostgreSQL backend promises: replicas on one database hear each other's changes,
//! a lost listener connection is followed by a resync, and writers in different processes share
//! one sequence of versions and one audit chain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opm_store::{ChangeEvent, Store};

use crate::fixtures::*;
use crate::harness::{Kind, TestDb, db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_hear_each_others_changes() {
    db(Kind::Postgres, |db: TestDb| async move {
        let other = db.open_another().await;
        let mut heard_by_other = other.subscribe();
        let mut heard_by_first = db.store.subscribe();

        let started = Instant::now();
        publish(&db.store, "welcome", "v1").await;
        let event = tokio::time::timeout(Duration::from_secs(1), heard_by_other.recv()).await.unwrap().unwrap();
        assert_eq!(event, prompt_event("welcome"));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(next_event(&mut heard_by_first).await, prompt_event("welcome"), "the writer hears itself too");

        other.create_project(&project("team-b"), &ctx()).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(1), heard_by_first.recv()).await.unwrap().unwrap();
        assert_eq!(event, ChangeEvent::Project { project: project("team-b") });
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_connection_means_resync() {
    db(Kind::Postgres, |db: TestDb| async move {
        let mut events = db.store.subscribe();
        let kill = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = '{}'",
            opm_store::postgres::LISTENER_APPLICATION_NAME
        );
        db.execute_raw(&kill).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
        assert_eq!(event, ChangeEvent::Resync);
        // Listening again: later changes still arrive (after any further resyncs).
        publish(&db.store, "welcome", "v1").await;
        loop {
            match next_event(&mut events).await {
                ChangeEvent::Resync => continue,
                event => break assert_eq!(event, prompt_event("welcome")),
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_sequence_and_chain() {
    db(Kind::Postgres, |db: TestDb| async move {
        let other: Arc<dyn Store> = db.open_another().await;
        db.store.create_prompt(&new_prompt("shared"), &ctx()).await.unwrap();
        let tasks: Vec<_> = [db.store.clone(), other.clone()]
            .into_iter()
            .enumerate()
            .map(|(which, store)| {
                tokio::spawn(async move {
                    for index in 0..20 {
                        let new = new_version(&format!("replica {which} publish {index}"));
                        store.publish_version(&default_project(), &prompt("shared"), &new, &ctx()).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let versions = other.list_versions(&default_project(), &prompt("shared"), None, 100).await.unwrap();
        assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), (1..=40).rev().collect::<Vec<u32>>());
        assert_eq!(verify_chain(&db.store).await, Ok(41));
    })
    .await;
}
