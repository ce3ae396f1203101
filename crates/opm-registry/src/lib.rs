//! OPM's application service over a [`Store`]: the hot read path (label → version → rendered
//! prompt) served from memory, include resolution, API-key authentication, and audit verification.
//!
//! Invariants:
//! - a warm resolve or render never waits on the database;
//! - every write made through this process drops the affected cache entries before the call
//!   returns, and writes from other replicas drop them when the store announces the change;
//! - an entry loaded while an invalidation happened is never inserted (epoch check), so a stale
//!   version cannot be cached after a label move;
//! - no HTTP and no SQL here.

mod cache;
mod clock;
mod entry;
mod error;
mod experiments;
mod governance;
mod includes;
mod keys;
mod plain;
mod rollouts;
mod routing;

use std::sync::Arc;

use opm_core::audit::ChainVerifier;
use opm_core::auth::ApiKey;
use opm_core::label::{Label, LabelTarget};
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Prompt;
use opm_core::template::RenderedBody;
use opm_store::{ChangeEvent, MutationContext, NewVersion, PublishOutcome, Selector, Store};
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;

pub use cache::{CacheStats, DEFAULT_MAX_BYTES as DEFAULT_CACHE_MAX_BYTES};
pub use clock::Clock;
pub use entry::{AnswerEncoder, ResolvedEntry, ServedLabel, ServingContent};
pub use error::RegistryError;
pub use experiments::arm_metrics;
pub use includes::Included;
pub use keys::Authenticated;
pub use rollouts::{CheckOutcome, ExternalChecks, ExternalFindings, ManualAction, StartRollout};
pub use routing::Served;

use cache::ResolveCache;
use keys::{KeyCache, KeyUsage};

/// The result of a render.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub entry: Arc<ResolvedEntry>,
    /// The split arm that served, when the label's target is a split.
    pub assignment: Option<opm_core::split::Assignment>,
    pub body: RenderedBody,
    pub included: Vec<Included>,
}

/// The outcome of verifying the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub checked: u64,
    pub head_hash: String,
    pub broken_at: Option<opm_core::audit::ChainBreak>,
}

/// The application service. Cheap to share: hold it in an `Arc`.
pub struct Registry {
    store: Arc<dyn Store>,
    cache: ResolveCache,
    keys: KeyCache,
    key_usage: KeyUsage,
    /// Projects known to exist (projects are never deleted, so this only grows).
    projects: std::sync::RwLock<std::collections::HashSet<ProjectName>>,
    clock: Arc<Clock>,
    /// The transport's resolve answer encoder (see [`Registry::set_answer_encoder`]).
    encoder: std::sync::OnceLock<Arc<dyn AnswerEncoder>>,
}

