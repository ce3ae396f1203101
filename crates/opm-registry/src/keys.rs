//! API-key authentication with an in-memory cache keyed by the secret's hash. Revocations (here
//! or, through store events, on another replica) clear it. Successful authentications are noted
//! in memory ([`KeyUsage`]) and written to the store in batches by a periodic flush, never once per
//! request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use opm_core::auth::{ApiKey, hash_secret};
use opm_store::Store;

use crate::RegistryError;

const MAX_KEYS: usize = 10_000;

/// A key that a presented secret belongs to. It may be revoked: the caller decides what to do.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub key: Arc<ApiKey>,
}

#[derive(Default)]
pub(crate) struct KeyCache {
    keys: RwLock<HashMap<String, Arc<ApiKey>>>,
    epoch: AtomicU64,
}

impl KeyCache {
    pub(crate) async fn authenticate(
        &self,
        store: &dyn Store,
        secret: &str,
    ) -> Result<Option<Authenticated>, RegistryError> {
        let hash = hash_secret(secret);
        if let Some(key) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(&hash) {
            return Ok(Some(Authenticated { key: key.clone() }));
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let Some(key) = store.find_key_by_hash(&hash).await? else {
            return Ok(None);
        };
        let key = Arc::new(key);
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if self.epoch.load(Ordering::Acquire) == epoch {
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
            keys.insert(hash, key.clone());
        }
        Ok(Some(Authenticated { key }))
    }

    pub(crate) fn clear(&self) {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.clear();
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// When each key last authenticated a request, since the last flush.
#[derive(Default)]
pub(crate) struct KeyUsage {
    pending: std::sync::Mutex<HashMap<String, DateTime<Utc>>>,
}

impl KeyUsage {
    /// Notes a use of `id` at `at` (keeps the latest).
    pub(crate) fn record(&self, id: &str, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(id) {
            Some(last) if *last >= at => {}
            Some(last) => *last = at,
            None => {
                pending.insert(id.to_owned(), at);
            }
        }
    }

    /// The latest unflushed use of `id`.
    pub(crate) fn pending(&self, id: &str) -> Option<DateTime<Utc>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).get(id).copied()
    }

    /// Writes every pending use in one store call; on failure they are kept for the next flush.
    /// Returns how many keys were written.
    pub(crate) async fn flush(&self, store: &dyn Store) -> Result<usize, RegistryError> {
        let batch: Vec<(String, DateTime<Utc>)> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect();
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(error) = store.record_key_use(&batch).await {
            for (id, at) in &batch {
                self.record(id, *at);
            }
            return Err(error.into());
        }
        Ok(batch.len())
    }
}
