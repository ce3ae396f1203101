//! The playground: run a published version (through `/api/v1/prompts/{name}/invoke`) or the
//! draft being edited (rendered by the server's preview, then sent to its configured model through
//! `/v1/chat/completions`), streamed to the browser as server-sent events, with tokens, cost,
//! latency and the generation id at the end; and feedback on a generation.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use futures::channel::mpsc;
use http::{HeaderMap, HeaderValue, Method, header};
use maud::{Markup, html};
use opm_api::Page as ApiPage;
use opm_api::prompts::{PromptDto, VersionDto};
use opm_api::render::{PreviewRequest, PreviewResponse};
use opm_api::telemetry::{FeedbackDto, FeedbackRequest, GenerationDto};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::edit::{Draft, sample_variables};
use super::respond;
use crate::UiState;
use crate::api::{Credentials, problem};
use crate::error::{UiError, UiResult};
use crate::layout::{csrf, error_box, ms, ok_box, page, prompt_tabs, usd};
use crate::session::{Page, Posted, Session};

/// Header the playground's script sends to get a stream instead of a page.
pub const STREAM_HEADER: &str = "x-opm-ui-stream";

/// Which version to run.
#[derive(Debug, Default, Deserialize)]
pub struct PlaygroundQuery {
    version: Option<u32>,
    label: Option<String>,
}

/// The playground page.
async fn page_handler(state: &UiState, session: &Session, name: &str, q: &PlaygroundQuery) -> UiResult<Response> {
    let who = &session.credentials;
    let prompt: PromptDto = state.api.get(who, &format!("/api/v1/prompts/{name}")).await?;
    let versions: ApiPage<VersionDto> =
        state.api.get(who, &format!("/api/v1/prompts/{name}/versions?limit=100")).await?;
    let chosen = q.version.or(prompt.latest_version);
    let labels = prompt.labels.unwrap_or_default();
    let content = versions.items.iter().find(|v| Some(v.version) == chosen).map(|v| &v.content);
    let sample = content.map(|c| sample_variables(&c.variables)).unwrap_or_else(|| "{}".to_owned());
    let body = html! {
        h1 { "Playground: " (name) }
        (prompt_tabs(name, "playground", session))
        form #playground method="post" action={ "/ui/prompts/" (name) "/playground/run" } {
            (csrf(session))
            input type="hidden" name="mode" value="published";
            div.row {
                label { "Version " select name="version" {
                    option value="" { "— by label —" }
                    @for v in &versions.items { option value=(v.version) selected[q.label.is_none() && Some(v.version) == chosen] { "v" (v.version) " " (v.message) } }
                } }
                label { "or label " select name="label" {
                    option value="" { "—" }
                    @for l in &labels { option value=(l.name) selected[q.label.as_deref() == Some(l.name.as_str())] { (l.name) } }
                } }
            }
            label { "Variables " span.hint { "(JSON)" } textarea name="sample" rows="5" { (sample) } }
            label { "Extra user message " span.hint { "(optional, appended after the prompt's messages)" } textarea name="user_message" rows="2" {} }
            button type="submit" data-stream="run-output" { "Run" }
        }
        div #run-output.run-output aria-live="polite" {}
    };
    Ok(page(session, &format!("Playground {name}"), body))
}

/// `GET /ui/prompts/{name}/playground`.
pub async fn show(
    Page { state, session }: Page,
    Path(name): Path<String>,
    Query(q): Query<PlaygroundQuery>,
) -> Response {
    respond(&session, page_handler(&state, &session, &name, &q).await)
}

/// What a finished run reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub generation_id: String,
    pub prompt_version: Option<u32>,
    pub provider: String,
    pub model: String,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
}

