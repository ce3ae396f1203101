//! Governance in the application service: the label moves, rollout starts and publishes made for a
//! key pass the project's policy here ([`opm_core::governance`] decides, the store keeps the
//! policy and the change requests).
//!
//! - [`Registry::move_label`]: refuses during a freeze, and refuses a protected label to a key
//!   that must file a change request instead (`label_protected`, naming the request route);
//! - [`Registry::authorize_rollout_start`]: the same rules for starting a rollout (a rollout of a
//!   protected label is started by a key that may move it without approvals);
//! - [`Registry::request_label_change`] and [`Registry::decide_change_request`]: the four-eyes
//!   flow; the approval that completes a request applies it in the store's transaction;
//! - [`Registry::check_publish`]: the publish policy and the secret scan, before anything is written.
//!
//! Rollbacks and rollout aborts never pass through here: getting back is always allowed.
//! The policy is read from the store for each governed write (writes are rare; the hot read path
//! never reads it).

use opm_core::CoreError;
use opm_core::auth::Role;
use opm_core::governance::publish::{PublishInput, Violation};
use opm_core::governance::{ChangeRequest, GovernancePolicy, ImmediateFreeze, MoveRight, RequestedChange};
use opm_core::label::{Label, LabelTarget};
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_store::{
    MutationContext, NewChangeRequest, NewVersion, PolicyChange, RequestAction, RequestDecision, StoredPolicy,
};

use crate::rollouts::StartRollout;
use crate::{Registry, RegistryError};

impl Registry {
    /// The project's governance policy (the default at revision 0 when none was set).
    pub async fn policy(&self, project: &ProjectName) -> Result<StoredPolicy, RegistryError> {
        Ok(self.store.get_policy(project).await?)
    }

    /// Replaces the policy's rules (protected labels, windows, publish rules) but keeps the
    /// immediate freeze as it is: that one is set and lifted only by [`Registry::freeze`].
    pub async fn set_policy(
        &self,
        project: &ProjectName,
        mut policy: GovernancePolicy,
        expected_revision: i64,
        reason: &str,
        ctx: &MutationContext,
    ) -> Result<StoredPolicy, RegistryError> {
        let current = self.store.get_policy(project).await?;
        policy.freeze = current.policy.freeze;
        Ok(self.store.set_policy(project, &policy, expected_revision, PolicyChange::Set, reason, ctx).await?)
    }

    /// Sets (`true`) or lifts (`false`) the project's immediate freeze, audited as
    /// `governance.freeze` / `governance.unfreeze`. Setting it twice keeps the first.
    pub async fn freeze(
        &self,
        project: &ProjectName,
        on: bool,
        reason: &str,
        ctx: &MutationContext,
    ) -> Result<StoredPolicy, RegistryError> {
        opm_core::prompt::check_text("reason", reason, true)?;
        let current = self.store.get_policy(project).await?;
        let mut policy = current.policy.clone();
        let change = if on {
            if policy.freeze.is_some() {
                return Ok(current);
            }
            policy.freeze =
                Some(ImmediateFreeze { reason: reason.to_owned(), since: self.clock.now(), by: ctx.actor.clone() });
            PolicyChange::Freeze
        } else {
            if policy.freeze.is_none() {
                return Ok(current);
            }
            policy.freeze = None;
            PolicyChange::Unfreeze
        };
        Ok(self.store.set_policy(project, &policy, current.revision, change, reason, ctx).await?)
    }

    /// Fails unless a key with `role` may move `label` directly now: no freeze, and the label
    /// unprotected or movable by `role` without approvals.
    pub async fn authorize_label_move(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        label: &LabelName,
        role: Role,
    ) -> Result<(), RegistryError> {
        let policy = self.store.get_policy(project).await?.policy;
        policy.ensure_not_frozen(self.clock.now())?;
        match policy.move_right(label, role) {
            MoveRight::Direct => Ok(()),
            MoveRight::Request { move_role, approvals } => Err(CoreError::LabelProtected {
                prompt: prompt.to_string(),
                label: label.to_string(),
                move_role: move_role.to_string(),
                approvals,
            }
            .into()),
        }
    }

