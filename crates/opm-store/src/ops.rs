//! [`Ops`]: the primitive reads and writes the engine composes into [`crate::Store`] calls.
//!
//! They are implemented once, by [`crate::session::Session`], for both drivers; the engine sees
//! only `dyn Ops`, so no SQL and no driver type leaks into it. Generation telemetry and rollouts
//! have their own traits, [`GenerationOps`] and [`RolloutOps`], which every `Ops` also implements.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opm_core::audit::AuditEntry;
use opm_core::auth::ApiKey;
use opm_core::label::{Label, LabelChange};
use opm_core::names::{LabelName, ProjectName, PromptName, TagName};
use opm_core::prompt::{Prompt, PromptVersion};
use opm_core::rollout::{CheckResult, Rollout, RolloutState};

use crate::generations::{Feedback, GenerationRow, GroupStats, NewFeedback, SpendRow, StatsQuery};
use crate::rollouts::{NewRollout, RolloutFilter};
use crate::rows::{HeadRow, StoredPrompt};
use crate::{AuditFilter, MutationContext, NewApiKey, NewPrompt, Project, PromptFilter, StoreResult};

/// The primitive operations on one connection. Writes only make sense inside a write transaction.
#[async_trait]
pub(crate) trait Ops: GenerationOps + RolloutOps + GovernanceOps + Send {
    async fn ping(&mut self) -> StoreResult<()>;

