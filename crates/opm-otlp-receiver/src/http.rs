//! OTLP/HTTP with protobuf bodies: `POST /v1/traces` and `POST /v1/metrics`, answered with the
//! empty `Export*ServiceResponse` the specification asks for.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;

use crate::decode;
use crate::received::Transport;
use crate::sink::Sink;

const PROTOBUF: &str = "application/x-protobuf";
/// Larger than any batch a test sends; the OTLP exporters' own default limit is 64 MiB.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The OTLP/HTTP routes, storing into `sink`.
pub fn router(sink: Arc<Sink>) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(sink)
}

async fn traces(State(sink): State<Arc<Sink>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = refuse_unsupported(&headers) {
        return refusal;
    }
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            sink.add_spans(decode::spans(request, Transport::Http));
            protobuf(&ExportTraceServiceResponse::default())
        }
        Err(error) => {
            (StatusCode::BAD_REQUEST, format!("undecodable ExportTraceServiceRequest: {error}")).into_response()
        }
    }
}

async fn metrics(State(sink): State<Arc<Sink>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = refuse_unsupported(&headers) {
        return refusal;
    }
    match ExportMetricsServiceRequest::decode(body) {
        Ok(request) => {
            sink.add_metrics(decode::metrics(request, Transport::Http));
            protobuf(&ExportMetricsServiceResponse::default())
        }
        Err(error) => {
            (StatusCode::BAD_REQUEST, format!("undecodable ExportMetricsServiceRequest: {error}")).into_response()
        }
    }
}

/// Only uncompressed protobuf is decoded: JSON or compressed bodies get 415, so a misconfigured
/// exporter fails loudly in a test instead of sending nothing the test can see.
fn refuse_unsupported(headers: &HeaderMap) -> Option<Response> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    if !content_type.starts_with(PROTOBUF) {
        let message = format!("content type `{content_type}` is not supported; send `{PROTOBUF}`");
        return Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response());
    }
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING).and_then(|value| value.to_str().ok())
        && encoding != "identity"
    {
        let message = format!("content encoding `{encoding}` is not supported; send uncompressed bodies");
        return Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response());
    }
    None
}

fn protobuf(message: &impl Message) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))], message.encode_to_vec()).into_response()
}