impl Registry {
    /// Wraps a store and starts listening to its change events to keep the caches coherent.
    /// Must be called inside a Tokio runtime.
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Self::with_clock(store, Arc::new(Clock::system()))
    }

    /// [`Registry::new`] acting on `clock` (an adjustable one in tests).
    pub fn with_clock(store: Arc<dyn Store>, clock: Arc<Clock>) -> Arc<Self> {
        let registry = Arc::new(Self {
            store: store.clone(),
            cache: ResolveCache::default(),
            keys: KeyCache::default(),
            key_usage: KeyUsage::default(),
            projects: std::sync::RwLock::default(),
            clock,
            encoder: std::sync::OnceLock::new(),
        });
        let mut events = store.subscribe();
        let weak = Arc::downgrade(&registry);
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(registry) = weak.upgrade() else { break };
                match event {
                    Ok(event) => registry.apply_change(&event),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "change events lagged; dropping all cached entries");
                        registry.apply_change(&ChangeEvent::Resync);
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        registry
    }

    /// The clock every time comparison reads.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// Sets how cache entries encode the resolve answer, once, before serving (the HTTP layer's
    /// JSON answer). Entries cached before are dropped. Without one, an entry's answer is a JSON
    /// summary of the version. Returns `false` when an encoder was already set.
    pub fn set_answer_encoder(&self, encoder: Arc<dyn AnswerEncoder>) -> bool {
        let set = self.encoder.set(encoder).is_ok();
        if set {
            self.cache.clear();
        }
        set
    }

    fn encoder(&self) -> &dyn AnswerEncoder {
        match self.encoder.get() {
            Some(encoder) => encoder.as_ref(),
            None => &entry::SummaryEncoder,
        }
    }

    /// The underlying store, for reads and writes that do not touch the cached read path.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn apply_change(&self, event: &ChangeEvent) {
        match event {
            ChangeEvent::Prompt { project, prompt } => self.cache.invalidate_prompt(project, prompt),
            ChangeEvent::Key { .. } => self.keys.clear(),
            ChangeEvent::Project { .. } => {}
            ChangeEvent::Resync => {
                self.cache.clear();
                self.keys.clear();
            }
        }
    }

    /// Resolves a prompt by label or version, from memory when possible.
    pub async fn resolve(
        &self,
        project: &ProjectName,
        name: &PromptName,
        selector: &Selector,
    ) -> Result<Arc<ResolvedEntry>, RegistryError> {
        let store = &self.store;
        self.cache
            .get_or_load(project, name, selector, None, self.encoder(), || async move {
                Ok(store.resolve(project, name, selector).await?)
            })
            .await
    }

    /// Routes (see [`Registry::route`]: a split label picks an arm by `sticky_key`, or at random),
    /// then renders with `variables`. Unpinned includes resolve at the same label (or at
    /// `production` when a version number was asked for); an included prompt whose label is a
    /// split contributes its stable (first) arm.
    pub async fn render(
        &self,
        project: &ProjectName,
        name: &PromptName,
        selector: &Selector,
        sticky_key: Option<&str>,
        variables: &Map<String, Value>,
    ) -> Result<Rendered, RegistryError> {
        let Served { entry, assignment } = self.route(project, name, selector, sticky_key).await?;
        let compiled = entry.compiled(self, project, selector).await?;
        let body = compiled.prompt.render(&entry.content, variables)?;
        let included = compiled.included.clone();
        Ok(Rendered { entry, assignment, body, included })
    }

    /// Renders unpublished `content` as a version of `name` would render through `label`: the
    /// same includes (resolved at `label` unless pinned), variable checks and limits. For previews
    /// before publishing; nothing is stored or cached.
    pub async fn render_draft(
        &self,
        project: &ProjectName,
        name: &PromptName,
        content: &opm_core::content::VersionContent,
        label: &LabelName,
        variables: &Map<String, Value>,
    ) -> Result<(RenderedBody, Vec<Included>), RegistryError> {
        let selector = Selector::Label(label.clone());
        let content = ServingContent::new(content);
        let compiled = includes::compile(self, project, &selector, name, &content).await?;
        let body = compiled.prompt.render(&content, variables)?;
        Ok((body, compiled.included.clone()))
    }

    /// Publishes a version and drops what the cache holds for the prompt. The project's publish
    /// policy ([`Registry::check_publish`], the secret scan included) refuses it first when broken.
    /// The store validates the content (the HTTP layer already has, when converting it).
    pub async fn publish_version(
        &self,
        project: &ProjectName,
        name: &PromptName,
        new: &NewVersion,
        ctx: &MutationContext,
    ) -> Result<PublishOutcome, RegistryError> {
        let violations = self.check_publish(project, name, new).await?;
        opm_core::governance::publish::refuse(violations)?;
        let outcome = self.store.publish_version(project, name, new, ctx).await;
        self.cache.invalidate_prompt(project, name);
        Ok(outcome?)
    }

    /// Moves a label and drops what the cache holds for the prompt.
    pub async fn set_label(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        target: &LabelTarget,
        reason: &str,
        ctx: &MutationContext,
    ) -> Result<Label, RegistryError> {
        let result = self.store.set_label(project, name, label, target, reason, ctx).await;
        self.cache.invalidate_prompt(project, name);
        Ok(result?)
    }

    /// Rolls a label back to its previous target and drops what the cache holds for the prompt.
    /// During a rollout of the label, rolling back aborts the rollout: the label returns to the
    /// stable version at once.
    pub async fn rollback_label(
        &self,
        project: &ProjectName,
        name: &PromptName,
        label: &LabelName,
        reason: &str,
        ctx: &MutationContext,
    ) -> Result<Label, RegistryError> {
        if let Some(rollout) = self.active_rollout(project, name, label).await? {
            let abort = ManualAction::Abort { reason: reason.to_owned() };
            self.act_on_rollout(project, name, rollout.id, &abort, ctx, self.clock.now()).await?;
            let labels = self.store.list_labels(project, name).await?;
            return labels.into_iter().find(|l| &l.name == label).ok_or_else(|| {
                RegistryError::from(opm_store::StoreError::LabelNotFound {
                    prompt: name.to_string(),
                    label: label.to_string(),
                })
            });
        }
        let result = self.store.rollback_label(project, name, label, reason, ctx).await;
        self.cache.invalidate_prompt(project, name);
        Ok(result?)
    }

    /// Archives or restores a prompt and drops what the cache holds for it.
    pub async fn set_archived(
        &self,
        project: &ProjectName,
        name: &PromptName,
        archived: bool,
        ctx: &MutationContext,
    ) -> Result<Prompt, RegistryError> {
        let result = self.store.set_archived(project, name, archived, ctx).await;
        self.cache.invalidate_prompt(project, name);
        Ok(result?)
    }

    /// Authenticates a bearer secret (cached; revocations drop the cache). A key that is neither
    /// revoked nor expired has the use noted for the next [`Registry::flush_key_use`].
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Authenticated>, RegistryError> {
        let authenticated = self.keys.authenticate(self.store.as_ref(), secret).await?;
        if let Some(Authenticated { key }) = &authenticated {
            let now = self.clock.now();
            if key.is_active(now) {
                self.key_usage.record(&key.id, now);
            }
        }
        Ok(authenticated)
    }

    /// Keys of one project (or all, for `None`), with uses not yet flushed folded into
    /// `last_used_at`.
    pub async fn list_keys(&self, project: Option<&ProjectName>) -> Result<Vec<ApiKey>, RegistryError> {
        let mut keys = self.store.list_keys(project).await?;
        for key in &mut keys {
            if let Some(at) = self.key_usage.pending(&key.id) {
                key.last_used_at = Some(key.last_used_at.map_or(at, |stored| stored.max(at)));
            }
        }
        Ok(keys)
    }

    /// Writes the noted key uses to the store in one batch; returns how many keys were written.
    /// On failure the uses are kept for the next flush.
    pub async fn flush_key_use(&self) -> Result<usize, RegistryError> {
        self.key_usage.flush(self.store.as_ref()).await
    }

    /// Revokes a key and drops the key cache at once. Revoking the key `ctx` acts as (the one
    /// making the request) needs `force`; the last active global admin key cannot be revoked at
    /// all (the store checks that inside its transaction).
    pub async fn revoke_key(&self, id: &str, ctx: &MutationContext, force: bool) -> Result<ApiKey, RegistryError> {
        if !force && ctx.actor.key_id.as_deref() == Some(id) {
            return Err(opm_core::CoreError::SelfRevocation(id.to_owned()).into());
        }
        let result = self.store.revoke_key(id, ctx).await;
        self.keys.clear();
        Ok(result?)
    }

    /// Fails with "project not found" unless the project exists (cached once seen).
    pub async fn ensure_project(&self, project: &ProjectName) -> Result<(), RegistryError> {
        if self.projects.read().unwrap_or_else(|p| p.into_inner()).contains(project) {
            return Ok(());
        }
        self.store.get_project(project).await?;
        self.projects.write().unwrap_or_else(|p| p.into_inner()).insert(project.clone());
        Ok(())
    }

    /// Recomputes the whole audit chain, page by page, and reports the first broken entry.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport, RegistryError> {
        const PAGE: u32 = 1000;
        let mut verifier = ChainVerifier::default();
        let mut after = 0;
        loop {
            let page = self.store.audit_chain_page(after, PAGE).await?;
            for entry in &page {
                if let Err(broken) = verifier.check(entry) {
                    return Ok(ChainReport {
                        checked: verifier.checked(),
                        head_hash: verifier.head_hash().to_owned(),
                        broken_at: Some(broken),
                    });
                }
                after = entry.seq;
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        Ok(ChainReport { checked: verifier.checked(), head_hash: verifier.head_hash().to_owned(), broken_at: None })
    }

    /// Sets the resolve cache's byte budget (`[cache] max_bytes`); entries past it are evicted,
    /// least recently read first.
    pub fn set_cache_budget(&self, max_bytes: usize) {
        self.cache.set_max_bytes(max_bytes);
    }

    /// The resolve cache's size and counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Number of cached resolve entries (for tests and metrics).
    pub fn cached_entries(&self) -> usize {
        self.cache.len()
    }
}
