//! Concurrent writers: contiguous version numbers, one winner per name, one audit chain.

use std::sync::Arc;

use opm_core::auth::Role;
use opm_store::{NewApiKey, Store, StoreError};

use crate::fixtures::*;

const TASKS: usize = 8;
const PUBLISHES: usize = 10;

pub async fn concurrent_publishes_get_contiguous_versions(store: Arc<dyn Store>) {
    store.create_prompt(&new_prompt("busy"), &ctx()).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..PUBLISHES {
                let new = new_version(&format!("task {task} publish {index}"));
                let outcome = store.publish_version(&default_project(), &prompt("busy"), &new, &ctx()).await.unwrap();
                assert!(outcome.created);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let versions = store.list_versions(&default_project(), &prompt("busy"), None, 1000).await.unwrap();
    let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
    let expected: Vec<u32> = (1..=(TASKS * PUBLISHES) as u32).rev().collect();
    assert_eq!(numbers, expected);
    let mut hashes: Vec<_> = versions.iter().map(|v| v.content_hash.clone()).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), TASKS * PUBLISHES);
    assert_eq!(verify_chain(&store).await, Ok((1 + TASKS * PUBLISHES) as u64));
}

pub async fn concurrent_creates_have_one_winner(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.create_prompt(&new_prompt("contested"), &ctx()).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::PromptExists(_)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(audit_actions(&store).await, ["prompt.create"]);
}

pub async fn concurrent_implicit_creation_and_publishing(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let new = new_version_creating("implicit", &format!("from task {task}"));
                store.publish_version(&default_project(), &prompt("implicit"), &new, &ctx()).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.prompt_created).count(), 1);
    let mut numbers: Vec<u32> = outcomes.iter().map(|o| o.version.version).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=TASKS as u32).collect::<Vec<_>>());
}

pub async fn concurrent_mixed_writes_keep_one_chain(store: Arc<dyn Store>) {
    for name in ["a", "b"] {
        publish(&store, name, "seed").await;
    }
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let name = if task % 2 == 0 { "a" } else { "b" };
            for index in 0..5 {
                let version = publish(&store, name, &format!("t{task} i{index}")).await;
                let target = version_target(version.version);
                let label_name = label(&format!("l{task}"));
                store.set_label(&default_project(), &prompt(name), &label_name, &target, "move", &ctx()).await.unwrap();
                let key = NewApiKey {
                    id: format!("k{task}-{index}"),
                    name: "k".into(),
                    role: Role::Viewer,
                    project: None,
                    secret_hash: format!("h{task}-{index}"),
                    expires_at: None,
                };
                store.create_key(&key, &ctx()).await.unwrap();
                let _ = store.list_audit(&all_audit()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let trail = audit_trail(&store).await;
    let seeded = 4;
    assert_eq!(trail.len(), seeded + TASKS * 5 * 3);
    assert_eq!(verify_chain(&store).await, Ok(trail.len() as u64));
    for name in ["a", "b"] {
        let versions = store.list_versions(&default_project(), &prompt(name), None, 1000).await.unwrap();
        let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
        assert_eq!(numbers, (1..=21).rev().collect::<Vec<u32>>(), "prompt {name}");
    }
}
