//! Governance over HTTP: protected labels refuse direct moves with a problem naming the request
//! route, change requests need four eyes and apply once approved, stale requests are refused,
//! freezes refuse moves and rollout starts but not rollbacks, publish policies and the secret scan
//! refuse versions and name the rule and place, the publish check reports without writing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestApp;

/// `welcome` v1 and v2 with `production` at v1, then `production` protected (deployer, `approvals`).
async fn protected(app: &TestApp, approvals: u8) {
    app.publish_text("welcome", "one", json!({})).await;
    app.publish_text("welcome", "two", json!({})).await;
    let moved = app
        .admin(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(json!({"version": 1, "reason": "r"})))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let rules = json!({"protected_labels": [{"label": "production", "move_role": "deployer", "approvals": approvals}]});
    let set = app
        .admin(Method::PUT, "/api/v1/governance", Some(json!({"rules": rules, "expected_revision": 0, "reason": "r"})))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(set.body["revision"], 1);
}

async fn production(app: &TestApp) -> Value {
    let labels = app.admin(Method::GET, "/api/v1/prompts/welcome/labels", None).await;
    labels.body["items"].as_array().unwrap().iter().find(|l| l["name"] == "production").unwrap()["version"].clone()
}

#[tokio::test]
async fn protected_labels_need_an_approved_request() {
    let app = TestApp::new().await;
    protected(&app, 1).await;
    let editor = app.key("editor", Some("default")).await;
    let deployer = app.key("deployer", Some("default")).await;
    let move_to_2 = json!({"version": 2, "reason": "ship"});
    let refused = app
        .call(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(&editor), Some(move_to_2.clone()))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "label_protected");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("/api/v1/prompts/welcome/labels/production/requests"), "{detail}");
    // With one approval required, even a deployer files a request.
    let refused = app
        .call(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(&deployer), Some(move_to_2.clone()))
        .await;
    assert_eq!(refused.body["code"], "label_protected");
    let filed = app
        .call(Method::POST, "/api/v1/prompts/welcome/labels/production/requests", Some(&editor), Some(move_to_2))
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{:?}", filed.body);
    assert_eq!((filed.body["state"].as_str(), filed.body["approvals_required"].as_u64()), (Some("pending"), Some(1)));
    let id = filed.body["id"].as_i64().unwrap();
    // The author (another editor would not have the role either) cannot approve.
    let own =
        app.call(Method::POST, &format!("/api/v1/change-requests/{id}/approve"), Some(&editor), Some(json!({}))).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{:?}", own.body);
    let queue = app.call(Method::GET, "/api/v1/change-requests?state=pending", Some(&deployer), None).await;
    assert_eq!(queue.body["items"][0]["id"], id);
    assert_eq!(production(&app).await, 1);
    let approved = app
        .call(
            Method::POST,
            &format!("/api/v1/change-requests/{id}/approve"),
            Some(&deployer),
            Some(json!({"reason": "ok"})),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    assert_eq!(approved.body["state"], "applied");
    assert_eq!(production(&app).await, 2);
    let trail = app.admin(Method::GET, "/api/v1/audit?prompt=welcome&limit=10", None).await;
    let actions: Vec<&str> =
        trail.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..3], ["change_request.approve", "label.set", "change_request.create"]);
    // Rollbacks never wait for approval, even by an editor.
    let back = app
        .call(
            Method::POST,
            "/api/v1/prompts/welcome/labels/production/rollback",
            Some(&editor),
            Some(json!({"reason": "bad"})),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(production(&app).await, 1);
}

