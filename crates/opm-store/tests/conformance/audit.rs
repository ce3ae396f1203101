//! The audit trail: one entry per mutation, filters and cursors, standalone entries, and a hash
//! chain that verifies and catches tampering and partial writes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opm_core::audit::AuditRecord;
use opm_core::auth::Role;
use opm_core::prompt::Actor;
use opm_store::{AuditFilter, NewApiKey, PromptPatch, Store, StoreError};
use serde_json::json;

use crate::assert_err;
use crate::fixtures::*;
use crate::harness::TestDb;

pub async fn every_mutation_is_audited(store: Arc<dyn Store>) {
    let (project_name, name, production) = (default_project(), prompt("welcome"), label("production"));
    store.create_project(&project("team-a"), &ctx()).await.unwrap();
    store.create_prompt(&new_prompt("welcome"), &ctx()).await.unwrap();
    let patch = PromptPatch { description: Some("changed".into()), tags: None };
    store.update_prompt(&project_name, &name, &patch, &ctx()).await.unwrap();
    store.publish_version(&project_name, &name, &new_version("v1"), &ctx()).await.unwrap();
    store.publish_version(&project_name, &name, &new_version("v2"), &ctx()).await.unwrap();
    store.set_label(&project_name, &name, &production, &version_target(1), "ship", &ctx()).await.unwrap();
    store.set_label(&project_name, &name, &production, &version_target(2), "ship", &ctx()).await.unwrap();
    store.rollback_label(&project_name, &name, &production, "undo", &ctx()).await.unwrap();
    store.set_archived(&project_name, &name, true, &ctx()).await.unwrap();
    store.set_archived(&project_name, &name, false, &ctx()).await.unwrap();
    let key = NewApiKey {
        id: "k1".into(),
        name: "ci".into(),
        role: Role::Editor,
        project: None,
        secret_hash: "h1".into(),
        expires_at: None,
    };
    store.create_key(&key, &ctx()).await.unwrap();
    store.revoke_key("k1", &ctx()).await.unwrap();
    store
        .publish_version(&project_name, &prompt("implicit"), &new_version_creating("implicit", "x"), &ctx())
        .await
        .unwrap();

    let newest_first = store.list_audit(&all_audit()).await.unwrap();
    let mut steps: Vec<_> = newest_first.iter().map(|e| (e.record.action.clone(), e.record.target.clone())).collect();
    steps.reverse();
    let expected = [
        ("project.create", "project/team-a"),
        ("prompt.create", "prompt/welcome"),
        ("prompt.update", "prompt/welcome"),
        ("version.create", "prompt/welcome/version/1"),
        ("version.create", "prompt/welcome/version/2"),
        ("label.set", "prompt/welcome/label/production"),
        ("label.set", "prompt/welcome/label/production"),
        ("label.rollback", "prompt/welcome/label/production"),
        ("prompt.archive", "prompt/welcome"),
        ("prompt.restore", "prompt/welcome"),
        ("key.create", "key/k1"),
        ("key.revoke", "key/k1"),
        ("prompt.create", "prompt/implicit"),
        ("version.create", "prompt/implicit/version/1"),
    ];
    let expected: Vec<_> = expected.iter().map(|(a, t)| (a.to_string(), t.to_string())).collect();
    assert_eq!(steps, expected);
    let seqs: Vec<_> = newest_first.iter().rev().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=14).collect::<Vec<i64>>());
    assert!(
        newest_first
            .iter()
            .all(|e| e.record.actor == ctx().actor && e.record.request_id.as_deref() == Some("req-test"))
    );
    assert_eq!(verify_chain(&store).await, Ok(14));
}

pub async fn list_audit_filters_and_pages(store: Arc<dyn Store>) {
    for name in ["welcome", "welcome0", "welcome.x", "welcome_x", "welcome2"] {
        publish(&store, name, "v1").await;
    }
    store
        .set_label(&default_project(), &prompt("welcome"), &label("production"), &version_target(1), "ship", &ctx())
        .await
        .unwrap();
    store.create_project(&project("team-a"), &ctx_as("key-admin", "admin")).await.unwrap();
    let total = audit_trail(&store).await.len();
    let list = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.list_audit(&filter).await.unwrap() }
    };
    let targets =
        |entries: Vec<opm_core::audit::AuditEntry>| entries.into_iter().map(|e| e.record.target).collect::<Vec<_>>();

    let welcome = list(AuditFilter { prompt: Some("welcome".into()), ..all_audit() }).await;
    assert_eq!(targets(welcome), ["prompt/welcome/label/production", "prompt/welcome/version/1", "prompt/welcome"]);
    let by_project = list(AuditFilter { project: Some("team-a".into()), ..all_audit() }).await;
    assert_eq!(targets(by_project), ["project/team-a"]);
    let by_key = list(AuditFilter { actor: Some("key-admin".into()), ..all_audit() }).await;
    let by_name = list(AuditFilter { actor: Some("admin".into()), ..all_audit() }).await;
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key, by_name);
    let labels = list(AuditFilter { action: Some("label.set".into()), ..all_audit() }).await;
    assert_eq!(targets(labels), ["prompt/welcome/label/production"]);
    let none =
        list(AuditFilter { prompt: Some("welcome".into()), action: Some("key.create".into()), ..all_audit() }).await;
    assert!(none.is_empty());

    // Pages of two, newest first, without gaps or repeats.
    let mut seen = Vec::new();
    let mut before_seq = None;
    loop {
        let page = list(AuditFilter { before_seq, limit: 2, ..AuditFilter::default() }).await;
        let Some(last) = page.last() else { break };
        before_seq = Some(last.seq);
        seen.extend(page.iter().map(|e| e.seq));
    }
    assert_eq!(seen, (1..=total as i64).rev().collect::<Vec<_>>());
}

