//! Canary rollouts as an application service: starting one, the manual actions (pause, resume,
//! promote, abort), `opm rollback` during a rollout, and one pass of the controller — measure each
//! due rollout's canary and stable arms from stored generations, judge them with
//! [`opm_core::rollout::evaluate`], and carry out the decision (move the label, or not) as one
//! audited store transaction whose entry holds the metrics that justified it.
//!
//! Time is passed in (`now`), so a controllable clock can run a ten-step rollout in seconds. A
//! transition names the revision it read: a human acting at the same time as the controller makes
//! one of them fail with a conflict instead of both applying.

use opm_core::CoreError;
use opm_core::audit::action;
use opm_core::label::{Label, LabelTarget};
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;
use opm_core::rollout::{
    ArmMetrics, CONTROLLER_ACTOR, Decision, Rollout, RolloutSpec, RolloutState, Verdict, canary_target, evaluate,
    label_target_for,
};
use opm_store::{MutationContext, NewRollout, RolloutFilter, RolloutUpdate, StatsGroupBy, StatsQuery};
use serde_json::json;

use crate::{Registry, RegistryError, arm_metrics};

/// Most active rollouts one controller pass looks at.
const MAX_ACTIVE: u32 = 1000;

/// What `POST …/rollouts` asks for.
#[derive(Debug, Clone)]
pub struct StartRollout {
    pub project: ProjectName,
    pub prompt: PromptName,
    pub label: LabelName,
    pub canary_version: u32,
    pub spec: RolloutSpec,
    pub reason: String,
}

/// A human's action on a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManualAction {
    Pause { reason: String },
    Resume { reason: String },
    Promote { reason: String },
    Abort { reason: String },
}

/// What an outside metric source (e.g. Prometheus, Flagger-style) says about a rollout's canary.
#[derive(Debug, Clone, Default)]
pub struct ExternalFindings {
    /// Gates the canary broke: they fail the check.
    pub failures: Vec<String>,
    /// Measurements that could not be made (no data, source unreachable): the check cannot pass.
    pub gaps: Vec<String>,
    /// What was measured, for the audit entry.
    pub values: serde_json::Value,
}

/// A source of extra checks the controller consults besides OPM's own generation records.
#[async_trait::async_trait]
pub trait ExternalChecks: Send + Sync {
    async fn check(&self, rollout: &Rollout) -> ExternalFindings;
}

/// What one controller pass did to one rollout.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub rollout: Rollout,
    pub decision: Decision,
}

