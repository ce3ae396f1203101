//! OPM's HTTP server: the axum router, thin handlers, authentication, problem+json errors and the
//! generated OpenAPI document.
//!
//! Invariants: this is the only crate that knows HTTP; handlers hold no business logic (they
//! parse, authorize, call the registry or store, and convert); every error response is a problem
//! document with a stable code and the request id.

mod app;
pub mod auth;
mod bootstrap;
mod config;
pub mod controller;
pub mod convert;
pub mod convert_governance;
pub mod error;
pub mod events;
pub mod extract;
pub mod key_usage;
pub mod limits;
pub mod llm;
pub mod metrics;
mod openapi;
mod otel;
pub mod prometheus;
pub mod recorder;
pub mod retention;
pub mod routes;
mod serve;
pub mod shutdown;
mod state;
mod webhooks;
pub mod wire;

pub use app::{build_api_router, build_router, openapi_document};
pub use bootstrap::{ADMIN_KEY_FILE, BootstrapOutcome, bootstrap_admin_key};
pub use config::{CacheSettings, FileConfig, ServeConfig, TelemetrySettings};
pub use serve::{ServerError, serve};
pub use state::{AppParts, AppState};

/// Largest accepted request body, in bytes (413 beyond it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
