//! Split label targets and canary rollouts: the label moves with the rollout in one transaction,
//! one active rollout per label, optimistic revisions, audit entries, listing, and labels that
//! refuse human changes while a rollout owns them. Plus leadership within one store.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use opm_core::audit::action;
use opm_core::label::{LabelChangeKind, LabelTarget};
use opm_core::prompt::Actor;
use opm_core::rollout::{
    ArmMetrics, CONTROLLER_ACTOR, Rollout, RolloutSpec, RolloutState, Thresholds, canary_target, evaluate,
};
use opm_core::split::Split;
use opm_core::{CoreError, Verdict};
use opm_store::{AuditFilter, MutationContext, NewRollout, RolloutFilter, RolloutUpdate, Selector, Store, StoreError};
use serde_json::json;

use crate::assert_err;
use crate::fixtures::*;

fn spec() -> RolloutSpec {
    RolloutSpec {
        steps: vec![10, 50, 100],
        interval: Duration::from_secs(60),
        thresholds: Thresholds::default(),
        min_samples: 10,
        failure_limit: 1,
        inconclusive_limit: None,
    }
}

fn controller() -> MutationContext {
    MutationContext::new(Actor::system(CONTROLLER_ACTOR), chrono::Utc::now())
}

/// `production`'s canary target at `percent` between `stable` and `canary`.
fn canary(label_name: &str, stable: u32, canary_version: u32, percent: u8) -> LabelTarget {
    canary_target(&default_project(), &prompt("welcome"), &label(label_name), stable, canary_version, percent).unwrap()
}

/// A rollout of `welcome`'s `label_name` from v1 to v2, moving the label from v1 to a 10% split.
fn new_rollout(label_name: &str) -> NewRollout {
    let spec = spec();
    let (state, _) = RolloutState::start(&spec, Utc::now()).unwrap();
    NewRollout {
        project: default_project(),
        prompt: prompt("welcome"),
        label: label(label_name),
        stable_version: 1,
        canary_version: 2,
        spec,
        state,
        expected_target: version_target(1),
        target: canary(label_name, 1, 2, 10),
        reason: "canary v2".to_owned(),
    }
}

/// A transition by the controller, with no check and no label move.
fn transition(rollout: &Rollout, state: RolloutState, action: &'static str) -> RolloutUpdate {
    RolloutUpdate {
        project: rollout.project.clone(),
        prompt: rollout.prompt.clone(),
        id: rollout.id,
        expected_revision: rollout.revision,
        state,
        check: None,
        label_target: None,
        action,
        reason: format!("{action} by the test"),
        details: json!({ "why": action }),
    }
}

/// `welcome` v1, v2, v3 with `production` and `staging` at v1.
async fn setup(store: &Arc<dyn Store>) {
    for template in ["v1", "v2", "v3"] {
        publish(store, "welcome", template).await;
    }
    for name in ["production", "staging"] {
        store
            .set_label(&default_project(), &prompt("welcome"), &label(name), &version_target(1), "go", &ctx())
            .await
            .unwrap();
    }
}

async fn target_of(store: &Arc<dyn Store>, name: &str) -> LabelTarget {
    let labels = store.list_labels(&default_project(), &prompt("welcome")).await.unwrap();
    labels.into_iter().find(|l| l.name == label(name)).unwrap().target
}

async fn history_len(store: &Arc<dyn Store>, name: &str) -> usize {
    store.label_history(&default_project(), &prompt("welcome"), &label(name), 1000).await.unwrap().len()
}

fn all_rollouts() -> RolloutFilter {
    RolloutFilter { project: None, prompt: None, label: None, active_only: false, limit: 100 }
}

