//! Safe delivery on real `opm serve` processes with an adjustable clock, traffic through the
//! OpenAI-compatible gateway to `opm-mock-llm` on loopback, and the controller's own loop:
//! - a canary that fails (its model answers 500) is rolled back automatically at its first check,
//!   with an audit entry by `rollout-controller` that says why and carries the metrics;
//! - a healthy canary is promoted step by step, every user keeping the arm they had unless the
//!   canary's share grew to take them (never back);
//! - with two replicas on PostgreSQL, killing the controller's leader hands the rollout to the
//!   other replica, and an abort on one replica is served by the other within a second (measured).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use opm_mock_llm::{MockConfig, MockServer};
use serde_json::{Value, json};

use crate::server::{ADMIN, Options, Server};

/// Users sent through the gateway per step.
const USERS: usize = 300;

pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
}

impl Http {
    pub(crate) fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self { client: reqwest::Client::builder().build().unwrap() }
    }

    async fn call(&self, method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, url).bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub(crate) async fn get(&self, server: &Server, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, format!("{}{path}", server.url), None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub(crate) async fn post(&self, server: &Server, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, format!("{}{path}", server.url), Some(body)).await
    }

    async fn put(&self, server: &Server, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, format!("{}{path}", server.url), Some(body)).await
    }

    /// One chat completion for `user`; returns the version (arm) that served it and the status.
    async fn chat(&self, server: &Server, user: &str) -> (u32, u16) {
        let body = json!({"model": "opm:assistant", "user": user, "prompt_variables": {"topic": "rollouts"},
            "messages": [{"role": "user", "content": "hello"}]});
        let response = self
            .client
            .post(format!("{}/v1/chat/completions", server.url))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let version = response.headers()["x-opm-prompt-version"].to_str().unwrap().parse().unwrap();
        (version, response.status().as_u16())
    }

    /// Every user once, eight at a time; returns each user's arm.
    pub(crate) async fn traffic(&self, server: &Server, users: usize) -> HashMap<String, u32> {
        let calls = (0..users).map(|i| async move {
            let user = format!("user-{i}");
            let (version, _) = self.chat(server, &user).await;
            (user, version)
        });
        futures::stream::iter(calls).buffer_unordered(8).collect().await
    }

    pub(crate) async fn advance(&self, server: &Server, by: &str) {
        let (status, body) = self.post(server, "/api/v1/clock/advance", json!({"by": by})).await;
        assert_eq!(status, 200, "{body}");
    }

    /// Polls the rollout until `done` holds, for at most `limit`.
    pub(crate) async fn wait_rollout(
        &self,
        server: &Server,
        id: i64,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let rollout = self.get(server, &format!("/api/v1/prompts/assistant/rollouts/{id}")).await;
            if done(&rollout) {
                return rollout;
            }
            assert!(started.elapsed() < limit, "rollout did not get there in {limit:?}: {rollout:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `opm.toml` with two providers on the mock: `stable-up` and `canary-up` (separate circuit breakers,
/// so a failing canary model cannot open the stable one's breaker).
pub(crate) fn write_config(dir: &std::path::Path, mock: &MockServer) {
    std::fs::write(dir.join("upstream-key"), "test-key").unwrap();
    let key = dir.join("upstream-key");
    let provider = |name: &str| {
        format!(
            "[gateway.providers.{name}]\ntype = \"openai\"\nbase_url = \"{}/v1\"\napi_key_file = \"{}\"\n\
             retry = {{ max_attempts = 1, base_delay_ms = 1, max_delay_ms = 1 }}\n",
            mock.url(),
            key.display()
        )
    };
    let config = format!("{}{}", provider("stable-up"), provider("canary-up"));
    std::fs::write(dir.join("opm.toml"), config).unwrap();
}

pub(crate) fn options() -> Options<'static> {
    Options { args: &["--adjustable-clock", "--rollout-tick", "100ms"], env: &[], capture_logs: false }
}

/// Publishes v1 (stable, healthy) and v2 (the canary, on `canary_model`) and points production at v1.
pub(crate) async fn seed(http: &Http, server: &Server, canary_model: &str) {
    for (provider, model) in [("stable-up", "gpt-4o-mini"), ("canary-up", canary_model)] {
        let version = json!({"content": {"type": "chat", "messages": [
            {"role": "system", "content": format!("You explain {{{{ topic }}}} ({model}).")}
        ], "variables": {"topic": {}}, "model": {"provider": provider, "model": model}}, "message": model});
        let (status, body) = http.post(server, "/api/v1/prompts/assistant/versions", version).await;
        assert!(status == 200 || status == 201, "{body}");
    }
    let (status, body) = http
        .put(server, "/api/v1/prompts/assistant/labels/production", json!({"version": 1, "reason": "stable"}))
        .await;
    assert_eq!(status, 200, "{body}");
}

pub(crate) async fn start_rollout(http: &Http, server: &Server, steps: Value) -> i64 {
    let request = json!({"label": "production", "to": 2, "steps": steps, "interval": "10m",
        "max_error_rate": 0.05, "max_p95_latency_ms": 3000, "min_samples": 15, "reason": "ship v2 safely"});
    let (status, body) = http.post(server, "/api/v1/prompts/assistant/rollouts", request).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "progressing");
    body["id"].as_i64().unwrap()
}

