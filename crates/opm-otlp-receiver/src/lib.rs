//! A loopback OTLP receiver for tests: it listens on `127.0.0.1` for OTLP/HTTP (protobuf) and
//! OTLP/gRPC, decodes every span and metric it is sent, and keeps them for assertions.
//!
//! No collector binary is needed: a test starts an [`OtlpReceiver`], points an exporter at
//! [`OtlpReceiver::http_endpoint`] or [`OtlpReceiver::grpc_endpoint`], and reads
//! [`OtlpReceiver::spans`] / [`OtlpReceiver::metrics`] (or waits for them with
//! [`OtlpReceiver::wait_for_spans`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), opm_otlp_receiver::ReceiverError> {
//! use std::time::Duration;
//! let receiver = opm_otlp_receiver::OtlpReceiver::start().await?;
//! // ... export to receiver.http_endpoint() ...
//! let spans = receiver.wait_for_spans(|spans| spans.len() >= 2, Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```

mod decode;
mod grpc;
mod http;
mod received;
mod sink;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use received::{
    AttributeValue, Attributes, HistogramPoint, MetricKind, NumberPoint, NumberValue, ReceivedMetric, ReceivedSpan,
    SpanKind, StatusCode, Transport,
};

use crate::sink::Sink;

/// What can go wrong with the receiver.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("cannot listen on 127.0.0.1 for OTLP/{transport}: {source}")]
    Bind { transport: &'static str, source: std::io::Error },
    #[error("timed out after {waited:?} waiting for {what}; received so far: {received}")]
    Timeout { what: &'static str, waited: Duration, received: String },
}

/// A running receiver; both servers stop when it is dropped.
pub struct OtlpReceiver {
    http_address: SocketAddr,
    grpc_address: SocketAddr,
    sink: Arc<Sink>,
    tasks: Vec<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Starts both servers on free loopback ports. Must be called inside a Tokio runtime.
    pub async fn start() -> Result<OtlpReceiver, ReceiverError> {
        let sink = Arc::new(Sink::new());
        let http_listener = bind("http").await?;
        let grpc_listener = bind("grpc").await?;
        let http_address = local_address(&http_listener, "http")?;
        let grpc_address = local_address(&grpc_listener, "grpc")?;

        let router = http::router(sink.clone());
        let http_task = tokio::spawn(async move {
            if let Err(error) = axum::serve(http_listener, router).await {
                tracing::warn!(%error, "OTLP/HTTP test receiver stopped");
            }
        });
        let collector = grpc::Collector::new(sink.clone());
        let grpc_task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(collector.trace_service())
                .add_service(collector.metrics_service())
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(grpc_listener))
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "OTLP/gRPC test receiver stopped");
            }
        });
        Ok(OtlpReceiver { http_address, grpc_address, sink, tasks: vec![http_task, grpc_task] })
    }

    /// The OTLP/HTTP base endpoint, `http://127.0.0.1:PORT` (for `OTEL_EXPORTER_OTLP_ENDPOINT`;
    /// signals are posted to `/v1/traces` and `/v1/metrics` under it).
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_address)
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_address)
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.sink.spans()
    }

    /// Every metric received so far, in arrival order (cumulative metrics repeat per export).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.sink.metrics()
    }

    /// The most recently received metric with this name.
    pub fn latest_metric(&self, name: &str) -> Option<ReceivedMetric> {
        self.sink.metrics().into_iter().rev().find(|metric| metric.name == name)
    }

    /// Forgets everything received so far.
    pub fn clear(&self) {
        self.sink.clear();
    }

    /// Waits until `predicate` holds for the spans received so far, and returns them.
    pub async fn wait_for_spans(
        &self,
        predicate: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, ReceiverError> {
        self.wait_for("spans", || self.spans(), predicate, |spans| format!("{:?}", names(spans)), timeout).await
    }

    /// Waits until `predicate` holds for the metrics received so far, and returns them.
    pub async fn wait_for_metrics(
        &self,
        predicate: impl Fn(&[ReceivedMetric]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMetric>, ReceiverError> {
        let describe = |metrics: &[ReceivedMetric]| {
            format!("{:?}", metrics.iter().map(|metric| metric.name.as_str()).collect::<Vec<_>>())
        };
        self.wait_for("metrics", || self.metrics(), predicate, describe, timeout).await
    }

    async fn wait_for<T>(
        &self,
        what: &'static str,
        snapshot: impl Fn() -> Vec<T>,
        predicate: impl Fn(&[T]) -> bool,
        describe: impl Fn(&[T]) -> String,
        timeout: Duration,
    ) -> Result<Vec<T>, ReceiverError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.sink.subscribe();
        loop {
            changes.borrow_and_update();
            let items = snapshot();
            if predicate(&items) {
                return Ok(items);
            }
            // A change between the snapshot and here marks `changes` as changed, so none is missed.
            if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                let items = snapshot();
                if predicate(&items) {
                    return Ok(items);
                }
                return Err(ReceiverError::Timeout { what, waited: timeout, received: describe(&items) });
            }
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn names(spans: &[ReceivedSpan]) -> Vec<&str> {
    spans.iter().map(|span| span.name.as_str()).collect()
}

async fn bind(transport: &'static str) -> Result<TcpListener, ReceiverError> {
    TcpListener::bind(("127.0.0.1", 0)).await.map_err(|source| ReceiverError::Bind { transport, source })
}

fn local_address(listener: &TcpListener, transport: &'static str) -> Result<SocketAddr, ReceiverError> {
    listener.local_addr().map_err(|source| ReceiverError::Bind { transport, source })
}