pub async fn split_labels_are_set_and_resolved(store: Arc<dyn Store>) {
    setup(&store).await;
    let split = LabelTarget::Split(Split::parse("1=90,2=10", "default/welcome/production").unwrap());
    let (project, name) = (default_project(), prompt("welcome"));
    let set = store.set_label(&project, &name, &label("production"), &split, "split", &ctx()).await.unwrap();
    assert_eq!(set.target, split);
    let resolved = store.resolve(&project, &name, &Selector::Label(label("production"))).await.unwrap();
    assert_eq!(resolved.label.unwrap().target, split, "resolve returns the label with its split");
    assert_eq!(resolved.version.version, 1, "the stable arm's version");
    assert_eq!(target_of(&store, "production").await, split);

    let entries = audit_trail(&store).await.len();
    let unknown = LabelTarget::Split(Split::parse("1=90,9=10", "default/welcome/production").unwrap());
    let refused = store.set_label(&project, &name, &label("production"), &unknown, "bad arm", &ctx()).await;
    assert_err!(refused, StoreError::VersionNotFound { version: 9, .. });
    assert_eq!(target_of(&store, "production").await, split, "nothing written");
    assert_eq!(history_len(&store, "production").await, 2);
    assert_eq!(audit_trail(&store).await.len(), entries);
}

pub async fn create_rollout_moves_the_label_and_audits_once(store: Arc<dyn Store>) {
    setup(&store).await;
    let entries = audit_trail(&store).await.len();
    let mut events = store.subscribe();
    let new = new_rollout("production");
    let rollout = store.create_rollout(&new, &ctx()).await.unwrap();
    assert!(rollout.id > 0);
    assert_eq!((rollout.revision, rollout.checks, rollout.last_check.as_ref()), (1, 0, None));
    assert_eq!((rollout.stable_version, rollout.canary_version, &rollout.state), (1, 2, &new.state));
    assert_eq!((rollout.created_by.name.as_str(), rollout.reason.as_str()), ("ci", "canary v2"));
    assert!(rollout.is_active());
    assert_eq!(store.get_rollout(&default_project(), &prompt("welcome"), rollout.id).await.unwrap(), rollout);
    assert_eq!(next_event(&mut events).await, prompt_event("welcome"));

    assert_eq!(target_of(&store, "production").await, new.target, "the label moved with the rollout");
    let history = store.label_history(&default_project(), &prompt("welcome"), &label("production"), 1).await.unwrap();
    assert_eq!(history[0].kind, LabelChangeKind::Set);
    assert_eq!((history[0].from.as_ref(), &history[0].to), (Some(&version_target(1)), &new.target));
    assert_eq!(history[0].reason, "canary v2");

    let trail = audit_trail(&store).await;
    assert_eq!(trail.len(), entries + 1, "one audit entry for the rollout and its label move");
    let entry = &trail[entries].record;
    assert_eq!(entry.action, action::ROLLOUT_START);
    assert_eq!(entry.target, format!("prompt/welcome/label/production/rollout/{}", rollout.id));
    assert_eq!((entry.actor.name.as_str(), entry.reason.as_deref()), ("ci", Some("canary v2")));
    assert_eq!(entry.before, Some(json!({ "label_target": version_target(1) })));
    assert_eq!(entry.after, Some(json!({ "rollout": rollout, "label_target": new.target })));
    let by_prompt =
        AuditFilter { prompt: Some("welcome".to_owned()), action: Some("rollout.start".to_owned()), ..all_audit() };
    assert_eq!(store.list_audit(&by_prompt).await.unwrap().len(), 1, "`audit --prompt welcome` finds it");
    assert!(verify_chain(&store).await.is_ok());
}

pub async fn one_active_rollout_per_label(store: Arc<dyn Store>) {
    setup(&store).await;
    let first = store.create_rollout(&new_rollout("production"), &ctx()).await.unwrap();
    let entries = audit_trail(&store).await.len();
    let again = NewRollout { expected_target: canary("production", 1, 2, 10), ..new_rollout("production") };
    let error = assert_err!(store.create_rollout(&again, &ctx()).await, StoreError::RolloutInProgress { .. });
    assert!(matches!(&error, StoreError::RolloutInProgress { id, label } if *id == first.id && label == "production"));
    assert_eq!(error.code(), "rollout_in_progress");
    assert_eq!(store.list_rollouts(&all_rollouts()).await.unwrap().len(), 1, "nothing written");
    assert_eq!(audit_trail(&store).await.len(), entries);
    // Another label of the same prompt is independent.
    store.create_rollout(&new_rollout("staging"), &ctx()).await.unwrap();
    assert_eq!(store.list_rollouts(&all_rollouts()).await.unwrap().len(), 2);
}

