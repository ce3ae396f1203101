//! Provider chaos: the gateway under sustained concurrent load (streaming and not) while a loopback
//! proxy in front of `opm-mock-llm` adds an `x-mock-fault` to one upstream call in ten, cycling
//! through 429 with `Retry-After`, 503, a reset mid-stream, a slow drip past the total timeout,
//! malformed JSON and a first byte past its timeout; for a while every call fails, so the breaker
//! must open (and later close). Asserted: the server never dies, no request outlives its deadline
//! (timeouts × attempts + backoff, per target), the breaker is seen open then closed in `/metrics`,
//! fallbacks are used, and the calls and failures in `/metrics` equal the stored generations.
//!
//! `OPM_FAULTS_CHAOS_SECS` sets the load's duration (default 8 s).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures::StreamExt;
use opm_mock_llm::{MockConfig, MockServer};
use serde_json::json;

use crate::faults_common::{Http, env_duration};
use crate::server::{ADMIN, Server};

/// One in ten upstream calls gets the next of these.
const FAULTS: [&str; 6] =
    ["status=429,retry-after=1", "status=503", "reset-after=2", "drip=400", "malformed", "latency=2500"];
/// The flaky provider's limits (ms), and the longest a client may wait: per target, every attempt
/// to its total timeout plus the longest backoff (Retry-After 1 s), then the healthy fallback.
const FIRST_BYTE_MS: u64 = 1000;
const TOTAL_MS: u64 = 2000;
const DEADLINE: Duration = Duration::from_millis(2 * TOTAL_MS + 1000 + TOTAL_MS + 1000);

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    calls: AtomicU64,
    faulted: AtomicU64,
    /// Every call fails while set (to open the breaker).
    storm: AtomicBool,
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let n = proxy.calls.fetch_add(1, Ordering::Relaxed);
    let fault = if proxy.storm.load(Ordering::Relaxed) {
        Some("status=503")
    } else {
        (n % 10 == 9).then(|| FAULTS[usize::try_from(n / 10).unwrap() % FAULTS.len()])
    };
    if fault.is_some() {
        proxy.faulted.fetch_add(1, Ordering::Relaxed);
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut upstream = proxy.client.request(parts.method, format!("{}{}", proxy.upstream, parts.uri.path())).body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    if let Some(fault) = fault {
        upstream = upstream.header("x-mock-fault", fault);
    }
    let Ok(answer) = upstream.send().await else {
        return Response::builder().status(502).body(Body::empty()).unwrap();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    response.body(Body::from_stream(answer.bytes_stream())).unwrap()
}

fn write_config(dir: &std::path::Path, proxy: &str, mock: &str) {
    std::fs::write(dir.join("upstream-key"), "test-key").unwrap();
    let key = dir.join("upstream-key");
    let config = format!(
        "[gateway.providers.flaky]\ntype = \"openai\"\nbase_url = \"{proxy}/v1\"\napi_key_file = \"{key}\"\n\
         timeouts = {{ connect_ms = 1000, first_byte_ms = {FIRST_BYTE_MS}, total_ms = {TOTAL_MS} }}\n\
         retry = {{ max_attempts = 2, base_delay_ms = 10, max_delay_ms = 50 }}\n\
         breaker = {{ failure_threshold = 3, open_ms = 500 }}\n\
         [gateway.providers.backup]\ntype = \"openai\"\nbase_url = \"{mock}/v1\"\napi_key_file = \"{key}\"\n",
        key = key.display()
    );
    std::fs::write(dir.join("opm.toml"), config).unwrap();
}

/// The sum of every sample of `name` whose labels contain `filter`.
fn metric_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']) && line.contains(filter))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics(http: &Http, base: &str) -> String {
    http.ok(&format!("{base}/metrics")).await.as_str().unwrap_or_default().to_owned()
}

