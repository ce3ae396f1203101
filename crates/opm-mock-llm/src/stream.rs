//! Response bodies that misbehave on purpose: paced SSE streams, connection resets, truncated JSON.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{StreamExt, stream};

use crate::fault::Fault;

const RESET_FLUSH_PAUSE: Duration = Duration::from_millis(5);

/// One SSE frame with only a `data:` line (OpenAI style).
pub(crate) fn data_frame(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// One SSE frame with an `event:` and a `data:` line (Anthropic style).
pub(crate) fn event_frame(event: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// Applies the frame-level faults: `malformed` replaces frame `first_content` with `malformed_frame`,
/// `error-after=N` keeps N frames and appends `error_frame`.
pub(crate) fn shape_frames(
    mut frames: Vec<Bytes>,
    fault: &Fault,
    first_content: usize,
    malformed_frame: Bytes,
    error_frame: Bytes,
) -> Vec<Bytes> {
    if fault.malformed
        && let Some(frame) = frames.get_mut(first_content)
    {
        *frame = malformed_frame;
    }
    if let Some(keep) = fault.error_after {
        frames.truncate(keep);
        frames.push(error_frame);
    }
    frames
}

/// A `200 text/event-stream` response sending `frames` with the fault's pacing (`ttft`, `drip`) and,
/// with `reset-after=N`, an aborted connection after N frames.
pub(crate) fn sse_response(frames: Vec<Bytes>, fault: &Fault, extra_headers: &[(&'static str, String)]) -> Response {
    let ttft = fault.ttft.unwrap_or(Duration::ZERO);
    let drip = fault.drip.unwrap_or(Duration::ZERO);
    let reset_after = fault.reset_after;
    let frames = stream::unfold((frames.into_iter(), 0_usize, false), move |(mut frames, sent, done)| async move {
        if done {
            return None;
        }
        if reset_after == Some(sent) {
            return Some((Err(reset_error().await), (frames, sent, true)));
        }
        let frame = frames.next()?;
        let pause = if sent == 0 { ttft } else { drip };
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        Some((Ok(frame), (frames, sent + 1, false)))
    });
    let mut response = Response::new(Body::from_stream(frames));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    insert_extra(&mut response, extra_headers);
    response
}

/// A `200 application/json` response, cut short by `malformed` (half the JSON) or `reset-after=N`
/// (N bytes, then the connection drops).
pub(crate) fn json_response(
    json: &serde_json::Value,
    fault: &Fault,
    extra_headers: &[(&'static str, String)],
) -> Response {
    let text = json.to_string();
    let mut bytes = Bytes::from(text);
    if fault.malformed {
        bytes.truncate(bytes.len() / 2);
    }
    let body = match fault.reset_after {
        Some(keep) => {
            bytes.truncate(keep);
            let reset = stream::once(async { Err(reset_error().await) });
            Body::from_stream(stream::iter([Ok(bytes)]).chain(reset))
        }
        None => Body::from(bytes),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    insert_extra(&mut response, extra_headers);
    response
}

fn insert_extra(response: &mut Response, extra_headers: &[(&'static str, String)]) {
    for (name, value) in extra_headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
}

/// The error that makes hyper abort the connection. It comes after a short pause so hyper first
/// flushes what was already sent (headers included) instead of discarding it with the connection.
async fn reset_error() -> io::Error {
    tokio::time::sleep(RESET_FLUSH_PAUSE).await;
    io::Error::new(io::ErrorKind::ConnectionReset, "opm-mock-llm: reset-after fault")
}