    /// Reads the audit head, taking the writers' lock on PostgreSQL.
    async fn lock_audit_head(&mut self) -> StoreResult<HeadRow>;
    /// Inserts a chained entry and moves the head to it.
    async fn append_audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;
    async fn list_audit(&mut self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
    async fn audit_chain_page(&mut self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>>;

    /// `None` when the project already exists.
    async fn insert_project(&mut self, name: &ProjectName, at: DateTime<Utc>) -> StoreResult<Option<Project>>;
    async fn get_project(&mut self, name: &ProjectName) -> StoreResult<Option<Project>>;
    async fn list_projects(&mut self) -> StoreResult<Vec<Project>>;

    async fn find_prompt(&mut self, project: &ProjectName, name: &PromptName) -> StoreResult<Option<StoredPrompt>>;
    async fn list_prompts(&mut self, project: &ProjectName, filter: &PromptFilter) -> StoreResult<Vec<Prompt>>;
    /// Inserts a prompt and its tags; `None` when the name is taken.
    async fn insert_prompt(&mut self, new: &NewPrompt, at: DateTime<Utc>) -> StoreResult<Option<i64>>;
    async fn update_prompt_meta(
        &mut self,
        prompt_id: i64,
        description: &str,
        tags: &[TagName],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn set_archived(&mut self, prompt_id: i64, archived: bool, at: DateTime<Utc>) -> StoreResult<()>;

    async fn latest_version(&mut self, prompt: &StoredPrompt) -> StoreResult<Option<PromptVersion>>;
    async fn get_version(&mut self, prompt: &StoredPrompt, version: u32) -> StoreResult<Option<PromptVersion>>;
    async fn list_versions(
        &mut self,
        prompt: &StoredPrompt,
        before: Option<u32>,
        limit: u32,
    ) -> StoreResult<Vec<PromptVersion>>;
    async fn insert_version(&mut self, prompt_id: i64, version: &PromptVersion) -> StoreResult<()>;

    async fn get_label(&mut self, prompt_id: i64, name: &LabelName) -> StoreResult<Option<Label>>;
    async fn list_labels(&mut self, prompt_id: i64) -> StoreResult<Vec<Label>>;
    async fn save_label(&mut self, prompt_id: i64, label: &Label) -> StoreResult<()>;
    /// Records a change and returns its `seq`.
    async fn insert_label_change(
        &mut self,
        prompt_id: i64,
        label: &LabelName,
        change: &LabelChange,
    ) -> StoreResult<i64>;
    async fn label_history(&mut self, prompt_id: i64, label: &LabelName, limit: u32) -> StoreResult<Vec<LabelChange>>;

    /// `false` when the id or the secret hash is taken.
    async fn insert_key(&mut self, new: &NewApiKey, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn get_key(&mut self, id: &str) -> StoreResult<Option<ApiKey>>;
    async fn find_key_by_hash(&mut self, secret_hash: &str) -> StoreResult<Option<ApiKey>>;
    async fn list_keys(&mut self, project: Option<&ProjectName>) -> StoreResult<Vec<ApiKey>>;
    async fn revoke_key(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()>;
    async fn count_keys(&mut self) -> StoreResult<u64>;
    /// Global admin keys other than `id` that are neither revoked nor expired at `at`.
    async fn count_other_active_global_admins(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<u64>;
    /// Moves the key's `last_used_at` forward to `at` (never back).
    async fn touch_key(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()>;
}

/// The primitive operations on stored generations and their feedback.
#[async_trait]
pub(crate) trait GenerationOps: Send {
    /// Inserts the rows in one statement (at most [`crate::sql::generations::MAX_ROWS_PER_INSERT`]),
    /// skipping ids already stored; returns the ids inserted.
    async fn insert_generations(&mut self, rows: &[GenerationRow]) -> StoreResult<Vec<String>>;
    /// Adds `(project, key id or '', day number, cost, calls)` to the spend ledger.
    async fn add_spend(&mut self, spend: &[(String, String, i64, f64, i64)]) -> StoreResult<()>;
    /// The ledger from day number `first_day` on.
    async fn spend_since(&mut self, first_day: i64) -> StoreResult<Vec<SpendRow>>;
    async fn get_generation(&mut self, project: &ProjectName, id: &str) -> StoreResult<Option<GenerationRow>>;
    async fn count_generations(&mut self) -> StoreResult<u64>;
    /// Deletes at most `limit` of the oldest generations started before `cutoff`, with their feedback.
    async fn delete_generations_before(&mut self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// `None` when the generation does not exist in the project.
    async fn insert_feedback(&mut self, new: &NewFeedback, at: DateTime<Utc>) -> StoreResult<Option<Feedback>>;
    async fn list_feedback(&mut self, project: &ProjectName, generation_id: &str) -> StoreResult<Vec<Feedback>>;
    /// One entry per group, unordered.
    async fn generation_stats(&mut self, query: &StatsQuery) -> StoreResult<Vec<GroupStats>>;
}

/// The primitive operations on rollouts.
#[async_trait]
pub(crate) trait RolloutOps: Send {
    /// Inserts a rollout at revision 1 with no checks; returns its id.
    async fn insert_rollout(
        &mut self,
        prompt_id: i64,
        new: &NewRollout,
        ctx: &MutationContext,
        at: DateTime<Utc>,
    ) -> StoreResult<i64>;
    async fn get_rollout(&mut self, prompt_id: i64, id: i64) -> StoreResult<Option<Rollout>>;
    /// The progressing or paused rollout of the label, if any.
    async fn active_rollout(&mut self, prompt_id: i64, label: &LabelName) -> StoreResult<Option<Rollout>>;
    /// Writes a transition if the stored revision is `expected_revision` (and increments it);
    /// `false` when it is not. `check`, when given, replaces the last check.
    async fn update_rollout(
        &mut self,
        id: i64,
        expected_revision: i64,
        state: &RolloutState,
        check: Option<&CheckResult>,
        checks: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn list_rollouts(&mut self, filter: &RolloutFilter) -> StoreResult<Vec<Rollout>>;
}

/// The primitive operations on governance policies and change requests.
#[async_trait]
pub(crate) trait GovernanceOps: Send {
    async fn get_policy(&mut self, project: &ProjectName) -> StoreResult<Option<crate::governance::StoredPolicy>>;
    /// Inserts the first policy (`expected_revision` 0) or updates the one at `expected_revision`;
    /// `false` when the stored revision is another.
    async fn save_policy(
        &mut self,
        project: &ProjectName,
        policy: &opm_core::governance::GovernancePolicy,
        expected_revision: i64,
        ctx: &MutationContext,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Inserts a pending request without approvals; returns its id.
    async fn insert_change_request(
        &mut self,
        prompt_id: i64,
        request: &opm_core::governance::ChangeRequest,
    ) -> StoreResult<i64>;
    /// The request and its prompt's row id.
    async fn get_change_request(
        &mut self,
        project: &ProjectName,
        id: i64,
    ) -> StoreResult<Option<(i64, opm_core::governance::ChangeRequest)>>;
    /// Writes the state, approvals and decision of the request.
    async fn update_change_request(&mut self, request: &opm_core::governance::ChangeRequest) -> StoreResult<()>;
    async fn list_change_requests(
        &mut self,
        filter: &crate::governance::ChangeRequestFilter,
    ) -> StoreResult<Vec<opm_core::governance::ChangeRequest>>;
}
