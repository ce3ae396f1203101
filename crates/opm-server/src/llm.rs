//! The gateway flow's server half, shared by the OpenAI, Anthropic and native routes: turn a parsed
//! request into a gateway call (resolving and rendering the managed prompt it names through the
//! registry; the model configuration is applied by `opm_gateway::prompt_request`), and account for
//! the call in a generation record. The routes (`routes/llm.rs`) run it as one flow.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opm_core::names::{LabelName, PromptName};
use opm_core::split::Assignment;
use opm_gateway::ingress::{IngressRequest, PromptRef};
use opm_gateway::{
    ChatRequest, GenerationRecord, GenerationRecorder, GenerationStatus, Usage, duration_ms, prompt_request,
};
use opm_store::Selector;
use opm_telemetry::{ModelCallOutcome, ModelCallStart, ModelSpan, TraceContext};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::wire::WireError;

/// Header a client may send to bound the whole call (retries and fallbacks included), in ms.
pub const TIMEOUT_HEADER: &str = "x-opm-timeout-ms";
/// The deadline when the client gives none.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// The managed prompt a call used.
#[derive(Debug, Clone)]
pub struct PromptUsed {
    pub name: PromptName,
    pub version: u32,
    pub label: Option<String>,
    /// The split arm assigned, when the label's target is a split.
    pub assignment: Option<Assignment>,
    /// The same, as the wire reports it.
    pub arm: Option<opm_api::labels::ArmDto>,
}

/// A call ready for the gateway.
#[derive(Debug)]
pub struct Prepared {
    pub request: ChatRequest,
    pub prompt: Option<PromptUsed>,
    /// The model the client named, echoed in responses.
    pub requested_model: String,
    pub stream: bool,
    pub include_usage: bool,
}

/// Resolves and renders the referenced prompt (if any; a split label picks its arm by `sticky_key`,
/// or at random) and builds the gateway request: the version's model configuration decides the
/// targets and parameters (`opm_gateway::prompt_request`), the client's deadline bounds the call.
pub async fn prepare(
    state: &AppState,
    caller: &Caller,
    ingress: IngressRequest,
    timeout_ms: Option<u64>,
    sticky_key: Option<&str>,
) -> Result<Prepared, WireError> {
    let deadline = tokio::time::Instant::now() + timeout_ms.map(Duration::from_millis).unwrap_or(DEFAULT_DEADLINE);
    let requested_model = ingress.model.clone();
    let (stream, include_usage) = (ingress.stream, ingress.include_usage);
    let Some(reference) = ingress.prompt_ref.clone() else {
        let Some(target) = ingress.direct_target() else {
            return Err(ApiError::invalid(
                "invalid_model",
                format!("model `{requested_model}` names no prompt and no provider: use `opm:PROMPT[@LABEL]`, `prompt_id`, or `PROVIDER/MODEL`"),
            )
            .into());
        };
        let mut request = ingress.into_chat_request(vec![target]);
        request.deadline = Some(deadline);
        return Ok(Prepared { request, prompt: None, requested_model, stream, include_usage });
    };
    let (name, selector) = selector_for(&reference)?;
    let rendered = state.registry.render(&caller.project, &name, &selector, sticky_key, &reference.variables).await?;
    let entry = &rendered.entry;
    state.metrics.render_served(
        caller.project.as_str(),
        name.as_str(),
        entry.version,
        entry.label_name(),
        rendered.assignment.as_ref(),
    );
    let model = entry.content.model();
    let mut request = prompt_request(name.as_str(), entry.version, &rendered.body, model.as_ref(), ingress)?;
    request.deadline = Some(deadline);
    let prompt = PromptUsed {
        name: name.clone(),
        version: entry.version,
        label: entry.label_name().map(str::to_owned),
        assignment: rendered.assignment,
        arm: crate::convert::arm(entry.split(), rendered.assignment.as_ref()),
    };
    Ok(Prepared { request, prompt: Some(prompt), requested_model, stream, include_usage })
}

fn selector_for(reference: &PromptRef) -> Result<(PromptName, Selector), ApiError> {
    let name = PromptName::parse(&reference.name)?;
    let selector = match (&reference.label, reference.version) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("invalid_selector", "give `prompt_label` or `prompt_version`, not both"));
        }
        (None, Some(version)) => Selector::Version(version),
        (Some(label), None) => Selector::Label(LabelName::parse(label)?),
        (None, None) => Selector::Label(LabelName::production()),
    };
    Ok((name, selector))
}

/// Collects what a generation record needs while a call runs, and hands the record to the
/// recorder exactly once — when the call ends, fails, or (for streams) is dropped by the client.
/// With OTLP export on, it also owns the call's CLIENT span and ends it with the record.
pub struct CallRecord {
    recorder: Arc<dyn GenerationRecorder>,
    limits: Arc<crate::limits::Limiter>,
    record: Option<GenerationRecord>,
    started: Instant,
    span: Option<ModelSpan>,
    response: ResponseDetails,
}

/// What the span reports beyond the record.
#[derive(Default)]
struct ResponseDetails {
    id: Option<String>,
    finish_reason: Option<String>,
    /// The completion text, kept only when content capture is on.
    content: Option<String>,
}

