//! The resolve cache: `(project, prompt, label or version)` → the serving entry of a resolved
//! version (`entry.rs`: its encoded answer, compact content and lazily compiled templates).
//!
//! A label whose target is a split has one entry for the label itself (its stable arm) and one per
//! other arm served, keyed by the arm's version, so every arm's compiled template and includes (at
//! the same label) are cached like a plain label's.
//!
//! Loads race with invalidations safely: a load remembers the epoch it started in and its result is
//! only inserted if no invalidation happened meanwhile. A compile (which resolves includes after
//! the entry is cached) marks its entry as compiling, and an invalidation drops compiling entries,
//! so a compile that read an include just before it changed is never kept.
//!
//! The cache has a byte budget (`[cache] max_bytes`): each entry is charged an estimate of what it
//! holds (the heap bytes of its answers and compact content, and its compiled templates, which are
//! built lazily, so they are charged up front from whether the templates are plain or need
//! minijinja; the fixed part is calibrated against a measurement) and, past the budget, the least
//! recently used entries go first. Recency costs a warm read one relaxed load (and a store only the
//! first time an entry is read after a miss elsewhere): the "clock" is the number of inserts.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use opm_core::names::{ProjectName, PromptName};
use opm_store::{Resolved, Selector};

use crate::RegistryError;
use crate::entry::{AnswerEncoder, ResolvedEntry};
use crate::plain::ServingTemplate;

/// The default byte budget, sized for a small VM: about nine thousand typical chat prompts with
/// plain templates at the calibrated charge (about two thousand that need minijinja).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// What one entry is charged besides its variable-size parts: the map slot, the key, the entry's
/// own fields, the `Arc`s, the compiled entry and the allocator's rounding. Calibrated against `opm-server`'s
/// `examples/cache_memory.rs` (release, mimalloc): see docs/benchmarks.md, "Resolve cache memory".
const ENTRY_OVERHEAD_BYTES: usize = 768;

/// What a plain template's plan costs: a few segments and the compiled entry's share.
const PLAIN_PLAN_BYTES: usize = 96;

/// What minijinja's compiled form of one template costs besides its source: minijinja 3.1
/// preallocates 256 instructions and 128 line records per template. Plain templates
/// (`plain.rs`) are not compiled and are not charged this.
const COMPILED_TEMPLATE_BYTES: usize = 12 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    project: ProjectName,
    prompt: PromptName,
    selector: Selector,
    /// For a label whose target is a split: the arm's version (`None`: the label's own entry).
    arm: Option<u32>,
}

/// A cached entry with its charge and when it was last read.
struct Slot {
    entry: Arc<ResolvedEntry>,
    bytes: usize,
    used: AtomicU64,
}

/// What the cache holds and has done, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    /// The estimated bytes held (see the module docs).
    pub bytes: usize,
    pub max_bytes: usize,
    pub hits: u64,
    pub misses: u64,
    /// Entries dropped to stay within the budget (invalidations are not evictions).
    pub evictions: u64,
}

