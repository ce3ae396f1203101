//! Weighted sticky splits over HTTP: setting one, resolve/render/invoke/gateway honouring it with
//! the arm in every answer (body and headers) and in the generation record, stickiness by `key`,
//! header and OpenAI `user`, and the problems bad splits get.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::gateway::{bearer, gateway_app, post};
use crate::{ADMIN_SECRET, TestApp};

async fn two_versions(app: &TestApp) {
    app.publish_text("welcome", "stable {{ who }}", json!({"who": {"type": "string"}})).await;
    app.publish_text("welcome", "canary {{ who }}", json!({"who": {"type": "string"}})).await;
}

async fn split(app: &TestApp, arms: Value) -> crate::Reply {
    let body = json!({"split": arms, "reason": "A/B test"});
    app.admin(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(body)).await
}

#[tokio::test]
async fn a_split_label_is_set_listed_and_recorded_with_its_algorithm() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    let reply = split(&app, json!([{"version": 1, "weight": 90}, {"version": 2, "weight": 10}])).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let target = &reply.body["target"];
    assert_eq!(target["type"], "split");
    assert_eq!(target["arms"], json!([{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]));
    assert_eq!(target["algorithm"], "unleash-murmur3-x86_32");
    assert_eq!(target["algorithm_version"], 1);
    assert_eq!(target["group"], "default/welcome/production");
    assert_eq!(reply.body["version"], 1, "the stable arm");
    let history = app.admin(Method::GET, "/api/v1/prompts/welcome/labels/production/history", None).await;
    assert_eq!(history.body["items"][0]["to"]["type"], "split");
}

#[tokio::test]
async fn bad_splits_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    let cases = [
        (
            json!([{"version": 1, "weight": 90}, {"version": 2, "weight": 20}]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_split",
        ),
        (
            json!([{"version": 1, "weight": 50}, {"version": 1, "weight": 50}]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_split",
        ),
        (json!([]), StatusCode::UNPROCESSABLE_ENTITY, "invalid_split"),
        (
            json!([{"version": 1, "weight": 50}, {"version": 9, "weight": 50}]),
            StatusCode::NOT_FOUND,
            "version_not_found",
        ),
    ];
    for (arms, status, code) in cases {
        let reply = split(&app, arms.clone()).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)), "{arms}: {:?}", reply.body);
    }
    let both = json!({"version": 1, "split": [{"version": 1, "weight": 100}], "reason": "x"});
    let reply = app.admin(Method::PUT, "/api/v1/prompts/welcome/labels/production", Some(both)).await;
    assert_eq!(reply.body["code"], "invalid_target");
    let labels = app.admin(Method::GET, "/api/v1/prompts/welcome/labels", None).await;
    let names: Vec<&str> =
        labels.body["items"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["latest"], "no refused split was written");
}

#[tokio::test]
async fn resolve_and_render_honour_the_split_and_the_key() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    split(&app, json!([{"version": 1, "weight": 50}, {"version": 2, "weight": 50}])).await;
    let mut seen = [0usize; 3];
    for user in 0..200 {
        let path = format!("/api/v1/prompts/welcome/resolve?key=user-{user}");
        let first = app.admin(Method::GET, &path, None).await;
        assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
        let version = first.body["version"].as_u64().unwrap();
        assert_eq!(first.body["arm"]["version"], version);
        assert_eq!(first.body["arm"]["sticky"], true);
        assert_eq!(first.body["arm"]["weight"], 50);
        assert_eq!(first.headers["x-opm-arm"], version.to_string().as_str());
        assert_eq!(first.headers["x-opm-sticky"], "true");
        seen[version as usize] += 1;
        // The same key through the header and through render gets the same arm.
        let again = app
            .call_with(
                Method::GET,
                "/api/v1/prompts/welcome/resolve",
                Some(ADMIN_SECRET),
                None,
                &[("x-opm-sticky-key", &format!("user-{user}"))],
            )
            .await;
        assert_eq!(again.body["version"], version);
        let body = json!({"key": format!("user-{user}"), "variables": {"who": "Ada"}});
        let rendered = app.admin(Method::POST, "/api/v1/prompts/welcome/render", Some(body)).await;
        assert_eq!(rendered.body["version"], version);
        let expected = if version == 1 { "stable Ada" } else { "canary Ada" };
        assert_eq!(rendered.body["text"], expected);
        let typed: opm_api::render::RenderResponse = serde_json::from_value(rendered.body.clone()).unwrap();
        assert_eq!(typed.arm.unwrap().version as u64, version);
    }
    assert!(seen[1] > 60 && seen[2] > 60, "{seen:?}");
    let unkeyed = app.admin(Method::GET, "/api/v1/prompts/welcome/resolve", None).await;
    assert_eq!(unkeyed.body["arm"]["sticky"], false);
    assert_eq!(unkeyed.headers["x-opm-sticky"], "false");
    let long = "k".repeat(513);
    let reply = app.admin(Method::GET, &format!("/api/v1/prompts/welcome/resolve?key={long}"), None).await;
    assert_eq!(reply.body["code"], "invalid_sticky_key");
}

