//! Governance rows as both backends return them, and their conversion to domain types.

use opm_core::governance::{ChangeRequest, ChangeRequestState};
use opm_core::prompt::Actor;

use crate::StoreResult;
use crate::governance::StoredPolicy;
use crate::rows::{corrupt, from_json, from_micros, parse_name};

#[derive(sqlx::FromRow)]
pub(crate) struct PolicyRow {
    project: String,
    policy_json: String,
    revision: i64,
    updated_at_us: i64,
    updated_by_key_id: Option<String>,
    updated_by_name: String,
}

impl PolicyRow {
    pub(crate) fn into_policy(self) -> StoreResult<StoredPolicy> {
        Ok(StoredPolicy {
            project: parse_name(&self.project, "governance_policies.project")?,
            policy: from_json(&self.policy_json, "governance_policies.policy_json")?,
            revision: self.revision,
            updated_at: Some(from_micros(self.updated_at_us)?),
            updated_by: Some(Actor { key_id: self.updated_by_key_id, name: self.updated_by_name }),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RequestRow {
    id: i64,
    project: String,
    prompt: String,
    pub(crate) prompt_id: i64,
    label: String,
    change_json: String,
    expected_json: Option<String>,
    reason: String,
    state: String,
    approvals_required: i64,
    approvals_json: String,
    author_key_id: Option<String>,
    author_name: String,
    created_at_us: i64,
    decided_by_key_id: Option<String>,
    decided_by_name: Option<String>,
    decided_at_us: Option<i64>,
    decision_reason: Option<String>,
}

impl RequestRow {
    pub(crate) fn into_request(self) -> StoreResult<ChangeRequest> {
        let state =
            ChangeRequestState::parse(&self.state).map_err(|_| corrupt("change_requests.state", &self.state))?;
        let approvals_required = u8::try_from(self.approvals_required)
            .map_err(|_| corrupt("change_requests.approvals_required", &self.approvals_required.to_string()))?;
        Ok(ChangeRequest {
            id: self.id,
            project: parse_name(&self.project, "prompts.project")?,
            prompt: parse_name(&self.prompt, "prompts.name")?,
            label: parse_name(&self.label, "change_requests.label")?,
            change: from_json(&self.change_json, "change_requests.change_json")?,
            expected: self
                .expected_json
                .as_deref()
                .map(|json| from_json(json, "change_requests.expected_json"))
                .transpose()?,
            reason: self.reason,
            state,
            approvals_required,
            approvals: from_json(&self.approvals_json, "change_requests.approvals_json")?,
            author: Actor { key_id: self.author_key_id, name: self.author_name },
            created_at: from_micros(self.created_at_us)?,
            decided_by: self.decided_by_name.map(|name| Actor { key_id: self.decided_by_key_id, name }),
            decided_at: self.decided_at_us.map(from_micros).transpose()?,
            decision_reason: self.decision_reason,
        })
    }
}
