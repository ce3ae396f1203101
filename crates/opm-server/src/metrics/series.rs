//! The caches behind [`super::Metrics`]: metric handles by label-set key (so a hot path hashes
//! one key instead of registering every series), and the guard that bounds caller-chosen label
//! values.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

/// Most label sets cached per family; past it, handles are registered per call (still correct).
const MAX_CACHED_SERIES: usize = 10_000;

/// Metric handles by label-set key.
pub(super) struct SeriesCache<T> {
    map: RwLock<HashMap<String, T>>,
}

impl<T: Clone> SeriesCache<T> {
    pub(super) fn new() -> Self {
        Self { map: RwLock::new(HashMap::new()) }
    }

    pub(super) fn get_or_insert(&self, key: &str, make: impl FnOnce() -> T) -> T {
        if let Ok(map) = self.map.read()
            && let Some(found) = map.get(key)
        {
            return found.clone();
        }
        let made = make();
        if let Ok(mut map) = self.map.write()
            && map.len() < MAX_CACHED_SERIES
        {
            return map.entry(key.to_owned()).or_insert(made).clone();
        }
        made
    }
}

/// Admits at most `limit` distinct values of a caller-chosen label; later new values read `other`.
pub struct LabelGuard {
    limit: usize,
    seen: Mutex<HashSet<String>>,
}

impl LabelGuard {
    pub fn new(limit: usize) -> Self {
        Self { limit, seen: Mutex::new(HashSet::new()) }
    }

    /// The value to use as a label.
    pub fn admit(&self, value: &str) -> String {
        let Ok(mut seen) = self.seen.lock() else { return "other".to_owned() };
        if seen.contains(value) {
            return value.to_owned();
        }
        if seen.len() >= self.limit {
            return "other".to_owned();
        }
        seen.insert(value.to_owned());
        value.to_owned()
    }
}
