//! Rollout rows as both backends return them, and their conversion to [`Rollout`].

use opm_core::prompt::Actor;
use opm_core::rollout::Rollout;

use crate::StoreResult;
use crate::rows::{corrupt, from_json, from_micros, parse_name, to_version};

#[derive(sqlx::FromRow)]
pub(crate) struct RolloutRow {
    id: i64,
    project: String,
    prompt: String,
    label: String,
    stable_version: i64,
    canary_version: i64,
    spec_json: String,
    state_json: String,
    last_check_json: Option<String>,
    checks: i64,
    revision: i64,
    reason: String,
    created_by_key_id: Option<String>,
    created_by_name: String,
    created_at_us: i64,
    updated_at_us: i64,
}

impl RolloutRow {
    pub(crate) fn into_rollout(self) -> StoreResult<Rollout> {
        Ok(Rollout {
            id: self.id,
            project: parse_name(&self.project, "prompts.project")?,
            prompt: parse_name(&self.prompt, "prompts.name")?,
            label: parse_name(&self.label, "rollouts.label")?,
            stable_version: to_version(self.stable_version, "rollouts.stable_version")?,
            canary_version: to_version(self.canary_version, "rollouts.canary_version")?,
            spec: from_json(&self.spec_json, "rollouts.spec_json")?,
            state: from_json(&self.state_json, "rollouts.state_json")?,
            last_check: self
                .last_check_json
                .as_deref()
                .map(|json| from_json(json, "rollouts.last_check_json"))
                .transpose()?,
            checks: u32::try_from(self.checks).map_err(|_| corrupt("rollouts.checks", &self.checks.to_string()))?,
            revision: self.revision,
            reason: self.reason,
            created_by: Actor { key_id: self.created_by_key_id, name: self.created_by_name },
            created_at: from_micros(self.created_at_us)?,
            updated_at: from_micros(self.updated_at_us)?,
        })
    }
}