pub async fn create_rollout_checks_everything_first(store: Arc<dyn Store>) {
    setup(&store).await;
    let entries = audit_trail(&store).await.len();
    let moved = NewRollout { expected_target: version_target(3), ..new_rollout("production") };
    let error = assert_err!(store.create_rollout(&moved, &ctx()).await, StoreError::LabelTargetChanged { .. });
    assert!(error.to_string().contains("points at version 1, not version 3"), "{error}");
    assert_eq!(error.kind(), opm_core::ErrorKind::Conflict);
    let missing_label = new_rollout("canary-label");
    assert_err!(store.create_rollout(&missing_label, &ctx()).await, StoreError::LabelNotFound { .. });
    let missing_version =
        NewRollout { canary_version: 9, target: canary("production", 1, 9, 10), ..new_rollout("production") };
    assert_err!(store.create_rollout(&missing_version, &ctx()).await, StoreError::VersionNotFound { version: 9, .. });
    let stray = NewRollout { target: canary("production", 1, 3, 10), ..new_rollout("production") };
    assert_err!(store.create_rollout(&stray, &ctx()).await, StoreError::Domain(CoreError::InvalidRollout(_)));
    let same = NewRollout { canary_version: 1, target: version_target(1), ..new_rollout("production") };
    assert_err!(store.create_rollout(&same, &ctx()).await, StoreError::Domain(CoreError::InvalidRollout(_)));
    let finished = NewRollout { state: RolloutState::Promoted { at: Utc::now() }, ..new_rollout("production") };
    assert_err!(store.create_rollout(&finished, &ctx()).await, StoreError::Domain(CoreError::InvalidRollout(_)));
    let bad_spec = NewRollout { spec: RolloutSpec { steps: vec![50], ..spec() }, ..new_rollout("production") };
    assert_err!(store.create_rollout(&bad_spec, &ctx()).await, StoreError::Domain(CoreError::InvalidRollout(_)));
    let unknown_prompt = NewRollout { prompt: prompt("nope"), ..new_rollout("production") };
    assert_err!(store.create_rollout(&unknown_prompt, &ctx()).await, StoreError::PromptNotFound(_));
    assert!(store.list_rollouts(&all_rollouts()).await.unwrap().is_empty(), "nothing written");
    assert_eq!(target_of(&store, "production").await, version_target(1));
    assert_eq!(audit_trail(&store).await.len(), entries);

    store.set_archived(&default_project(), &prompt("welcome"), true, &ctx()).await.unwrap();
    assert_err!(store.create_rollout(&new_rollout("production"), &ctx()).await, StoreError::PromptArchived(_));
}