impl Registry {
    /// Starts a canary rollout of `label` (which must point at one version, the stable one) towards
    /// `canary_version`: the label becomes a split with the first step's share on the canary.
    pub async fn start_rollout(
        &self,
        start: &StartRollout,
        ctx: &MutationContext,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Rollout, RegistryError> {
        let current = self.current_label(&start.project, &start.prompt, &start.label).await?;
        let LabelTarget::Version { version: stable } = current.target else {
            return Err(CoreError::InvalidRollout(format!(
                "label `{}` is a split; point it at one (stable) version before starting a rollout",
                start.label
            ))
            .into());
        };
        let (state, decision) = RolloutState::start(&start.spec, now)?;
        let Decision::SetWeight { canary_percent } = decision else {
            return Err(CoreError::InvalidRollout("a rollout starts by setting the canary's share".into()).into());
        };
        let target =
            canary_target(&start.project, &start.prompt, &start.label, stable, start.canary_version, canary_percent)?;
        let new = NewRollout {
            project: start.project.clone(),
            prompt: start.prompt.clone(),
            label: start.label.clone(),
            stable_version: stable,
            canary_version: start.canary_version,
            spec: start.spec.clone(),
            state,
            expected_target: current.target,
            target,
            reason: start.reason.clone(),
        };
        let result = self.store.create_rollout(&new, ctx).await;
        self.cache.invalidate_prompt(&start.project, &start.prompt);
        Ok(result?)
    }

    /// Pauses, resumes, promotes or aborts a rollout. Promote and abort move the label at once.
    pub async fn act_on_rollout(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        id: i64,
        manual: &ManualAction,
        ctx: &MutationContext,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Rollout, RegistryError> {
        let rollout = self.store.get_rollout(project, prompt, id).await?;
        let (state, decision, verb, reason) = match manual {
            ManualAction::Pause { reason } => {
                let (state, decision) = rollout.state.pause(reason, now)?;
                (state, decision, action::ROLLOUT_PAUSE, reason)
            }
            ManualAction::Resume { reason } => {
                let (state, decision) = rollout.state.resume(&rollout.spec, now)?;
                (state, decision, action::ROLLOUT_RESUME, reason)
            }
            ManualAction::Promote { reason } => {
                let (state, decision) = rollout.state.promote(now)?;
                (state, decision, action::ROLLOUT_PROMOTE, reason)
            }
            ManualAction::Abort { reason } => {
                let (state, decision) = rollout.state.abort(reason, now)?;
                (state, decision, action::ROLLOUT_ABORT, reason)
            }
        };
        let next = Rollout { state: state.clone(), ..rollout.clone() };
        let update = RolloutUpdate {
            project: project.clone(),
            prompt: prompt.clone(),
            id,
            expected_revision: rollout.revision,
            label_target: Some(label_target_for(&next, next.state.canary_percent(&next.spec))?),
            state,
            check: None,
            action: verb,
            reason: reason.clone(),
            details: json!({"decision": decision, "by": ctx.actor.name}),
        };
        let result = self.store.update_rollout(&update, ctx).await;
        self.cache.invalidate_prompt(project, prompt);
        Ok(result?)
    }

    /// The active (progressing or paused) rollout of a label, if any.
    pub async fn active_rollout(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        label: &LabelName,
    ) -> Result<Option<Rollout>, RegistryError> {
        let filter = RolloutFilter {
            project: Some(project.clone()),
            prompt: Some(prompt.clone()),
            label: Some(label.clone()),
            active_only: true,
            limit: 1,
        };
        Ok(self.store.list_rollouts(&filter).await?.into_iter().next())
    }

    /// The progressing rollouts whose check is due at `now` (one indexed query; most ticks find none).
    pub async fn due_rollouts(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<Rollout>, RegistryError> {
        let filter = RolloutFilter { project: None, prompt: None, label: None, active_only: true, limit: MAX_ACTIVE };
        let mut active = self.store.list_rollouts(&filter).await?;
        active.retain(|rollout| rollout.state.next_check_at().is_some_and(|at| at <= now));
        Ok(active)
    }

    /// One controller pass at `now`: checks every progressing rollout whose check is due and
    /// carries out its decision. Rollouts changed meanwhile by someone else are skipped (their
    /// next pass reads the new revision). Returns what was decided.
    pub async fn run_rollout_checks(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        external: Option<&dyn ExternalChecks>,
    ) -> Result<Vec<CheckOutcome>, RegistryError> {
        let due = self.due_rollouts(now).await?;
        self.check_rollouts(due, now, external).await
    }

    /// Checks `due` (from [`Registry::due_rollouts`]) at `now`; see [`Registry::run_rollout_checks`].
    pub async fn check_rollouts(
        &self,
        due: Vec<Rollout>,
        now: chrono::DateTime<chrono::Utc>,
        external: Option<&dyn ExternalChecks>,
    ) -> Result<Vec<CheckOutcome>, RegistryError> {
        let mut outcomes = Vec::new();
        for rollout in due {
            match self.check_rollout(&rollout, now, external).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(error) if error.kind() == opm_core::ErrorKind::Conflict => {
                    tracing::info!(rollout = rollout.id, %error, "rollout changed during its check; skipped");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(outcomes)
    }

    async fn check_rollout(
        &self,
        rollout: &Rollout,
        now: chrono::DateTime<chrono::Utc>,
        external: Option<&dyn ExternalChecks>,
    ) -> Result<CheckOutcome, RegistryError> {
        let since = rollout.state.window_start().unwrap_or(rollout.updated_at);
        let (canary, stable) = self.measure_arms(rollout, since, now).await?;
        let mut check = evaluate(&rollout.spec, &canary, &stable);
        let findings = match external {
            Some(external) => Some(external.check(rollout).await),
            None => None,
        };
        if let Some(findings) = &findings {
            check.verdict = merge(check.verdict, findings);
        }
        let (state, decision) = rollout.state.next(&rollout.spec, &check, now);
        let next = Rollout { state: state.clone(), ..rollout.clone() };
        let (verb, reason) = match &decision {
            Decision::SetWeight { canary_percent } => {
                (action::ROLLOUT_ADVANCE, format!("check passed; canary share raised to {canary_percent}%"))
            }
            Decision::Hold { reason } => (action::ROLLOUT_HOLD, reason.clone()),
            Decision::Pause { reason } => (action::ROLLOUT_PAUSE, reason.clone()),
            Decision::Promote => (action::ROLLOUT_PROMOTE, "every step passed; canary promoted to 100%".to_owned()),
            Decision::Abort { reason } => (action::ROLLOUT_ABORT, reason.clone()),
        };
        let update = RolloutUpdate {
            project: rollout.project.clone(),
            prompt: rollout.prompt.clone(),
            id: rollout.id,
            expected_revision: rollout.revision,
            label_target: Some(label_target_for(&next, next.state.canary_percent(&next.spec))?),
            state,
            check: Some(check.clone()),
            action: verb,
            reason,
            details: json!({
                "decision": decision,
                "check": check,
                "window": {"since": since, "until": now},
                "external": findings.map(|f| f.values),
            }),
        };
        let ctx = MutationContext::new(Actor::system(CONTROLLER_ACTOR), now);
        let result = self.store.update_rollout(&update, &ctx).await;
        self.cache.invalidate_prompt(&rollout.project, &rollout.prompt);
        Ok(CheckOutcome { rollout: result?, decision })
    }

    /// The canary's and the stable version's metrics over `[since, until)`, counting only calls
    /// served through the rollout's label.
    async fn measure_arms(
        &self,
        rollout: &Rollout,
        since: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<(ArmMetrics, ArmMetrics), RegistryError> {
        let query = StatsQuery {
            project: rollout.project.clone(),
            prompt: rollout.prompt.clone(),
            since,
            until,
            label: Some(rollout.label.to_string()),
            by: StatsGroupBy::Version,
        };
        let groups = self.store.generation_stats(&query).await?;
        let arm =
            |version: u32| groups.iter().find(|g| g.group == version.to_string()).map(arm_metrics).unwrap_or_default();
        Ok((arm(rollout.canary_version), arm(rollout.stable_version)))
    }

    async fn current_label(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        label: &LabelName,
    ) -> Result<Label, RegistryError> {
        let labels = self.store.list_labels(project, prompt).await?;
        labels.into_iter().find(|l| &l.name == label && !l.name.is_latest()).ok_or_else(|| {
            RegistryError::from(CoreError::InvalidRollout(format!(
                "prompt `{prompt}` has no label `{label}` to roll out; set it to the stable version first"
            )))
        })
    }
}

/// Adds outside findings to a verdict: any failure fails the check; a gap keeps a passing check
/// from passing (inconclusive), so a rollout never advances on metrics it could not read.
fn merge(verdict: Verdict, findings: &ExternalFindings) -> Verdict {
    match verdict {
        Verdict::Failed { mut reasons } => {
            reasons.extend(findings.failures.iter().cloned());
            Verdict::Failed { reasons }
        }
        _ if !findings.failures.is_empty() => Verdict::Failed { reasons: findings.failures.clone() },
        Verdict::Inconclusive { mut reasons } => {
            reasons.extend(findings.gaps.iter().cloned());
            Verdict::Inconclusive { reasons }
        }
        Verdict::Passed if !findings.gaps.is_empty() => Verdict::Inconclusive { reasons: findings.gaps.clone() },
        Verdict::Passed => Verdict::Passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_failures_fail_and_gaps_block_a_pass() {
        let failing = ExternalFindings { failures: vec!["p95 too high".into()], ..Default::default() };
        let gap = ExternalFindings { gaps: vec!["no data".into()], ..Default::default() };
        let inconclusive = || Verdict::Inconclusive { reasons: vec!["few samples".into()] };
        assert_eq!(merge(Verdict::Passed, &failing), Verdict::Failed { reasons: vec!["p95 too high".into()] });
        assert_eq!(merge(inconclusive(), &failing), Verdict::Failed { reasons: vec!["p95 too high".into()] });
        assert_eq!(merge(Verdict::Passed, &gap), Verdict::Inconclusive { reasons: vec!["no data".into()] });
        assert_eq!(
            merge(inconclusive(), &gap),
            Verdict::Inconclusive { reasons: vec!["few samples".into(), "no data".into()] }
        );
        assert_eq!(merge(Verdict::Passed, &ExternalFindings::default()), Verdict::Passed);
    }
}