async fn production(http: &Http, server: &Server) -> Value {
    let labels = http.get(server, "/api/v1/prompts/assistant/labels").await;
    labels["items"].as_array().unwrap().iter().find(|l| l["name"] == "production").unwrap()["target"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_rolled_back_automatically_with_an_audited_reason() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &mock);
    let server = Server::start_with(dir.path(), None, &options());
    let http = Http::new();
    seed(&http, &server, "mock-fail-500").await;
    let id = start_rollout(&http, &server, json!([10, 50, 100])).await;
    assert_eq!(production(&http, &server).await["type"], "split");

    let arms = http.traffic(&server, USERS).await;
    let canary_users = arms.values().filter(|v| **v == 2).count();
    assert!((15..=60).contains(&canary_users), "about 10% of {USERS} users on the canary, got {canary_users}");
    // Nothing is decided before the interval has passed on the server's clock.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rollout = http.get(&server, &format!("/api/v1/prompts/assistant/rollouts/{id}")).await;
    assert_eq!((rollout["state"].as_str(), rollout["checks"].as_u64()), (Some("progressing"), Some(0)));

    http.advance(&server, "10m").await;
    let advanced = Instant::now();
    let rollout = http.wait_rollout(&server, id, Duration::from_secs(10), |r| r["state"] != "progressing").await;
    println!("canary aborted {:?} after the interval passed", advanced.elapsed());
    assert_eq!(rollout["state"], "aborted", "{rollout:#}");
    assert_eq!(rollout["last_check"]["verdict"]["verdict"], "failed");
    assert_eq!(production(&http, &server).await, json!({"type": "version", "version": 1}));
    // Every user is served the stable version again, at once.
    let after = http.traffic(&server, 50).await;
    assert!(after.values().all(|v| *v == 1));

    let audit = http.get(&server, "/api/v1/audit?action=rollout.abort").await;
    let entry = &audit["items"][0];
    assert_eq!(entry["actor"]["name"], "rollout-controller");
    let reason = entry["reason"].as_str().unwrap();
    assert!(reason.contains("error rate"), "the reason says why: {reason}");
    let canary = &entry["after"]["details"]["check"]["summary"]["canary"];
    assert_eq!(canary["calls"].as_u64(), Some(canary_users as u64), "{entry:#}");
    assert_eq!(canary["errors"], canary["calls"]);
    assert_eq!(entry["after"]["label_target"], json!({"type": "version", "version": 1}));
    let verify = http.get(&server, "/api/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_is_promoted_and_users_only_move_towards_it() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &mock);
    let server = Server::start_with(dir.path(), None, &options());
    let http = Http::new();
    seed(&http, &server, "gpt-4o-mini").await;
    let id = start_rollout(&http, &server, json!([10, 50, 100])).await;

    let at_10 = http.traffic(&server, USERS).await;
    http.advance(&server, "10m").await;
    let rollout = http.wait_rollout(&server, id, Duration::from_secs(10), |r| r["canary_percent"] == 50).await;
    assert_eq!(rollout["state"], "progressing", "{rollout:#}");
    assert_eq!(rollout["last_check"]["verdict"]["verdict"], "passed");

    let at_50 = http.traffic(&server, USERS).await;
    let moved_back = at_10.iter().filter(|(user, v)| **v == 2 && at_50[*user] == 1).count();
    assert_eq!(moved_back, 0, "a user on the canary at 10% stays on it at 50%");
    let canary_10 = at_10.values().filter(|v| **v == 2).count();
    let canary_50 = at_50.values().filter(|v| **v == 2).count();
    assert!(canary_50 > canary_10 * 3, "the canary's share grew: {canary_10} → {canary_50} of {USERS}");
    // The same user keeps their arm while the split does not change.
    let again = http.traffic(&server, USERS).await;
    assert_eq!(again, at_50);

    http.advance(&server, "10m").await;
    let rollout = http.wait_rollout(&server, id, Duration::from_secs(10), |r| r["state"] != "progressing").await;
    assert_eq!(rollout["state"], "promoted", "{rollout:#}");
    assert_eq!(production(&http, &server).await, json!({"type": "version", "version": 2}));
    let audit = http.get(&server, "/api/v1/audit?prompt=assistant&limit=20").await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..3], ["rollout.promote", "rollout.advance", "rollout.start"], "{actions:?}");
    let stats = http.get(&server, "/api/v1/prompts/assistant/stats?by=arm&label=production").await;
    assert!(stats["groups"].as_array().unwrap().len() >= 2, "{stats:#}");
}