    /// [`Registry::set_label`] for a key with `role`, under the project's policy.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_label(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        target: &LabelTarget,
        reason: &str,
        role: Role,
        ctx: &MutationContext,
    ) -> Result<Label, RegistryError> {
        self.authorize_label_move(project, name, label, role).await?;
        self.set_label(project, name, label, target, reason, ctx).await
    }

    /// Fails unless a key with `role` may start a rollout of `label` now (the rules of a move).
    pub async fn authorize_rollout_start(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        label: &LabelName,
        role: Role,
    ) -> Result<(), RegistryError> {
        self.authorize_label_move(project, prompt, label, role).await
    }

    /// Fails during a freeze (for rollout resumes and promotions, which move the label forward).
    pub async fn ensure_not_frozen(&self, project: &ProjectName) -> Result<(), RegistryError> {
        let policy = self.store.get_policy(project).await?.policy;
        Ok(policy.ensure_not_frozen(self.clock.now())?)
    }

    /// Files a change request to point `label` at `target`, needing the approvals the label's
    /// protection asks of a key with `role` (at least one). Allowed during a freeze (it cannot
    /// apply until the freeze ends).
    #[allow(clippy::too_many_arguments)]
    pub async fn request_label_change(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        label: &LabelName,
        target: LabelTarget,
        reason: &str,
        role: Role,
        ctx: &MutationContext,
    ) -> Result<ChangeRequest, RegistryError> {
        let change = RequestedChange::Label { target };
        self.file_request(project, prompt, label, change, reason, role, ctx).await
    }

    /// Files a change request to start the rollout `start` on its (protected) label, with the
    /// approvals a move of that label needs: the approval that completes it starts the rollout,
    /// timed from then, if the label still points at the version it pointed at when filed.
    pub async fn request_rollout_start(
        &self,
        start: &StartRollout,
        role: Role,
        ctx: &MutationContext,
    ) -> Result<ChangeRequest, RegistryError> {
        start.spec.validate()?;
        let change = RequestedChange::Rollout { canary_version: start.canary_version, spec: start.spec.clone() };
        self.file_request(&start.project, &start.prompt, &start.label, change, &start.reason, role, ctx).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn file_request(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        label: &LabelName,
        change: RequestedChange,
        reason: &str,
        role: Role,
        ctx: &MutationContext,
    ) -> Result<ChangeRequest, RegistryError> {
        let policy = self.store.get_policy(project).await?.policy;
        let approvals = match policy.move_right(label, role) {
            MoveRight::Request { approvals, .. } => approvals.max(1),
            MoveRight::Direct => 1,
        };
        let new = NewChangeRequest {
            project: project.clone(),
            prompt: prompt.clone(),
            label: label.clone(),
            change,
            reason: reason.to_owned(),
            approvals_required: approvals,
        };
        Ok(self.store.create_change_request(&new, ctx).await?)
    }

    /// Approves, rejects or cancels request `id` for a key with `role`. Approving and rejecting
    /// need the label's `move_role` (deployer when the label is no longer protected); cancelling
    /// is for the author or an admin. An approval that would apply waits out a freeze.
    pub async fn decide_change_request(
        &self,
        project: &ProjectName,
        id: i64,
        action: RequestAction,
        reason: &str,
        role: Role,
        ctx: &MutationContext,
    ) -> Result<ChangeRequest, RegistryError> {
        let request = self.store.get_change_request(project, id).await?;
        let policy = self.store.get_policy(project).await?.policy;
        let needed = policy.protection(&request.label).map_or(Role::Deployer, |protection| protection.move_role);
        match action {
            RequestAction::Approve | RequestAction::Reject if role < needed => {
                return Err(CoreError::LabelProtected {
                    prompt: request.prompt.to_string(),
                    label: request.label.to_string(),
                    move_role: needed.to_string(),
                    approvals: request.approvals_required,
                }
                .into());
            }
            RequestAction::Cancel if role < Role::Admin && !request.is_author(&ctx.actor) => {
                return Err(CoreError::NotRequestAuthor { id }.into());
            }
            _ => {}
        }
        if action == RequestAction::Approve && request.approvals.len() + 1 >= usize::from(request.approvals_required) {
            request.check_approver(&ctx.actor)?;
            policy.ensure_not_frozen(self.clock.now())?;
        }
        let decision = RequestDecision { project: project.clone(), id, action, reason: reason.to_owned() };
        let result = self.store.decide_change_request(&decision, ctx).await;
        self.cache.invalidate_prompt(project, &request.prompt);
        Ok(result?)
    }

    /// Every violation of the project's publish policy by `new` (published to prompt `name`), in
    /// the order the rules are listed; empty when the version may be published.
    pub async fn check_publish(
        &self,
        project: &ProjectName,
        name: &PromptName,
        new: &NewVersion,
    ) -> Result<Vec<Violation>, RegistryError> {
        let policy = self.store.get_policy(project).await?.policy;
        let description = match &new.create_prompt {
            Some(created) => match self.store.get_prompt(project, name).await {
                Ok(prompt) => prompt.description,
                Err(opm_store::StoreError::PromptNotFound(_)) => created.description.clone(),
                Err(error) => return Err(error.into()),
            },
            None if policy.publish.require_description => self.store.get_prompt(project, name).await?.description,
            None => String::new(),
        };
        let input = PublishInput { content: &new.content, message: &new.message, description: &description };
        Ok(opm_core::governance::check_publish(&policy.publish, input)?)
    }
}
