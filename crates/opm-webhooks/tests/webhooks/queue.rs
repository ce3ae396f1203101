//! The bounded queue and shutdown: a full queue drops and counts; shutdown drains within its timeout.

use std::time::{Duration, Instant};

use opm_webhooks::{WebhookConfig, WebhookStats, Webhooks, WebhooksOptions};

use crate::support::{Receiver, closed_port_url, config, event};

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_waiting() {
    let receiver = Receiver::start_with_delay(vec![], Duration::from_millis(20)).await;
    let options = WebhooksOptions { queue_capacity: 3, ..WebhooksOptions::default() };
    let webhooks = Webhooks::start_with(vec![config(&receiver.url)], options).unwrap();
    // On this single-threaded runtime the delivery task cannot run before the loop yields, so
    // exactly three events fit.
    let started = Instant::now();
    for id in 1..=10 {
        webhooks.dispatch(event(id, "label.set", "default"));
    }
    assert!(started.elapsed() < Duration::from_millis(500), "dispatch waited");
    assert_eq!(webhooks.stats(), WebhookStats { dropped: 7, pending: 3, ..WebhookStats::default() });
    let stats = webhooks.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stats, WebhookStats { delivered: 3, dropped: 7, ..WebhookStats::default() });
    assert_eq!(receiver.accepted_ids(), [1, 2, 3]);
}

#[tokio::test]
async fn shutdown_gives_up_at_its_timeout_and_reports_what_it_abandoned() {
    let unreachable = closed_port_url().await;
    let slow = WebhookConfig {
        initial_backoff: Duration::from_secs(10),
        max_backoff: Duration::from_secs(10),
        max_attempts: 3,
        ..config(&unreachable)
    };
    // No jitter: three quick attempts in a row would otherwise give up an event within the timeout.
    let options = WebhooksOptions { jitter: false, ..WebhooksOptions::default() };
    let webhooks = Webhooks::start_with(vec![slow], options).unwrap();
    webhooks.dispatch(event(1, "label.set", "default"));
    webhooks.dispatch(event(2, "label.set", "default"));
    let started = Instant::now();
    let stats = webhooks.shutdown(Duration::from_millis(200)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(2), "{took:?}");
    assert_eq!(stats.pending, 2, "{stats:?}");
    assert_eq!(stats.delivered + stats.failed, 0, "{stats:?}");
}
