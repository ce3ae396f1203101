//! The router and a running server handle with graceful stop.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::{MockConfig, MockError, anthropic, control, openai};

/// The mock's routes, for serving on any listener or testing with `oneshot`.
pub fn router(config: MockConfig) -> Router {
    router_with_state(Arc::new(AppState::new(config)))
}

fn router_with_state(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/models", get(control::models))
        .route("/healthz", get(control::healthz))
        .route("/mock/requests", get(control::request_count).delete(control::reset_request_count))
        .route("/mock/last-traceparent", get(control::last_traceparent))
        .with_state(state)
}

/// A mock server running on a background task; dropping it stops the server too.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl MockServer {
    /// Starts a server on `127.0.0.1` with a free port.
    pub async fn start(config: MockConfig) -> Result<Self, MockError> {
        Self::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a server on `addr` (port 0 picks a free one).
    pub async fn bind(addr: SocketAddr, config: MockConfig) -> Result<Self, MockError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| MockError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| MockError::Bind { addr, source })?;
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY on an accepted connection");
            }
        });
        let state = Arc::new(AppState::new(config));
        let app = router_with_state(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::debug!(%addr, "opm-mock-llm listening");
        Ok(Self { addr, state, shutdown: Some(shutdown), task })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (append `/v1` for an OpenAI or Anthropic base URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Completion requests counted so far under `x-mock-key: key` (same as `GET /mock/requests?key=`).
    pub fn request_count(&self, key: &str) -> u64 {
        self.state.request_count(key)
    }

    /// The `traceparent` header of the latest completion request (same as `GET /mock/last-traceparent`).
    pub fn last_traceparent(&self) -> Option<String> {
        self.state.last_traceparent()
    }

    /// Stops accepting connections and waits for open ones to finish.
    pub async fn stop(mut self) -> Result<(), MockError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result.map_err(MockError::Serve),
            Err(error) => Err(MockError::Task(error.to_string())),
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
