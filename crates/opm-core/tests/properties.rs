//! Property tests: the name rule accepts exactly what it documents, canonical JSON is independent
//! of key order, content hashes survive a serialization round trip, and any single edit to any
//! audit entry is caught at that entry.

use opm_core::audit::{AuditEntry, AuditRecord, ChainVerifier};
use opm_core::canonical::canonical_json;
use opm_core::content::VersionContent;
use opm_core::names::PromptName;
use opm_core::prompt::Actor;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn rule(name: &str) -> bool {
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

proptest! {
    #[test]
    fn names_follow_the_documented_rule(name in "[a-zA-Z0-9._@/ -]{0,140}") {
        prop_assert_eq!(PromptName::parse(&name).is_ok(), rule(&name));
    }

    #[test]
    fn canonical_json_ignores_key_order(pairs in proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 0..12)) {
        let forward: Map<String, Value> = pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let mut backward = Map::new();
        for (k, v) in pairs.iter().rev() {
            backward.insert(k.clone(), json!(v));
        }
        prop_assert_eq!(canonical_json(&Value::Object(forward)), canonical_json(&Value::Object(backward)));
    }

    #[test]
    fn content_hash_survives_a_round_trip(template in "[a-zA-Z ,.!?]{0,200}", temperature in 0.0f64..2.0) {
        let content: VersionContent = serde_json::from_value(json!({
            "type": "text", "template": template,
            "model": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": temperature}}
        })).unwrap();
        let back: VersionContent = serde_json::from_str(&serde_json::to_string(&content).unwrap()).unwrap();
        prop_assert_eq!(content.content_hash(), back.content_hash());
    }

    #[test]
    fn any_edit_to_any_entry_is_caught_there(len in 1usize..12, victim in 0usize..12, text in "[a-z]{1,8}") {
        let victim = victim % len;
        let mut entries: Vec<AuditEntry> = Vec::new();
        for index in 0..len {
            let record = AuditRecord {
                at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_000 + index as i64).unwrap(),
                actor: Actor::system("test"),
                action: "label.set".into(),
                project: "default".into(),
                target: format!("prompt/p{index}"),
                before: None,
                after: Some(json!({"version": index})),
                reason: Some("r".into()),
                request_id: None,
            };
            let prev = entries.last().map(|e| (e.seq, e.hash.as_str()));
            entries.push(record.chain(prev));
        }
        entries[victim].record.target.push_str(&text);
        let mut verifier = ChainVerifier::default();
        let broken = entries.iter().try_for_each(|entry| verifier.check(entry)).unwrap_err();
        prop_assert_eq!(broken.seq, victim as i64 + 1);
    }
}
