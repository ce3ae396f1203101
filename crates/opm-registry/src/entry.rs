//! What the cache keeps of a resolved version: only what serving reads. The encoded resolve
//! answer (made once, by the transport's [`AnswerEncoder`], when the entry is built), the version's
//! templates and variable declarations in compact form (for the render and its compiled templates),
//! the model configuration as JSON (for the gateway and the render answer), the label's name and
//! target (for routing), and the description (for MCP). The store's full record is not kept: a
//! `BTreeMap` allocates a node of eleven slots for one variable or one model parameter, and the
//! prompt, label and version records repeat names and carry what no serving path reads, so the
//! whole record cost about three times what this does (docs/benchmarks.md, "Resolve cache memory").
//! Routes that need the whole record (the Langfuse prompt) read it from the store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use opm_core::content::{ChatMessage, ModelConfig, PromptBody, VariableSpec, VersionContent};
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, PromptName};
use opm_core::split::{Assignment, Split};
use opm_store::Resolved;
use serde_json::value::RawValue;

use crate::includes::CompiledEntry;

/// Encodes the resolve answer the transport serves for a version, once per cache entry.
pub trait AnswerEncoder: Send + Sync {
    /// The answer for `resolved`; `assignment` is the split arm it serves as, when its label is a
    /// split (one answer per case: the arm's fields are the only per-request difference).
    fn resolve_answer(&self, resolved: &Resolved, assignment: Option<&Assignment>) -> Vec<u8>;
}

/// The encoder of a registry no transport configured: the version's identity as JSON.
#[derive(Debug, Default)]
pub(crate) struct SummaryEncoder;

impl AnswerEncoder for SummaryEncoder {
    fn resolve_answer(&self, resolved: &Resolved, assignment: Option<&Assignment>) -> Vec<u8> {
        let summary = serde_json::json!({
            "prompt": resolved.prompt.name.as_str(),
            "version": resolved.version.version,
            "label": resolved.label.as_ref().map(|label| label.name.as_str()),
            "content_hash": resolved.version.content_hash,
            "sticky": assignment.map(|assignment| assignment.sticky),
        });
        serde_json::to_vec(&summary).unwrap_or_default()
    }
}

/// The label a version was resolved through: its name and target (who moved it and why are not
/// served).
#[derive(Debug, Clone, PartialEq)]
pub struct ServedLabel {
    pub name: LabelName,
    pub target: LabelTarget,
}

/// A chat message's `(role, source)`, or a text prompt's `("", source)`.
type Template = (Box<str>, Box<str>);

/// A version's content as serving reads it.
#[derive(Debug)]
pub struct ServingContent {
    chat: bool,
    /// `(role, source)` per chat message; one entry with an empty role for a text prompt.
    templates: Box<[Template]>,
    /// Sorted by name.
    variables: Box<[(Box<str>, VariableSpec)]>,
    /// The model configuration as JSON.
    model: Option<Box<RawValue>>,
}

impl ServingContent {
    pub fn new(content: &VersionContent) -> Self {
        let (chat, templates): (bool, Vec<Template>) = match &content.body {
            PromptBody::Chat { messages } => {
                (true, messages.iter().map(|m| (m.role.as_str().into(), m.content.as_str().into())).collect())
            }
            PromptBody::Text { template } => (false, vec![("".into(), template.as_str().into())]),
        };
        let variables: Vec<(Box<str>, VariableSpec)> =
            content.variables.iter().map(|(name, spec)| (name.as_str().into(), spec.clone())).collect();
        let model = content.model.as_ref().and_then(|model| serde_json::value::to_raw_value(model).ok());
        Self { chat, templates: templates.into_boxed_slice(), variables: variables.into_boxed_slice(), model }
    }

    /// `"chat"` or `"text"`.
    pub fn type_name(&self) -> &'static str {
        if self.chat { "chat" } else { "text" }
    }

    /// The template of a text prompt.
    pub fn text(&self) -> Option<&str> {
        if self.chat { None } else { self.templates.first().map(|(_, source)| &**source) }
    }

    /// The template sources, in render order (messages, or the text body).
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(|(_, source)| &**source)
    }

    /// The roles of a chat prompt's messages, in order (empty for a text prompt).
    pub(crate) fn roles(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().filter(|_| self.chat).map(|(role, _)| &**role)
    }

    pub(crate) fn is_chat(&self) -> bool {
        self.chat
    }

    /// The variable declarations, sorted by name.
    pub fn variables(&self) -> &[(Box<str>, VariableSpec)] {
        &self.variables
    }

    /// The model configuration as JSON, as stored.
    pub fn model_json(&self) -> Option<&RawValue> {
        self.model.as_deref()
    }

    /// The model configuration (parsed on each call: it is small, and the gateway reads it once
    /// per call).
    pub fn model(&self) -> Option<ModelConfig> {
        self.model.as_deref().and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// The content for compiling with minijinja (the metadata, which no template reads, is left out).
    pub(crate) fn to_content(&self) -> VersionContent {
        let body = if self.chat {
            PromptBody::Chat {
                messages: self
                    .templates
                    .iter()
                    .map(|(role, source)| ChatMessage { role: role.to_string(), content: source.to_string() })
                    .collect(),
            }
        } else {
            PromptBody::Text { template: self.text().unwrap_or_default().to_owned() }
        };
        VersionContent {
            body,
            variables: self.variables.iter().map(|(name, spec)| (name.to_string(), spec.clone())).collect(),
            model: self.model(),
            metadata: serde_json::Map::new(),
        }
    }

    /// The heap bytes held (for the cache's charge).
    fn heap_bytes(&self) -> usize {
        let templates: usize = self.templates.iter().map(|(role, source)| role.len() + source.len() + 32).sum();
        let variables: usize = self
            .variables
            .iter()
            .map(|(name, spec)| {
                let default = spec.default.as_ref().map_or(0, |value| value.to_string().len() + 32);
                name.len()
                    + std::mem::size_of::<(Box<str>, VariableSpec)>()
                    + default
                    + spec.description.as_ref().map_or(0, String::len)
            })
            .sum();
        templates + variables + self.model.as_ref().map_or(0, |raw| raw.get().len())
    }
}

