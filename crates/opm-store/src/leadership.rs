//! Leader election: [`Leadership`], what [`crate::Store::try_lead`] returns to the one process
//! that should run a singleton job (such as the rollout controller), and the in-process leadership
//! of the SQLite backend. PostgreSQL's, across processes, is in [`crate::postgres`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

/// Held leadership for one name. Dropping it gives the leadership up, like [`Leadership::release`].
#[async_trait]
pub trait Leadership: Send + Sync {
    /// Whether the lock is still held (false once the connection holding it is gone).
    async fn still_held(&self) -> bool;
    /// Gives the leadership up now.
    async fn release(self: Box<Self>);
}

/// The names led within one process (SQLite: one store instance).
#[derive(Debug, Default, Clone)]
pub(crate) struct LocalLeaders {
    held: Arc<Mutex<HashSet<String>>>,
}

impl LocalLeaders {
    /// Leadership of `name`, unless it is already held.
    pub(crate) fn try_lead(&self, name: &str) -> Option<Box<dyn Leadership>> {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !held.insert(name.to_owned()) {
            return None;
        }
        Some(Box::new(LocalLeadership { leaders: self.clone(), name: name.to_owned() }))
    }
}

/// Leadership held in this process until released or dropped.
struct LocalLeadership {
    leaders: LocalLeaders,
    name: String,
}

#[async_trait]
impl Leadership for LocalLeadership {
    async fn still_held(&self) -> bool {
        true
    }

    async fn release(self: Box<Self>) {
        drop(self);
    }
}

impl Drop for LocalLeadership {
    fn drop(&mut self) {
        let mut held = self.leaders.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.remove(&self.name);
    }
}

/// The PostgreSQL advisory lock key of a leadership name: the first 8 bytes of the SHA-256 of
/// `opm-leader:NAME`, so every OPM process derives the same key and other applications' keys are
/// unlikely to collide with it.
pub(crate) fn advisory_key(name: &str) -> i64 {
    let hex = opm_core::canonical::sha256_hex(format!("opm-leader:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = hex.get(index * 2..index * 2 + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()).unwrap_or(0);
    }
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_local_leader_per_name() {
        let leaders = LocalLeaders::default();
        let first = leaders.try_lead("rollouts").unwrap();
        assert!(leaders.try_lead("rollouts").is_none());
        let other = leaders.try_lead("retention").unwrap();
        assert!(first.still_held().await);
        first.release().await;
        let again = leaders.try_lead("rollouts").unwrap();
        drop(again);
        assert!(leaders.try_lead("rollouts").is_some());
        drop(other);
    }

    #[test]
    fn advisory_keys_are_stable_and_distinct() {
        assert_eq!(advisory_key("rollouts"), advisory_key("rollouts"));
        assert_ne!(advisory_key("rollouts"), advisory_key("retention"));
        let hex = opm_core::canonical::sha256_hex(b"opm-leader:rollouts");
        let expected = u64::from_str_radix(&hex[..16], 16).unwrap();
        assert_eq!(advisory_key("rollouts").to_be_bytes(), expected.to_be_bytes());
    }
}