pub(crate) struct ResolveCache {
    entries: RwLock<HashMap<CacheKey, Slot>>,
    epoch: AtomicU64,
    /// Inserts so far: the clock recency is measured on.
    tick: AtomicU64,
    bytes: AtomicUsize,
    max_bytes: AtomicUsize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl Default for ResolveCache {
    fn default() -> Self {
        Self {
            entries: RwLock::default(),
            epoch: AtomicU64::new(0),
            tick: AtomicU64::new(0),
            bytes: AtomicUsize::new(0),
            max_bytes: AtomicUsize::new(DEFAULT_MAX_BYTES),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }
}

impl ResolveCache {
    pub(crate) async fn get_or_load<F, Fut>(
        &self,
        project: &ProjectName,
        prompt: &PromptName,
        selector: &Selector,
        arm: Option<u32>,
        encoder: &dyn AnswerEncoder,
        load: F,
    ) -> Result<Arc<ResolvedEntry>, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Resolved, RegistryError>>,
    {
        let key = CacheKey { project: project.clone(), prompt: prompt.clone(), selector: selector.clone(), arm };
        if let Some(slot) = self.read().get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            let now = self.tick.load(Ordering::Relaxed);
            if slot.used.load(Ordering::Relaxed) != now {
                slot.used.store(now, Ordering::Relaxed);
            }
            return Ok(slot.entry.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::Acquire);
        let entry = Arc::new(ResolvedEntry::new(load().await?, encoder));
        let bytes = estimated_bytes(&entry);
        let max_bytes = self.max_bytes.load(Ordering::Relaxed);
        let mut entries = self.write();
        if self.epoch.load(Ordering::Acquire) == epoch && bytes <= max_bytes {
            let used = AtomicU64::new(self.tick.fetch_add(1, Ordering::Relaxed) + 1);
            if let Some(old) = entries.insert(key, Slot { entry: entry.clone(), bytes, used }) {
                self.bytes.fetch_sub(old.bytes, Ordering::Relaxed);
            }
            let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
            if total > max_bytes {
                self.evict(&mut entries, max_bytes);
            }
        }
        Ok(entry)
    }

    /// Drops the least recently read entries until an eighth of the budget is free, so a full cache
    /// sorts once per many inserts rather than once per insert.
    fn evict(&self, entries: &mut HashMap<CacheKey, Slot>, max_bytes: usize) {
        let target = max_bytes - max_bytes / 8;
        let mut by_age: Vec<(u64, CacheKey)> =
            entries.iter().map(|(key, slot)| (slot.used.load(Ordering::Relaxed), key.clone())).collect();
        by_age.sort_unstable_by_key(|(used, _)| *used);
        let mut total = self.bytes.load(Ordering::Relaxed);
        let mut evicted = 0u64;
        for (_, key) in by_age {
            if total <= target {
                break;
            }
            if let Some(slot) = entries.remove(&key) {
                total -= slot.bytes;
                evicted += 1;
            }
        }
        self.bytes.store(total, Ordering::Relaxed);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    /// Sets the byte budget, evicting at once if the cache holds more.
    pub(crate) fn set_max_bytes(&self, max_bytes: usize) {
        self.max_bytes.store(max_bytes, Ordering::Relaxed);
        let mut entries = self.write();
        if self.bytes.load(Ordering::Relaxed) > max_bytes {
            self.evict(&mut entries, max_bytes);
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.read().len(),
            bytes: self.bytes.load(Ordering::Relaxed),
            max_bytes: self.max_bytes.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn invalidate_prompt(&self, project: &ProjectName, prompt: &PromptName) {
        let mut entries = self.write();
        let mut freed = 0usize;
        entries.retain(|key, slot| {
            let keep = !(&key.project == project && slot.entry.depends_on(prompt));
            if !keep {
                freed += slot.bytes;
            }
            keep
        });
        self.bytes.fetch_sub(freed, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.write();
        entries.clear();
        self.bytes.store(0, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<CacheKey, Slot>> {
        self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<CacheKey, Slot>> {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The charge of an entry: its fixed overhead, the heap bytes it holds (the encoded answers, the
/// compact content, names) and its compiled templates: a plain plan's segments, or, when its
/// templates need minijinja, their compiled form (charged whether or not it is built yet).
fn estimated_bytes(entry: &ResolvedEntry) -> usize {
    let content = &entry.content;
    let templates = content.sources().count();
    let compiled = if ServingTemplate::is_plain(content) {
        templates * PLAIN_PLAN_BYTES
    } else {
        templates * COMPILED_TEMPLATE_BYTES + content.sources().map(str::len).sum::<usize>()
    };
    ENTRY_OVERHEAD_BYTES + entry.heap_bytes() + compiled
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use opm_core::content::{PromptBody, VersionContent};
    use opm_core::prompt::{Actor, Prompt, PromptVersion};

    use super::*;

    fn resolved(name: &str) -> Resolved {
        let project = ProjectName::parse("default").unwrap();
        let name = PromptName::parse(name).unwrap();
        let at = Utc.timestamp_opt(0, 0).unwrap();
        let content = VersionContent {
            body: PromptBody::Text { template: "hello".into() },
            variables: Default::default(),
            model: None,
            metadata: Default::default(),
        };
        let version = PromptVersion {
            project: project.clone(),
            prompt: name.clone(),
            version: 1,
            content,
            message: String::new(),
            author: Actor::system("test"),
            created_at: at,
            content_hash: "sha256:00".into(),
        };
        let prompt = Prompt {
            project,
            name,
            description: String::new(),
            tags: Vec::new(),
            archived: false,
            latest_version: Some(1),
            created_at: at,
            updated_at: at,
        };
        Resolved { prompt, label: None, version }
    }

    async fn cached(cache: &ResolveCache, name: &str) -> Arc<ResolvedEntry> {
        let project = ProjectName::parse("default").unwrap();
        let prompt = PromptName::parse(name).unwrap();
        let resolved = resolved(name);
        let encoder = crate::entry::SummaryEncoder;
        cache
            .get_or_load(&project, &prompt, &Selector::Version(1), None, &encoder, || async { Ok(resolved) })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_invalidation_drops_an_entry_whose_compile_is_under_way_and_only_that_one() {
        let cache = ResolveCache::default();
        let (project, other) = (ProjectName::parse("default").unwrap(), PromptName::parse("snippet").unwrap());
        let compiling = cached(&cache, "compiling").await;
        let idle = cached(&cache, "idle").await;
        compiling.compiling.store(1, Ordering::Release);
        cache.invalidate_prompt(&project, &other);
        assert_eq!(cache.len(), 1, "the compiling entry is gone, the idle one (no includes) stays");
        assert!(Arc::ptr_eq(&cached(&cache, "idle").await, &idle));
        compiling.compiling.store(0, Ordering::Release);
        let reloaded = cached(&cache, "compiling").await;
        assert!(!Arc::ptr_eq(&reloaded, &compiling), "the next read loads and compiles afresh");
    }
}
