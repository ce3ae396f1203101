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

/// Waits up to five seconds for `store` to lead `name`.
async fn lead_soon(store: &Arc<dyn Store>, name: &str) -> Option<Box<dyn opm_store::Leadership>> {
    for _ in 0..50 {
        if let Some(leadership) = store.try_lead(name).await.unwrap() {
            return Some(leadership);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_among_processes() {
    db(Kind::Postgres, |db: TestDb| async move {
        let other = db.open_another().await;
        let first = db.store.try_lead("rollouts").await.unwrap().expect("the first store leads");
        assert!(other.try_lead("rollouts").await.unwrap().is_none(), "the second store does not");
        assert!(db.store.try_lead("rollouts").await.unwrap().is_none(), "nor a second call of the first");
        assert!(first.still_held().await);
        let unrelated = other.try_lead("retention").await.unwrap().expect("names are independent");

        first.release().await;
        let second = lead_soon(&other, "rollouts").await.expect("the second store leads after a release");
        assert!(db.store.try_lead("rollouts").await.unwrap().is_none());
        drop(second);
        let third = lead_soon(&db.store, "rollouts").await.expect("a dropped leadership is released");

        // A leader whose connection dies (as when its process does) loses the lock to the other.
        let kill = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = '{}' \
             AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')",
            opm_store::postgres::LEADER_APPLICATION_NAME
        );
        db.execute_raw(&kill).await.unwrap();
        assert!(!third.still_held().await, "the lost connection is noticed");
        assert!(!unrelated.still_held().await, "the other store's leadership was on a killed connection too");
        let taken_over = lead_soon(&other, "rollouts").await.expect("the other store takes over");
        assert!(taken_over.still_held().await);
    })
    .await;
}