pub async fn list_audit_filters_by_time(store: Arc<dyn Store>) {
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    for index in 0..3 {
        let entry = store.append_audit(standalone_record(&format!("step {index}"))).await.unwrap();
        times.push(entry.record.at);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reasons = |entries: Vec<opm_core::audit::AuditEntry>| {
        entries.into_iter().filter_map(|e| e.record.reason).collect::<Vec<_>>()
    };
    let since = store.list_audit(&AuditFilter { since: Some(times[1]), ..all_audit() }).await.unwrap();
    assert_eq!(reasons(since), ["step 2", "step 1"], "since is inclusive");
    let until = store.list_audit(&AuditFilter { until: Some(times[1]), ..all_audit() }).await.unwrap();
    assert_eq!(reasons(until), ["step 0"], "until is exclusive");
}

fn standalone_record(reason: &str) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        actor: Actor { key_id: Some("k9".into()), name: "intruder".into() },
        action: "auth.denied".into(),
        project: "default".into(),
        target: "prompt/secret".into(),
        before: None,
        after: Some(json!({"needed": "editor"})),
        reason: Some(reason.into()),
        request_id: Some("req-9".into()),
    }
}

pub async fn append_audit_stands_alone(store: Arc<dyn Store>) {
    publish(&store, "welcome", "v1").await;
    let before = audit_trail(&store).await.len() as i64;
    let mut record = standalone_record("denied");
    record.at = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
    let entry = store.append_audit(record).await.unwrap();
    assert_eq!(entry.seq, before + 1);
    assert_eq!(entry.record.at.timestamp_nanos_opt(), Some(1_700_000_000_123_456_000), "stored to the microsecond");
    let listed = store.list_audit(&AuditFilter { action: Some("auth.denied".into()), ..all_audit() }).await.unwrap();
    assert_eq!(listed, vec![entry]);
    assert_eq!(verify_chain(&store).await, Ok(before as u64 + 1));
}

pub async fn chain_verifies_after_many_mutations(store: Arc<dyn Store>) {
    for round in 0..10 {
        publish(&store, &format!("p{}", round % 3), &format!("v{round}")).await;
        if round % 2 == 0 {
            let version = store.get_prompt(&default_project(), &prompt(&format!("p{}", round % 3))).await.unwrap();
            let target = version_target(version.latest_version.unwrap());
            store
                .set_label(&default_project(), &version.name, &label("production"), &target, "ship", &ctx())
                .await
                .unwrap();
        }
        store.append_audit(standalone_record(&format!("round {round}"))).await.unwrap();
    }
    let trail = audit_trail(&store).await;
    assert_eq!(verify_chain(&store).await, Ok(trail.len() as u64));
    assert_eq!(trail.len(), 3 + 10 + 5 + 10, "creations, versions, labels, standalone entries");
}

pub async fn tampering_is_detected_at_the_edited_entry(db: TestDb) {
    for index in 0..6 {
        publish(&db.store, "welcome", &format!("v{index}")).await;
    }
    let edit = "UPDATE audit SET reason = 'tampered' WHERE seq = 4";
    assert!(db.execute_raw(edit).await.is_err(), "the audit table refuses updates");
    db.execute_raw_per_backend("DROP TRIGGER audit_no_update", "DROP TRIGGER audit_append_only ON audit")
        .await
        .unwrap();
    db.execute_raw(edit).await.unwrap();
    let broken = verify_chain(&db.store).await.unwrap_err();
    assert_eq!(broken.seq, 4, "{broken:?}");
}

pub async fn a_failed_mutation_leaves_no_trace(db: TestDb) {
    let store = db.store.clone();
    publish(&store, "existing", "v1").await;
    let entries = audit_trail(&store).await.len();
    // Make the version insert fail after the prompt and its audit entry were written.
    db.execute_raw_per_backend(
        "CREATE TRIGGER fail_versions BEFORE INSERT ON versions BEGIN SELECT RAISE(ABORT, 'injected'); END",
        "CREATE FUNCTION fail_versions() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$; \
         CREATE TRIGGER fail_versions BEFORE INSERT ON versions FOR EACH ROW EXECUTE FUNCTION fail_versions();",
    )
    .await
    .unwrap();
    let failed =
        store.publish_version(&default_project(), &prompt("fresh"), &new_version_creating("fresh", "x"), &ctx()).await;
    assert_err!(failed, StoreError::Internal(_));
    assert_err!(store.get_prompt(&default_project(), &prompt("fresh")).await, StoreError::PromptNotFound(_));
    assert_eq!(audit_trail(&store).await.len(), entries, "the prompt.create entry was rolled back");

    db.execute_raw_per_backend("DROP TRIGGER fail_versions", "DROP TRIGGER fail_versions ON versions").await.unwrap();
    let outcome =
        store.publish_version(&default_project(), &prompt("fresh"), &new_version_creating("fresh", "x"), &ctx()).await;
    assert!(outcome.unwrap().prompt_created);
    assert_eq!(verify_chain(&store).await, Ok(entries as u64 + 2), "the head did not move on failure");
}
