//! Replica failover under load, building on `rollouts.rs`'s controller hand-over test: two replicas
//! on PostgreSQL behind a loopback load balancer (a TCP proxy in the test: round robin, skipping
//! backends that refuse the connection) serve four clients; the rollout controller's leader is
//! killed with SIGKILL. Asserted: the survivor keeps serving (client errors during the switch are
//! counted and bounded), leadership moves within the bound, the survivor carries the rollout one
//! step on, and that step is applied exactly once (one `rollout.advance` audit entry; the chain
//! verifies).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use opm_mock_llm::{MockConfig, MockServer};
use serde_json::json;

use crate::faults_common::Http;
use crate::rollouts::{Http as RolloutHttp, leader, options, seed, start_rollout, write_config};
use crate::server::Server;

/// Client errors tolerated while one replica dies: each client may lose its in-flight request and
/// each pooled connection that was proxied to the dead replica (4 clients × 4 idle connections).
const ERROR_BOUND: u64 = 16;

fn address(server: &Server) -> SocketAddr {
    server.url.trim_start_matches("http://").parse().unwrap()
}

/// Accepts on a loopback port and pipes each connection to the next backend that accepts it.
async fn balancer(backends: Arc<RwLock<Vec<SocketAddr>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (backends, next) = (backends.read().unwrap().clone(), next.clone());
            tokio::spawn(async move {
                let first = next.fetch_add(1, Ordering::Relaxed);
                for i in 0..backends.len() {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(backends[(first + i) % backends.len()]).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failover_behind_a_balancer_keeps_serving_and_applies_each_step_once() {
    let Some(url) = crate::postgres_database() else { return };
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_config(dir_a.path(), &mock);
    write_config(dir_b.path(), &mock);
    let a = Server::start_with(dir_a.path(), Some(&url), &options());
    let b = Server::start_with(dir_b.path(), Some(&url), &options());
    let rollout_http = RolloutHttp::new();
    seed(&rollout_http, &a, "gpt-4o-mini").await;
    let id = start_rollout(&rollout_http, &a, json!([10, 50, 100])).await;
    let lb = balancer(Arc::new(RwLock::new(vec![address(&a), address(&b)]))).await;

    let (stop, errors, served) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let http = Http::new(Duration::from_secs(5));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (http, lb, stop, errors, served) =
                (http.clone(), lb.clone(), stop.clone(), errors.clone(), served.clone());
            tokio::spawn(async move {
                let mut n = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let answer = http
                        .get(&format!("{lb}/api/v1/prompts/assistant/resolve?label=production&key=c{client}-{n}"))
                        .await;
                    if answer.is_ok_and(|a| a.status == 200) {
                        served.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let (lead_a, lead_b) = loop {
        let (lead_a, lead_b) = (leader(&rollout_http, &a).await, leader(&rollout_http, &b).await);
        if lead_a || lead_b {
            break (lead_a, lead_b);
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(lead_a ^ lead_b, "exactly one leader: a={lead_a} b={lead_b}");
    let (dead, survivor) = if lead_a { (a, b) } else { (b, a) };
    let (errors_before, served_before) = (errors.load(Ordering::Relaxed), served.load(Ordering::Relaxed));
    dead.kill_9();
    let killed = Instant::now();
    while !leader(&rollout_http, &survivor).await {
        assert!(killed.elapsed() < Duration::from_secs(10), "no takeover within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let takeover = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let switch_errors = errors.load(Ordering::Relaxed) - errors_before;
    let served_after = served.load(Ordering::Relaxed) - served_before;
    assert_eq!(errors_before, 0, "errors before the kill");
    assert!(switch_errors <= ERROR_BOUND, "{switch_errors} client errors during the switch (bound {ERROR_BOUND})");
    assert!(served_after > 100, "the survivor served only {served_after} requests after the kill");

    // The survivor carries the rollout one step on, once.
    rollout_http.traffic(&survivor, 300).await;
    rollout_http.advance(&survivor, "10m").await;
    rollout_http.wait_rollout(&survivor, id, Duration::from_secs(10), |r| r["canary_percent"] == 50).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let audit = rollout_http.get(&survivor, "/api/v1/audit?action=rollout.advance").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "a rollout step applied more than once: {audit:#}");
    let verify = rollout_http.get(&survivor, "/api/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
    println!(
        "failover: leader killed under load; {switch_errors} client errors during the switch (bound {ERROR_BOUND}), \
         {served_after} requests served after the kill, controller taken over in {takeover:?}, one rollout.advance"
    );
}
