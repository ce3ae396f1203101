//! Governance: deployer keys, the per-project policy (optimistic revisions, audited), and change
//! requests (filed with the label's target, four eyes, applied with compare-and-set in the same
//! transaction as the label move, stale when the label moved, closed requests take no decision).

use std::sync::Arc;

use opm_core::CoreError;
use opm_core::audit::action;
use opm_core::auth::Role;
use opm_core::governance::{ChangeRequestState, GovernancePolicy, LabelProtection, RequestedChange};
use opm_core::names::LabelName;
use opm_store::{
    ChangeRequestFilter, NewApiKey, NewChangeRequest, PolicyChange, RequestAction, RequestDecision, Store, StoreError,
};

use crate::assert_err;
use crate::fixtures::*;

pub async fn deployer_keys_are_stored(store: Arc<dyn Store>) {
    let new = NewApiKey {
        id: "dep1".into(),
        name: "release manager".into(),
        role: Role::Deployer,
        project: Some(default_project()),
        secret_hash: "hash-of-dep1".into(),
        expires_at: None,
    };
    let key = store.create_key(&new, &ctx()).await.unwrap();
    assert_eq!(key.role, Role::Deployer);
    assert_eq!(store.find_key_by_hash("hash-of-dep1").await.unwrap().unwrap().role, Role::Deployer);
}

fn protecting(label_name: &str, approvals: u8) -> GovernancePolicy {
    GovernancePolicy {
        protected_labels: vec![LabelProtection {
            label: LabelName::parse(label_name).unwrap(),
            move_role: Role::Deployer,
            approvals,
        }],
        ..GovernancePolicy::default()
    }
}

pub async fn policies_are_revisioned_and_audited(store: Arc<dyn Store>) {
    let project = default_project();
    let none = store.get_policy(&project).await.unwrap();
    assert_eq!((none.revision, none.policy.clone()), (0, GovernancePolicy::default()));
    let first = store.set_policy(&project, &protecting("production", 1), 0, PolicyChange::Set, "protect", &ctx()).await;
    let first = first.unwrap();
    assert_eq!(first.revision, 1);
    assert_eq!(store.get_policy(&project).await.unwrap().policy, protecting("production", 1));
    // A writer that read revision 0 is refused and writes nothing.
    let stale = store.set_policy(&project, &protecting("staging", 2), 0, PolicyChange::Set, "again", &ctx()).await;
    assert_err!(stale, StoreError::PolicyConflict { expected: 0, actual: 1 });
    let two = protecting("production", 2);
    let second = store.set_policy(&project, &two, 1, PolicyChange::Freeze, "two", &ctx()).await;
    assert_eq!(second.unwrap().revision, 2);
    // Invalid policies and unknown projects write nothing.
    let invalid = GovernancePolicy {
        protected_labels: vec![LabelProtection { label: label("production"), move_role: Role::Editor, approvals: 0 }],
        ..GovernancePolicy::default()
    };
    assert_err!(
        store.set_policy(&project, &invalid, 2, PolicyChange::Set, "bad", &ctx()).await,
        StoreError::Domain(CoreError::InvalidPolicy(_))
    );
    assert_err!(
        store.set_policy(&self::project("nope"), &protecting("production", 1), 0, PolicyChange::Set, "x", &ctx()).await,
        StoreError::ProjectNotFound(_)
    );
    assert_err!(store.get_policy(&self::project("nope")).await, StoreError::ProjectNotFound(_));
    let trail = audit_trail(&store).await;
    let entries: Vec<(&str, &str)> =
        trail.iter().map(|e| (e.record.action.as_str(), e.record.target.as_str())).collect();
    assert_eq!(entries, [(action::GOVERNANCE_SET, "governance"), (action::GOVERNANCE_FREEZE, "governance")]);
    assert_eq!(trail[1].record.before.as_ref().unwrap()["revision"], 1);
    assert_eq!(trail[1].record.after.as_ref().unwrap()["policy"]["protected_labels"][0]["approvals"], 2);
    verify_chain(&store).await.unwrap();
}

