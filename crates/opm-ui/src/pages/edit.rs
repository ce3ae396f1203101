//! Edit and publish: a version's messages or template, variables and model configuration in a
//! form; preview the render on the server (its errors name the variable); publish with a
//! message and optionally move a label to the new version.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::Method;
use maud::{Markup, html};
use opm_api::labels::{LabelDto, SetLabelRequest};
use opm_api::prompts::{
    ContentDto, CreateVersionRequest, MessageDto, ModelConfigDto, ModelRefDto, PromptDto, PromptTypeDto,
    PublishResponse, VariableDto, VersionDto,
};
use opm_api::render::{PreviewRequest, PreviewResponse};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::respond;
use crate::error::{UiError, UiResult};
use crate::layout::{csrf, error_box, page, prompt_tabs};
use crate::session::{Fields, Page, Posted, Session};

/// Roles a chat message may have.
pub const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

/// The edit form's state, as sent or as loaded from a version.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub chat: bool,
    pub messages: Vec<(String, String)>,
    pub template: String,
    pub variables: String,
    pub provider: String,
    pub model: String,
    pub parameters: String,
    pub fallbacks: String,
    pub metadata: String,
    pub sample: String,
    pub message: String,
    pub then_label: String,
    pub then_reason: String,
    pub base: Option<u32>,
}

impl Draft {
    /// The form for a version's content.
    pub fn from_content(content: &ContentDto, base: Option<u32>) -> Self {
        let model = content.model.clone().unwrap_or_default();
        Self {
            chat: content.kind == PromptTypeDto::Chat,
            messages: content.messages.iter().flatten().map(|m| (m.role.clone(), m.content.clone())).collect(),
            template: content.template.clone().unwrap_or_default(),
            variables: if content.variables.is_empty() { String::new() } else { pretty(&content.variables) },
            provider: model.provider.unwrap_or_default(),
            model: model.model.unwrap_or_default(),
            parameters: if model.parameters.is_empty() { String::new() } else { pretty(&model.parameters) },
            fallbacks: model
                .fallbacks
                .iter()
                .map(|f| format!("{}/{}", f.provider, f.model))
                .collect::<Vec<_>>()
                .join(", "),
            metadata: if content.metadata.is_empty() { String::new() } else { pretty(&content.metadata) },
            sample: sample_variables(&content.variables),
            base,
            ..Self::default()
        }
    }

    /// The form as posted.
    pub fn from_fields(fields: &Fields) -> Self {
        let roles = fields.all("role");
        let contents = fields.all("content");
        Self {
            chat: fields.get("kind") != "text",
            messages: roles.iter().zip(contents.iter()).map(|(r, c)| ((*r).to_owned(), normalize(c))).collect(),
            template: normalize(fields.raw("template")),
            variables: fields.get("variables").to_owned(),
            provider: fields.get("provider").to_owned(),
            model: fields.get("model").to_owned(),
            parameters: fields.get("parameters").to_owned(),
            fallbacks: fields.get("fallbacks").to_owned(),
            metadata: fields.get("metadata").to_owned(),
            sample: fields.get("sample").to_owned(),
            message: fields.get("message").to_owned(),
            then_label: fields.get("then_label").to_owned(),
            then_reason: fields.get("then_reason").to_owned(),
            base: fields.get("base").parse().ok(),
        }
    }

