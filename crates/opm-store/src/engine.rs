//! The [`Store`] implementation both SQL backends share: validation, audit chaining, change events
//! and the rules of each call, written once against [`Ops`].
//!
//! A backend only says how to get a read connection and a write transaction ([`Backend`]) and how a
//! commit announces its events ([`WriteTx::commit`]). Every mutation runs in a [`Mutation`], which
//! reads the audit head first (taking the writers' lock), chains its audit entries after it, and
//! commits them together with the change.

mod generations;
mod governance;
mod keys;
mod labels;
mod projects;
mod prompts;
mod rollouts;
mod versions;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use opm_core::audit::{AuditEntry, AuditRecord};
use opm_core::auth::ApiKey;
use opm_core::label::{Label, LabelChange, LabelTarget};
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::{Prompt, PromptVersion};
use opm_core::rollout::Rollout;
use tokio::sync::broadcast;

use crate::leadership::Leadership;
use crate::ops::Ops;
use crate::rollouts::{NewRollout, RolloutFilter, RolloutUpdate};
use crate::rows::truncate_micros;
use crate::{
    AuditFilter, ChangeEvent, Feedback, GenerationRow, GroupStats, MutationContext, NewApiKey, NewFeedback, NewPrompt,
    NewVersion, Project, PromptFilter, PromptPatch, PublishOutcome, Resolved, Selector, SpendRow, StatsQuery, Store,
    StoreResult,
};

/// What a SQL backend provides to the shared engine.
#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    const NAME: &'static str;
    /// A connection for reads.
    async fn reader(&self) -> StoreResult<Box<dyn Ops>>;
    /// A new write transaction (on SQLite already holding the write lock).
    async fn writer(&self) -> StoreResult<Box<dyn WriteTx>>;
    /// Change events committed by this process (and, on PostgreSQL, by other processes).
    fn events(&self) -> broadcast::Receiver<ChangeEvent>;
    /// See [`Store::try_lead`].
    async fn lead(&self, name: &str) -> StoreResult<Option<Box<dyn Leadership>>>;
}

/// An open write transaction. Dropping it rolls back.
#[async_trait]
pub(crate) trait WriteTx: Send {
    fn ops(&mut self) -> &mut dyn Ops;
    /// Commits and announces `events` (on PostgreSQL with `pg_notify` inside the transaction).
    async fn commit(self: Box<Self>, events: Vec<ChangeEvent>) -> StoreResult<()>;
}

/// One mutation: a write transaction holding the audit head, and the events to announce on commit.
pub(crate) struct Mutation {
    tx: Box<dyn WriteTx>,
    head: Option<(i64, String)>,
    events: Vec<ChangeEvent>,
}

impl Mutation {
    /// Opens a write transaction and locks the audit head, so writers queue here and each sees the
    /// previous writer's commit.
    pub(crate) async fn begin(backend: &impl Backend) -> StoreResult<Self> {
        let mut tx = backend.writer().await?;
        let head = tx.ops().lock_audit_head().await?;
        let head = (head.seq > 0).then_some((head.seq, head.hash));
        Ok(Self { tx, head, events: Vec::new() })
    }

    pub(crate) fn ops(&mut self) -> &mut dyn Ops {
        self.tx.ops()
    }

    /// Chains `record` after the head and stores it.
    pub(crate) async fn audit(&mut self, mut record: AuditRecord) -> StoreResult<AuditEntry> {
        record.at = truncate_micros(record.at);
        let entry = record.chain(self.head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())));
        self.tx.ops().append_audit(&entry).await?;
        self.head = Some((entry.seq, entry.hash.clone()));
        Ok(entry)
    }

    /// Queues an event for after the commit (once, however often it is announced).
    pub(crate) fn announce(&mut self, event: ChangeEvent) {
        if !self.events.contains(&event) {
            self.events.push(event);
        }
    }

    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.tx.commit(self.events).await
    }
}

/// An audit record of `action` by the context's actor, without snapshots or reason.
pub(crate) fn audit_record(
    ctx: &MutationContext,
    at: DateTime<Utc>,
    action: &str,
    project: &str,
    target: String,
) -> AuditRecord {
    AuditRecord {
        at,
        actor: ctx.actor.clone(),
        action: action.to_owned(),
        project: project.to_owned(),
        target,
        before: None,
        after: None,
        reason: None,
        request_id: ctx.request_id.clone(),
    }
}