/// The gateway call a run makes: path and JSON body.
async fn run_request(
    state: &UiState,
    session: &Session,
    name: &str,
    fields: &crate::session::Fields,
) -> UiResult<(String, Value)> {
    let user_message = fields.get("user_message");
    if fields.get("mode") == "draft" {
        let draft = Draft::from_fields(fields);
        let content = draft.content()?;
        let model = content.model.clone().unwrap_or_default();
        let (Some(provider), Some(model_name)) = (model.provider.clone(), model.model.clone()) else {
            return Err(UiError::form("the draft needs a model provider and model to run"));
        };
        let request = PreviewRequest { content, label: None, variables: draft.sample_variables()? };
        let preview: PreviewResponse = state
            .api
            .json(&session.credentials, Method::POST, &format!("/api/v1/prompts/{name}/preview"), &request)
            .await?;
        let mut messages: Vec<Value> = match (&preview.messages, &preview.text) {
            (Some(messages), _) => messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect(),
            (None, Some(text)) => vec![json!({"role": "user", "content": text})],
            (None, None) => Vec::new(),
        };
        if !user_message.is_empty() {
            messages.push(json!({"role": "user", "content": user_message}));
        }
        let mut body = json!({
            "model": format!("{provider}/{model_name}"),
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if let Some(object) = body.as_object_mut() {
            for (key, value) in &model.parameters {
                object.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        return Ok(("/v1/chat/completions".to_owned(), body));
    }
    let variables: serde_json::Map<String, Value> = if fields.get("sample").is_empty() {
        serde_json::Map::new()
    } else {
        serde_json::from_str(fields.get("sample"))
            .map_err(|e| UiError::form(format!("variables: not valid JSON here: {e}")))?
    };
    let mut body = json!({"variables": variables, "stream": true});
    if let Some(object) = body.as_object_mut() {
        match (fields.get("version"), fields.get("label")) {
            (_, label) if !label.is_empty() => {
                object.insert("label".to_owned(), json!(label));
            }
            (version, _) if !version.is_empty() => {
                let version: u32 = version.parse().map_err(|_| UiError::form("pick a version"))?;
                object.insert("version".to_owned(), json!(version));
            }
            _ => {}
        }
        if !user_message.is_empty() {
            object.insert("messages".to_owned(), json!([{"role": "user", "content": user_message}]));
        }
    }
    Ok((format!("/api/v1/prompts/{name}/invoke"), body))
}

/// Runs the prompt. With the `x-opm-ui-stream` header (the page's script) the answer streams as
/// `delta` events, then one `done` (or `error`) event; without it (no script) a result page.
pub async fn run(Path(name): Path<String>, headers: HeaderMap, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    let streaming = headers.contains_key(STREAM_HEADER);
    let request = run_request(&state, &session, &name, &fields).await;
    if streaming {
        return stream_response(state, session.credentials.clone(), request);
    }
    respond(&session, async {
        let (path, body) = request?;
        let (sender, receiver) = mpsc::channel::<Event>(64);
        pump(&state, &session.credentials, &path, &body, sender).await;
        let events: Vec<Event> = receiver.collect().await;
        let text: String = events.iter().filter_map(|e| if let Event::Delta(t) = e { Some(t.as_str()) } else { None }).collect();
        let summary = events.iter().find_map(|e| if let Event::Done(s) = e { Some(s.clone()) } else { None });
        let error = events.iter().find_map(|e| if let Event::Error(s) = e { Some(s.clone()) } else { None });
        let body = html! {
            h1 { "Run: " (name) }
            (prompt_tabs(&name, "playground", &session))
            @if let Some(error) = error { (error_box(&UiError::form(error))) }
            div.run-output { pre.answer { (text) } @if let Some(summary) = &summary { (summary_view(&session, summary)) } }
            p { a href={ "/ui/prompts/" (name) "/playground" } { "Back to the playground" } }
        };
        Ok(page(&session, "Run", body))
    }
    .await)
}

/// One event of a run.
#[derive(Debug, Clone)]
enum Event {
    Delta(String),
    Done(Box<RunSummary>),
    Error(String),
}

impl Event {
    fn frame(&self) -> Bytes {
        let (name, data) = match self {
            Self::Delta(text) => ("delta", serde_json::to_string(text).unwrap_or_default()),
            Self::Done(summary) => ("done", serde_json::to_string(summary).unwrap_or_default()),
            Self::Error(detail) => ("error", serde_json::to_string(detail).unwrap_or_default()),
        };
        Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
    }
}

fn stream_response(state: UiState, who: Credentials, request: UiResult<(String, Value)>) -> Response {
    let (sender, receiver) = mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        match request {
            Ok((path, body)) => pump(&state, &who, &path, &body, sender).await,
            Err(error) => {
                let mut sender = sender;
                let _ = futures::SinkExt::send(&mut sender, Event::Error(error.to_string())).await;
            }
        }
    });
    let body = Body::from_stream(receiver.map(|event| Ok::<_, Infallible>(event.frame())));
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Calls the gateway with a streaming request and turns its OpenAI chunks into run events.
async fn pump(state: &UiState, who: &Credentials, path: &str, body: &Value, mut sender: mpsc::Sender<Event>) {
    use futures::SinkExt;
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let response = match state.api.send(who, Method::POST, path, Some(bytes)).await {
        Ok(response) => response,
        Err(error) => {
            let _ = sender.send(Event::Error(error.to_string())).await;
            return;
        }
    };
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        let bytes = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
        let _ = sender.send(Event::Error(problem(parts.status, &bytes).to_string())).await;
        return;
    }
    let id = parts.headers.get("x-opm-generation-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut summary = RunSummary { generation_id: id.clone(), ..RunSummary::default() };
    let mut stream = body.into_data_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            let _ = sender.send(Event::Error("the answer stream broke off".to_owned())).await;
            return;
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = find_event_end(&buffer) {
            let event: Vec<u8> = buffer.drain(..end).collect();
            for line in String::from_utf8_lossy(&event).lines() {
                let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
                if data == "[DONE]" {
                    continue;
                }
                let Ok(chunk) = serde_json::from_str::<Value>(data) else { continue };
                if let Some(error) = chunk.get("error") {
                    let message = error.get("message").and_then(Value::as_str).unwrap_or("the model call failed");
                    let _ = sender.send(Event::Error(message.to_owned())).await;
                    return;
                }
                if let Some(model) = chunk.get("model").and_then(Value::as_str) {
                    summary.model = model.to_owned();
                }
                let delta = chunk.pointer("/choices/0/delta/content").and_then(Value::as_str).unwrap_or_default();
                if !delta.is_empty() && sender.send(Event::Delta(delta.to_owned())).await.is_err() {
                    return;
                }
            }
        }
    }
    if !id.is_empty()
        && let Ok(generation) = state.api.get::<GenerationDto>(who, &format!("/api/v1/generations/{id}")).await
    {
        summary.prompt_version = generation.prompt_version;
        summary.provider = generation.provider;
        summary.model = generation.model;
        summary.input_tokens = generation.input_tokens;
        summary.output_tokens = generation.output_tokens;
        summary.cost_usd = generation.cost_usd;
        summary.latency_ms = Some(generation.latency_ms);
        summary.ttft_ms = generation.ttft_ms;
    }
    let _ = sender.send(Event::Done(Box::new(summary))).await;
}

/// The end (exclusive, separator included) of the first complete SSE event in `buffer`.
fn find_event_end(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Tokens, cost, latency, the generation id, and a feedback form.
fn summary_view(session: &Session, summary: &RunSummary) -> Markup {
    let tokens = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_else(|| "unknown".to_owned());
    html! {
        dl.summary {
            dt { "Generation" } dd { code.generation-id { (summary.generation_id) } }
            dt { "Model" } dd { (summary.provider) " / " (summary.model) }
            @if let Some(v) = summary.prompt_version { dt { "Version" } dd { "v" (v) } }
            dt { "Tokens in / out" } dd { (tokens(summary.input_tokens)) " / " (tokens(summary.output_tokens)) }
            dt { "Cost" } dd { (summary.cost_usd.map(usd).unwrap_or_else(|| "unknown".to_owned())) }
            dt { "Latency" } dd { (summary.latency_ms.map(ms).unwrap_or_default()) }
            @if let Some(ttft) = summary.ttft_ms { dt { "First token" } dd { (ms(ttft)) } }
        }
        (feedback_form(session, &summary.generation_id))
    }
}

fn feedback_form(session: &Session, generation_id: &str) -> Markup {
    html! {
        form.feedback method="post" action="/ui/feedback" {
            (csrf(session))
            input type="hidden" name="generation_id" value=(generation_id);
            fieldset {
                legend { "Feedback on this answer" }
                label.check { input type="radio" name="score" value="1" checked; " Good (1)" }
                label.check { input type="radio" name="score" value="0"; " Bad (0)" }
                label { "Comment " input type="text" name="comment"; }
                button type="submit" { "Send feedback" }
            }
        }
    }
}

/// Records feedback on a generation.
pub async fn feedback(posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let generation_id = fields.required("generation_id", "the generation id")?.to_owned();
            let score: f64 =
                fields.required("score", "a score")?.parse().map_err(|_| UiError::form("the score is a number"))?;
            let comment = Some(fields.get("comment").to_owned()).filter(|c| !c.is_empty());
            let request = FeedbackRequest { generation_id: generation_id.clone(), score, comment };
            let saved: FeedbackDto =
                state.api.json(&session.credentials, Method::POST, "/api/v1/feedback", &request).await?;
            let body = html! {
                h1 { "Feedback" }
                (ok_box(&format!("feedback {} recorded for generation {}", saved.id, saved.generation_id)))
                p { a href="/ui/" { "Back to prompts" } }
            };
            Ok(page(&session, "Feedback", body))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::find_event_end;

    #[test]
    fn event_boundaries() {
        assert_eq!(find_event_end(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(find_event_end(b"data: a\r\n\r\n"), Some(11));
        assert_eq!(find_event_end(b"data: a\n"), None);
    }
}
