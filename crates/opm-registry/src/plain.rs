//! Plain templates, rendered without minijinja: a version whose every template is text with only
//! `{{ name }}` substitutions of declared string variables (a static system message, a
//! `Question: {{ question }}` user message) is served from a list of offsets into its own sources
//! (the cache entry's compact content, `entry.rs`).
//!
//! Why: minijinja 3.1 preallocates 256 instructions (8 KiB) and 128 line records per compiled
//! template, so a compiled two-message prompt costs the process about 26 KB, most of a cached
//! prompt's memory (see docs/benchmarks.md, "Resolve cache memory"). A plain plan costs a few
//! dozen bytes and reads the version's text from the cache entry that already holds it.
//!
//! Exactness: a template is planned only when minijinja would render it the same way, byte for
//! byte: no other `{{`, `{%` or `{#` marker anywhere; a substitution is `{{`, spaces, an ASCII
//! identifier that is no keyword or built-in name, spaces, `}}` (no `-`/`+` whitespace control);
//! the variable is declared `string` and is always bound (required, or with a default); and the
//! one trailing newline minijinja drops (`\n`, then `\r`) is dropped here too. Variables are bound
//! by `opm_core::template::bind_variables`, the same checks and errors as the compiled path, and
//! the output limit is the same. Anything else compiles with minijinja as before; a bound value
//! that is not a string after all (it cannot happen) renders through minijinja too.

use std::collections::BTreeMap;

use opm_core::CoreError;
use opm_core::content::{ChatMessage, VariableType};
use opm_core::template::{CompiledPrompt, MAX_OUTPUT_BYTES, RenderedBody, VariableSpecs, bind_variables};
use serde_json::{Map, Value};

use crate::entry::ServingContent;

/// Names that are not plain variable reads inside `{{ }}`: literals, operators, and minijinja's
/// globals (a declared variable would shadow those, but the compiled path decides that).
const NOT_PLAIN: [&str; 19] = [
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "self",
];

/// A version's templates ready to render many times.
#[derive(Debug)]
pub(crate) enum ServingTemplate {
    /// Every template is plain: one plan per template, in order (messages, or the text body).
    Plain(Box<[Box<[Segment]>]>),
    /// Compiled by minijinja (with its includes).
    Compiled(Box<CompiledPrompt>),
}

/// A piece of a plain template: byte offsets into the template's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment {
    Text { start: u32, end: u32 },
    Variable { start: u32, end: u32 },
}

impl ServingTemplate {
    /// Plans `content` as plain templates when every one of them is (see the module docs).
    pub(crate) fn plain(content: &ServingContent) -> Option<Self> {
        let plans: Option<Vec<Box<[Segment]>>> =
            content.sources().map(|source| plan(source, content.variables()).map(Vec::into_boxed_slice)).collect();
        plans.map(|plans| Self::Plain(plans.into_boxed_slice()))
    }

    /// Whether [`ServingTemplate::plain`] would plan `content` (for the cache's charge).
    pub(crate) fn is_plain(content: &ServingContent) -> bool {
        content.sources().all(|source| plan(source, content.variables()).is_some())
    }

    /// Renders with `given`; `content` is the entry's content this was built from (a plain plan
    /// holds offsets into its sources, not the text).
    pub(crate) fn render(
        &self,
        content: &ServingContent,
        given: &Map<String, Value>,
    ) -> Result<RenderedBody, CoreError> {
        let plans = match self {
            Self::Compiled(compiled) => return compiled.render(given),
            Self::Plain(plans) => plans,
        };
        let bound = bind_variables(content.variables(), given)?;
        let mut texts = Vec::with_capacity(plans.len());
        let mut total = 0usize;
        for (source, plan) in content.sources().zip(plans.iter()) {
            let Some(text) = fill(source, plan, &bound) else {
                return CompiledPrompt::compile(&content.to_content(), &BTreeMap::new())?.render(given);
            };
            total += text.len();
            if total > MAX_OUTPUT_BYTES {
                return Err(CoreError::Render(format!("rendered output exceeds {MAX_OUTPUT_BYTES} bytes")));
            }
            texts.push(text);
        }
        if texts.len() != plans.len() {
            return CompiledPrompt::compile(&content.to_content(), &BTreeMap::new())?.render(given);
        }
        Ok(if content.is_chat() {
            RenderedBody::Chat {
                messages: content
                    .roles()
                    .zip(texts)
                    .map(|(role, content)| ChatMessage { role: role.to_owned(), content })
                    .collect(),
            }
        } else {
            RenderedBody::Text { text: texts.concat() }
        })
    }
}

/// The source minijinja tokenizes: one trailing `\n` dropped, then one trailing `\r`.
fn without_trailing_newline(source: &str) -> &str {
    let source = source.strip_suffix('\n').unwrap_or(source);
    source.strip_suffix('\r').unwrap_or(source)
}

/// The plan of one template, or `None` when it is not plain.
pub(crate) fn plan<S: VariableSpecs + ?Sized>(source: &str, variables: &S) -> Option<Vec<Segment>> {
    let source = without_trailing_newline(source);
    u32::try_from(source.len()).ok()?;
    let bytes = source.as_bytes();
    let offset = |at: usize| u32::try_from(at).ok();
    let mut segments = Vec::new();
    let mut text_start = 0usize;
    let mut at = 0usize;
    while let Some(found) = source[at..].find('{') {
        let open = at + found;
        match bytes.get(open + 1) {
            Some(b'{') => {}
            Some(b'%' | b'#') => return None,
            _ => {
                at = open + 1;
                continue;
            }
        }
        let (name_start, name_end, close) = substitution(bytes, open)?;
        let spec = variables.spec(&source[name_start..name_end])?;
        if spec.kind != VariableType::String || !(spec.required || spec.default.is_some()) {
            return None;
        }
        if open > text_start {
            segments.push(Segment::Text { start: offset(text_start)?, end: offset(open)? });
        }
        segments.push(Segment::Variable { start: offset(name_start)?, end: offset(name_end)? });
        text_start = close;
        at = close;
    }
    if text_start < source.len() {
        segments.push(Segment::Text { start: offset(text_start)?, end: offset(source.len())? });
    }
    Some(segments)
}

/// `{{ name }}` at `open`: the name's range and the offset after `}}`.
fn substitution(bytes: &[u8], open: usize) -> Option<(usize, usize, usize)> {
    let spaces = |mut at: usize| {
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
        at
    };
    let name_start = spaces(open + 2);
    let first = *bytes.get(name_start)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let mut name_end = name_start + 1;
    while bytes.get(name_end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        name_end += 1;
    }
    let name = std::str::from_utf8(&bytes[name_start..name_end]).ok()?;
    if NOT_PLAIN.contains(&name) {
        return None;
    }
    let close = spaces(name_end);
    (bytes.get(close..close + 2)? == b"}}").then_some((name_start, name_end, close + 2))
}

/// The text of one planned template, or `None` if a variable is not a bound string.
fn fill(source: &str, plan: &[Segment], bound: &Map<String, Value>) -> Option<String> {
    let slice = |start: u32, end: u32| source.get(start as usize..end as usize);
    let mut pieces = Vec::with_capacity(plan.len());
    for segment in plan {
        pieces.push(match *segment {
            Segment::Text { start, end } => slice(start, end)?,
            Segment::Variable { start, end } => bound.get(slice(start, end)?)?.as_str()?,
        });
    }
    Some(pieces.concat())
}

#[cfg(test)]
mod tests;