#[tokio::test]
async fn deployers_move_labels_protected_without_approvals_and_stale_requests_fail() {
    let app = TestApp::new().await;
    protected(&app, 0).await;
    let editor = app.key("editor", Some("default")).await;
    let deployer = app.key("deployer", Some("default")).await;
    let filed = app
        .call(
            Method::POST,
            "/api/v1/prompts/welcome/labels/production/requests",
            Some(&editor),
            Some(json!({"version": 2, "reason": "ship"})),
        )
        .await;
    let id = filed.body["id"].as_i64().unwrap();
    assert_eq!(filed.body["approvals_required"], 1, "an editor's request needs a deployer's approval");
    // A deployer moves the label directly; the pending request is now stale.
    let moved = app
        .call(
            Method::PUT,
            "/api/v1/prompts/welcome/labels/production",
            Some(&deployer),
            Some(json!({"version": 2, "reason": "hotfix"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let stale = app
        .call(Method::POST, &format!("/api/v1/change-requests/{id}/approve"), Some(&deployer), Some(json!({})))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{:?}", stale.body);
    assert_eq!(stale.body["code"], "change_request_stale");
    let request = app.admin(Method::GET, &format!("/api/v1/change-requests/{id}"), None).await;
    assert_eq!(request.body["state"], "stale");
}

#[tokio::test]
async fn freezes_refuse_moves_and_rollout_starts_but_not_rollbacks() {
    let app = TestApp::new().await;
    app.publish_text("welcome", "one", json!({})).await;
    app.publish_text("welcome", "two", json!({})).await;
    let set = |version: u64| json!({"version": version, "reason": "r"});
    app.admin(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(set(1))).await;
    app.admin(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(set(2))).await;
    let editor = app.key("editor", Some("default")).await;
    let refused =
        app.call(Method::POST, "/api/v1/governance/freeze", Some(&editor), Some(json!({"reason": "x"}))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let frozen = app.admin(Method::POST, "/api/v1/governance/freeze", Some(json!({"reason": "incident 42"}))).await;
    assert_eq!(frozen.status, StatusCode::OK, "{:?}", frozen.body);
    assert_eq!(frozen.body["active_freeze"]["name"], "immediate");
    let moved = app.admin(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(set(1))).await;
    assert_eq!(moved.status, StatusCode::CONFLICT, "{:?}", moved.body);
    assert_eq!(moved.body["code"], "change_freeze");
    assert!(moved.body["detail"].as_str().unwrap().contains("incident 42"));
    let rollout =
        app.admin(Method::POST, "/api/v1/prompts/welcome/rollouts", Some(json!({"to": 1, "reason": "canary"}))).await;
    assert_eq!(rollout.body["code"], "change_freeze", "{:?}", rollout.body);
    let back = app
        .call(
            Method::POST,
            "/api/v1/prompts/welcome/labels/production/rollback",
            Some(&editor),
            Some(json!({"reason": "r"})),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "rollbacks pass a freeze: {:?}", back.body);
    let lifted = app.admin(Method::POST, "/api/v1/governance/unfreeze", Some(json!({"reason": "resolved"}))).await;
    assert!(lifted.body.get("active_freeze").is_none(), "{:?}", lifted.body);
    assert_eq!(
        app.admin(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(set(2))).await.status,
        StatusCode::OK
    );
    let trail = app.admin(Method::GET, "/api/v1/audit?action=governance.freeze", None).await;
    assert_eq!(trail.body["items"][0]["reason"], "incident 42");
}

#[tokio::test]
async fn a_rollout_on_a_protected_label_starts_once_its_request_is_approved() {
    let app = TestApp::new().await;
    protected(&app, 1).await;
    let editor = app.key("editor", Some("default")).await;
    let deployer = app.key("deployer", Some("default")).await;
    let spec = json!({"to": 2, "steps": [10, 100], "interval": "10m", "reason": "canary v2"});
    // With an approval required, nobody starts it directly, and the refusal says where to ask.
    let refused = app.call(Method::POST, "/api/v1/prompts/welcome/rollouts", Some(&deployer), Some(spec.clone())).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "label_protected");
    assert!(refused.body["detail"].as_str().unwrap().contains("/api/v1/prompts/welcome/rollouts/requests"));

    let filed =
        app.call(Method::POST, "/api/v1/prompts/welcome/rollouts/requests", Some(&editor), Some(spec.clone())).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{:?}", filed.body);
    assert_eq!(filed.body["rollout"]["canary_version"], 2, "{:?}", filed.body);
    assert_eq!(filed.body["rollout"]["spec"]["steps"], json!([10, 100]));
    assert!(filed.body.get("target").is_none(), "{:?}", filed.body);
    assert_eq!(filed.body["expected"]["version"], 1);
    assert_eq!(production(&app).await, 1, "nothing moves before the approval");
    let id = filed.body["id"].as_i64().unwrap();
    let approved = app
        .call(
            Method::POST,
            &format!("/api/v1/change-requests/{id}/approve"),
            Some(&deployer),
            Some(json!({"reason": "ok"})),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    assert_eq!(approved.body["state"], "applied");
    let rollouts = app.admin(Method::GET, "/api/v1/prompts/welcome/rollouts?active=true", None).await;
    let rollout = &rollouts.body["items"][0];
    assert_eq!(
        (rollout["canary_version"].as_u64(), rollout["canary_percent"].as_u64()),
        (Some(2), Some(10)),
        "{rollout:?}"
    );
    assert!(rollout["reason"].as_str().unwrap().contains(&format!("change request {id}")), "{rollout:?}");
    let trail = app.admin(Method::GET, "/api/v1/audit?action=rollout.start", None).await;
    assert_eq!(trail.body["items"][0]["actor"]["name"], "deployer-key", "{:?}", trail.body);

    // A rollout request whose label moved before its approval is stale and starts nothing.
    app.admin(
        Method::POST,
        &format!("/api/v1/prompts/welcome/rollouts/{}/abort", rollout["id"]),
        Some(json!({"reason": "done testing"})),
    )
    .await;
    let again =
        app.call(Method::POST, "/api/v1/prompts/welcome/rollouts/requests", Some(&editor), Some(spec.clone())).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    let moved = app
        .admin(Method::POST, "/api/v1/prompts/welcome/labels/production/rollback", Some(json!({"reason": "older"})))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let id = again.body["id"].as_i64().unwrap();
    let stale = app
        .call(Method::POST, &format!("/api/v1/change-requests/{id}/approve"), Some(&deployer), Some(json!({})))
        .await;
    assert_eq!(stale.body["code"], "change_request_stale", "{:?}", stale.body);
    let active = app.admin(Method::GET, "/api/v1/prompts/welcome/rollouts?active=true", None).await;
    assert_eq!(active.body["items"], json!([]));

    // A rollout request needs a label on one version other than the canary.
    let same = json!({"to": production(&app).await, "reason": "no-op"});
    let refused = app.call(Method::POST, "/api/v1/prompts/welcome/rollouts/requests", Some(&editor), Some(same)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "invalid_rollout");
}

#[tokio::test]
async fn publish_policies_and_the_secret_scan_refuse_versions() {
    let app = TestApp::new().await;
    let key = format!("sk-proj-{}", "a1B2c3D4".repeat(4));
    let leaking = json!({"content": {"type": "chat", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": format!("Hello\nuse {key} for the API")}
    ]}, "message": "m"});
    let refused = app.admin(Method::POST, "/api/v1/prompts/leaky/versions", Some(leaking.clone())).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "publish_policy_violation");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("secret_scan at messages[1] line 2") && !detail.contains(&key), "{detail}");
    assert_eq!(
        app.admin(Method::GET, "/api/v1/prompts/leaky", None).await.status,
        StatusCode::NOT_FOUND,
        "nothing written"
    );
    let checked = app.admin(Method::POST, "/api/v1/prompts/leaky/versions/check", Some(leaking)).await;
    assert_eq!(checked.body["ok"], false);
    assert_eq!(checked.body["violations"][0]["place"], "messages[1] line 2");
    let rules = json!({"publish": {"require_message": true, "allowed_providers": ["openai"],
        "forbidden_patterns": [{"name": "internal-host", "pattern": "corp\\.internal"}]}});
    let set = app
        .admin(Method::PUT, "/api/v1/governance", Some(json!({"rules": rules, "expected_revision": 0, "reason": "r"})))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let version = json!({"content": {"type": "text", "template": "see wiki.corp.internal",
        "model": {"provider": "anthropic", "model": "claude-x"}}});
    let refused = app.admin(Method::POST, "/api/v1/prompts/rules/versions", Some(version)).await;
    let detail = refused.body["detail"].as_str().unwrap();
    for rule in [
        "require_message at message",
        "allowed_providers at model",
        "forbidden_pattern:internal-host at template line 1",
    ] {
        assert!(detail.contains(rule), "{rule} in {detail}");
    }
    let bad_pattern = json!({"rules": {"publish": {"forbidden_patterns": [{"name": "x", "pattern": "("}]}},
        "expected_revision": 1, "reason": "r"});
    let invalid = app.admin(Method::PUT, "/api/v1/governance", Some(bad_pattern)).await;
    assert_eq!(
        (invalid.status, invalid.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_policy"))
    );
}
