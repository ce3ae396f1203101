//! The resolve cache: `(project, prompt, label or version)` → resolved version, with a lazily
//! compiled template and a lazily encoded response body.
//!
//! A label whose target is a split has one entry for the label itself (its stable arm) and one per
//! other arm served, keyed by the arm's version, so every arm's compiled template and includes (at
//! the same label) are cached like a plain label's.
//!
//! Loads race with invalidations safely: a load remembers the epoch it started in and its result is
//! only inserted if no invalidation happened meanwhile.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use opm_core::names::{ProjectName, PromptName};
use opm_store::{Resolved, Selector};

use crate::RegistryError;
use crate::includes::CompiledEntry;

/// Most entries kept (a bound against unbounded key growth); past it, an eighth of the entries are
/// dropped to make room, so a full cache degrades gradually instead of emptying at once.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    project: ProjectName,
    prompt: PromptName,
    selector: Selector,
    /// For a label whose target is a split: the arm's version (`None`: the label's own entry).
    arm: Option<u32>,
}

/// A resolved version as the read path serves it.
#[derive(Debug)]
pub struct ResolvedEntry {
    pub resolved: Resolved,
    /// Strong ETag: changes whenever the selected version changes.
    pub etag: String,
    /// The encoded response body, filled once by the transport layer.
    pub encoded: OnceLock<bytes::Bytes>,
    /// The same when the entry served a split's arm: `[random, sticky]` (the only per-request
    /// difference; the arm's version, weight and algorithm are fixed for the entry's lifetime).
    pub encoded_arm: [OnceLock<bytes::Bytes>; 2],
    /// The version's model configuration as encoded JSON, filled once by the transport layer for
    /// render answers (`None`: the version has no model configuration).
    pub encoded_model: OnceLock<Option<Box<serde_json::value::RawValue>>>,
    pub(crate) compiled: tokio::sync::OnceCell<Arc<CompiledEntry>>,
}

impl ResolvedEntry {
    pub(crate) fn new(resolved: Resolved) -> Self {
        let hash = resolved.version.content_hash.trim_start_matches("sha256:");
        let short = hash.get(..16).unwrap_or(hash);
        let etag = format!("\"v{}-{short}\"", resolved.version.version);
        Self {
            resolved,
            etag,
            encoded: OnceLock::new(),
            encoded_arm: [OnceLock::new(), OnceLock::new()],
            encoded_model: OnceLock::new(),
            compiled: tokio::sync::OnceCell::new(),
        }
    }

    fn depends_on(&self, prompt: &PromptName) -> bool {
        &self.resolved.prompt.name == prompt || self.compiled.get().is_some_and(|c| c.depends_on.contains(prompt))
    }
}

/// Drops about an eighth of the entries, spread over the map (its iteration order is unrelated to
/// use). Not LRU: tracking recency would cost every warm read a write.
fn evict_some(entries: &mut HashMap<CacheKey, Arc<ResolvedEntry>>) {
    let mut seen = 0usize;
    entries.retain(|_, _| {
        seen += 1;
        !seen.is_multiple_of(8)
    });
}

#[derive(Default)]
pub(crate) struct ResolveCache {
    entries: RwLock<HashMap<CacheKey, Arc<ResolvedEntry>>>,
    epoch: AtomicU64,
}

impl ResolveCache {
    pub(crate) async fn get_or_load<F, Fut>(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        selector: &Selector,
        arm: Option<u32>,
        load: F,
    ) -> Result<Arc<ResolvedEntry>, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Resolved, RegistryError>>,
    {
        let key = CacheKey { project: project.clone(), prompt: prompt.clone(), selector: selector.clone(), arm };
        if let Some(entry) = self.read().get(&key) {
            return Ok(entry.clone());
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let entry = Arc::new(crate::entry_from(load().await?));
        let mut entries = self.write();
        if self.epoch.load(Ordering::Acquire) == epoch {
            if entries.len() >= MAX_ENTRIES {
                evict_some(&mut entries);
            }
            entries.insert(key, entry.clone());
        }
        Ok(entry)
    }

    pub(crate) fn invalidate_prompt(&self, project: &ProjectName, prompt: &PromptName) {
        let mut entries = self.write();
        entries.retain(|key, entry| !(&key.project == project && entry.depends_on(prompt)));
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.write();
        entries.clear();
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<CacheKey, Arc<ResolvedEntry>>> {
        self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<CacheKey, Arc<ResolvedEntry>>> {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