/// `welcome` v1, v2, v3 with `production` at v1.
async fn setup(store: &Arc<dyn Store>) {
    for template in ["v1", "v2", "v3"] {
        publish(store, "welcome", template).await;
    }
    store
        .set_label(&default_project(), &prompt("welcome"), &label("production"), &version_target(1), "go", &ctx())
        .await
        .unwrap();
}

fn request_to(version: u32, approvals: u8) -> NewChangeRequest {
    NewChangeRequest {
        project: default_project(),
        prompt: prompt("welcome"),
        label: label("production"),
        change: RequestedChange::Label { target: version_target(version) },
        reason: format!("ship v{version}"),
        approvals_required: approvals,
    }
}

fn decision(id: i64, action: RequestAction) -> RequestDecision {
    RequestDecision { project: default_project(), id, action, reason: "looked at it".into() }
}

async fn production(store: &Arc<dyn Store>) -> opm_core::label::LabelTarget {
    let labels = store.list_labels(&default_project(), &prompt("welcome")).await.unwrap();
    labels.into_iter().find(|l| l.name == label("production")).unwrap().target
}

pub async fn approved_requests_apply_with_four_eyes(store: Arc<dyn Store>) {
    setup(&store).await;
    let author = ctx_as("key-alice", "alice");
    let filed = store.create_change_request(&request_to(2, 2), &author).await.unwrap();
    assert_eq!((filed.state, filed.expected.clone()), (ChangeRequestState::Pending, Some(version_target(1))));
    // The author, and another key with the author's name, cannot approve.
    let own = store.decide_change_request(&decision(filed.id, RequestAction::Approve), &author).await;
    assert_err!(own, StoreError::Domain(CoreError::SelfApproval { .. }));
    let approve = decision(filed.id, RequestAction::Approve);
    let same_person = store.decide_change_request(&approve, &ctx_as("k2", "alice")).await;
    assert_err!(same_person, StoreError::Domain(CoreError::SelfApproval { .. }));
    let bob = ctx_as("key-bob", "bob");
    let once = store.decide_change_request(&decision(filed.id, RequestAction::Approve), &bob).await.unwrap();
    assert_eq!((once.state, once.approvals.len()), (ChangeRequestState::Pending, 1));
    assert_eq!(production(&store).await, version_target(1), "one approval of two moves nothing");
    let twice = store.decide_change_request(&decision(filed.id, RequestAction::Approve), &bob).await;
    assert_err!(twice, StoreError::Domain(CoreError::AlreadyApproved { .. }));
    let carol = ctx_as("key-carol", "carol");
    let applied = store.decide_change_request(&decision(filed.id, RequestAction::Approve), &carol).await.unwrap();
    assert_eq!(applied.state, ChangeRequestState::Applied);
    assert_eq!(applied.decided_by.as_ref().unwrap().name, "carol");
    assert_eq!(production(&store).await, version_target(2));
    let history = store.label_history(&default_project(), &prompt("welcome"), &label("production"), 10).await;
    assert!(history.unwrap()[0].reason.starts_with(&format!("change request {}:", filed.id)));
    assert_eq!(store.get_change_request(&default_project(), filed.id).await.unwrap(), applied);
    // A closed request takes no further decision.
    let late = store.decide_change_request(&decision(filed.id, RequestAction::Reject), &bob).await;
    assert_err!(late, StoreError::Domain(CoreError::ChangeRequestClosed { .. }));
    let actions = audit_actions(&store).await;
    let tail: Vec<&str> = actions.iter().rev().take(4).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            action::CHANGE_REQUEST_CREATE,
            action::CHANGE_REQUEST_APPROVE,
            action::LABEL_SET,
            action::CHANGE_REQUEST_APPROVE
        ]
    );
    let trail = audit_trail(&store).await;
    let label_set = &trail[trail.len() - 2];
    assert_eq!(label_set.record.target, "prompt/welcome/label/production");
    assert_eq!(label_set.record.after.as_ref().unwrap()["change_request"], filed.id);
    assert_eq!(trail.last().unwrap().record.target, format!("prompt/welcome/label/production/request/{}", filed.id));
    verify_chain(&store).await.unwrap();
}

