//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use opm_api::{Health, ProviderHealth, StoreHealth};

use crate::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        store: None,
        version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        providers: None,
    })
}

/// Readiness: the store answers a query.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let store = state.registry.store();
    let (status, ok, detail) = match store.ping().await {
        Ok(()) => (StatusCode::OK, true, None),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, false, Some("the database did not answer".to_owned()))
        }
    };
    let kinds: std::collections::HashMap<String, &'static str> =
        state.gateway.providers().into_iter().map(|(name, kind)| (name, kind.as_str())).collect();
    let providers = state
        .gateway
        .breaker_states()
        .into_iter()
        .map(|(name, breaker)| ProviderHealth {
            kind: kinds.get(&name).copied().unwrap_or_default().to_owned(),
            name,
            breaker: breaker.as_str().to_owned(),
        })
        .collect();
    let health = Health {
        status: if ok { "ok" } else { "unavailable" }.to_owned(),
        store: Some(StoreHealth { backend: store.backend().to_owned(), ok, detail }),
        version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        providers: Some(providers),
    };
    (status, Json(health))
}
