//! Telemetry through the router: Prometheus metrics after real gateway traffic (checked with
//! `promtool check metrics`), stored generations, feedback, stats against known seeded
//! generations, retention, and the dashboard and rules naming only metrics OPM exports.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use opm_core::names::ProjectName;
use opm_store::{GenerationOutcome, GenerationRow};
use serde_json::{Value, json};

use crate::gateway::{bearer, gateway_app_with, post};
use crate::{ADMIN_SECRET, TestApp};

/// `promtool`, from `OPM_PROMTOOL` or PATH. Missing: a loud skip, or a failure when
/// `OPM_REQUIRE_PROMTOOL=1` (CI).
fn promtool() -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("OPM_PROMTOOL").map(Into::into).unwrap_or_else(|| "promtool".into());
    let found = std::process::Command::new(&candidate).arg("--version").output().is_ok_and(|o| o.status.success());
    if found {
        return Some(candidate);
    }
    assert!(
        std::env::var("OPM_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
        "promtool is required (OPM_REQUIRE_PROMTOOL=1) but not found; run scripts/promtool.sh"
    );
    eprintln!("WARNING: promtool not found: the live scrape is NOT checked with `promtool check metrics`");
    None
}

/// The value of the first sample of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(name)?;
        if !(rest.is_empty() || rest.starts_with('{')) {
            return None;
        }
        labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))).then(|| value.parse().ok())?
    })
}