pub async fn stale_requests_cannot_apply(store: Arc<dyn Store>) {
    setup(&store).await;
    let filed = store.create_change_request(&request_to(2, 1), &ctx_as("key-alice", "alice")).await.unwrap();
    // The label moves after the request was filed (an emergency change by a deployer).
    let (project, name) = (default_project(), prompt("welcome"));
    store.set_label(&project, &name, &label("production"), &version_target(3), "hotfix", &ctx()).await.unwrap();
    let approve = decision(filed.id, RequestAction::Approve);
    let approval = store.decide_change_request(&approve, &ctx_as("kb", "bob")).await;
    let error = assert_err!(approval, StoreError::ChangeRequestStale { .. });
    assert!(error.to_string().contains("version 3") && error.to_string().contains("version 1"), "{error}");
    assert_eq!(production(&store).await, version_target(3), "a stale request moves nothing");
    let stale = store.get_change_request(&project, filed.id).await.unwrap();
    assert_eq!(stale.state, ChangeRequestState::Stale, "the stale state is committed");
    assert_eq!(audit_actions(&store).await.last().unwrap(), action::CHANGE_REQUEST_STALE);
    verify_chain(&store).await.unwrap();
}

pub async fn requests_are_rejected_cancelled_and_listed(store: Arc<dyn Store>) {
    setup(&store).await;
    let alice = ctx_as("key-alice", "alice");
    let first = store.create_change_request(&request_to(2, 1), &alice).await.unwrap();
    let second = store.create_change_request(&request_to(3, 1), &alice).await.unwrap();
    let third = store.create_change_request(&request_to(3, 2), &alice).await.unwrap();
    assert!(first.id < second.id && second.id < third.id);
    let reject = decision(first.id, RequestAction::Reject);
    let rejected = store.decide_change_request(&reject, &ctx_as("kb", "bob")).await;
    assert_eq!(rejected.unwrap().state, ChangeRequestState::Rejected);
    let cancelled = store.decide_change_request(&decision(second.id, RequestAction::Cancel), &alice).await.unwrap();
    assert_eq!(cancelled.state, ChangeRequestState::Cancelled);
    let mut no_reason = decision(third.id, RequestAction::Reject);
    no_reason.reason = " ".into();
    assert_err!(
        store.decide_change_request(&no_reason, &ctx()).await,
        StoreError::Domain(CoreError::InvalidContent(_))
    );
    let filter = |state| ChangeRequestFilter {
        project: default_project(),
        prompt: Some(prompt("welcome")),
        label: None,
        state,
        limit: 10,
    };
    let ids = |requests: Vec<opm_core::governance::ChangeRequest>| requests.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_change_requests(&filter(None)).await.unwrap()), [third.id, second.id, first.id]);
    let pending = store.list_change_requests(&filter(Some(ChangeRequestState::Pending))).await.unwrap();
    assert_eq!(ids(pending), [third.id]);
    assert_eq!(production(&store).await, version_target(1), "nothing moved");
    // Bad requests write nothing: unknown versions, blank reasons, zero approvals, other projects.
    let before = audit_trail(&store).await.len();
    assert_err!(store.create_change_request(&request_to(9, 1), &alice).await, StoreError::VersionNotFound { .. });
    assert_err!(store.create_change_request(&request_to(2, 0), &alice).await, StoreError::InvalidInput(_));
    let mut blank = request_to(2, 1);
    blank.reason = String::new();
    assert_err!(store.create_change_request(&blank, &alice).await, StoreError::Domain(CoreError::InvalidContent(_)));
    assert_err!(store.get_change_request(&project("other"), third.id).await, StoreError::ChangeRequestNotFound { .. });
    assert_err!(
        store.decide_change_request(&decision(999, RequestAction::Approve), &ctx()).await,
        StoreError::ChangeRequestNotFound { id: 999 }
    );
    assert_eq!(audit_trail(&store).await.len(), before);
}

