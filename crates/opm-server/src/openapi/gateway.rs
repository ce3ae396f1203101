//! Request and error schemas of the OpenAI- and Anthropic-compatible ingress routes, which parse
//! JSON by hand (`opm_gateway::ingress`) and so have no `ToSchema` type. They say what those parsers
//! accept: required fields, types, the roles, `n = 1`; fields they do not know are passed to the
//! provider, so `additionalProperties` stays open. The served document narrows `model` to the
//! providers this server is configured with ([`describe_providers`]).

use serde_json::{Value, json};
use utoipa::openapi::{OpenApi, RefOr, Schema};

/// The chat-completions route.
pub const OPENAI_PATH: &str = "/v1/chat/completions";
/// The messages route.
pub const ANTHROPIC_PATH: &str = "/v1/messages";

/// The error statuses the ingress routes can answer (`docs/errors.md`, gateway errors).
const GATEWAY_ERRORS: [u16; 11] = [400, 401, 403, 404, 409, 413, 422, 429, 502, 503, 504];

/// `opm:NAME`, `opm:NAME@LABEL`: run a managed prompt.
const PROMPT_MODEL: &str = r"opm:[a-z0-9][a-z0-9_.-]{0,127}(@[a-z0-9][a-z0-9_.-]{0,127})?";

fn prompt_fields() -> Value {
    json!({
        "prompt_id": {"type": "string", "minLength": 1, "description": "A managed prompt to render as the leading messages (LiteLLM's convention)"},
        "prompt_variables": {"type": "object", "description": "The prompt's variables"},
        "prompt_label": {"type": "string", "minLength": 1, "description": "The label to resolve (default `production`)"},
        "prompt_version": {"type": "integer", "minimum": 1, "description": "A version instead of a label"},
    })
}

fn model_field(providers_pattern: &str) -> Value {
    json!({
        "type": "string",
        "pattern": format!("^({providers_pattern}/[^\\s/][^\\s]{{0,127}}|{PROMPT_MODEL})$"),
        "description": "`PROVIDER/MODEL` with a provider configured in `opm.toml` (the built-in `mock` always), or `opm:NAME[@LABEL]` to run a managed prompt on its own model",
    })
}

fn openai_request(providers_pattern: &str) -> Value {
    let mut properties = json!({
        "model": model_field(providers_pattern),
        "messages": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["role"],
                "properties": {
                    "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
                    "content": {"type": ["string", "null"]},
                    "name": {"type": "string"},
                },
            },
        },
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "n": {"type": "integer", "minimum": 1, "maximum": 1, "description": "OPM returns one choice"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
        "seed": {"type": "integer"},
        "user": {"type": "string", "maxLength": 512},
    });
    merge(&mut properties, prompt_fields());
    json!({
        "type": "object",
        "required": ["model", "messages"],
        "properties": properties,
        "description": "An OpenAI Chat Completions request (tools, response_format and other fields are passed to the provider), plus the managed-prompt fields",
    })
}

fn anthropic_request(providers_pattern: &str) -> Value {
    let mut properties = json!({
        "model": model_field(providers_pattern),
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "system": {"type": "string"},
        "messages": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["role", "content"],
                "properties": {
                    "role": {"type": "string", "enum": ["user", "assistant"]},
                    "content": {"type": "string"},
                },
            },
        },
        "stream": {"type": "boolean"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop_sequences": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "metadata": {"type": "object", "properties": {"user_id": {"type": "string", "maxLength": 512}}},
    });
    merge(&mut properties, prompt_fields());
    json!({
        "type": "object",
        "required": ["model", "messages"],
        "properties": properties,
        "description": "An Anthropic Messages request (tools and other fields are passed to the provider), plus the managed-prompt fields",
    })
}

fn openai_error() -> Value {
    json!({
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"}, "type": {"type": "string"},
                "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]},
            },
        }},
    })
}

fn anthropic_error() -> Value {
    json!({
        "type": "object", "required": ["type", "error"],
        "properties": {
            "type": {"type": "string", "enum": ["error"]},
            "error": {"type": "object", "required": ["type", "message"],
                      "properties": {"type": {"type": "string"}, "message": {"type": "string"}}},
        },
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

fn schema(value: Value) -> Option<RefOr<Schema>> {
    match serde_json::from_value::<Schema>(value) {
        Ok(schema) => Some(RefOr::T(schema)),
        Err(error) => {
            tracing::error!(%error, "a hand-written gateway schema does not parse; left out of the document");
            None
        }
    }
}

/// Sets the two ingress routes' request schemas and their vendor-shaped error bodies.
/// `providers` are the configured provider names (`mock` is always one).
pub fn describe_providers<'a>(openapi: &mut OpenApi, providers: impl IntoIterator<Item = &'a str>) {
    let names: Vec<String> = providers.into_iter().map(regex_escape).collect();
    let pattern = if names.is_empty() { "mock".to_owned() } else { format!("({})", names.join("|")) };
    for (path, request, error) in [
        (OPENAI_PATH, openai_request(&pattern), openai_error()),
        (ANTHROPIC_PATH, anthropic_request(&pattern), anthropic_error()),
    ] {
        let Some(operation) = openapi.paths.paths.get_mut(path).and_then(|item| item.post.as_mut()) else { continue };
        if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
            for content in body.content.values_mut() {
                if let RefOr::T(content) = content {
                    content.schema = schema(request.clone());
                }
            }
            body.required = Some(utoipa::openapi::Required::True);
        }
        for status in GATEWAY_ERRORS {
            let response = utoipa::openapi::ResponseBuilder::new().description("An error in the client's wire format");
            operation.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::T(response.build()));
        }
        for (status, response) in operation.responses.responses.iter_mut() {
            let RefOr::T(response) = response else { continue };
            if status.starts_with('2') {
                continue;
            }
            response.content.clear();
            let content = utoipa::openapi::Content::new(schema(error.clone()));
            response.content.insert("application/json".to_owned(), RefOr::T(content));
        }
    }
}

fn regex_escape(name: &str) -> String {
    name.chars().fold(String::new(), |mut escaped, c| {
        if !c.is_ascii_alphanumeric() && c != '_' && c != '-' {
            escaped.push('\\');
        }
        escaped.push(c);
        escaped
    })
}
