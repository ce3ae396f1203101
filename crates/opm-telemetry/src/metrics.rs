//! The GenAI client metrics: `gen_ai.client.operation.duration` (seconds) and
//! `gen_ai.client.token.usage` (tokens, by `gen_ai.token.type`), with the bucket boundaries the
//! conventions give, recorded once per model call by [`Telemetry::record_model_call`].

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};

use crate::Telemetry;
use crate::genai;

/// One finished model call, for the metrics. Attributes stay bounded: no ids, no free text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelCallMetrics<'a> {
    /// `gen_ai.operation.name`: [`genai::OPERATION_CHAT`] for chat completions.
    pub operation: &'a str,
    pub provider: &'a str,
    pub request_model: &'a str,
    pub response_model: Option<&'a str>,
    /// `error.type` (a stable error code) when the call failed; on the duration only.
    pub error_type: Option<&'a str>,
    pub server_address: Option<&'a str>,
    /// The whole call, retries and fallbacks included.
    pub duration: Duration,
    /// Recorded only when known.
    pub input_tokens: Option<u64>,
    /// Recorded only when known.
    pub output_tokens: Option<u64>,
    pub prompt_name: Option<&'a str>,
    pub prompt_version: Option<u32>,
    /// `opm.prompt.label`.
    pub label: Option<&'a str>,
    /// `opm.rollout.arm`.
    pub arm: Option<&'a str>,
}

/// The two histograms.
pub(crate) struct Instruments {
    duration: Histogram<f64>,
    token_usage: Histogram<u64>,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter) -> Instruments {
        let duration = meter
            .f64_histogram(genai::METRIC_OPERATION_DURATION)
            .with_unit(genai::UNIT_SECONDS)
            .with_description("GenAI operation duration")
            .with_boundaries(genai::duration_buckets())
            .build();
        let token_usage = meter
            .u64_histogram(genai::METRIC_TOKEN_USAGE)
            .with_unit(genai::UNIT_TOKENS)
            .with_description("Number of input and output tokens used")
            .with_boundaries(genai::token_usage_buckets())
            .build();
        Instruments { duration, token_usage }
    }
}

impl Telemetry {
    /// Records one model call's duration and (known) token counts.
    pub fn record_model_call(&self, call: &ModelCallMetrics<'_>) {
        let Some(instruments) = self.inner.as_deref().and_then(|inner| inner.instruments.as_ref()) else { return };
        let mut attributes = Vec::with_capacity(11);
        attributes.push(KeyValue::new(genai::OPERATION_NAME, call.operation.to_owned()));
        attributes.push(KeyValue::new(genai::PROVIDER_NAME, call.provider.to_owned()));
        attributes.push(KeyValue::new(genai::REQUEST_MODEL, call.request_model.to_owned()));
        push_str(&mut attributes, genai::RESPONSE_MODEL, call.response_model);
        push_str(&mut attributes, genai::SERVER_ADDRESS, call.server_address);
        push_str(&mut attributes, genai::PROMPT_NAME, call.prompt_name);
        if let Some(version) = call.prompt_version {
            attributes.push(KeyValue::new(genai::PROMPT_VERSION, version.to_string()));
        }
        push_str(&mut attributes, genai::OPM_PROMPT_LABEL, call.label);
        push_str(&mut attributes, genai::OPM_ROLLOUT_ARM, call.arm);

        let common = attributes.len();
        if call.input_tokens.is_some() || call.output_tokens.is_some() {
            attributes.push(KeyValue::new(genai::TOKEN_TYPE, genai::TOKEN_TYPE_INPUT));
            if let Some(tokens) = call.input_tokens {
                instruments.token_usage.record(tokens, &attributes);
            }
            if let Some(tokens) = call.output_tokens {
                attributes[common] = KeyValue::new(genai::TOKEN_TYPE, genai::TOKEN_TYPE_OUTPUT);
                instruments.token_usage.record(tokens, &attributes);
            }
            attributes.truncate(common);
        }
        if let Some(error_type) = call.error_type {
            attributes.push(KeyValue::new(genai::ERROR_TYPE, error_type.to_owned()));
        }
        instruments.duration.record(call.duration.as_secs_f64(), &attributes);
    }
}

fn push_str(attributes: &mut Vec<KeyValue>, key: &'static str, value: Option<&str>) {
    if let Some(value) = value {
        attributes.push(KeyValue::new(key, value.to_owned()));
    }
}
