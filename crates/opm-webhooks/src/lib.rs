//! Webhooks: change events posted to configured endpoints, signed with HMAC-SHA256, retried with backoff.
//!
//! The server hands every change event (an [`opm_api::events::ChangeEventDto`]: a new version, a
//! label move or rollback, a rollout transition) to [`Webhooks::dispatch`] on one replica, the
//! leader. Each endpoint has its own task and bounded queue, so a slow or dead endpoint never
//! delays the server or the other endpoints, and receives its events in order: event N+1 is sent
//! once N is delivered or given up. User documentation: `docs/webhooks.md`.
//!
//! # Configuration (`opm.toml`)
//!
//! ```toml
//! [[webhooks]]
//! url = "https://hooks.example.com/opm"   # http or https
//! secret_env = "OPM_WEBHOOK_SECRET"       # or `secret = "..."`: exactly one, at least 16 bytes
//! events = ["label.*", "rollout.*"]       # exact names, `prefix.*` or "*" (default ["*"])
//! projects = ["shop"]                     # default: every project
//! timeout = "5s"                          # per attempt (default 5s)
//! max_attempts = 8                        # the first attempt included (default 8)
//! initial_backoff = "500ms"               # doubles on each retry (default 500ms)
//! max_backoff = "60s"                     # also caps Retry-After (default 60s)
//! ```
//!
//! # A delivery
//!
//! `POST <url>` with the event as a JSON body and these headers:
//!
//! | header | value |
//! | --- | --- |
//! | `content-type` | `application/json` |
//! | `user-agent` | `opm-webhooks/<version>` |
//! | `x-opm-event` | the event name, e.g. `label.set` |
//! | `x-opm-event-id` | the event's `id` (the audit sequence number) |
//! | `x-opm-delivery` | a UUID v7, the same on every retry of one event: deduplicate on it |
//! | `x-opm-signature` | `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` |
//!
//! A 2xx answer delivers the event. 408, 425, 429, 5xx, timeouts and connection errors are retried
//! with exponential backoff and full jitter (a random pause up to `initial_backoff × 2^(n-1)`,
//! capped at `max_backoff`), or after `Retry-After` seconds when the answer has one (capped too),
//! until `max_attempts`. Any other answer (other 4xx, 3xx: redirects are not followed) gives the
//! event up at once.
//!
//! # Verifying a signature
//!
//! Compute the HMAC over the raw body bytes as received, before any JSON parsing, compare in
//! constant time, and refuse timestamps more than a few minutes from now (replays). In Rust:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! # let secret = b"a secret of at least 16 bytes";
//! # let body = br#"{"id":1}"#;
//! # let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
//! # let header = opm_webhooks::signature_header(secret, now, body);
//! let verified = opm_webhooks::verify_signature(secret, &header, body, SystemTime::now(), Duration::from_secs(300));
//! assert!(verified.is_ok());
//! ```
//!
//! In Python:
//!
//! ```python
//! import hashlib, hmac, time
//!
//! def verify(secret: bytes, header: str, body: bytes, tolerance: int = 300) -> bool:
//!     pairs = [part.strip().split("=", 1) for part in header.split(",")]
//!     timestamps = [value for key, value in pairs if key == "t"]
//!     signatures = [value for key, value in pairs if key == "v1"]
//!     if len(timestamps) != 1 or abs(time.time() - int(timestamps[0])) > tolerance:
//!         return False
//!     expected = hmac.new(secret, timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
//!     return any(hmac.compare_digest(expected, signature) for signature in signatures)
//! ```
//!
//! In a shell with openssl (for debugging; the comparison is not constant-time), with the header
//! in `$SIGNATURE`, the raw body in `body.json` and the secret in `$SECRET`:
//!
//! ```sh
//! t=$(printf '%s' "$SIGNATURE" | tr ',' '\n' | sed -n 's/^ *t=//p')
//! v1=$(printf '%s' "$SIGNATURE" | tr ',' '\n' | sed -n 's/^ *v1=//p' | head -n 1)
//! expected=$({ printf '%s.' "$t"; cat body.json; } | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
//! [ "$expected" = "$v1" ] && [ $(( $(date +%s) - t )) -le 300 ] && echo verified
//! ```
//!
//! # Code map
//!
//! - `config.rs`: [`WebhookConfig`] and its validation; `filter.rs`: event and project filters.
//! - `webhooks.rs`: [`Webhooks`] (start, dispatch, stats, shutdown); `delivery.rs`: the per-endpoint
//!   task; `retry.rs`: status classes, backoff, `Retry-After`; `stats.rs`: counters.
//! - `signature.rs`: [`signature_header`] and [`verify_signature`].
//!
//! **Invariants:** the secret is read once at start and never logged, `Debug`-printed or put in an
//! error; logs name an endpoint by `host[:port]` only; [`Webhooks::dispatch`] never waits.

mod config;
mod delivery;
mod error;
mod filter;
mod retry;
mod signature;
mod stats;
mod webhooks;

pub use config::{MIN_SECRET_BYTES, WebhookConfig};
pub use delivery::USER_AGENT;
pub use error::WebhookError;
pub use signature::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, signature_header, verify_signature};
pub use stats::{EndpointStats, WebhookStats};
pub use webhooks::{DEFAULT_QUEUE_CAPACITY, Webhooks, WebhooksOptions};
