//! The tamper-evident audit trail: every entry's hash covers its fields and the previous entry's
//! hash, so editing, deleting or reordering any stored entry breaks the chain from that point on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::canonical::{canonical_json, sha256_hex};
use crate::prompt::Actor;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. Stored and filtered by its string form.
pub mod action {
    pub const PROJECT_CREATE: &str = "project.create";
    pub const PROMPT_CREATE: &str = "prompt.create";
    pub const PROMPT_UPDATE: &str = "prompt.update";
    pub const PROMPT_ARCHIVE: &str = "prompt.archive";
    pub const PROMPT_RESTORE: &str = "prompt.restore";
    pub const VERSION_CREATE: &str = "version.create";
    pub const LABEL_SET: &str = "label.set";
    pub const LABEL_ROLLBACK: &str = "label.rollback";
    pub const KEY_CREATE: &str = "key.create";
    pub const KEY_REVOKE: &str = "key.revoke";
    pub const AUTH_DENIED: &str = "auth.denied";
    /// A canary rollout started (the label moved to its first split in the same entry).
    pub const ROLLOUT_START: &str = "rollout.start";
    /// A check passed and the canary's share grew.
    pub const ROLLOUT_ADVANCE: &str = "rollout.advance";
    /// A check was inconclusive or failed within the limit: the share stays.
    pub const ROLLOUT_HOLD: &str = "rollout.hold";
    pub const ROLLOUT_PAUSE: &str = "rollout.pause";
    pub const ROLLOUT_RESUME: &str = "rollout.resume";
    pub const ROLLOUT_PROMOTE: &str = "rollout.promote";
    pub const ROLLOUT_ABORT: &str = "rollout.abort";
    /// A project's governance policy changed (protected labels, freeze windows, publish rules).
    pub const GOVERNANCE_SET: &str = "governance.set";
    /// An immediate change freeze was set.
    pub const GOVERNANCE_FREEZE: &str = "governance.freeze";
    /// The immediate change freeze was lifted.
    pub const GOVERNANCE_UNFREEZE: &str = "governance.unfreeze";
    /// A change request on a protected label was filed.
    pub const CHANGE_REQUEST_CREATE: &str = "change_request.create";
    /// A change request got an approval (and applied, when it was the last one needed).
    pub const CHANGE_REQUEST_APPROVE: &str = "change_request.approve";
    pub const CHANGE_REQUEST_REJECT: &str = "change_request.reject";
    pub const CHANGE_REQUEST_CANCEL: &str = "change_request.cancel";
    /// A change request could not apply: its label moved after it was filed.
    pub const CHANGE_REQUEST_STALE: &str = "change_request.stale";
}

/// An entry before it is chained: what the store appends in the mutation's transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    /// The project the change happened in (empty for global actions such as key management).
    pub project: String,
    /// What was changed, e.g. `prompt/welcome`, `prompt/welcome/label/production`, `key/abc`.
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
}

/// A stored, chained audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, starting at 1.
    pub seq: i64,
    #[serde(flatten)]
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// The entry's hash given its position and the previous entry's hash. Time is hashed as
    /// microseconds since the epoch, the precision every backend stores.
    pub fn chain_hash(&self, seq: i64, prev_hash: &str) -> String {
        let value = json!({
            "seq": seq,
            "at_us": self.at.timestamp_micros(),
            "actor_key_id": self.actor.key_id,
            "actor_name": self.actor.name,
            "action": self.action,
            "project": self.project,
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "request_id": self.request_id,
            "prev_hash": prev_hash,
        });
        sha256_hex(canonical_json(&value).as_bytes())
    }

    /// Chains this record after `prev` (or after the genesis hash).
    pub fn chain(self, prev: Option<(i64, &str)>) -> AuditEntry {
        let (seq, prev_hash) = match prev {
            Some((prev_seq, prev_hash)) => (prev_seq + 1, prev_hash.to_owned()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let hash = self.chain_hash(seq, &prev_hash);
        AuditEntry { seq, record: self, prev_hash, hash }
    }
}

/// Why the chain is broken at an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Incremental chain verification, fed entries in `seq` order (so a huge trail is checked in pages).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self { expected_seq: 1, prev_hash: GENESIS_HASH.to_owned(), checked: 0 }
    }
}

impl ChainVerifier {
    /// Checks the next entry; returns the first break found.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let fail = |reason: String| ChainBreak { seq: entry.seq, reason };
        if entry.seq != self.expected_seq {
            return Err(fail(format!(
                "expected entry {} but found {} (entries missing)",
                self.expected_seq, entry.seq
            )));
        }
        if entry.prev_hash != self.prev_hash {
            return Err(fail("prev_hash does not match the previous entry's hash".into()));
        }
        let recomputed = entry.record.chain_hash(entry.seq, &entry.prev_hash);
        if recomputed != entry.hash {
            return Err(fail("content does not match its hash (entry modified)".into()));
        }
        self.expected_seq += 1;
        self.prev_hash = entry.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// How many entries verified so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last verified entry.
    pub fn head_hash(&self) -> &str {
        &self.prev_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str) -> AuditRecord {
        AuditRecord {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default(),
            actor: Actor { key_id: Some("k1".into()), name: "ci".into() },
            action: action.into(),
            project: "default".into(),
            target: "prompt/welcome".into(),
            before: None,
            after: Some(json!({"version": 1})),
            reason: Some("first".into()),
            request_id: Some("req-1".into()),
        }
    }

    fn chain_of(n: usize) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for index in 0..n {
            let prev = entries.last().map(|e| (e.seq, e.hash.as_str()));
            let entry = record(&format!("a{index}")).chain(prev);
            entries.push(entry);
        }
        entries
    }

    fn verify(entries: &[AuditEntry]) -> Result<u64, ChainBreak> {
        let mut verifier = ChainVerifier::default();
        for entry in entries {
            verifier.check(entry)?;
        }
        Ok(verifier.checked())
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain_of(5)), Ok(5));
    }

    #[test]
    fn modified_entry_is_found() {
        let mut entries = chain_of(5);
        entries[2].record.reason = Some("edited".into());
        assert_eq!(verify(&entries).unwrap_err().seq, 3);
    }

    #[test]
    fn deleted_entry_is_found() {
        let mut entries = chain_of(5);
        entries.remove(1);
        let broken = verify(&entries).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("missing"));
    }

    #[test]
    fn rehashed_entry_still_breaks_the_next_link() {
        let mut entries = chain_of(4);
        entries[1].record.target = "prompt/other".into();
        entries[1].hash = entries[1].record.chain_hash(2, &entries[1].prev_hash.clone());
        assert_eq!(verify(&entries).unwrap_err().seq, 3);
    }
}
