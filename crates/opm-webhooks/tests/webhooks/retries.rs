//! Retries: which answers are retried, the backoff between attempts, `Retry-After`, giving up.

use std::time::{Duration, Instant};

use opm_webhooks::{EndpointStats, WebhookConfig, WebhookStats, Webhooks, WebhooksOptions};

use crate::support::{Receiver, Reply, closed_port_url, config, event, wait_until};

fn no_jitter() -> WebhooksOptions {
    WebhooksOptions { jitter: false, ..WebhooksOptions::default() }
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_delivery_id_and_growing_gaps() {
    let receiver = Receiver::start(vec![Reply::status(500), Reply::status(500)]).await;
    let webhooks = Webhooks::start_with(vec![config(&receiver.url)], no_jitter()).unwrap();
    webhooks.dispatch(event(1, "label.set", "default"));
    let received = receiver.wait_for(3).await;
    let answered: Vec<u16> = received.iter().map(|r| r.answered).collect();
    assert_eq!(answered, [500, 500, 200]);
    let deliveries: Vec<String> = received.iter().map(|r| r.header("x-opm-delivery")).collect();
    assert!(deliveries.iter().all(|d| *d == deliveries[0] && !d.is_empty()), "{deliveries:?}");
    assert!(received.iter().all(|r| r.body == received[0].body));
    let first_gap = received[1].at - received[0].at;
    let second_gap = received[2].at - received[1].at;
    assert!(first_gap >= Duration::from_millis(20), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(40), "{second_gap:?}");
    assert!(second_gap > first_gap, "{first_gap:?} then {second_gap:?}");
    let stats = webhooks.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stats, WebhookStats { delivered: 1, retries: 2, ..WebhookStats::default() });
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped_at_max_backoff() {
    let honoured = Receiver::start(vec![Reply { status: 503, retry_after: Some("1") }]).await;
    let capped = Receiver::start(vec![Reply { status: 429, retry_after: Some("3") }]).await;
    let configs = vec![
        WebhookConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(5),
            ..config(&honoured.url)
        },
        WebhookConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
            ..config(&capped.url)
        },
    ];
    let webhooks = Webhooks::start(configs).unwrap();
    webhooks.dispatch(event(1, "rollout.start", "default"));
    let honoured_gap = {
        let received = honoured.wait_for(2).await;
        received[1].at - received[0].at
    };
    let capped_gap = {
        let received = capped.wait_for(2).await;
        received[1].at - received[0].at
    };
    assert!(honoured_gap >= Duration::from_secs(1), "Retry-After: 1 waited only {honoured_gap:?}");
    assert!(honoured_gap < Duration::from_secs(3), "{honoured_gap:?}");
    assert!(capped_gap >= Duration::from_millis(200), "{capped_gap:?}");
    assert!(capped_gap < Duration::from_secs(2), "Retry-After: 3 was not capped at 200ms: {capped_gap:?}");
    let stats = webhooks.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stats, WebhookStats { delivered: 2, retries: 2, ..WebhookStats::default() });
}

#[tokio::test]
async fn client_errors_are_permanent_except_408_425_and_429() {
    let receiver = Receiver::start(vec![
        Reply::status(400),
        Reply::status(429),
        Reply::status(408),
        Reply::status(425),
        Reply::status(404),
    ])
    .await;
    let webhooks = Webhooks::start_with(vec![config(&receiver.url)], no_jitter()).unwrap();
    webhooks.dispatch(event(1, "label.set", "default")); // 400: given up at once
    webhooks.dispatch(event(2, "label.set", "default")); // 429, 408, 425, then 404: given up
    webhooks.dispatch(event(3, "label.set", "default")); // 200
    let stats = webhooks.shutdown(Duration::from_secs(5)).await;
    let seen: Vec<(i64, u16)> = receiver.received().iter().map(|r| (r.event().id, r.answered)).collect();
    assert_eq!(seen, [(1, 400), (2, 429), (2, 408), (2, 425), (2, 404), (3, 200)]);
    assert_eq!(stats, WebhookStats { delivered: 1, failed: 2, retries: 3, ..WebhookStats::default() });
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_then_given_up_without_blocking_others() {
    let unreachable = closed_port_url().await;
    let healthy = Receiver::start(vec![]).await;
    let configs = vec![
        WebhookConfig { initial_backoff: Duration::from_millis(50), max_attempts: 4, ..config(&unreachable) },
        config(&healthy.url),
    ];
    let webhooks = Webhooks::start_with(configs, no_jitter()).unwrap();
    let started = Instant::now();
    for id in 1..=3 {
        webhooks.dispatch(event(id, "version.publish", "default"));
    }
    healthy.wait_for(3).await;
    let per_endpoint = webhooks.endpoint_stats();
    assert!(per_endpoint[0].stats.failed < 3, "the healthy endpoint waited for the dead one: {per_endpoint:?}");
    // Each event: 4 attempts, with 50 + 100 + 200 ms between them.
    let gave_up = wait_until(Duration::from_secs(10), || {
        let stats = webhooks.endpoint_stats();
        (stats[0].stats.failed == 3).then_some(stats)
    })
    .await
    .expect("the unreachable endpoint's events were never given up");
    assert!(started.elapsed() >= Duration::from_millis(3 * 350), "{:?}", started.elapsed());
    let port = unreachable.trim_start_matches("http://").trim_end_matches("/hook");
    assert_eq!(
        gave_up,
        [
            EndpointStats {
                endpoint: port.to_owned(),
                stats: WebhookStats { failed: 3, retries: 9, ..Default::default() }
            },
            EndpointStats {
                endpoint: healthy.url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned(),
                stats: WebhookStats { delivered: 3, ..Default::default() }
            },
        ]
    );
    assert_eq!(webhooks.stats(), WebhookStats { delivered: 3, failed: 3, retries: 9, ..Default::default() });
}

#[tokio::test]
async fn a_timeout_is_retried_then_given_up() {
    let slow = Receiver::start_with_delay(vec![], Duration::from_millis(400)).await;
    let config = WebhookConfig { timeout: Duration::from_millis(100), max_attempts: 2, ..config(&slow.url) };
    let webhooks = Webhooks::start_with(vec![config], no_jitter()).unwrap();
    webhooks.dispatch(event(1, "rollout.abort", "default"));
    let stats = wait_until(Duration::from_secs(5), || {
        let stats = webhooks.stats();
        (stats.failed == 1).then_some(stats)
    })
    .await
    .expect("the slow endpoint's event was never given up");
    assert_eq!(stats, WebhookStats { failed: 1, retries: 1, ..WebhookStats::default() });
    assert_eq!(slow.wait_for(2).await.len(), 2, "both attempts reached the receiver");
}