#[tokio::test]
async fn metrics_after_real_gateway_traffic_pass_promtool() {
    let g = gateway_app_with(opm_telemetry::Telemetry::disabled(), false).await;
    let auth = bearer();
    let auth = (auth.0, auth.1.as_str());
    let call = |prompt: &str, stream: bool| {
        json!({"model": format!("opm:{prompt}"), "prompt_variables": {"product": "OPM"}, "stream": stream,
               "messages": [{"role": "user", "content": "hi"}]})
    };
    assert_eq!(post(&g.router, "/v1/chat/completions", auth, call("support", false)).await.status, StatusCode::OK);
    assert_eq!(post(&g.router, "/v1/chat/completions", auth, call("support", true)).await.status, StatusCode::OK);
    assert_eq!(post(&g.router, "/v1/messages", auth, call("claude-support", false)).await.status, StatusCode::OK);
    let limited = post(&g.router, "/v1/chat/completions", auth, call("limited", false)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(g.app.admin(Method::GET, "/api/v1/prompts/support/resolve", None).await.status, StatusCode::OK);
    let render = json!({"variables": {"product": "OPM"}});
    assert_eq!(g.app.admin(Method::POST, "/api/v1/prompts/support/render", Some(render)).await.status, StatusCode::OK);

    let scrape = g.app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(scrape.status, StatusCode::OK);
    assert!(scrape.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = scrape.body.as_str().unwrap().to_owned();
    let support = [("prompt", "support"), ("version", "1"), ("label", "production"), ("provider", "up-openai")];
    let ok = [&support[..], &[("outcome", "ok"), ("model", "gpt-4o-mini")]].concat();
    assert_eq!(sample(&text, "opm_gateway_requests_total", &ok), Some(2.0), "{text}");
    let error = [("prompt", "limited"), ("outcome", "error")];
    assert_eq!(sample(&text, "opm_gateway_requests_total", &error), Some(1.0));
    let rate_limited = [("error_type", "upstream_rate_limited")];
    assert_eq!(sample(&text, "opm_gateway_errors_total", &rate_limited), Some(1.0));
    assert!(sample(&text, "opm_gateway_retries_total", &[("provider", "up-openai")]).unwrap() >= 1.0);
    let input = [&support[..], &[("type", "input")]].concat();
    assert!(sample(&text, "opm_gateway_tokens_total", &input).unwrap() > 0.0, "{text}");
    assert!(sample(&text, "opm_gateway_tokens_total", &[("type", "output")]).unwrap() > 0.0);
    assert_eq!(sample(&text, "opm_gateway_request_duration_seconds_count", &support), Some(2.0));
    assert_eq!(sample(&text, "opm_gateway_time_to_first_token_seconds_count", &support), Some(1.0));
    assert_eq!(sample(&text, "opm_gateway_overhead_seconds_count", &[("streamed", "true")]), Some(1.0));
    assert_eq!(sample(&text, "opm_gateway_cost_usd_count", &support), Some(2.0), "gpt-4o-mini is priced");
    assert_eq!(sample(&text, "opm_prompt_resolutions_total", &support[..3]), Some(1.0));
    // The render API plus three gateway renders of `support`.
    assert_eq!(sample(&text, "opm_prompt_renders_total", &support[..3]), Some(3.0));
    let route = [("route", "/api/v1/prompts/{name}/resolve"), ("method", "GET"), ("status_class", "2xx")];
    assert_eq!(sample(&text, "opm_http_requests_total", &route), Some(1.0));
    assert_eq!(sample(&text, "opm_gateway_circuit_breaker_state", &[("provider", "up-openai")]), Some(0.0));
    assert_eq!(sample(&text, "opm_recorder_dropped_total", &[]), Some(0.0));
    for line in text.lines().filter(|line| line.starts_with("opm_")) {
        assert!(!line.contains(ADMIN_SECRET) && !line.contains("key_id"), "no keys in labels: {line}");
    }
    for (name, _, _) in opm_server::metrics::CATALOGUE {
        assert!(text.contains(&format!("# HELP {name} ")) || !text.contains(name), "{name} without help");
    }

    let Some(promtool) = promtool() else { return };
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && report.trim().is_empty(), "promtool check metrics:\n{report}\n{text}");
}

#[tokio::test]
async fn stored_generations_and_feedback() {
    let g = gateway_app_with(opm_telemetry::Telemetry::disabled(), false).await;
    let auth = bearer();
    let body = json!({"model": "opm:support", "prompt_variables": {"product": "OPM"}, "messages": []});
    let reply = post(&g.router, "/v1/chat/completions", (auth.0, &auth.1), body).await;
    assert_eq!(reply.status, StatusCode::OK);
    let id = reply.headers["x-opm-generation-id"].to_str().unwrap().to_owned();

    // Feedback right after the call: the generation may still be queued; the server flushes it.
    let feedback = json!({"generation_id": id, "score": 0.75, "comment": "close enough"});
    let reply = g.app.admin(Method::POST, "/api/v1/feedback", Some(feedback)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["score"], 0.75);

    let stored = g.app.admin(Method::GET, &format!("/api/v1/generations/{id}"), None).await;
    assert_eq!(stored.status, StatusCode::OK);
    let stored = stored.body;
    assert_eq!(stored["prompt"], "support");
    assert_eq!(stored["prompt_version"], 1);
    assert_eq!(stored["label"], "production");
    assert_eq!(stored["provider"], "up-openai");
    assert_eq!(stored["model"], "gpt-4o-mini");
    assert_eq!(stored["status"], "ok");
    assert!(stored["input_tokens"].as_u64().unwrap() > 0);
    assert!(stored["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(stored["latency_ms"].as_f64().unwrap() >= stored["upstream_ms"].as_f64().unwrap());
    assert_eq!(stored["feedback"][0]["comment"], "close enough");

    for (body, status, code) in [
        (json!({"generation_id": "no-such-id", "score": 1}), StatusCode::NOT_FOUND, "generation_not_found"),
        (json!({"generation_id": id, "score": "good"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            json!({"generation_id": id, "score": 1, "comment": "x".repeat(4097)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_feedback",
        ),
        (json!({"generation_id": id, "score": 1, "extra": true}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
    ] {
        let reply = g.app.admin(Method::POST, "/api/v1/feedback", Some(body.clone())).await;
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
        assert_eq!(reply.body["code"], code, "{body}");
    }
    // Nothing was written by the refused requests.
    let stored = g.app.admin(Method::GET, &format!("/api/v1/generations/{id}"), None).await;
    assert_eq!(stored.body["feedback"].as_array().unwrap().len(), 1);

    // Another project does not see it.
    g.app.admin(Method::POST, "/api/v1/projects", Some(json!({"name": "other"}))).await;
    let other = g
        .app
        .call_with(
            Method::GET,
            &format!("/api/v1/generations/{id}"),
            Some(ADMIN_SECRET),
            None,
            &[("x-opm-project", "other")],
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

pub fn row(
    prompt: &str,
    version: u32,
    label: &str,
    model: &str,
    status: GenerationOutcome,
    latency: f64,
) -> GenerationRow {
    GenerationRow {
        id: uuid::Uuid::now_v7().to_string(),
        project: ProjectName::parse("default").unwrap(),
        started_at: Utc::now() - chrono::Duration::seconds(60),
        prompt: Some(prompt.to_owned()),
        prompt_version: Some(version),
        label: Some(label.to_owned()),
        arm: None,
        sticky: None,
        provider: "openai".to_owned(),
        model: model.to_owned(),
        status,
        error_kind: (status == GenerationOutcome::Error).then(|| "upstream_error".to_owned()),
        latency_ms: latency,
        ttft_ms: None,
        upstream_ms: latency - 1.0,
        input_tokens: Some(10),
        output_tokens: Some(5),
        cached_tokens: None,
        cost_usd: Some(0.001),
        key_id: None,
        attempts: 1,
        fallback_index: 0,
        streamed: false,
    }
}

#[tokio::test]
async fn stats_match_known_seeded_generations_and_feedback() {
    let app = TestApp::new().await;
    for _ in 0..2 {
        app.publish_text("seeded", "hi", json!({})).await;
    }
    // Version 1: latencies 1..=100 ms, 10 errors; version 2: 20 calls at 50 ms on another model.
    let mut rows = Vec::new();
    for i in 1..=100 {
        rows.push(row("seeded", 1, "production", "gpt-a", GenerationOutcome::Ok, f64::from(i)));
    }
    for _ in 0..10 {
        rows.push(row("seeded", 1, "production", "gpt-a", GenerationOutcome::Error, 500.0));
    }
    for _ in 0..20 {
        rows.push(row("seeded", 2, "canary", "gpt-b", GenerationOutcome::Ok, 50.0));
    }
    // Outside the window, and another prompt: neither counts.
    let mut old = row("seeded", 1, "production", "gpt-a", GenerationOutcome::Ok, 9999.0);
    old.started_at = Utc::now() - chrono::Duration::hours(3);
    rows.push(old);
    rows.push(row("other", 1, "production", "gpt-a", GenerationOutcome::Ok, 9999.0));
    let store = app.registry.store();
    store.insert_generations(&rows).await.unwrap();
    for (id, score) in [(&rows[0].id, 1.0), (&rows[1].id, 0.0), (&rows[110].id, 0.5)] {
        let reply =
            app.admin(Method::POST, "/api/v1/feedback", Some(json!({"generation_id": id, "score": score}))).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }

    let stats = app.admin(Method::GET, "/api/v1/prompts/seeded/stats?window=1h&by=version", None).await;
    assert_eq!(stats.status, StatusCode::OK, "{:?}", stats.body);
    let groups = stats.body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let (v2, v1) = (&groups[0], &groups[1]);
    assert_eq!(v1["group"], "1");
    assert_eq!(v1["calls"], 110);
    assert_eq!(v1["errors"], 10);
    assert!((v1["error_rate"].as_f64().unwrap() - 10.0 / 110.0).abs() < 1e-9);
    assert_eq!(v1["latency_ms"], json!({"p50": 50.0, "p95": 95.0, "p99": 99.0}));
    assert_eq!(v1["tokens"], json!({"input": 1100, "output": 550, "cached": 0}));
    assert!((v1["cost"]["total_usd"].as_f64().unwrap() - 0.11).abs() < 1e-9);
    assert!((v1["cost"]["per_call_usd"].as_f64().unwrap() - 0.001).abs() < 1e-12);
    assert_eq!(v1["feedback"], json!({"count": 2, "mean_score": 0.5}));
    assert_eq!(v2["group"], "2");
    assert_eq!(v2["calls"], 20);
    assert_eq!(v2["feedback"], json!({"count": 1, "mean_score": 0.5}));
    assert!(v1.get("ttft_ms").is_none(), "no streamed calls: no TTFT");

    let by_model = app.admin(Method::GET, "/api/v1/prompts/seeded/stats?by=model", None).await;
    let models: Vec<&str> =
        by_model.body["groups"].as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(models, ["gpt-a", "gpt-b"]);
    let by_label = app.admin(Method::GET, "/api/v1/prompts/seeded/stats?window=90d&by=label", None).await;
    let production = &by_label.body["groups"].as_array().unwrap().iter().find(|g| g["group"] == "production").unwrap();
    assert_eq!(production["calls"], 111, "the 90-day window includes the old call");

    for (query, status) in [
        ("window=2x", StatusCode::BAD_REQUEST),
        ("window=10s", StatusCode::BAD_REQUEST),
        ("by=user", StatusCode::BAD_REQUEST),
        ("limit=3", StatusCode::BAD_REQUEST),
    ] {
        let reply = app.admin(Method::GET, &format!("/api/v1/prompts/seeded/stats?{query}"), None).await;
        assert_eq!(reply.status, status, "{query}: {:?}", reply.body);
    }
    let missing = app.admin(Method::GET, "/api/v1/prompts/nope/stats", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn retention_deletes_only_old_generations() {
    let app = TestApp::new().await;
    let store = app.registry.store();
    let mut rows: Vec<GenerationRow> =
        (0..7).map(|_| row("p", 1, "production", "m", GenerationOutcome::Ok, 1.0)).collect();
    for old in &mut rows[..5] {
        old.started_at = Utc::now() - chrono::Duration::days(40);
    }
    store.insert_generations(&rows).await.unwrap();
    let metrics = opm_server::metrics::Metrics::new();
    let deleted =
        opm_server::retention::run_once(store.as_ref(), &metrics, Duration::from_secs(30 * 86400), chrono::Utc::now())
            .await
            .unwrap();
    assert_eq!(deleted, 5);
    assert_eq!(store.count_generations().await.unwrap(), 2);
    assert_eq!(sample(&metrics.render(), "opm_retention_deleted_total", &[]), Some(5.0));
}

/// Metric names a PromQL text refers to: `opm_…` base names and `opm:…` recording rules.
fn referenced(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut metrics, mut rules) = (BTreeSet::new(), BTreeSet::new());
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(found) = text[i..].find("opm") {
        let start = i + found;
        let end = start
            + text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(text.len() - start);
        let word = &text[start..end];
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if boundary && word.starts_with("opm:") {
            rules.insert(word.to_owned());
        } else if boundary && word.starts_with("opm_") {
            let base = ["_bucket", "_sum", "_count"].iter().fold(word, |w, suffix| w.strip_suffix(suffix).unwrap_or(w));
            metrics.insert(base.to_owned());
        }
        i = end.max(start + 3);
    }
    (metrics, rules)
}

#[test]
fn dashboard_and_rules_query_only_exported_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("ops/grafana/opm-dashboard.json")).unwrap()).unwrap();
    let rules = std::fs::read_to_string(root.join("ops/prometheus/opm-rules.yml")).unwrap();
    let recorded: BTreeSet<String> =
        rules.lines().filter_map(|l| l.trim().strip_prefix("- record: ")).map(|r| r.trim().to_owned()).collect();
    let exported: BTreeSet<&str> = opm_server::metrics::CATALOGUE.iter().map(|(name, _, _)| *name).collect();

    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(exprs.len() >= 15, "the dashboard has its queries: {}", exprs.len());
    let (dashboard_metrics, dashboard_rules) = referenced(&exprs.join("\n"));
    let (rule_metrics, rule_rules) = referenced(&rules);
    for metric in dashboard_metrics.iter().chain(&rule_metrics) {
        assert!(exported.contains(metric.as_str()), "`{metric}` is queried but OPM does not export it");
    }
    for rule in dashboard_rules.iter().chain(&rule_rules) {
        assert!(recorded.contains(rule), "`{rule}` is used but no rule records it");
    }
    assert!(dashboard_metrics.len() >= 15, "{dashboard_metrics:?}");
    assert!(recorded.len() >= 8, "{recorded:?}");
    // Every gateway metric is on the dashboard.
    for name in exported.iter().filter(|n| n.starts_with("opm_gateway_")) {
        assert!(dashboard_metrics.contains(*name), "{name} is not on the dashboard");
    }
}
