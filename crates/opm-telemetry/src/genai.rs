//! Attribute and metric names from the OpenTelemetry semantic conventions (GenAI v1.41, HTTP,
//! error), OPM's own `opm.*` attributes, and the histogram bucket boundaries the GenAI metrics ask for.
//!
//! We keep our own constants: the `opentelemetry-semantic-conventions` crate marks its `gen_ai`
//! constants deprecated since the GenAI conventions moved to their own repository.
//! `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` is not interpreted: OPM emits the
//! v1.41 names below.

// GenAI span and metric attributes.

/// The operation, `chat` for a chat completion.
pub const OPERATION_NAME: &str = "gen_ai.operation.name";
/// The provider as configured in OPM (`openai`, `anthropic`, ...); replaced `gen_ai.system`.
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
pub const REQUEST_STREAM: &str = "gen_ai.request.stream";
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
pub const RESPONSE_ID: &str = "gen_ai.response.id";
/// A string array, one reason per choice.
pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// The managed prompt's name, whenever a named template was used.
pub const PROMPT_NAME: &str = "gen_ai.prompt.name";
/// The managed prompt's version, as a string (`"3"`).
pub const PROMPT_VERSION: &str = "gen_ai.prompt.version";
/// On `gen_ai.client.token.usage`: [`TOKEN_TYPE_INPUT`] or [`TOKEN_TYPE_OUTPUT`].
pub const TOKEN_TYPE: &str = "gen_ai.token.type";
pub const TOKEN_TYPE_INPUT: &str = "input";
pub const TOKEN_TYPE_OUTPUT: &str = "output";
/// The chat operation's name.
pub const OPERATION_CHAT: &str = "chat";

// Opt-in content (only with `OPM_OTEL_CAPTURE_CONTENT=true`): JSON text.

/// The messages sent to the model, as JSON.
pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// The messages the model answered, as JSON.
pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";

// General attributes.

/// The low-cardinality class of an error (a stable error code, or an HTTP status as text).
pub const ERROR_TYPE: &str = "error.type";
pub const SERVER_ADDRESS: &str = "server.address";
pub const SERVER_PORT: &str = "server.port";
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub const HTTP_ROUTE: &str = "http.route";
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
pub const URL_PATH: &str = "url.path";

// OPM's own attributes.

/// The label that selected the prompt version (`production`, ...).
pub const OPM_PROMPT_LABEL: &str = "opm.prompt.label";
/// The rollout arm that served the call (`stable`, `canary`, ...).
pub const OPM_ROLLOUT_ARM: &str = "opm.rollout.arm";
/// The generation record's id, to join a span with OPM's own record.
pub const OPM_GENERATION_ID: &str = "opm.generation.id";

// Metrics.

/// Histogram of operation durations in seconds.
pub const METRIC_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Histogram of tokens per call, split by [`TOKEN_TYPE`].
pub const METRIC_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
pub const UNIT_SECONDS: &str = "s";
pub const UNIT_TOKENS: &str = "{token}";

/// `gen_ai.client.token.usage` buckets: 1, 4, 16, ..., 4^13 = 67108864.
pub fn token_usage_buckets() -> Vec<f64> {
    (0..=13).map(|power| 4f64.powi(power)).collect()
}

/// `gen_ai.client.operation.duration` buckets in seconds: 0.01, 0.02, 0.04, ..., 81.92.
pub fn duration_buckets() -> Vec<f64> {
    // 0.01 × 2^n computed as an integer number of hundredths so every bound is exact as written.
    (0..=13).map(|power| f64::from(1u32 << power) / 100.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_buckets_are_powers_of_four_up_to_4_to_the_13() {
        let buckets = token_usage_buckets();
        assert_eq!(buckets.len(), 14);
        assert_eq!(&buckets[..5], &[1.0, 4.0, 16.0, 64.0, 256.0]);
        assert_eq!(buckets.last(), Some(&67_108_864.0));
    }

    #[test]
    fn duration_buckets_double_from_10_ms_to_81_92_s() {
        let buckets = duration_buckets();
        assert_eq!(
            buckets,
            vec![0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
        );
    }
}