pub(crate) async fn leader(http: &Http, server: &Server) -> bool {
    let response = http.client.get(format!("{}/metrics", server.url)).send().await.unwrap();
    response.text().await.unwrap().lines().any(|line| line == "opm_rollout_leader 1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_hand_over_the_controller_and_see_an_abort_within_a_second() {
    let Some(url) = crate::postgres_database() else { return };
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_config(dir_a.path(), &mock);
    write_config(dir_b.path(), &mock);
    let a = Server::start_with(dir_a.path(), Some(&url), &options());
    let b = Server::start_with(dir_b.path(), Some(&url), &options());
    let http = Http::new();
    seed(&http, &a, "gpt-4o-mini").await;
    let id = start_rollout(&http, &a, json!([10, 50, 100])).await;

    // Exactly one replica leads.
    let started = Instant::now();
    let (mut lead_a, mut lead_b) = (false, false);
    while started.elapsed() < Duration::from_secs(10) {
        (lead_a, lead_b) = (leader(&http, &a).await, leader(&http, &b).await);
        if lead_a || lead_b {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(lead_a ^ lead_b, "exactly one leader: a={lead_a} b={lead_b}");
    let (dead, survivor) = if lead_a { (a, b) } else { (b, a) };
    dead.kill_9();
    let killed = Instant::now();
    while !leader(&http, &survivor).await {
        assert!(killed.elapsed() < Duration::from_secs(10), "no takeover within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("controller taken over {:?} after the leader was killed", killed.elapsed());

    // The survivor carries the rollout on.
    http.traffic(&survivor, USERS).await;
    http.advance(&survivor, "10m").await;
    http.wait_rollout(&survivor, id, Duration::from_secs(10), |r| r["canary_percent"] == 50).await;

    // An abort on one replica is served by the other within a second.
    let other_dir = tempfile::tempdir().unwrap();
    write_config(other_dir.path(), &mock);
    let other = Server::start_with(other_dir.path(), Some(&url), &options());
    // Find a key on the canary arm, so the abort is visible as a change of version.
    let mut key = None;
    for i in 0..200 {
        let path = format!("{}/api/v1/prompts/assistant/resolve?key=k{i}", other.url);
        let (_, body) = http.call(reqwest::Method::GET, path, None).await;
        if body["version"] == 2 {
            key = Some(format!("k{i}"));
            break;
        }
    }
    let key = key.expect("a key on the canary at 50%");
    let (status, body) = http
        .post(&survivor, &format!("/api/v1/prompts/assistant/rollouts/{id}/abort"), json!({"reason": "manual stop"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let acknowledged = Instant::now();
    loop {
        let path = format!("{}/api/v1/prompts/assistant/resolve?key={key}", other.url);
        let (_, body) = http.call(reqwest::Method::GET, path, None).await;
        if body["version"] == 1 {
            break;
        }
        assert!(acknowledged.elapsed() < Duration::from_secs(1), "abort not visible on the other replica within 1 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!("abort visible on the other replica {:?} after it was acknowledged", acknowledged.elapsed());
}

/// The `prometheus` binary (Debian's package, installed with promtool by scripts/promtool.sh), or
/// `None` with a loud warning; required when `OPM_REQUIRE_PROMTOOL=1` (CI).
fn prometheus_binary() -> Option<String> {
    let found = std::process::Command::new("sh").args(["-c", "command -v prometheus"]).output().ok();
    match found.filter(|out| out.status.success()) {
        Some(out) => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        None if std::env::var("OPM_REQUIRE_PROMTOOL").as_deref() == Ok("1") => {
            panic!("OPM_REQUIRE_PROMTOOL=1 but the prometheus binary is missing (scripts/promtool.sh installs it)")
        }
        None => {
            eprintln!("WARNING: prometheus not installed: the Prometheus rollout check test is SKIPPED");
            None
        }
    }
}

struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_checks_abort_a_canary_before_opms_own_records_could() {
    let Some(binary) = prometheus_binary() else { return };
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &mock);
    let prometheus_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    let mut config = std::fs::read_to_string(dir.path().join("opm.toml")).unwrap();
    config.push_str(&format!("[rollouts.prometheus]\nurl = \"{prometheus_url}\"\n"));
    std::fs::write(dir.path().join("opm.toml"), config).unwrap();
    let server = Server::start_with(dir.path(), None, &options());
    let target = server.url.trim_start_matches("http://").to_owned();
    let scrape = format!(
        "global:\n  scrape_interval: 200ms\nscrape_configs:\n  - job_name: opm\n    static_configs:\n      - targets: [\"{target}\"]\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), scrape).unwrap();
    let _prometheus = Prometheus(
        std::process::Command::new(binary)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = Http::new();
    seed(&http, &server, "mock-fail-500").await;
    // OPM's own records alone would stay inconclusive: far more samples needed than sent.
    let request = json!({"label": "production", "to": 2, "steps": [10, 50, 100], "interval": "10m",
        "max_error_rate": 0.05, "min_samples": 100000, "reason": "ship v2, watched by Prometheus"});
    let (status, body) = http.post(&server, "/api/v1/prompts/assistant/rollouts", request).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    // Prometheus sees a counter grow only between two of its scrapes: traffic, a scrape, more traffic,
    // until the canary's error rate over the window is a number.
    let query = format!(
        "{prometheus_url}/api/v1/query?query=sum(rate(opm_gateway_requests_total%7Barm%3D%222%22%7D%5B10m%5D))%3E0"
    );
    let started = Instant::now();
    loop {
        http.traffic(&server, USERS).await;
        let answer: Value = http.client.get(&query).send().await.map(|r| r.json()).unwrap().await.unwrap_or_default();
        if answer["data"]["result"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "Prometheus never saw the canary's calls: {answer}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    http.advance(&server, "10m").await;
    let rollout = http.wait_rollout(&server, id, Duration::from_secs(10), |r| r["state"] != "progressing").await;
    assert_eq!(rollout["state"], "aborted", "{rollout:#}");
    let reasons = rollout["last_check"]["verdict"]["reasons"].to_string();
    assert!(reasons.contains("prometheus: canary error rate is 1"), "{reasons}");
    assert!(!reasons.contains("calls in the window"), "the store's gap is not a failure: {reasons}");
    let audit = http.get(&server, "/api/v1/audit?action=rollout.abort").await;
    let measured = &audit["items"][0]["after"]["details"]["external"]["prometheus"]["canary error rate"];
    assert_eq!(measured["value"], 1.0, "{:#}", audit["items"][0]);
    assert!(measured["query"].as_str().unwrap().contains("arm=\"2\""));
}