impl CallRecord {
    /// Starts accounting for a call; with tracing on, opens its CLIENT span under `parent` and
    /// sets the request's upstream `traceparent`.
    pub fn start(
        state: &AppState,
        caller: &Caller,
        prepared: &mut Prepared,
        id: String,
        started: Instant,
        parent: Option<&TraceContext>,
    ) -> Self {
        let first = prepared.request.targets.first();
        let record = GenerationRecord {
            id,
            started_at: state.registry.clock().now(),
            prompt: prepared.prompt.as_ref().map(|p| p.name.to_string()),
            prompt_version: prepared.prompt.as_ref().map(|p| p.version),
            label: prepared.prompt.as_ref().and_then(|p| p.label.clone()),
            arm: prepared.prompt.as_ref().and_then(|p| p.assignment).map(|a| a.version.to_string()),
            sticky: prepared.prompt.as_ref().and_then(|p| p.assignment).map(|a| a.sticky),
            project: Some(caller.project.to_string()),
            provider: first.map(|t| t.provider.clone()).unwrap_or_default(),
            model: first.map(|t| t.model.clone()).unwrap_or_default(),
            status: GenerationStatus::Cancelled,
            error_kind: None,
            latency_ms: 0.0,
            ttft_ms: None,
            upstream_ms: 0.0,
            usage: Usage::default(),
            cost_usd: None,
            key_id: Some(caller.key.id.clone()),
            attempts: 0,
            fallback_index: 0,
            streamed: prepared.stream,
        };
        let span = state.otel.is_enabled().then(|| {
            let messages = state
                .otel
                .captures_content()
                .then(|| serde_json::to_string(&prepared.request.messages).unwrap_or_default());
            let start = ModelCallStart {
                prompt_name: record.prompt.as_deref(),
                prompt_version: record.prompt_version,
                label: record.label.as_deref(),
                temperature: prepared.request.params.temperature,
                max_tokens: prepared.request.params.max_tokens,
                stream: prepared.stream,
                input_messages_json: messages.as_deref(),
                ..ModelCallStart::chat(&record.provider, &record.model)
            };
            state.otel.model_span(parent, &start)
        });
        prepared.request.traceparent = span.as_ref().and_then(ModelSpan::traceparent);
        Self {
            recorder: state.recorder.clone(),
            limits: state.limits.clone(),
            record: Some(record),
            started,
            span,
            response: ResponseDetails::default(),
        }
    }

    /// Notes which provider and model answer (streams know it before they finish).
    pub fn answered_by(&mut self, provider: &str, model: &str, attempts: u32, fallback_index: usize) {
        if let Some(record) = &mut self.record {
            record.provider = provider.to_owned();
            model.clone_into(&mut record.model);
            record.attempts = attempts;
            record.fallback_index = fallback_index;
        }
    }

    /// Notes the upstream's response id, finish reason and (when captured) the completion text.
    pub fn response(&mut self, id: &str, finish_reason: Option<&str>, content: Option<&str>) {
        if self.span.is_some() {
            self.response.id = Some(id.to_owned());
            self.response.finish_reason = finish_reason.map(str::to_owned);
            self.response.content = content.map(str::to_owned);
        }
    }

    /// Notes a streamed answer's finish reason.
    pub fn finish_reason(&mut self, finish_reason: &str) {
        if self.span.is_some() {
            self.response.finish_reason = Some(finish_reason.to_owned());
        }
    }

    /// Ends the call successfully.
    pub fn succeed(&mut self, usage: Usage, cost_usd: Option<f64>, upstream: Duration, ttft: Option<Duration>) {
        if let Some(mut record) = self.record.take() {
            record.status = GenerationStatus::Ok;
            record.usage = usage;
            record.cost_usd = cost_usd;
            record.upstream_ms = duration_ms(upstream);
            record.ttft_ms = ttft.map(duration_ms);
            record.latency_ms = duration_ms(self.started.elapsed());
            self.finish(record);
        }
    }

    /// Ends the call with an error.
    pub fn fail(&mut self, code: &str) {
        if let Some(mut record) = self.record.take() {
            record.status = GenerationStatus::Error;
            record.error_kind = Some(code.to_owned());
            record.latency_ms = duration_ms(self.started.elapsed());
            self.finish(record);
        }
    }

    fn finish(&mut self, record: GenerationRecord) {
        if let Some(span) = self.span.take() {
            let finish_reasons: Vec<&str> = self.response.finish_reason.as_deref().into_iter().collect();
            let output = self
                .response
                .content
                .as_ref()
                .map(|content| serde_json::json!([{"role": "assistant", "content": content}]).to_string());
            let error_type = match record.status {
                GenerationStatus::Cancelled => Some("cancelled"),
                _ => record.error_kind.as_deref(),
            };
            span.finish(&ModelCallOutcome {
                response_model: (record.status == GenerationStatus::Ok).then_some(record.model.as_str()),
                response_id: self.response.id.as_deref(),
                finish_reasons: &finish_reasons,
                input_tokens: record.usage.input_tokens,
                output_tokens: record.usage.output_tokens,
                error_type,
                output_messages_json: output.as_deref(),
                generation_id: Some(&record.id),
            });
        }
        // The cost is charged to the budgets after the record is queued, so a reconcile that
        // flushes the queue finds every call it took the charge of.
        let charge = record
            .cost_usd
            .filter(|cost| *cost > 0.0)
            .map(|cost| (record.project.clone().unwrap_or_default(), record.key_id.clone(), record.started_at, cost));
        self.recorder.record(record);
        if let Some((project, key_id, started_at, cost)) = charge {
            self.limits.charge(&project, key_id.as_deref(), started_at, cost);
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.latency_ms = duration_ms(self.started.elapsed());
            self.finish(record);
        }
    }
}
