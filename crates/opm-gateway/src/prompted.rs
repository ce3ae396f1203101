//! A managed prompt's model call: the rendered prompt and its version's model configuration
//! (provider, model, ordered fallbacks, parameters, tools, response format) combined with what the
//! client sent. Pure: no IO, no HTTP; the server resolves and renders, this decides the request.

use opm_core::content::ModelConfig;
use opm_core::template::RenderedBody;

use crate::ingress::IngressRequest;
use crate::{ChatMessage, ChatParams, ChatRequest, GatewayError, ModelTarget, Role};

/// The gateway request for version `version` of prompt `prompt`, rendered as `body`, run on its
/// `model` configuration: the primary target then the fallbacks in order, the version's parameters
/// overlaid by the client's, the client's tools and response format over the version's, and the
/// client's messages after the prompt's. No deadline or trace context yet.
pub fn prompt_request(
    prompt: &str,
    version: u32,
    body: &RenderedBody,
    model: Option<&ModelConfig>,
    ingress: IngressRequest,
) -> Result<ChatRequest, GatewayError> {
    let mut messages = match body {
        RenderedBody::Chat { messages } => messages
            .iter()
            .map(|message| {
                let role = Role::parse(&message.role).ok_or_else(|| GatewayError::PromptUnusable {
                    code: "invalid_content",
                    message: format!("role `{}` cannot be sent to a model", message.role),
                })?;
                Ok(ChatMessage::new(role, message.content.clone()))
            })
            .collect::<Result<Vec<_>, GatewayError>>()?,
        RenderedBody::Text { text } => vec![ChatMessage::user(text.clone())],
    };
    let (Some(model), Some(provider), Some(model_name)) =
        (model, model.and_then(|m| m.provider.clone()), model.and_then(|m| m.model.clone()))
    else {
        return Err(GatewayError::PromptUnusable {
            code: "prompt_has_no_model",
            message: format!("prompt `{prompt}` version {version} has no `model.provider` and `model.model` to run on"),
        });
    };
    let mut targets = vec![ModelTarget::new(provider, model_name)];
    targets.extend(model.fallbacks.iter().map(|f| ModelTarget::new(f.provider.clone(), f.model.clone())));
    let params = ChatParams::from_parameters(&model.parameters)?;
    messages.extend(ingress.messages);
    Ok(ChatRequest {
        targets,
        messages,
        params: params.overlay(ingress.params),
        tools: ingress.tools.or_else(|| model.tools.clone()),
        tool_choice: ingress.tool_choice,
        response_format: ingress.response_format.or_else(|| model.response_format.clone()),
        deadline: None,
        traceparent: None,
    })
}

#[cfg(test)]
mod tests {
    use opm_core::content::{self, ModelRef};
    use serde_json::{Map, json};

    use super::*;

    fn ingress(messages: Vec<ChatMessage>) -> IngressRequest {
        IngressRequest {
            model: "opm:welcome".into(),
            messages,
            params: ChatParams { temperature: Some(0.9), ..ChatParams::default() },
            tools: None,
            tool_choice: None,
            response_format: Some(json!({"type": "json_object"})),
            stream: false,
            include_usage: false,
            user: None,
            prompt_ref: None,
        }
    }

    fn config() -> ModelConfig {
        let mut parameters = Map::new();
        parameters.insert("temperature".into(), json!(0.2));
        parameters.insert("max_tokens".into(), json!(64));
        ModelConfig {
            provider: Some("openai".into()),
            model: Some("gpt-4o".into()),
            parameters,
            tools: Some(json!([{"type": "function"}])),
            response_format: Some(json!({"type": "text"})),
            fallbacks: vec![ModelRef { provider: "anthropic".into(), model: "claude-haiku-4-5".into() }],
        }
    }

    #[test]
    fn the_version_configures_the_call_and_the_client_overrides_it() {
        let body = RenderedBody::Chat {
            messages: vec![content::ChatMessage { role: "system".into(), content: "Be brief.".into() }],
        };
        let request =
            prompt_request("welcome", 3, &body, Some(&config()), ingress(vec![ChatMessage::user("hi")])).unwrap();
        let targets: Vec<(&str, &str)> =
            request.targets.iter().map(|t| (t.provider.as_str(), t.model.as_str())).collect();
        assert_eq!(targets, [("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5")]);
        assert_eq!(request.messages, [ChatMessage::new(Role::System, "Be brief."), ChatMessage::user("hi")]);
        assert_eq!((request.params.temperature, request.params.max_tokens), (Some(0.9), Some(64)));
        assert_eq!(request.tools, Some(json!([{"type": "function"}])));
        assert_eq!(request.response_format, Some(json!({"type": "json_object"})));
    }

    #[test]
    fn a_text_prompt_is_one_user_message() {
        let body = RenderedBody::Text { text: "Summarize".into() };
        let request = prompt_request("s", 1, &body, Some(&config()), ingress(vec![])).unwrap();
        assert_eq!(request.messages, [ChatMessage::user("Summarize")]);
    }

    #[test]
    fn unusable_prompts_name_what_is_missing() {
        let body = RenderedBody::Text { text: "x".into() };
        let error = prompt_request("s", 2, &body, None, ingress(vec![])).unwrap_err();
        assert_eq!((error.code(), error.kind()), ("prompt_has_no_model", opm_core::ErrorKind::Invalid));
        assert!(error.to_string().contains("prompt `s` version 2"), "{error}");
        let body = RenderedBody::Chat {
            messages: vec![content::ChatMessage { role: "narrator".into(), content: "x".into() }],
        };
        let error = prompt_request("s", 2, &body, Some(&config()), ingress(vec![])).unwrap_err();
        assert_eq!(error.code(), "invalid_content");
    }
}
