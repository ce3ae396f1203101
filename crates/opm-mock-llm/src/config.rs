//! Server-wide settings: expected API keys, the default fault, the reply mode and the listed models.

use std::str::FromStr;

use crate::MockError;
use crate::fault::Fault;

/// How one mock server behaves when a request does not say otherwise.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// When set, `POST /v1/chat/completions` requires `Authorization: Bearer <key>` (else 401).
    pub openai_api_key: Option<String>,
    /// When set, `POST /v1/messages` requires `x-api-key: <key>` (else 401).
    pub anthropic_api_key: Option<String>,
    /// Applied to every request; the model-name suffix and the `x-mock-fault` header override it field by field.
    pub default_fault: Fault,
    /// What the assistant says.
    pub reply: ReplyMode,
    /// Listed by `GET /v1/models` (any model name is accepted by the completion endpoints).
    pub models: Vec<String>,
}

/// What the assistant replies, always a pure function of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    /// `mock reply to: <first 8 words of the last user message>`.
    #[default]
    Summary,
    /// The last user message's text, verbatim.
    Echo,
    /// Exactly N words, `w1 w2 … wN` (for benchmarks that need long streams).
    Words(usize),
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            openai_api_key: None,
            anthropic_api_key: None,
            default_fault: Fault::default(),
            reply: ReplyMode::Summary,
            models: vec!["mock-gpt".to_owned(), "mock-claude".to_owned()],
        }
    }
}

impl MockConfig {
    /// Sets the server-wide default fault.
    #[must_use]
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.default_fault = fault;
        self
    }

    /// Sets the reply mode.
    #[must_use]
    pub fn with_reply(mut self, reply: ReplyMode) -> Self {
        self.reply = reply;
        self
    }

    /// Requires `Authorization: Bearer <key>` on the OpenAI endpoint.
    #[must_use]
    pub fn with_openai_key(mut self, key: impl Into<String>) -> Self {
        self.openai_api_key = Some(key.into());
        self
    }

    /// Requires `x-api-key: <key>` on the Anthropic endpoint.
    #[must_use]
    pub fn with_anthropic_key(mut self, key: impl Into<String>) -> Self {
        self.anthropic_api_key = Some(key.into());
        self
    }
}

impl FromStr for ReplyMode {
    type Err = MockError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "summary" => Ok(Self::Summary),
            "echo" => Ok(Self::Echo),
            other => other
                .strip_prefix("words:")
                .and_then(|n| n.parse().ok())
                .map(Self::Words)
                .ok_or_else(|| MockError::ReplyMode(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_modes_parse() {
        assert_eq!("summary".parse::<ReplyMode>().unwrap(), ReplyMode::Summary);
        assert_eq!("echo".parse::<ReplyMode>().unwrap(), ReplyMode::Echo);
        assert_eq!("words:200".parse::<ReplyMode>().unwrap(), ReplyMode::Words(200));
        assert!("words:x".parse::<ReplyMode>().is_err());
        assert!("loud".parse::<ReplyMode>().is_err());
    }
}