    /// The content this form describes; errors name the field.
    pub fn content(&self) -> UiResult<ContentDto> {
        let variables: BTreeMap<String, VariableDto> = json_field(&self.variables, "variables")?.unwrap_or_default();
        let parameters: Map<String, Value> = json_field(&self.parameters, "model parameters")?.unwrap_or_default();
        let metadata: Map<String, Value> = json_field(&self.metadata, "metadata")?.unwrap_or_default();
        let fallbacks = self
            .fallbacks
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| {
                f.split_once('/')
                    .map(|(p, m)| ModelRefDto { provider: p.trim().to_owned(), model: m.trim().to_owned() })
                    .ok_or_else(|| UiError::form(format!("fallback `{f}` is not PROVIDER/MODEL")))
            })
            .collect::<UiResult<Vec<_>>>()?;
        let has_model =
            !self.provider.is_empty() || !self.model.is_empty() || !parameters.is_empty() || !fallbacks.is_empty();
        let model = has_model.then(|| ModelConfigDto {
            provider: Some(self.provider.clone()).filter(|p| !p.is_empty()),
            model: Some(self.model.clone()).filter(|m| !m.is_empty()),
            parameters,
            fallbacks,
            ..ModelConfigDto::default()
        });
        Ok(ContentDto {
            kind: if self.chat { PromptTypeDto::Chat } else { PromptTypeDto::Text },
            messages: self.chat.then(|| {
                self.messages
                    .iter()
                    .map(|(role, content)| MessageDto { role: role.clone(), content: content.clone() })
                    .collect()
            }),
            template: (!self.chat).then(|| self.template.clone()),
            variables,
            model,
            metadata,
        })
    }

    /// The sample variables for a preview or a run.
    pub fn sample_variables(&self) -> UiResult<Map<String, Value>> {
        Ok(json_field(&self.sample, "sample variables")?.unwrap_or_default())
    }
}

/// Browsers send CRLF line ends from textareas; versions keep LF.
fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// Pretty JSON for the form's textareas.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn json_field<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> UiResult<Option<T>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|error| UiError::form(format!("{what}: not valid JSON here: {error}")))
}

/// A JSON object with every declared variable and a value of its type.
pub fn sample_variables(variables: &BTreeMap<String, VariableDto>) -> String {
    let sample: Map<String, Value> = variables
        .iter()
        .map(|(name, v)| {
            let value = v.default.clone().unwrap_or_else(|| match v.kind.as_deref() {
                Some("number") => Value::from(1),
                Some("boolean") => Value::Bool(true),
                Some("object") => Value::Object(Map::new()),
                Some("array") => Value::Array(Vec::new()),
                _ => Value::String(format!("sample {name}")),
            });
            (name.clone(), value)
        })
        .collect();
    serde_json::to_string_pretty(&sample).unwrap_or_default()
}

/// Which version to start from.
#[derive(Debug, Default, Deserialize)]
pub struct EditQuery {
    from: Option<u32>,
    kind: Option<String>,
}

/// `/ui/prompts/{name}/edit?from=N`: the form, filled from version N (default the latest).
pub async fn form(Page { state, session }: Page, Path(name): Path<String>, Query(q): Query<EditQuery>) -> Response {
    respond(
        &session,
        async {
            let who = &session.credentials;
            let latest = match state.api.get::<PromptDto>(who, &format!("/api/v1/prompts/{name}")).await {
                Ok(prompt) => prompt.latest_version,
                Err(UiError::Api { status, .. }) if status == http::StatusCode::NOT_FOUND => None,
                Err(error) => return Err(error),
            };
            let draft = match q.from.or(latest) {
                Some(n) => {
                    let v: VersionDto = state.api.get(who, &format!("/api/v1/prompts/{name}/versions/{n}")).await?;
                    Draft::from_content(&v.content, Some(n))
                }
                None if q.kind.as_deref() == Some("text") => Draft { chat: false, ..Draft::default() },
                None => Draft {
                    chat: true,
                    messages: vec![("system".to_owned(), String::new()), ("user".to_owned(), String::new())],
                    ..Draft::default()
                },
            };
            Ok(edit_page(&session, &name, &draft, None))
        }
        .await,
    )
}

