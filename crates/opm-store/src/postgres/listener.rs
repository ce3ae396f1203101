//! Change notifications between replicas: the payload format, and the task that forwards
//! `LISTEN opm_changes` notifications to the store's broadcast channel.
//!
//! Notifications are not queued for a disconnected listener, so whenever the connection is lost
//! (or a payload cannot be read) the task reconnects and then sends [`ChangeEvent::Resync`]: caches
//! drop everything rather than risk serving a change they never heard about.

use std::time::Duration;

use opm_core::names::{ProjectName, PromptName};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::{ChangeEvent, StoreResult};

/// The notification channel.
pub(super) const CHANNEL: &str = "opm_changes";
/// The listener connection's `application_name`, to find it in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "opm-listener";
/// Longest wait between reconnection attempts. Until the listener is back this replica hears no
/// other replica's changes, so the pause bounds how long it may serve a stale label after the
/// database returns (one connection attempt a second against a database that is down is cheap).
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Connects the listener and starts forwarding; notifications committed after this returns are
/// delivered.
pub(super) async fn start(
    options: PgConnectOptions,
    events: broadcast::Sender<ChangeEvent>,
) -> StoreResult<JoinHandle<()>> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        // A short acquire: with the database down, the listener's own reconnect loop (below)
        // paces the attempts, rather than the pool's growing retry pauses inside one long acquire.
        .acquire_timeout(Duration::from_secs(1))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options.application_name(LISTENER_APPLICATION_NAME))
        .await?;
    let listener = subscribe(&pool).await?;
    Ok(tokio::spawn(forward(pool, listener, events)))
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn forward(pool: PgPool, mut listener: PgListener, events: broadcast::Sender<ChangeEvent>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let event = decode(notification.payload()).unwrap_or_else(|| {
                    tracing::warn!(payload = notification.payload(), "unreadable change notification; resyncing");
                    ChangeEvent::Resync
                });
                let _ = events.send(event);
            }
            Ok(None) => {
                // The connection dropped and was re-established (with its LISTEN): some
                // notifications may have been missed.
                tracing::warn!("change listener reconnected; resyncing");
                let _ = events.send(ChangeEvent::Resync);
            }
            Err(error) => {
                tracing::warn!(%error, "change listener failed; reconnecting");
                drop(listener);
                listener = reconnect(&pool).await;
                let _ = events.send(ChangeEvent::Resync);
            }
        }
    }
}

/// Retries with a growing pause until listening again.
async fn reconnect(pool: &PgPool) -> PgListener {
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::time::sleep(backoff).await;
        match subscribe(pool).await {
            Ok(listener) => return listener,
            Err(error) => tracing::warn!(%error, "change listener cannot reconnect yet"),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The notification payload of an event (`None` for [`ChangeEvent::Resync`], which is local).
pub(super) fn encode(event: &ChangeEvent) -> Option<String> {
    let value = match event {
        ChangeEvent::Prompt { project, prompt } => json!({ "type": "prompt", "project": project, "prompt": prompt }),
        ChangeEvent::Key { id } => json!({ "type": "key", "id": id }),
        ChangeEvent::Project { project } => json!({ "type": "project", "project": project }),
        ChangeEvent::Resync => return None,
    };
    Some(value.to_string())
}

/// The event of a notification payload, if it is one.
pub(super) fn decode(payload: &str) -> Option<ChangeEvent> {
    let value: Value = serde_json::from_str(payload).ok()?;
    let text = |field: &str| value.get(field).and_then(Value::as_str);
    match text("type")? {
        "prompt" => Some(ChangeEvent::Prompt {
            project: ProjectName::parse(text("project")?).ok()?,
            prompt: PromptName::parse(text("prompt")?).ok()?,
        }),
        "key" => Some(ChangeEvent::Key { id: text("id")?.to_owned() }),
        "project" => Some(ChangeEvent::Project { project: ProjectName::parse(text("project")?).ok()? }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(event: ChangeEvent) {
        let payload = encode(&event).unwrap();
        assert_eq!(decode(&payload), Some(event), "{payload}");
    }

    #[test]
    fn payloads_round_trip() {
        check(ChangeEvent::Prompt {
            project: ProjectName::default_project(),
            prompt: PromptName::parse("welcome").unwrap(),
        });
        check(ChangeEvent::Key { id: "abc123".into() });
        check(ChangeEvent::Project { project: ProjectName::parse("team-a").unwrap() });
        assert_eq!(encode(&ChangeEvent::Resync), None);
    }

    #[test]
    fn unreadable_payloads_are_none() {
        assert_eq!(decode("not json"), None);
        assert_eq!(decode(r#"{"type":"prompt","project":"default"}"#), None);
        assert_eq!(decode(r#"{"type":"prompt","project":"Bad Name","prompt":"x"}"#), None);
        assert_eq!(decode(r#"{"type":"mystery"}"#), None);
    }
}