/// A resolved version as the read path serves it.
#[derive(Debug)]
pub struct ResolvedEntry {
    pub prompt: PromptName,
    pub version: u32,
    /// The label it was resolved through (for a split's other arm: the split's label).
    pub label: Option<ServedLabel>,
    /// The prompt's description.
    pub description: Box<str>,
    pub content: ServingContent,
    /// Strong ETag: changes whenever the selected version changes.
    pub etag: Box<str>,
    answer: Bytes,
    /// When the label is a split: the answer as the arm served `[at random, by a sticky key]`.
    answer_arm: Option<Box<[Bytes; 2]>>,
    /// The model configuration as the render answer encodes it, filled once by the transport
    /// (`None`: the version has no model configuration).
    pub encoded_model: OnceLock<Option<Box<RawValue>>>,
    pub(crate) compiled: tokio::sync::OnceCell<Arc<CompiledEntry>>,
    /// Callers compiling this entry: until `compiled` is filled its dependencies are unknown, so
    /// any invalidation in the project drops the entry meanwhile (see `depends_on`).
    pub(crate) compiling: AtomicUsize,
}

impl ResolvedEntry {
    pub(crate) fn new(resolved: Resolved, encoder: &dyn AnswerEncoder) -> Self {
        let hash = resolved.version.content_hash.trim_start_matches("sha256:");
        let short = hash.get(..16).unwrap_or(hash);
        let etag = format!("\"v{}-{short}\"", resolved.version.version).into_boxed_str();
        let encode = |assignment: Option<&Assignment>| {
            let mut body = encoder.resolve_answer(&resolved, assignment);
            body.shrink_to_fit();
            Bytes::from(body)
        };
        let split = resolved.label.as_ref().and_then(|label| label.target.split());
        let answer_arm = split.map(|split| {
            let arm_index =
                split.arms().iter().position(|arm| arm.version == resolved.version.version).unwrap_or_default();
            let arm = |sticky| Assignment { version: resolved.version.version, arm_index, sticky };
            Box::new([encode(Some(&arm(false))), encode(Some(&arm(true)))])
        });
        let answer = encode(None);
        Self {
            prompt: resolved.prompt.name.clone(),
            version: resolved.version.version,
            label: resolved
                .label
                .as_ref()
                .map(|label| ServedLabel { name: label.name.clone(), target: label.target.clone() }),
            description: resolved.prompt.description.as_str().into(),
            content: ServingContent::new(&resolved.version.content),
            etag,
            answer,
            answer_arm,
            encoded_model: OnceLock::new(),
            compiled: tokio::sync::OnceCell::new(),
            compiling: AtomicUsize::new(0),
        }
    }

    /// The encoded resolve answer; `assignment` is the split arm that served, if any.
    pub fn answer(&self, assignment: Option<&Assignment>) -> &Bytes {
        match (assignment, &self.answer_arm) {
            (Some(assignment), Some(arms)) => &arms[usize::from(assignment.sticky)],
            _ => &self.answer,
        }
    }

    /// The label's name, when resolved through one.
    pub fn label_name(&self) -> Option<&str> {
        self.label.as_ref().map(|label| label.name.as_str())
    }

    /// The split the label points at, when it does.
    pub fn split(&self) -> Option<&Split> {
        self.label.as_ref().and_then(|label| label.target.split())
    }

    /// Whether a change to `prompt` may change what this entry serves. An entry whose compile is
    /// under way counts as depending on everything: the include it resolved a moment ago may be
    /// the one that just changed, and caching that compile would serve the old include until the
    /// next change.
    pub(crate) fn depends_on(&self, prompt: &PromptName) -> bool {
        &self.prompt == prompt
            || self.compiling.load(Ordering::Acquire) > 0
            || self.compiled.get().is_some_and(|c| c.depends_on.contains(prompt))
    }

    /// The heap bytes held besides the fixed overhead (for the cache's charge; the compiled
    /// templates are charged by the cache from whether they need minijinja).
    pub(crate) fn heap_bytes(&self) -> usize {
        let answers = self.answer.len() + self.answer_arm.as_ref().map_or(0, |arms| arms[0].len() + arms[1].len() + 64);
        let label = self.label.as_ref().map_or(0, |label| {
            label.name.as_str().len() + label.target.split().map_or(0, |split| 64 + 16 * split.arms().len())
        });
        self.prompt.as_str().len()
            + self.etag.len()
            + self.description.len()
            + self.content.heap_bytes()
            + answers
            + label
    }
}
