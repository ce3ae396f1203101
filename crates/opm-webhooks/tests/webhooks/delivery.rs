//! What a delivery looks like: body, headers, signature; and which endpoints get which events.

use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use opm_webhooks::{WebhookConfig, WebhookError, WebhookStats, Webhooks, verify_signature};
use sha2::Sha256;

use crate::support::{Receiver, SECRET, config, event};

#[tokio::test]
async fn a_delivery_carries_the_exact_body_and_a_verifiable_signature() {
    let receiver = Receiver::start(vec![]).await;
    let webhooks = Webhooks::start(vec![config(&receiver.url)]).unwrap();
    let sent = event(42, "label.set", "default");
    webhooks.dispatch(sent.clone());
    let received = receiver.wait_for(1).await.remove(0);

    assert_eq!(received.body, serde_json::to_vec(&*sent).unwrap(), "the body is the serialized event, byte for byte");
    assert_eq!(received.event(), *sent);
    assert_eq!(received.header("content-type"), "application/json");
    assert_eq!(received.header("user-agent"), format!("opm-webhooks/{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(received.header("x-opm-event"), "label.set");
    assert_eq!(received.header("x-opm-event-id"), "42");
    let delivery = uuid::Uuid::parse_str(&received.header("x-opm-delivery")).unwrap();
    assert_eq!(delivery.get_version_num(), 7);

    // The signature verifies, and only for this body and this secret.
    let signature = received.header("x-opm-signature");
    let now = SystemTime::now();
    let tolerance = Duration::from_secs(60);
    assert_eq!(verify_signature(SECRET.as_bytes(), &signature, &received.body, now, tolerance), Ok(()));
    let mut tampered = received.body.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        verify_signature(SECRET.as_bytes(), &signature, &tampered, now, tolerance),
        Err(WebhookError::SignatureMismatch)
    );
    assert_eq!(
        verify_signature(b"the-wrong-secret-0123456789", &signature, &received.body, now, tolerance),
        Err(WebhookError::SignatureMismatch)
    );
    let later = now + Duration::from_secs(600);
    assert!(matches!(
        verify_signature(SECRET.as_bytes(), &signature, &received.body, later, tolerance),
        Err(WebhookError::SignatureExpired { .. })
    ));

    // An independent computation: HMAC-SHA256(secret, "<t>.<body>") in hex.
    let (t, v1) = signature.strip_prefix("t=").and_then(|rest| rest.split_once(",v1=")).unwrap();
    let sent_at: u64 = t.parse().unwrap();
    let unix_now = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert!(unix_now.abs_diff(sent_at) <= 5, "t is the sending time");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&received.body);
    assert_eq!(v1, hex::encode(mac.finalize().into_bytes()));

    let stats = webhooks.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stats, WebhookStats { delivered: 1, ..WebhookStats::default() });
}

#[tokio::test]
async fn events_arrive_in_order_even_with_retries_in_between() {
    let mut script = vec![crate::support::Reply::status(200); 60];
    script[3] = crate::support::Reply::status(503);
    script[20] = crate::support::Reply::status(500);
    script[21] = crate::support::Reply::status(502);
    let receiver = Receiver::start(script).await;
    let webhooks = Webhooks::start(vec![config(&receiver.url)]).unwrap();
    for id in 1..=50 {
        webhooks.dispatch(event(id, "version.publish", "default"));
    }
    let stats = webhooks.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats, WebhookStats { delivered: 50, retries: 3, ..WebhookStats::default() });
    assert_eq!(receiver.accepted_ids(), (1..=50).collect::<Vec<_>>());
    let all: Vec<i64> = receiver.received().iter().map(|r| r.event().id).collect();
    assert!(all.is_sorted(), "an event is only sent once the one before it is done: {all:?}");
    assert_eq!(all.len(), 53);
}

#[tokio::test]
async fn event_and_project_filters() {
    let rollouts = Receiver::start(vec![]).await;
    let shop = Receiver::start(vec![]).await;
    let exact = Receiver::start(vec![]).await;
    let everything = Receiver::start(vec![]).await;
    let configs = vec![
        WebhookConfig { events: vec!["rollout.*".into()], ..config(&rollouts.url) },
        WebhookConfig { projects: Some(vec!["shop".into()]), ..config(&shop.url) },
        WebhookConfig {
            events: vec!["label.set".into(), "label.rollback".into()],
            projects: Some(vec!["default".into(), "blog".into()]),
            ..config(&exact.url)
        },
        config(&everything.url),
    ];
    let webhooks = Webhooks::start(configs).unwrap();
    let events = [
        (1, "version.publish", "default"),
        (2, "rollout.start", "default"),
        (3, "label.set", "shop"),
        (4, "rollout.advance", "shop"),
        (5, "label.rollback", "blog"),
        (6, "label.set", "default"),
        (7, "rollout.abort", "blog"),
        (8, "rollouts.other", "default"),
    ];
    for (id, name, project) in events {
        webhooks.dispatch(event(id, name, project));
    }
    let stats = webhooks.shutdown(Duration::from_secs(5)).await;
    assert_eq!(rollouts.accepted_ids(), [2, 4, 7]);
    assert_eq!(shop.accepted_ids(), [3, 4]);
    assert_eq!(exact.accepted_ids(), [5, 6]);
    assert_eq!(everything.accepted_ids(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(stats, WebhookStats { delivered: 3 + 2 + 2 + 8, ..WebhookStats::default() });
}

#[test]
fn start_needs_a_runtime() {
    let result = Webhooks::start(vec![WebhookConfig::new("http://127.0.0.1:9/hook", SECRET)]);
    assert_eq!(result.err(), Some(WebhookError::NoRuntime));
}

#[tokio::test]
async fn start_refuses_a_bad_entry_and_accepts_none() {
    let good = WebhookConfig::new("http://127.0.0.1:9/hook", SECRET);
    let bad = WebhookConfig::new("http://127.0.0.1:9/hook", "short");
    let error = Webhooks::start(vec![good, bad]).err().unwrap();
    assert!(
        error
            .to_string()
            .starts_with("invalid webhook configuration: webhooks[1] (127.0.0.1:9): the secret is 5 bytes")
    );
    let none = Webhooks::start(vec![]).unwrap();
    assert!(none.is_empty());
    none.dispatch(event(1, "label.set", "default"));
    assert_eq!(none.shutdown(Duration::from_secs(1)).await, WebhookStats::default());
}