#[async_trait]
impl<B: Backend> Store for B {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn ping(&self) -> StoreResult<()> {
        self.reader().await?.ping().await
    }

    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.events()
    }

    async fn create_project(&self, name: &ProjectName, ctx: &MutationContext) -> StoreResult<Project> {
        projects::create(self, name, ctx).await
    }

    async fn list_projects(&self) -> StoreResult<Vec<Project>> {
        self.reader().await?.list_projects().await
    }

    async fn get_project(&self, name: &ProjectName) -> StoreResult<Project> {
        projects::get(self, name).await
    }

    async fn create_prompt(&self, new: &NewPrompt, ctx: &MutationContext) -> StoreResult<Prompt> {
        prompts::create(self, new, ctx).await
    }

    async fn get_prompt(&self, project: &ProjectName, name: &PromptName) -> StoreResult<Prompt> {
        let mut ops = self.reader().await?;
        Ok(prompts::existing(ops.as_mut(), project, name).await?.prompt)
    }

    async fn list_prompts(&self, project: &ProjectName, filter: &PromptFilter) -> StoreResult<Vec<Prompt>> {
        prompts::list(self, project, filter).await
    }

    async fn update_prompt(
        &self,
        project: &ProjectName,
        name: &PromptName,
        patch: &PromptPatch,
        ctx: &MutationContext,
    ) -> StoreResult<Prompt> {
        prompts::update(self, project, name, patch, ctx).await
    }

    async fn set_archived(
        &self,
        project: &ProjectName,
        name: &PromptName,
        archived: bool,
        ctx: &MutationContext,
    ) -> StoreResult<Prompt> {
        prompts::set_archived(self, project, name, archived, ctx).await
    }

    async fn publish_version(
        &self,
        project: &ProjectName,
        name: &PromptName,
        new: &NewVersion,
        ctx: &MutationContext,
    ) -> StoreResult<PublishOutcome> {
        versions::publish(self, project, name, new, ctx).await
    }

    async fn list_versions(
        &self,
        project: &ProjectName,
        name: &PromptName,
        before: Option<u32>,
        limit: u32,
    ) -> StoreResult<Vec<PromptVersion>> {
        let mut ops = self.reader().await?;
        let stored = prompts::existing(ops.as_mut(), project, name).await?;
        ops.list_versions(&stored, before, limit).await
    }

    async fn get_version(&self, project: &ProjectName, name: &PromptName, version: u32) -> StoreResult<PromptVersion> {
        let mut ops = self.reader().await?;
        let stored = prompts::existing(ops.as_mut(), project, name).await?;
        versions::existing(ops.as_mut(), &stored, version).await
    }

    async fn set_label(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        target: &LabelTarget,
        reason: &str,
        ctx: &MutationContext,
    ) -> StoreResult<Label> {
        labels::set(self, project, name, label, target, reason, ctx).await
    }

    async fn rollback_label(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        reason: &str,
        ctx: &MutationContext,
    ) -> StoreResult<Label> {
        labels::rollback(self, project, name, label, reason, ctx).await
    }

    async fn list_labels(&self, project: &ProjectName, name: &PromptName) -> StoreResult<Vec<Label>> {
        labels::list(self, project, name).await
    }

    async fn label_history(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        limit: u32,
    ) -> StoreResult<Vec<LabelChange>> {
        labels::history(self, project, name, label, limit).await
    }

    async fn resolve(&self, project: &ProjectName, name: &PromptName, selector: &Selector) -> StoreResult<Resolved> {
        labels::resolve(self, project, name, selector).await
    }

    async fn create_key(&self, new: &NewApiKey, ctx: &MutationContext) -> StoreResult<ApiKey> {
        keys::create(self, new, ctx).await
    }

    async fn list_keys(&self, project: Option<&ProjectName>) -> StoreResult<Vec<ApiKey>> {
        self.reader().await?.list_keys(project).await
    }

    async fn revoke_key(&self, id: &str, ctx: &MutationContext) -> StoreResult<ApiKey> {
        keys::revoke(self, id, ctx).await
    }

    async fn record_key_use(&self, uses: &[(String, DateTime<Utc>)]) -> StoreResult<()> {
        keys::record_use(self, uses).await
    }

    async fn find_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
        self.reader().await?.find_key_by_hash(secret_hash).await
    }

    async fn count_keys(&self) -> StoreResult<u64> {
        self.reader().await?.count_keys().await
    }

    async fn append_audit(&self, record: AuditRecord) -> StoreResult<AuditEntry> {
        let mut mutation = Mutation::begin(self).await?;
        let entry = mutation.audit(record).await?;
        mutation.commit().await?;
        Ok(entry)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        self.reader().await?.list_audit(filter).await
    }

    async fn audit_chain_page(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.reader().await?.audit_chain_page(after_seq, limit).await
    }

    async fn insert_generations(&self, rows: &[GenerationRow]) -> StoreResult<u64> {
        generations::insert(self, rows).await
    }

    async fn spend_since(&self, first_day: NaiveDate) -> StoreResult<Vec<SpendRow>> {
        generations::spend_since(self, first_day).await
    }

    async fn get_generation(&self, project: &ProjectName, id: &str) -> StoreResult<GenerationRow> {
        generations::get(self, project, id).await
    }

    async fn count_generations(&self) -> StoreResult<u64> {
        generations::count(self).await
    }

    async fn delete_generations_before(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        generations::delete_before(self, cutoff, limit).await
    }

    async fn add_feedback(&self, new: &NewFeedback) -> StoreResult<Feedback> {
        generations::add_feedback(self, new).await
    }

    async fn list_feedback(&self, project: &ProjectName, generation_id: &str) -> StoreResult<Vec<Feedback>> {
        generations::list_feedback(self, project, generation_id).await
    }

    async fn generation_stats(&self, query: &StatsQuery) -> StoreResult<Vec<GroupStats>> {
        generations::stats(self, query).await
    }

    async fn create_rollout(&self, new: &NewRollout, ctx: &MutationContext) -> StoreResult<Rollout> {
        rollouts::create(self, new, ctx).await
    }

    async fn update_rollout(&self, update: &RolloutUpdate, ctx: &MutationContext) -> StoreResult<Rollout> {
        rollouts::update(self, update, ctx).await
    }

    async fn get_rollout(&self, project: &ProjectName, prompt: &PromptName, id: i64) -> StoreResult<Rollout> {
        rollouts::get(self, project, prompt, id).await
    }

    async fn list_rollouts(&self, filter: &RolloutFilter) -> StoreResult<Vec<Rollout>> {
        rollouts::list(self, filter).await
    }

    async fn get_policy(&self, project: &ProjectName) -> StoreResult<crate::StoredPolicy> {
        governance::get_policy(self, project).await
    }

    async fn set_policy(
        &self,
        project: &ProjectName,
        policy: &opm_core::governance::GovernancePolicy,
        expected_revision: i64,
        change: crate::PolicyChange,
        reason: &str,
        ctx: &MutationContext,
    ) -> StoreResult<crate::StoredPolicy> {
        governance::set_policy(self, project, policy, expected_revision, change, reason, ctx).await
    }

    async fn create_change_request(
        &self,
        new: &crate::NewChangeRequest,
        ctx: &MutationContext,
    ) -> StoreResult<opm_core::governance::ChangeRequest> {
        governance::create_request(self, new, ctx).await
    }

    async fn get_change_request(
        &self,
        project: &ProjectName,
        id: i64,
    ) -> StoreResult<opm_core::governance::ChangeRequest> {
        governance::get_request(self, project, id).await
    }

    async fn list_change_requests(
        &self,
        filter: &crate::ChangeRequestFilter,
    ) -> StoreResult<Vec<opm_core::governance::ChangeRequest>> {
        governance::list_requests(self, filter).await
    }

    async fn decide_change_request(
        &self,
        decision: &crate::RequestDecision,
        ctx: &MutationContext,
    ) -> StoreResult<opm_core::governance::ChangeRequest> {
        governance::decide(self, decision, ctx).await
    }

    async fn try_lead(&self, name: &str) -> StoreResult<Option<Box<dyn Leadership>>> {
        self.lead(name).await
    }
}
