//! Ingress translation: pure functions between the wire formats apps speak to OPM (OpenAI Chat
//! Completions, Anthropic Messages) and the gateway's neutral types. No HTTP framework here: the
//! server feeds request bodies in and writes the JSON and SSE text that comes out.
//!
//! A request names either a model to call directly (`"model": "PROVIDER/MODEL"`) or a managed prompt,
//! LiteLLM-style (`prompt_id`, `prompt_variables`, `prompt_label` / `prompt_version`) or through the
//! model name (`"opm:NAME"`, `"opm:NAME@LABEL"`).

pub mod anthropic;
mod anthropic_stream;
pub mod openai;
mod openai_stream;

use serde_json::{Map, Value};

use crate::{ChatMessage, ChatParams, ChatRequest, GatewayError, ModelTarget};

/// The model-name prefix that names a managed prompt.
pub const PROMPT_MODEL_PREFIX: &str = "opm:";

/// A parsed ingress request, whichever format it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressRequest {
    /// As the client sent it (`openai/gpt-4o`, `opm:welcome@beta`); `opm:NAME` when only `prompt_id` was given.
    pub model: String,
    /// The client's messages (system prompts included as `system` messages); may be empty when a
    /// prompt is referenced.
    pub messages: Vec<ChatMessage>,
    pub params: ChatParams,
    /// In OpenAI's shape (Anthropic tools are converted).
    pub tools: Option<Value>,
    /// In OpenAI's shape (Anthropic's is converted).
    pub tool_choice: Option<Value>,
    pub response_format: Option<Value>,
    pub stream: bool,
    /// Whether the client wants usage in the stream (OpenAI's `stream_options.include_usage`; always
    /// true for Anthropic, whose streams carry usage).
    pub include_usage: bool,
    /// OpenAI's `user`, Anthropic's `metadata.user_id`.
    pub user: Option<String>,
    /// The managed prompt to render, when the request names one.
    pub prompt_ref: Option<PromptRef>,
}

impl IngressRequest {
    /// The target of a plain `PROVIDER/MODEL` request (`None` for `opm:` names and bare model names).
    pub fn direct_target(&self) -> Option<ModelTarget> {
        if self.model.starts_with(PROMPT_MODEL_PREFIX) {
            return None;
        }
        ModelTarget::parse(&self.model)
    }

    /// A gateway request for `targets` with this request's messages and settings (no deadline).
    pub fn into_chat_request(self, targets: Vec<ModelTarget>) -> ChatRequest {
        ChatRequest {
            targets,
            messages: self.messages,
            params: self.params,
            tools: self.tools,
            tool_choice: self.tool_choice,
            response_format: self.response_format,
            deadline: None,
            traceparent: None,
        }
    }
}

/// A reference to a managed prompt: which version to render and with which variables.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptRef {
    pub name: String,
    /// Resolve through this label (`None` with no version: the server's default label).
    pub label: Option<String>,
    /// A pinned version.
    pub version: Option<u32>,
    pub variables: Map<String, Value>,
}

/// The LiteLLM-style prompt fields, removed from the body so they are not passed upstream.
const PROMPT_FIELDS: [&str; 4] = ["prompt_id", "prompt_variables", "prompt_label", "prompt_version"];

/// Takes the prompt fields out of `body` and combines them with an `opm:NAME[@LABEL]` model name.
pub(crate) fn take_prompt_ref(
    body: &mut Map<String, Value>,
    model: Option<&str>,
) -> Result<Option<PromptRef>, GatewayError> {
    let fields: Vec<Option<Value>> =
        PROMPT_FIELDS.iter().map(|field| body.remove(*field).filter(|value| !value.is_null())).collect();
    let [prompt_id, variables, label, version] =
        <[Option<Value>; 4]>::try_from(fields).map_err(|_| GatewayError::invalid("internal: prompt field count"))?;
    let prompt_id = prompt_id.map(|id| non_empty_string("prompt_id", &id)).transpose()?;
    let label = label.map(|label| non_empty_string("prompt_label", &label)).transpose()?;
    let version = version.map(|version| prompt_version(&version)).transpose()?;
    let variables = match variables {
        None => Map::new(),
        Some(Value::Object(variables)) => variables,
        Some(_) => return Err(GatewayError::invalid_param("prompt_variables", "`prompt_variables` must be an object")),
    };
    let from_model = model.and_then(|model| model.strip_prefix(PROMPT_MODEL_PREFIX)).map(|reference| {
        match reference.split_once('@') {
            Some((name, label)) => (name.to_owned(), Some(label.to_owned())),
            None => (reference.to_owned(), None),
        }
    });
    if let Some((name, model_label)) = &from_model {
        if name.is_empty() || model_label.as_deref() == Some("") {
            return Err(GatewayError::invalid_param("model", "write a prompt model as `opm:NAME` or `opm:NAME@LABEL`"));
        }
        if prompt_id.as_ref().is_some_and(|id| id != name) {
            return Err(GatewayError::invalid_param(
                "prompt_id",
                format!("`prompt_id` disagrees with model `opm:{name}`"),
            ));
        }
        if let (Some(model_label), Some(label)) = (model_label, &label)
            && model_label != label
        {
            return Err(GatewayError::invalid_param(
                "prompt_label",
                "`prompt_label` disagrees with the model's `@LABEL`",
            ));
        }
    }
    let (name, label) = match (from_model, prompt_id) {
        (Some((name, model_label)), _) => (name, label.or(model_label)),
        (None, Some(id)) => (id, label),
        (None, None) => {
            if !variables.is_empty() || label.is_some() || version.is_some() {
                return Err(GatewayError::invalid_param(
                    "prompt_id",
                    "`prompt_variables`, `prompt_label` and `prompt_version` need `prompt_id` or an `opm:NAME` model",
                ));
            }
            return Ok(None);
        }
    };
    if label.is_some() && version.is_some() {
        return Err(GatewayError::invalid_param("prompt_version", "give a prompt label or a version, not both"));
    }
    Ok(Some(PromptRef { name, label, version, variables }))
}