/// One chat completion, streamed or not, read to the end; returns (ok, elapsed).
async fn call(client: &reqwest::Client, base: &str, stream: bool, n: u64) -> (bool, Duration) {
    let body = json!({"model": "opm:chaos", "stream": stream, "user": format!("u{n}"),
        "messages": [{"role": "user", "content": "tell me about faults"}]});
    let started = Instant::now();
    let response = client.post(format!("{base}/v1/chat/completions")).bearer_auth(ADMIN).json(&body).send().await;
    let Ok(response) = response else { return (false, started.elapsed()) };
    let ok = response.status().is_success();
    let mut chunks = response.bytes_stream();
    let mut text = Vec::new();
    let mut broken = false;
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(bytes) => text.extend_from_slice(&bytes),
            Err(_) => broken = true,
        }
    }
    let text = String::from_utf8_lossy(&text);
    let complete = !stream || text.contains("data: [DONE]");
    (ok && !broken && complete && !text.contains("\"error\""), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_chaos_never_hangs_opens_breakers_and_counts_every_failure() {
    let load_for = env_duration("OPM_FAULTS_CHAOS_SECS", Duration::from_secs(8));
    let http = Http::new(Duration::from_secs(30));
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let proxy = Arc::new(Proxy {
        upstream: mock.url().to_owned(),
        client: reqwest::Client::builder().build().unwrap(),
        calls: AtomicU64::new(0),
        faulted: AtomicU64::new(0),
        storm: AtomicBool::new(false),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &proxy_url, &mock.url());
    let server = Server::start(dir.path(), None);
    let base = server.url.clone();
    let version = json!({"content": {"type": "chat", "messages": [{"role": "system", "content": "You are terse."}],
        "model": {"provider": "flaky", "model": "gpt-4o-mini", "fallbacks": [{"provider": "backup", "model": "gpt-4o-mini"}]}},
        "message": "chaos"});
    assert_eq!(http.post(&format!("{base}/api/v1/prompts/chaos/versions"), &version).await.unwrap().status, 201);
    let label = json!({"version": 1, "reason": "chaos"});
    assert_eq!(http.put(&format!("{base}/api/v1/prompts/chaos/labels/production"), &label).await.unwrap().status, 200);

    let started = Instant::now();
    let clients: Vec<_> = (0..4_u64)
        .map(|worker| {
            let (client, base) = (http.client.clone(), base.clone());
            tokio::spawn(async move {
                let (mut sent, mut failed, mut slowest) = (0_u64, 0_u64, Duration::ZERO);
                while started.elapsed() < load_for {
                    let (ok, took) = call(&client, &base, sent % 2 == worker % 2, worker * 100_000 + sent).await;
                    sent += 1;
                    failed += u64::from(!ok);
                    slowest = slowest.max(took);
                }
                (sent, failed, slowest)
            })
        })
        .collect();
    // Breaker states seen in /metrics (0 closed, 1 half-open, 2 open), polled all along.
    let mut states = BTreeSet::new();
    let mut storm_done = false;
    while started.elapsed() < load_for {
        let elapsed = started.elapsed();
        let storming = elapsed > load_for / 3 && elapsed < load_for / 3 + Duration::from_millis(1500);
        proxy.storm.store(storming, Ordering::Relaxed);
        storm_done |= storming;
        let text = metrics(&http, &base).await;
        states.insert(metric_sum(&text, "opm_gateway_circuit_breaker_state", "provider=\"flaky\"") as u8);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.storm.store(false, Ordering::Relaxed);
    let (mut sent, mut failed, mut slowest) = (0, 0, Duration::ZERO);
    for client in clients {
        let (s, f, w) = client.await.unwrap();
        (sent, failed, slowest) = (sent + s, failed + f, slowest.max(w));
    }
    assert!(storm_done);
    // The breaker closes again once calls succeed (after open_ms, a probe goes through).
    let closing = Instant::now();
    loop {
        call(&http.client, &base, false, 0).await;
        sent += 1;
        let state = metric_sum(&metrics(&http, &base).await, "opm_gateway_circuit_breaker_state", "provider=\"flaky\"");
        if state == 0.0 {
            break;
        }
        assert!(closing.elapsed() < Duration::from_secs(5), "the flaky breaker never closed again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(states.contains(&2), "the breaker was never seen open: {states:?}");

    assert_eq!(http.get(&format!("{base}/healthz")).await.unwrap().status, 200, "the server died");
    assert!(slowest < DEADLINE, "a request took {slowest:?}, past its deadline {DEADLINE:?}");
    let text = metrics(&http, &base).await;
    let metric_calls = metric_sum(&text, "opm_gateway_requests_total", "prompt=\"chaos\"");
    let metric_errors = metric_sum(&text, "opm_gateway_requests_total", "outcome=\"error\"");
    let fallbacks = metric_sum(&text, "opm_gateway_fallbacks_total", "");
    let retries = metric_sum(&text, "opm_gateway_retries_total", "provider=\"flaky\"");
    assert_eq!(metric_calls as u64, sent, "every call counted in /metrics");
    assert!(fallbacks > 0.0, "no fallback used");
    assert!(metric_errors as u64 <= failed, "metrics count {metric_errors} errors, clients saw {failed}");
    // Stored generations: the same calls and failures, once the recorder has written them.
    let stored = Instant::now();
    let (calls, errors) = loop {
        let stats = http.ok(&format!("{base}/api/v1/prompts/chaos/stats?by=version")).await;
        let groups = stats["groups"].as_array().unwrap();
        let calls: u64 = groups.iter().map(|g| g["calls"].as_u64().unwrap()).sum();
        let errors: u64 = groups.iter().map(|g| g["errors"].as_u64().unwrap() + g["cancelled"].as_u64().unwrap()).sum();
        if calls == sent || stored.elapsed() > Duration::from_secs(10) {
            break (calls, errors);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let metric_failures = metric_errors + metric_sum(&text, "opm_gateway_requests_total", "outcome=\"cancelled\"");
    assert_eq!((calls, errors), (sent, metric_failures as u64), "stored generations vs /metrics");
    let codes: Vec<&str> = text.lines().filter(|l| l.starts_with("opm_gateway_errors_total")).collect();
    println!(
        "provider chaos ({load_for:?}): {sent} client calls, {} upstream calls ({} faulted), {failed} failed at the client, \
         {metric_errors} errors in /metrics and {errors} in stored generations, {fallbacks} fallbacks, {retries} retries, \
         breaker states seen {states:?}, slowest call {slowest:?} (deadline {DEADLINE:?}); errors by code: {codes:?}",
        proxy.calls.load(Ordering::Relaxed),
        proxy.faulted.load(Ordering::Relaxed)
    );
}
