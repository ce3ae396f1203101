//! `GET /api/v1/watch`: the project's changes as server-sent events, read one [`ChangeEventDto`]
//! at a time. SSE framing is eventsource-stream's over reqwest's body stream; each frame's `data`
//! is the event as JSON and its `id` the audit sequence number a caller resumes after.

use std::pin::Pin;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use opm_api::events::ChangeEventDto;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};

use crate::{Client, ClientError, STREAM_SILENCE};

type Frames = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// An open watch: call [`Watch::next`] until it returns `Ok(None)` (the server closed the
/// stream) or an error; then resume with `Client::watch(watch.last_event_id(), …)`.
pub struct Watch {
    url: String,
    frames: Frames,
    last_event_id: Option<i64>,
    silence_seconds: u64,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Watch")
            .field("url", &self.url)
            .field("last_event_id", &self.last_event_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens `GET /api/v1/watch?after=&prompt=`: with `after`, the changes since that event id are
    /// replayed first (`Some(0)`: everything), then new ones arrive as they happen.
    pub async fn watch(&self, after: Option<i64>, prompt: Option<&str>) -> Result<Watch, ClientError> {
        let pairs = [("prompt", prompt.map(str::to_owned)), ("after", after.map(|id| id.to_string()))];
        let url = self.endpoint(&["api", "v1", "watch"], &pairs)?;
        let builder = self
            .streaming
            .request(Method::GET, url.clone())
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let response = self.send(builder, &url).await?;
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
        if !content_type.starts_with("text/event-stream") {
            return Err(ClientError::Decode {
                url: url.to_string(),
                reason: format!("expected an event stream, got content type `{content_type}`"),
            });
        }
        let silence_seconds = self.timeout_seconds.max(STREAM_SILENCE.as_secs());
        let frames: Frames = Box::pin(response.bytes_stream().eventsource());
        Ok(Watch { url: url.to_string(), frames, last_event_id: after, silence_seconds })
    }
}

impl Watch {
    /// The next change; `Ok(None)` once the server has closed the stream.
    pub async fn next(&mut self) -> Result<Option<ChangeEventDto>, ClientError> {
        loop {
            let frame = match self.frames.next().await {
                None => return Ok(None),
                Some(Ok(frame)) => frame,
                Some(Err(error)) => return Err(self.stream_error(error)),
            };
            // Frames without data carry nothing to report (a bare `retry:` or `id:`).
            if frame.data.is_empty() {
                continue;
            }
            let event: ChangeEventDto = serde_json::from_str(&frame.data).map_err(|error| ClientError::Decode {
                url: self.url.clone(),
                reason: format!("event `{}` (id `{}`) is not a change event: {error}", frame.event, frame.id),
            })?;
            self.last_event_id = Some(event.id);
            return Ok(Some(event));
        }
    }

    /// The id of the last event returned (or the `after` the watch started from): resume after it.
    pub fn last_event_id(&self) -> Option<i64> {
        self.last_event_id
    }

    fn stream_error(&self, error: EventStreamError<reqwest::Error>) -> ClientError {
        match error {
            EventStreamError::Transport(error) => crate::error::from_reqwest(&error, &self.url, self.silence_seconds),
            EventStreamError::Utf8(error) => {
                ClientError::Decode { url: self.url.clone(), reason: format!("the stream is not UTF-8: {error}") }
            }
            EventStreamError::Parser(error) => {
                ClientError::Decode { url: self.url.clone(), reason: format!("the stream is not valid SSE: {error}") }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A watch over fixed body chunks.
    fn watch(chunks: &[&str]) -> Watch {
        let chunks: Vec<Result<Vec<u8>, reqwest::Error>> =
            chunks.iter().map(|chunk| Ok(chunk.as_bytes().to_vec())).collect();
        let frames: Frames = Box::pin(futures::stream::iter(chunks).eventsource());
        Watch { url: "http://opm.test/api/v1/watch".into(), frames, last_event_id: None, silence_seconds: 45 }
    }

    const LABEL_SET: &str = r#"{"id":7,"event":"label.set","project":"default","prompt":"p","label":"production","actor":"admin","at":"2025-01-01T00:00:00Z","data":{"type":"version","version":2}}"#;

    #[tokio::test]
    async fn frames_split_across_chunks_become_events_and_keep_alives_are_skipped() {
        let (head, tail) = LABEL_SET.split_at(40);
        let first = format!(": keep-alive\n\nid: 7\nevent: label.set\ndata: {head}");
        let second = format!("{tail}\n\n");
        let mut watch = watch(&[&first, &second]);
        let event = watch.next().await.unwrap().unwrap();
        assert_eq!((event.id, event.event.as_str(), event.label.as_deref()), (7, "label.set", Some("production")));
        assert_eq!(watch.last_event_id(), Some(7));
        assert!(watch.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn data_that_is_not_a_change_event_is_a_decode_error() {
        let mut watch = watch(&["id: 3\nevent: label.set\ndata: {\"nope\": true}\n\n"]);
        let error = watch.next().await.unwrap_err();
        assert!(matches!(error, ClientError::Decode { .. }), "{error:?}");
        assert!(error.to_string().contains("event `label.set` (id `3`) is not a change event"), "{error}");
    }
}
