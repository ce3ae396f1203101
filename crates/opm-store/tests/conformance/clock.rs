//! The caller's clock stamps every stored time: each mutation runs at a chosen instant years in
//! the past (with nanoseconds, to see the truncation to microseconds), and every timestamp it
//! stores and every audit entry it writes carry that instant, never the system clock's.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opm_core::audit::action;
use opm_core::auth::Role;
use opm_core::rollout::{RolloutSpec, RolloutState, Thresholds, canary_target};
use opm_store::{MutationContext, NewApiKey, NewRollout, PromptPatch, RolloutUpdate, Store};
use serde_json::json;

use crate::fixtures::*;

/// The `n`th instant of the test: 2021-03-04 05:06:07 plus `n` hours and 123,456,789 ns.
fn instant(n: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 3, 4, 5, 6, 7).unwrap()
        + chrono::Duration::hours(i64::from(n))
        + chrono::Duration::nanoseconds(123_456_789)
}

/// What the store keeps of [`instant`]: microseconds.
fn stored(n: u32) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(instant(n).timestamp_micros()).unwrap()
}

fn at(n: u32) -> MutationContext {
    MutationContext { at: instant(n), ..ctx() }
}

pub async fn every_stored_time_is_the_callers(store: Arc<dyn Store>) {
    let project = store.create_project(&project("clocked"), &at(1)).await.unwrap();
    assert_eq!(project.created_at, stored(1));
    assert_eq!(store.get_project(&project.name).await.unwrap().created_at, stored(1));

    let name = prompt("welcome");
    let first = new_version_creating("welcome", "v1");
    let v1 = store.publish_version(&default_project(), &name, &first, &at(2)).await.unwrap().version;
    assert_eq!(v1.created_at, stored(2));
    let created = store.get_prompt(&default_project(), &name).await.unwrap();
    assert_eq!((created.created_at, created.updated_at), (stored(2), stored(2)));
    let v2 = store.publish_version(&default_project(), &name, &new_version("v2"), &at(3)).await.unwrap().version;
    assert_eq!(store.get_version(&default_project(), &name, 2).await.unwrap().created_at, stored(3));
    assert_eq!(v2.created_at, stored(3));

    let patch = PromptPatch { description: Some("greets".into()), tags: None };
    assert_eq!(store.update_prompt(&default_project(), &name, &patch, &at(4)).await.unwrap().updated_at, stored(4));
    assert_eq!(store.set_archived(&default_project(), &name, true, &at(5)).await.unwrap().updated_at, stored(5));
    assert_eq!(store.set_archived(&default_project(), &name, false, &at(6)).await.unwrap().updated_at, stored(6));
    assert_eq!(store.get_prompt(&default_project(), &name).await.unwrap().updated_at, stored(6));

    let production = label("production");
    let moved = store.set_label(&default_project(), &name, &production, &version_target(1), "go", &at(7)).await;
    assert_eq!(moved.unwrap().updated_at, stored(7));
    store.set_label(&default_project(), &name, &production, &version_target(2), "v2", &at(8)).await.unwrap();
    let back = store.rollback_label(&default_project(), &name, &production, "back", &at(9)).await.unwrap();
    assert_eq!(back.updated_at, stored(9));
    let history = store.label_history(&default_project(), &name, &production, 10).await.unwrap();
    let times: Vec<DateTime<Utc>> = history.iter().map(|change| change.at).collect();
    assert_eq!(times, [stored(9), stored(8), stored(7)], "newest first");
    let labels = store.list_labels(&default_project(), &name).await.unwrap();
    assert_eq!(labels.iter().find(|l| l.name == production).unwrap().updated_at, stored(9));

    let key = NewApiKey {
        id: "clock".into(),
        name: "clock".into(),
        role: Role::Viewer,
        project: Some(default_project()),
        secret_hash: "sha256-of-the-clock-key".into(),
        expires_at: None,
    };
    assert_eq!(store.create_key(&key, &at(10)).await.unwrap().created_at, stored(10));
    let revoked = store.revoke_key("clock", &at(11)).await.unwrap();
    assert_eq!((revoked.created_at, revoked.revoked_at), (stored(10), Some(stored(11))));

    let spec = RolloutSpec {
        steps: vec![10, 100],
        interval: Duration::from_secs(60),
        thresholds: Thresholds::default(),
        min_samples: 10,
        failure_limit: 0,
        inconclusive_limit: None,
    };
    let (state, _) = RolloutState::start(&spec, instant(12)).unwrap();
    let target = canary_target(&default_project(), &name, &production, 1, 2, 10).unwrap();
    let new = NewRollout {
        project: default_project(),
        prompt: name.clone(),
        label: production.clone(),
        stable_version: 1,
        canary_version: 2,
        spec,
        state,
        expected_target: version_target(1),
        target,
        reason: "canary".into(),
    };
    let started = store.create_rollout(&new, &at(12)).await.unwrap();
    assert_eq!((started.created_at, started.updated_at), (stored(12), stored(12)));
    let aborted = RolloutUpdate {
        project: default_project(),
        prompt: name.clone(),
        id: started.id,
        expected_revision: started.revision,
        state: RolloutState::Aborted { reason: "test".into(), at: instant(13) },
        check: None,
        label_target: Some(version_target(1)),
        action: action::ROLLOUT_ABORT,
        reason: "test".into(),
        details: json!({}),
    };
    let updated = store.update_rollout(&aborted, &at(13)).await.unwrap();
    assert_eq!((updated.created_at, updated.updated_at), (stored(12), stored(13)));
    let history = store.label_history(&default_project(), &name, &production, 1).await.unwrap();
    assert_eq!(history[0].at, stored(13), "the label moved by the rollout, at the rollout's time");

    // Every audit entry is at its mutation's instant: all in 2021, hour by hour.
    let trail = audit_trail(&store).await;
    assert!(trail.len() >= 13, "{} entries", trail.len());
    for entry in &trail {
        let at = entry.record.at;
        assert!(
            (1..=13).any(|n| at == stored(n)),
            "audit entry {} ({}) is stamped {at}, not by the caller's clock",
            entry.seq,
            entry.record.action
        );
    }
    let revoke = trail.iter().find(|e| e.record.action == action::KEY_REVOKE).unwrap();
    assert_eq!(revoke.record.at, stored(11));
    assert_eq!(verify_chain(&store).await, Ok(u64::try_from(trail.len()).unwrap()));

    // A record appended on its own (an `auth.denied`) keeps the time it was given.
    let mut record = trail[0].record.clone();
    record.action = action::AUTH_DENIED.to_owned();
    record.at = instant(14);
    assert_eq!(store.append_audit(record).await.unwrap().record.at, stored(14));
}