#[tokio::test]
async fn the_gateway_routes_by_the_openai_user_and_records_the_arm() {
    let g = gateway_app().await;
    let body = json!({"content": {"type": "chat", "messages": [
        {"role": "system", "content": "Version two helps with {{ product }}."}
    ], "variables": {"product": {}}, "model": {"provider": "up-openai", "model": "gpt-4o-mini"}}, "message": "v2"});
    let reply = g.app.admin(Method::POST, "/api/v1/prompts/support/versions", Some(body)).await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
    let arms = json!({"split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}], "reason": "A/B"});
    let reply = g.app.admin(Method::PUT, "/api/v1/prompts/support/labels/production", Some(arms)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let auth = bearer();
    let mut by_user = std::collections::HashMap::new();
    for round in 0..2 {
        for user in 0..40 {
            let body = json!({"model": "opm:support", "prompt_variables": {"product": "OPM"}, "user": format!("u{user}"),
                "messages": [{"role": "user", "content": "hi"}]});
            let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            let arm = reply.headers["x-opm-arm"].to_str().unwrap().to_owned();
            assert_eq!(reply.headers["x-opm-prompt-version"].to_str().unwrap(), arm);
            assert_eq!(reply.headers["x-opm-sticky"], "true");
            if round == 0 {
                by_user.insert(user, arm);
            } else {
                assert_eq!(by_user[&user], arm, "user u{user} changed arm");
            }
        }
    }
    let records = g.records.0.lock().unwrap().clone();
    assert_eq!(records.len(), 80);
    assert!(records.iter().all(|r| r.sticky == Some(true) && r.arm == r.prompt_version.map(|v| v.to_string())));
    assert!(
        records.iter().any(|r| r.arm.as_deref() == Some("1")) && records.iter().any(|r| r.arm.as_deref() == Some("2"))
    );
    // Native invoke: body `key`, and no key at all is random and unsticky.
    let invoke = json!({"key": "u1", "variables": {"product": "OPM"}});
    let reply = post(&g.router, "/api/v1/prompts/support/invoke", (auth.0, &auth.1), invoke).await;
    assert_eq!(reply.json()["arm"]["version"].to_string(), by_user[&1]);
    assert_eq!(reply.json()["arm"]["sticky"], true);
    let reply =
        post(&g.router, "/api/v1/prompts/support/invoke", (auth.0, &auth.1), json!({"variables": {"product": "OPM"}}))
            .await;
    assert_eq!(reply.json()["arm"]["sticky"], false);
    let last = g.records.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.sticky, Some(false));
}

#[tokio::test]
async fn stats_compare_a_splits_arms_with_significance_tests() {
    use opm_store::GenerationOutcome::{Error, Ok};
    let app = TestApp::new().await;
    two_versions(&app).await;
    split(&app, json!([{"version": 1, "weight": 50}, {"version": 2, "weight": 50}])).await;
    // Stable: 400 calls, 8 errors (2%), ~100 ms. Challenger: 400 calls, 40 errors (10%), ~150 ms.
    let mut rows = Vec::new();
    for (version, errors, base) in [(1u32, 8, 100.0), (2, 40, 150.0)] {
        for i in 0..400 {
            let status = if i < errors { Error } else { Ok };
            let mut row =
                crate::telemetry::row("welcome", version, "production", "m", status, base + f64::from(i % 20));
            row.arm = Some(version.to_string());
            row.sticky = Some(i % 4 != 0);
            rows.push(row);
        }
    }
    // Calls through another label are left out by the label filter.
    rows.push(crate::telemetry::row("welcome", 2, "staging", "m", Error, 5.0));
    app.registry.store().insert_generations(&rows).await.unwrap();
    let reply = app.admin(Method::GET, "/api/v1/prompts/welcome/stats?by=arm&label=production", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let body = &reply.body;
    assert_eq!(body["label"], "production");
    assert_eq!(body["baseline"], "1", "the split's stable arm");
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| g["calls"].as_u64().unwrap()).sum::<u64>(), 800);
    assert_eq!(groups[0]["unsticky_calls"], 100);
    let comparison = &body["comparisons"][0];
    assert_eq!(comparison["group"], "2");
    assert!((comparison["error_rate"]["difference"].as_f64().unwrap() - 0.08).abs() < 1e-9);
    assert_eq!(comparison["error_rate"]["significant"], true);
    assert!(comparison["error_rate"]["p_value"].as_f64().unwrap() < 0.001);
    assert_eq!(comparison["latency_mean_ms"]["significant"], true);
    assert!(comparison["latency_mean_ms"]["difference"].as_f64().unwrap() > 49.0);
    let by_version = app.admin(Method::GET, "/api/v1/prompts/welcome/stats?by=version", None).await;
    assert_eq!(
        by_version.body["groups"].as_array().unwrap().iter().map(|g| g["calls"].as_u64().unwrap()).sum::<u64>(),
        801
    );
}