pub async fn update_rollout_is_optimistic_and_moves_the_label(store: Arc<dyn Store>) {
    setup(&store).await;
    let started = store.create_rollout(&new_rollout("production"), &ctx()).await.unwrap();
    let metrics = ArmMetrics { calls: 100, errors: 1, ..ArmMetrics::default() };
    let check = evaluate(&started.spec, &metrics, &metrics);
    assert_eq!(check.verdict, Verdict::Passed);
    let (state, _) = started.state.next(&started.spec, &check, Utc::now() + chrono::Duration::minutes(2));
    let fifty = canary("production", 1, 2, 50);
    let details = json!({ "canary": { "calls": 100 }, "verdict": "passed" });
    let advance = RolloutUpdate {
        check: Some(check.clone()),
        label_target: Some(fifty.clone()),
        details: details.clone(),
        ..transition(&started, state.clone(), action::ROLLOUT_ADVANCE)
    };
    let mut events = store.subscribe();
    let advanced = store.update_rollout(&advance, &controller()).await.unwrap();
    assert_eq!((advanced.revision, advanced.checks, &advanced.state), (2, 1, &state));
    assert_eq!(advanced.last_check.as_ref(), Some(&check));
    assert_eq!(store.get_rollout(&default_project(), &prompt("welcome"), started.id).await.unwrap(), advanced);
    assert_eq!(target_of(&store, "production").await, fifty, "moved in the same transaction");
    assert_eq!(next_event(&mut events).await, prompt_event("welcome"));
    let entry = audit_trail(&store).await.pop().unwrap().record;
    assert_eq!((entry.action.as_str(), entry.actor.name.as_str()), ("rollout.advance", CONTROLLER_ACTOR));
    assert_eq!(entry.target, format!("prompt/welcome/label/production/rollout/{}", started.id));
    assert_eq!(entry.reason.as_deref(), Some("rollout.advance by the test"));
    let after = json!({ "details": details, "state": state, "revision": 2, "label_target": fifty });
    assert_eq!(entry.after, Some(after));
    assert_eq!(entry.before.unwrap()["label_target"], json!(canary("production", 1, 2, 10)));

    // A stale revision writes nothing.
    let entries = audit_trail(&store).await.len();
    let history = history_len(&store, "production").await;
    let stale = RolloutUpdate {
        label_target: Some(version_target(1)),
        ..transition(&started, state.clone(), action::ROLLOUT_ABORT)
    };
    let error = assert_err!(store.update_rollout(&stale, &controller()).await, StoreError::RolloutConflict { .. });
    assert!(matches!(error, StoreError::RolloutConflict { expected: 1, actual: 2, .. }));
    assert_eq!(error.code(), "rollout_state_conflict");
    assert_eq!(store.get_rollout(&default_project(), &prompt("welcome"), started.id).await.unwrap(), advanced);
    assert_eq!(target_of(&store, "production").await, fifty);
    assert_eq!((audit_trail(&store).await.len(), history_len(&store, "production").await), (entries, history));

    // A hold: a check but no label move; the same target is not a move either.
    let hold = RolloutUpdate {
        check: Some(check.clone()),
        label_target: Some(fifty.clone()),
        ..transition(&advanced, state.clone(), action::ROLLOUT_HOLD)
    };
    let held = store.update_rollout(&hold, &controller()).await.unwrap();
    assert_eq!((held.revision, held.checks), (3, 2));
    assert_eq!(history_len(&store, "production").await, history, "no history entry without a move");
    let entry = audit_trail(&store).await.pop().unwrap().record;
    assert_eq!(entry.action, "rollout.hold");
    assert!(entry.after.unwrap().get("label_target").is_none());

    let missing = RolloutUpdate { id: started.id + 100, ..transition(&held, state, action::ROLLOUT_HOLD) };
    let error = assert_err!(store.update_rollout(&missing, &controller()).await, StoreError::RolloutNotFound { .. });
    assert_eq!(error.code(), "rollout_not_found");
    let error = store.get_rollout(&default_project(), &prompt("welcome"), started.id + 100).await.unwrap_err();
    assert_eq!(error.kind(), opm_core::ErrorKind::NotFound);
    assert!(verify_chain(&store).await.is_ok());
}

pub async fn labels_refuse_changes_during_a_rollout(store: Arc<dyn Store>) {
    setup(&store).await;
    let (project, name) = (default_project(), prompt("welcome"));
    let rollout = store.create_rollout(&new_rollout("production"), &ctx()).await.unwrap();
    let entries = audit_trail(&store).await.len();
    let set = store.set_label(&project, &name, &label("production"), &version_target(3), "hotfix", &ctx()).await;
    assert_err!(set, StoreError::RolloutInProgress { .. });
    let back = store.rollback_label(&project, &name, &label("production"), "undo", &ctx()).await;
    let error = assert_err!(back, StoreError::RolloutInProgress { .. });
    assert!(error.to_string().contains("promote or abort"), "{error}");
    assert_eq!(audit_trail(&store).await.len(), entries, "nothing written");
    store.set_label(&project, &name, &label("staging"), &version_target(3), "other label", &ctx()).await.unwrap();

    // Paused is still active.
    let paused_state = rollout.state.pause("look at it", Utc::now()).unwrap().0;
    let paused =
        store.update_rollout(&transition(&rollout, paused_state, action::ROLLOUT_PAUSE), &ctx()).await.unwrap();
    let set = store.set_label(&project, &name, &label("production"), &version_target(3), "hotfix", &ctx()).await;
    assert_err!(set, StoreError::RolloutInProgress { .. });

    let promoted_state = paused.state.promote(Utc::now()).unwrap().0;
    let promote = RolloutUpdate {
        label_target: Some(version_target(2)),
        ..transition(&paused, promoted_state.clone(), action::ROLLOUT_PROMOTE)
    };
    let promoted = store.update_rollout(&promote, &ctx()).await.unwrap();
    assert!(!promoted.is_active());
    assert_eq!(target_of(&store, "production").await, version_target(2));
    let finished_again = transition(&promoted, promoted_state, action::ROLLOUT_ABORT);
    let error = assert_err!(store.update_rollout(&finished_again, &ctx()).await, StoreError::Domain(_));
    assert_eq!(error.code(), "rollout_state_conflict");

    // Finished: people move the label again, and a new rollout may start.
    store.set_label(&project, &name, &label("production"), &version_target(3), "hotfix", &ctx()).await.unwrap();
    store.rollback_label(&project, &name, &label("production"), "undo", &ctx()).await.unwrap();
    let next = NewRollout {
        stable_version: 2,
        canary_version: 3,
        expected_target: version_target(2),
        target: canary("production", 2, 3, 10),
        ..new_rollout("production")
    };
    let second = store.create_rollout(&next, &ctx()).await.unwrap();
    assert!(second.id > rollout.id, "ids increase");
}