/// The form's buttons: add/remove a message, preview, run, publish.
pub async fn submit(Path(name): Path<String>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    let mut draft = Draft::from_fields(&fields);
    let action = fields.get("action").to_owned();
    let outcome: UiResult<Response> = async {
        match action.as_str() {
            "add" => {
                draft.messages.push(("user".to_owned(), String::new()));
                Ok(edit_page(&session, &name, &draft, None))
            }
            remove if remove.starts_with("remove-") => {
                if let Ok(index) = remove["remove-".len()..].parse::<usize>()
                    && index < draft.messages.len()
                {
                    draft.messages.remove(index);
                }
                Ok(edit_page(&session, &name, &draft, None))
            }
            "preview" => {
                let label =
                    if draft.then_label.is_empty() { "production".to_owned() } else { draft.then_label.clone() };
                let request = PreviewRequest {
                    content: draft.content()?,
                    label: Some(label),
                    variables: draft.sample_variables()?,
                };
                let path = format!("/api/v1/prompts/{name}/preview");
                let preview =
                    state.api.json::<_, PreviewResponse>(&session.credentials, Method::POST, &path, &request).await;
                let panel = match preview {
                    Ok(preview) => preview_view(&preview),
                    Err(error) => html! { div #preview { (error_box(&error)) } },
                };
                Ok(edit_page(&session, &name, &draft, Some(panel)))
            }
            "publish" => publish(&state, &session, &name, &draft).await,
            other => Err(UiError::form(format!("unknown action `{other}`"))),
        }
    }
    .await;
    match outcome {
        Ok(response) => response,
        Err(error @ (UiError::Api { .. } | UiError::Form(_))) => {
            let panel = html! { div #preview { (error_box(&error)) } };
            let mut response = edit_page(&session, &name, &draft, Some(panel));
            *response.status_mut() = error.status();
            response
        }
        Err(error) => crate::layout::error_page(&session, &error),
    }
}

async fn publish(state: &crate::UiState, session: &Session, name: &str, draft: &Draft) -> UiResult<Response> {
    if draft.message.is_empty() {
        return Err(UiError::form("a message saying what changed is required to publish"));
    }
    if !draft.then_label.is_empty() && draft.then_reason.is_empty() {
        return Err(UiError::form(format!("moving `{}` needs a reason", draft.then_label)));
    }
    let request = CreateVersionRequest {
        content: draft.content()?,
        message: draft.message.clone(),
        description: None,
        tags: None,
    };
    let path = format!("/api/v1/prompts/{name}/versions");
    let published: PublishResponse = state.api.json(&session.credentials, Method::POST, &path, &request).await?;
    let version = published.version.version;
    let mut flash = if published.created { "created" } else { "unchanged" }.to_owned();
    if !draft.then_label.is_empty() {
        let move_request = SetLabelRequest { version: Some(version), split: None, reason: draft.then_reason.clone() };
        let path = format!("/api/v1/prompts/{name}/labels/{}", draft.then_label);
        let _: LabelDto = state.api.json(&session.credentials, Method::PUT, &path, &move_request).await?;
        flash = format!("{flash}&moved={}", draft.then_label);
    }
    Ok(Redirect::to(&format!("/ui/prompts/{name}/versions/{version}?published={flash}")).into_response())
}

fn preview_view(preview: &PreviewResponse) -> Markup {
    html! {
        div #preview {
            h2 { "Preview" }
            @if let Some(messages) = &preview.messages {
                @for m in messages { div.message { div.role { (m.role) } pre { (m.content) } } }
            }
            @if let Some(text) = &preview.text { pre.template { (text) } }
            @if !preview.included.is_empty() {
                p.hint { "Included: " @for i in &preview.included { code { (i.prompt) " v" (i.version) } " " } "(at " (preview.label) ")" }
            }
        }
    }
}

/// The edit page.
pub fn edit_page(session: &Session, name: &str, draft: &Draft, panel: Option<Markup>) -> Response {
    let body = html! {
        h1 { "Edit " (name) @if let Some(base) = draft.base { " " span.hint { "(from v" (base) ")" } } }
        (prompt_tabs(name, "edit", session))
        form #edit method="post" action={ "/ui/prompts/" (name) "/edit" } {
            (csrf(session))
            @if let Some(base) = draft.base { input type="hidden" name="base" value=(base); }
            input type="hidden" name="kind" value=(if draft.chat { "chat" } else { "text" });
            input type="hidden" name="metadata" value=(draft.metadata);
            @if draft.chat {
                fieldset {
                    legend { "Messages" }
                    @for (index, (role, content)) in draft.messages.iter().enumerate() {
                        div.message-edit {
                            label { "Role " select name="role" aria-label={ "role of message " (index + 1) } {
                                @for r in ROLES { option value=(r) selected[r == role] { (r) } }
                            } }
                            label { "Content of message " (index + 1)
                                textarea name="content" rows="5" { (content) } }
                            button.secondary type="submit" name="action" value={ "remove-" (index) } { "Remove message " (index + 1) }
                        }
                    }
                    button.secondary type="submit" name="action" value="add" { "Add message" }
                }
            } @else {
                label { "Template" textarea name="template" rows="10" { (draft.template) } }
            }
            fieldset {
                legend { "Variables" }
                label { "Declared variables " span.hint { "(JSON: {\"name\": {\"type\": \"string\", \"required\": true, \"description\": \"…\"}})" }
                    textarea name="variables" rows="5" { (draft.variables) } }
            }
            fieldset {
                legend { "Model" }
                div.row {
                    label { "Provider " input type="text" name="provider" value=(draft.provider) placeholder="mock"; }
                    label { "Model " input type="text" name="model" value=(draft.model) placeholder="mock-1"; }
                }
                label { "Parameters " span.hint { "(JSON, e.g. {\"temperature\": 0.3})" }
                    textarea name="parameters" rows="3" { (draft.parameters) } }
                label { "Fallbacks " span.hint { "(PROVIDER/MODEL, comma-separated)" }
                    input type="text" name="fallbacks" value=(draft.fallbacks); }
            }
            fieldset {
                legend { "Preview and run" }
                label { "Sample variables " span.hint { "(JSON)" } textarea name="sample" rows="4" { (draft.sample) } }
                button type="submit" name="action" value="preview" { "Preview render" }
                " "
                button.secondary type="submit" formaction={ "/ui/prompts/" (name) "/playground/run" } name="mode" value="draft" data-stream="run-output" { "Run draft on its model" }
            }
            (panel.unwrap_or_else(|| html! { div #preview {} }))
            div #run-output.run-output aria-live="polite" {}
            fieldset {
                legend { "Publish" }
                label { "Message " span.hint { "(what changed; required)" } input type="text" name="message" value=(draft.message); }
                div.row {
                    label { "Then move label " span.hint { "(optional)" } input type="text" name="then_label" value=(draft.then_label) placeholder="staging"; }
                    label { "Reason for the move" input type="text" name="then_reason" value=(draft.then_reason); }
                }
                button type="submit" name="action" value="publish" { "Publish new version" }
            }
        }
    };
    page(session, &format!("Edit {name}"), body)
}

/// The new-prompt form's query.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    name: Option<String>,
    kind: Option<String>,
}

/// `/ui/new`: choose a name and type, then edit.
pub async fn new_prompt(Page { session, .. }: Page, Query(q): Query<NewQuery>) -> Response {
    if let Some(name) = q.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let kind = if q.kind.as_deref() == Some("text") { "text" } else { "chat" };
        let query = serde_urlencoded::to_string([("kind", kind)]).unwrap_or_default();
        let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
        return Redirect::to(&format!("/ui/prompts/{}/edit?{query}", name.to_ascii_lowercase())).into_response();
    }
    let body = html! {
        h1 { "New prompt" }
        form.card method="get" action="/ui/new" {
            label { "Name " span.hint { "(lowercase letters, digits, -, _, .)" } input type="text" name="name" required pattern="[a-z0-9][a-z0-9._-]*"; }
            label { "Type " select name="kind" { option value="chat" { "chat (messages)" } option value="text" { "text (one template)" } } }
            button type="submit" { "Continue" }
        }
    };
    page(&session, "New prompt", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_round_trip() {
        let content: ContentDto = serde_json::from_value(serde_json::json!({
            "type": "chat",
            "messages": [{"role": "system", "content": "Hi {{ name }}"}],
            "variables": {"name": {"type": "string"}},
            "model": {"provider": "mock", "model": "m", "parameters": {"temperature": 0.3},
                      "fallbacks": [{"provider": "b", "model": "n"}]},
            "metadata": {"team": "x"}
        }))
        .unwrap();
        let draft = Draft::from_content(&content, Some(1));
        assert_eq!(draft.content().unwrap(), content);
        assert!(draft.sample.contains("sample name"));
    }

    #[test]
    fn bad_fields_name_themselves() {
        let draft = Draft { variables: "{not json".to_owned(), ..Draft::default() };
        assert!(draft.content().unwrap_err().to_string().starts_with("variables:"));
        let draft = Draft { fallbacks: "nomodel".to_owned(), ..Draft::default() };
        assert!(draft.content().unwrap_err().to_string().contains("PROVIDER/MODEL"));
    }
}