pub async fn requests_for_a_new_label_expect_it_absent(store: Arc<dyn Store>) {
    setup(&store).await;
    let mut new = request_to(2, 1);
    new.label = label("canary");
    let filed = store.create_change_request(&new, &ctx_as("ka", "alice")).await.unwrap();
    assert_eq!(filed.expected, None);
    let approve = decision(filed.id, RequestAction::Approve);
    let applied = store.decide_change_request(&approve, &ctx_as("kb", "bob")).await;
    assert_eq!(applied.unwrap().state, ChangeRequestState::Applied);
    let labels = store.list_labels(&default_project(), &prompt("welcome")).await.unwrap();
    assert!(labels.iter().any(|l| l.name == label("canary") && l.target == version_target(2)));
}

/// A rollout request: filed against the label's single (stable) version, started by the approval
/// that completes it in the same transaction (the rollout's first split on the label, audited
/// `rollout.start` by the approver), timed from the approval; refused when the label does not
/// point at one other version.
pub async fn approved_rollout_requests_start_the_rollout(store: Arc<dyn Store>) {
    setup(&store).await;
    let spec = opm_core::rollout::RolloutSpec {
        steps: vec![20, 100],
        interval: std::time::Duration::from_secs(600),
        thresholds: Default::default(),
        min_samples: 10,
        failure_limit: 0,
        inconclusive_limit: None,
    };
    let rollout_of = |canary_version| NewChangeRequest {
        change: RequestedChange::Rollout { canary_version, spec: spec.clone() },
        reason: format!("canary v{canary_version}"),
        ..request_to(canary_version, 1)
    };
    let same = store.create_change_request(&rollout_of(1), &ctx_as("key-alice", "alice")).await;
    assert_err!(same, StoreError::Domain(CoreError::InvalidRollout(_)));
    let filed = store.create_change_request(&rollout_of(2), &ctx_as("key-alice", "alice")).await.unwrap();
    assert_eq!(filed.expected, Some(version_target(1)));
    assert_eq!(filed.target(), None);
    let bob = ctx_as("key-bob", "bob");
    let applied = store.decide_change_request(&decision(filed.id, RequestAction::Approve), &bob).await.unwrap();
    assert_eq!(applied.state, ChangeRequestState::Applied);
    let active = store
        .list_rollouts(&opm_store::RolloutFilter {
            project: Some(default_project()),
            prompt: Some(prompt("welcome")),
            label: None,
            active_only: true,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(active.len(), 1);
    let rollout = &active[0];
    assert_eq!((rollout.stable_version, rollout.canary_version), (1, 2));
    assert_eq!(rollout.created_by.name, "bob");
    let approved_at = chrono::DateTime::from_timestamp_micros(bob.at.timestamp_micros()).unwrap();
    assert_eq!(rollout.state.next_check_at(), Some(approved_at + chrono::Duration::seconds(600)), "from the approval");
    let target = production(&store).await;
    assert_eq!(target.split().map(|split| split.arms().len()), Some(2), "{target:?}");
    let actions = audit_actions(&store).await;
    let tail: Vec<&str> = actions.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, [action::ROLLOUT_START, action::CHANGE_REQUEST_APPROVE]);
    // While the rollout runs, another rollout request cannot be filed against a split.
    let split = store.create_change_request(&rollout_of(3), &ctx_as("key-alice", "alice")).await;
    assert_err!(split, StoreError::Domain(CoreError::InvalidRollout(_)));
    verify_chain(&store).await.unwrap();
}
