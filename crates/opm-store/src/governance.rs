//! The store's governance types: a project's stored policy, new change requests, their filter and
//! the decisions taken on them. The rules live in [`opm_core::governance`]; the engine
//! (`engine/governance.rs`) applies them inside one transaction per call.

use chrono::{DateTime, Utc};
use opm_core::audit::action;
use opm_core::governance::{ChangeRequestState, GovernancePolicy, RequestedChange};
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;

/// A project's policy as stored; `revision` 0 (and no update) when none was ever set.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPolicy {
    pub project: ProjectName,
    pub policy: GovernancePolicy,
    pub revision: i64,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<Actor>,
}

/// A change request to file.
#[derive(Debug, Clone)]
pub struct NewChangeRequest {
    pub project: ProjectName,
    pub prompt: PromptName,
    pub label: LabelName,
    pub change: RequestedChange,
    pub reason: String,
    /// At least 1 and at most [`opm_core::governance::MAX_APPROVALS`].
    pub approvals_required: u8,
}

/// Which change requests to list, newest first.
#[derive(Debug, Clone)]
pub struct ChangeRequestFilter {
    pub project: ProjectName,
    pub prompt: Option<PromptName>,
    pub label: Option<LabelName>,
    pub state: Option<ChangeRequestState>,
    pub limit: u32,
}

/// What to do with a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestAction {
    /// Add the caller's approval; the request applies when it is the last one needed.
    Approve,
    Reject,
    Cancel,
}

impl RequestAction {
    /// The audit action of this decision.
    pub fn audit_action(self) -> &'static str {
        match self {
            RequestAction::Approve => action::CHANGE_REQUEST_APPROVE,
            RequestAction::Reject => action::CHANGE_REQUEST_REJECT,
            RequestAction::Cancel => action::CHANGE_REQUEST_CANCEL,
        }
    }
}

/// Which kind of policy change, for its audit action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChange {
    /// `governance.set`: rules edited.
    Set,
    /// `governance.freeze`: an immediate freeze set.
    Freeze,
    /// `governance.unfreeze`: the immediate freeze lifted.
    Unfreeze,
}

impl PolicyChange {
    /// The audit action of this change.
    pub fn audit_action(self) -> &'static str {
        match self {
            PolicyChange::Set => action::GOVERNANCE_SET,
            PolicyChange::Freeze => action::GOVERNANCE_FREEZE,
            PolicyChange::Unfreeze => action::GOVERNANCE_UNFREEZE,
        }
    }
}

/// A decision on request `id` of `project`.
#[derive(Debug, Clone)]
pub struct RequestDecision {
    pub project: ProjectName,
    pub id: i64,
    pub action: RequestAction,
    pub reason: String,
}
