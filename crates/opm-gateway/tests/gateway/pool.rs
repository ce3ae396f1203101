//! The upstream connection pool keeps at most `pool.max_idle` idle connections: after a burst the
//! surplus is closed instead of held (each pooled connection keeps its grown buffers). Counted
//! from the kernel's socket table, so the test sees real TCP connections on loopback.

use std::collections::HashSet;

use futures::future::join_all;
use opm_gateway::PoolPolicy;

use crate::support::{gateway, mock, openai, request};

const BURST: usize = 8;

/// Established connections whose remote end is `port` (this test's mock): the client side of
/// each connection the gateway holds open.
fn established_to(port: u16) -> usize {
    let mut local_ports = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state)) = (fields.get(1), fields.get(2), fields.get(3)) else {
                continue;
            };
            let port_of = |address: &str| address.rsplit(':').next().and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if *state == "01" && port_of(remote) == Some(port) {
                local_ports.insert(port_of(local));
            }
        }
    }
    local_ports.len()
}

async fn idle_after_burst(pool: Option<PoolPolicy>) -> usize {
    let server = mock().await;
    let port: u16 = server.url().rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap();
    let mut provider = openai(&server, "latency=300");
    if let Some(pool) = pool {
        provider.pool = pool;
    }
    let gateway = gateway(vec![("openai", provider)]);
    let calls = (0..BURST).map(|_| gateway.chat(request(&["openai/gpt-4o"], "hello")));
    for answer in join_all(calls).await {
        answer.unwrap();
    }
    // The surplus connections are closed as their responses finish; give the kernel a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    established_to(port)
}

#[tokio::test]
async fn a_burst_leaves_at_most_max_idle_connections_open() {
    if !std::path::Path::new("/proc/net/tcp").exists() {
        eprintln!("SKIPPED: no /proc/net/tcp to count connections in");
        return;
    }
    assert_eq!(idle_after_burst(None).await, BURST, "the default cap (64) keeps the whole burst's connections");
    let capped = idle_after_burst(Some(PoolPolicy { max_idle: 2, idle_timeout_ms: 30_000 })).await;
    assert_eq!(capped, 2, "past the cap, finished connections are closed");
}