pub async fn list_rollouts_filters_and_orders_newest_first(store: Arc<dyn Store>) {
    setup(&store).await;
    let production = store.create_rollout(&new_rollout("production"), &ctx()).await.unwrap();
    let staging = store.create_rollout(&new_rollout("staging"), &ctx()).await.unwrap();
    let aborted_state = staging.state.abort("bad", Utc::now()).unwrap().0;
    let abort = RolloutUpdate {
        label_target: Some(version_target(1)),
        ..transition(&staging, aborted_state, action::ROLLOUT_ABORT)
    };
    store.update_rollout(&abort, &controller()).await.unwrap();
    publish(&store, "other", "o1").await;
    publish(&store, "other", "o2").await;
    let (other, other_label) = (prompt("other"), label("production"));
    store.set_label(&default_project(), &other, &other_label, &version_target(1), "go", &ctx()).await.unwrap();
    let other_rollout = NewRollout {
        prompt: other.clone(),
        target: canary_target(&default_project(), &other, &other_label, 1, 2, 10).unwrap(),
        ..new_rollout("production")
    };
    let third = store.create_rollout(&other_rollout, &ctx()).await.unwrap();

    let ids = |rollouts: Vec<Rollout>| rollouts.into_iter().map(|rollout| rollout.id).collect::<Vec<_>>();
    let list = |filter: RolloutFilter| {
        let store = store.clone();
        async move { ids(store.list_rollouts(&filter).await.unwrap()) }
    };
    assert_eq!(list(all_rollouts()).await, [third.id, staging.id, production.id]);
    assert_eq!(list(RolloutFilter { active_only: true, ..all_rollouts() }).await, [third.id, production.id]);
    assert_eq!(
        list(RolloutFilter { prompt: Some(prompt("welcome")), ..all_rollouts() }).await,
        [staging.id, production.id]
    );
    assert_eq!(list(RolloutFilter { label: Some(label("staging")), ..all_rollouts() }).await, [staging.id]);
    let production_of_welcome =
        RolloutFilter { prompt: Some(prompt("welcome")), label: Some(label("production")), ..all_rollouts() };
    assert_eq!(list(production_of_welcome).await, [production.id]);
    assert_eq!(list(RolloutFilter { project: Some(default_project()), limit: 1, ..all_rollouts() }).await, [third.id]);
    assert!(list(RolloutFilter { project: Some(project("team-a")), ..all_rollouts() }).await.is_empty());
    let listed = store.list_rollouts(&RolloutFilter { label: Some(label("staging")), ..all_rollouts() }).await.unwrap();
    assert_eq!(listed[0].state.name(), "aborted");
    assert_eq!(listed[0].created_by.name, "ci");
}

pub async fn leadership_is_exclusive(store: Arc<dyn Store>) {
    let leader = store.try_lead("rollouts").await.unwrap().expect("the first caller leads");
    assert!(leader.still_held().await);
    assert!(store.try_lead("rollouts").await.unwrap().is_none(), "one leader per name");
    let other = store.try_lead("retention").await.unwrap().expect("names are independent");
    leader.release().await;
    let next = store.try_lead("rollouts").await.unwrap().expect("released leadership is free");
    drop(next);
    let mut again = None;
    for _ in 0..50 {
        again = store.try_lead("rollouts").await.unwrap();
        if again.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "dropped leadership is free");
    drop(other);
}