fn non_empty_string(field: &str, value: &Value) -> Result<String, GatewayError> {
    match value.as_str() {
        Some(text) if !text.is_empty() => Ok(text.to_owned()),
        _ => Err(GatewayError::invalid_param(field, format!("`{field}` must be a non-empty string"))),
    }
}

fn prompt_version(value: &Value) -> Result<u32, GatewayError> {
    let number = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim_start_matches('v').parse().ok(),
        _ => None,
    };
    number
        .and_then(|number| u32::try_from(number).ok())
        .filter(|number| *number >= 1)
        .ok_or_else(|| GatewayError::invalid_param("prompt_version", "`prompt_version` must be a positive integer"))
}

/// The model name, required unless a `prompt_id` stands in for it.
pub(crate) fn model_name(body: &Map<String, Value>) -> Result<Option<String>, GatewayError> {
    match body.get("model") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(model)) if !model.is_empty() => Ok(Some(model.clone())),
        Some(_) => Err(GatewayError::invalid_param("model", "`model` must be a non-empty string")),
    }
}

/// Reads the common ingress fields shared by both formats once the format-specific parts are done.
pub(crate) fn finish_model(model: Option<String>, prompt_ref: &Option<PromptRef>) -> Result<String, GatewayError> {
    match (model, prompt_ref) {
        (Some(model), _) => Ok(model),
        (None, Some(prompt)) => Ok(format!("{PROMPT_MODEL_PREFIX}{}", prompt.name)),
        (None, None) => Err(GatewayError::invalid_param("model", "`model` is required")),
    }
}

/// The text of the `text` parts of a content array, joined by newlines (images and other parts are dropped).
pub(crate) fn text_of_parts(parts: &[Value]) -> String {
    parts
        .iter()
        .filter(|part| part.get("type").and_then(Value::as_str).is_none_or(|kind| kind == "text"))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn prompt(body: Value, model: Option<&str>) -> Result<Option<PromptRef>, GatewayError> {
        let mut body = body.as_object().cloned().unwrap();
        let result = take_prompt_ref(&mut body, model);
        for field in PROMPT_FIELDS {
            assert!(!body.contains_key(field), "{field} must be removed");
        }
        result
    }

    #[test]
    fn prompt_references_in_every_form() {
        let reference =
            prompt(json!({"prompt_id": "welcome", "prompt_variables": {"name": "Ada"}, "prompt_version": 3}), None)
                .unwrap()
                .unwrap();
        assert_eq!(reference.name, "welcome");
        assert_eq!((reference.label, reference.version), (None, Some(3)));
        assert_eq!(reference.variables["name"], "Ada");

        let reference = prompt(json!({}), Some("opm:welcome@beta")).unwrap().unwrap();
        assert_eq!((reference.name.as_str(), reference.label.as_deref()), ("welcome", Some("beta")));
        let reference =
            prompt(json!({"prompt_label": "beta", "prompt_id": "welcome"}), Some("opm:welcome")).unwrap().unwrap();
        assert_eq!(reference.label.as_deref(), Some("beta"));
        assert_eq!(prompt(json!({"prompt_version": "v2", "prompt_id": "w"}), None).unwrap().unwrap().version, Some(2));
        assert_eq!(prompt(json!({"prompt_id": null}), Some("openai/gpt-4o")).unwrap(), None);
    }

    #[test]
    fn prompt_reference_mistakes() {
        for (body, model, param) in [
            (json!({"prompt_id": "a"}), Some("opm:b"), "prompt_id"),
            (json!({"prompt_label": "x"}), Some("opm:a@y"), "prompt_label"),
            (json!({"prompt_variables": {"a": 1}}), Some("openai/gpt-4o"), "prompt_id"),
            (json!({"prompt_id": "a", "prompt_label": "x", "prompt_version": 1}), None, "prompt_version"),
            (json!({"prompt_id": "a", "prompt_version": 0}), None, "prompt_version"),
            (json!({"prompt_id": "a", "prompt_variables": [1]}), None, "prompt_variables"),
            (json!({"prompt_id": ""}), None, "prompt_id"),
            (json!({}), Some("opm:"), "model"),
            (json!({}), Some("opm:a@"), "model"),
        ] {
            let error = prompt(body.clone(), model).unwrap_err();
            assert_eq!(error.param(), Some(param), "{body} {model:?}: {error}");
            assert_eq!(error.kind(), opm_core::ErrorKind::Malformed);
        }
    }

    #[test]
    fn direct_targets() {
        let request = |model: &str| IngressRequest {
            model: model.into(),
            messages: Vec::new(),
            params: ChatParams::default(),
            tools: None,
            tool_choice: None,
            response_format: None,
            stream: false,
            include_usage: false,
            user: None,
            prompt_ref: None,
        };
        assert_eq!(request("openai/gpt-4o").direct_target(), Some(ModelTarget::new("openai", "gpt-4o")));
        assert_eq!(request("opm:welcome/x").direct_target(), None);
        assert_eq!(request("gpt-4o").direct_target(), None);
        let chat = request("mock/demo").into_chat_request(vec![ModelTarget::new("mock", "demo")]);
        assert_eq!(chat.targets.len(), 1);
        assert_eq!(
            text_of_parts(&[
                json!({"type": "text", "text": "a"}),
                json!({"type": "image_url"}),
                json!({"type": "text", "text": "b"})
            ]),
            "a\nb"
        );
    }
}
