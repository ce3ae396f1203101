//! Change requests: a move of a protected label, or the start of a rollout on one, waiting for
//! approvals (four eyes).
//!
//! A request records the label's target when it was filed (`expected`); it applies only while the
//! label still points there (compare-and-set), otherwise it becomes `stale`. Its author never
//! counts as an approver, and neither does another key with the author's name (the same person).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::label::LabelTarget;
use crate::names::{LabelName, ProjectName, PromptName};
use crate::prompt::Actor;
use crate::rollout::RolloutSpec;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeRequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved and applied: the label moved.
    Applied,
    Rejected,
    /// Withdrawn by its author (or an admin).
    Cancelled,
    /// The label moved since the request was filed; it can no longer apply.
    Stale,
}

impl ChangeRequestState {
    /// The lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeRequestState::Pending => "pending",
            ChangeRequestState::Applied => "applied",
            ChangeRequestState::Rejected => "rejected",
            ChangeRequestState::Cancelled => "cancelled",
            ChangeRequestState::Stale => "stale",
        }
    }

    /// Parses a stored or queried name.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        match text {
            "pending" => Ok(ChangeRequestState::Pending),
            "applied" => Ok(ChangeRequestState::Applied),
            "rejected" => Ok(ChangeRequestState::Rejected),
            "cancelled" => Ok(ChangeRequestState::Cancelled),
            "stale" => Ok(ChangeRequestState::Stale),
            other => Err(CoreError::InvalidPolicy(format!(
                "unknown change request state `{other}` (pending, applied, rejected, cancelled, stale)"
            ))),
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RequestedChange {
    /// Point the label at this target.
    Label { target: LabelTarget },
    /// Start a canary rollout of `canary_version` on the label (which points at the stable
    /// version when the request is filed); the rollout's first step is timed from the approval.
    Rollout { canary_version: u32, spec: RolloutSpec },
}

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// A change request on a protected label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// Assigned by the store, increasing.
    pub id: i64,
    pub project: ProjectName,
    pub prompt: PromptName,
    pub label: LabelName,
    pub change: RequestedChange,
    /// The label's target when the request was filed (`None`: the label did not exist).
    pub expected: Option<LabelTarget>,
    pub reason: String,
    pub state: ChangeRequestState,
    pub approvals_required: u8,
    pub approvals: Vec<Approval>,
    pub author: Actor,
    pub created_at: DateTime<Utc>,
    /// Who closed it (applied by the last approver, rejected, cancelled, or found stale) and why.
    pub decided_by: Option<Actor>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
}

impl ChangeRequest {
    /// The target the label moves to when a label request applies (`None` for a rollout request,
    /// whose first target is decided when it starts).
    pub fn target(&self) -> Option<&LabelTarget> {
        match &self.change {
            RequestedChange::Label { target } => Some(target),
            RequestedChange::Rollout { .. } => None,
        }
    }

    /// Whether `actor` is the request's author (the same key, or a key with the author's name).
    pub fn is_author(&self, actor: &Actor) -> bool {
        let same_key = actor.key_id.is_some() && actor.key_id == self.author.key_id;
        same_key || actor.name == self.author.name
    }

    /// Checks the request is pending and `approver` may add an approval: not the author (four
    /// eyes) and not already approving.
    pub fn check_approver(&self, approver: &Actor) -> Result<(), CoreError> {
        self.ensure_pending()?;
        if self.is_author(approver) {
            return Err(CoreError::SelfApproval { id: self.id });
        }
        let already = self.approvals.iter().any(|approval| {
            (approval.actor.key_id.is_some() && approval.actor.key_id == approver.key_id)
                || approval.actor.name == approver.name
        });
        if already {
            return Err(CoreError::AlreadyApproved { id: self.id, name: approver.name.clone() });
        }
        Ok(())
    }

    /// Fails unless the request is pending.
    pub fn ensure_pending(&self) -> Result<(), CoreError> {
        match self.state {
            ChangeRequestState::Pending => Ok(()),
            state => Err(CoreError::ChangeRequestClosed { id: self.id, state: state.as_str() }),
        }
    }

    /// Whether enough approvals are in.
    pub fn approvals_met(&self) -> bool {
        self.approvals.len() >= usize::from(self.approvals_required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(key: &str, name: &str) -> Actor {
        Actor { key_id: Some(key.to_owned()), name: name.to_owned() }
    }

    fn request() -> ChangeRequest {
        ChangeRequest {
            id: 7,
            project: ProjectName::parse("default").unwrap(),
            prompt: PromptName::parse("welcome").unwrap(),
            label: LabelName::parse("production").unwrap(),
            change: RequestedChange::Label { target: LabelTarget::Version { version: 2 } },
            expected: Some(LabelTarget::Version { version: 1 }),
            reason: "ship".into(),
            state: ChangeRequestState::Pending,
            approvals_required: 2,
            approvals: Vec::new(),
            author: actor("k1", "alice"),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            decided_by: None,
            decided_at: None,
            decision_reason: None,
        }
    }

    #[test]
    fn four_eyes() {
        let mut request = request();
        assert!(matches!(request.check_approver(&actor("k1", "alice")), Err(CoreError::SelfApproval { .. })));
        // Another key of the same person is still the author.
        assert!(matches!(request.check_approver(&actor("k9", "alice")), Err(CoreError::SelfApproval { .. })));
        assert!(request.check_approver(&actor("k2", "bob")).is_ok());
        request.approvals.push(Approval { actor: actor("k2", "bob"), at: request.created_at, reason: "ok".into() });
        assert!(!request.approvals_met());
        assert!(matches!(request.check_approver(&actor("k2", "bob")), Err(CoreError::AlreadyApproved { .. })));
        request.approvals.push(Approval { actor: actor("k3", "carol"), at: request.created_at, reason: "ok".into() });
        assert!(request.approvals_met());
        request.state = ChangeRequestState::Applied;
        assert!(matches!(request.check_approver(&actor("k4", "dan")), Err(CoreError::ChangeRequestClosed { .. })));
    }

    #[test]
    fn states_round_trip() {
        for state in ["pending", "applied", "rejected", "cancelled", "stale"] {
            assert_eq!(ChangeRequestState::parse(state).unwrap().as_str(), state);
        }
        assert!(ChangeRequestState::parse("open").is_err());
    }
}
