//! Include resolution for rendering: finds `{% include %}` references level by level, resolves each
//! through the cache, detects cycles, enforces the depth limit, and compiles the version once with
//! every source it needs.
//!
//! The label rule: an unpinned include (`name`) follows the label the including prompt is served
//! through; when the included prompt has no such label it falls back to `production` (a shared
//! snippet usually has only that one), and when it has neither the error names both labels and the
//! including prompt. A pinned include (`name@N`) is that version, never a fallback.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opm_core::CoreError;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::template::{CompiledPrompt, MAX_INCLUDE_DEPTH, find_includes};
use opm_store::{Selector, StoreError};

use crate::entry::{ResolvedEntry, ServingContent};
use crate::plain::ServingTemplate;
use crate::{Registry, RegistryError};

/// Most include references followed in one render (bounds pathological fan-out).
const MAX_INCLUDE_VISITS: usize = 64;

/// A prompt version pulled in by an include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Included {
    /// As written: `name` or `name@N`.
    pub reference: String,
    pub prompt: PromptName,
    pub version: u32,
}

/// A version compiled with its includes.
#[derive(Debug)]
pub(crate) struct CompiledEntry {
    pub prompt: ServingTemplate,
    pub included: Vec<Included>,
    /// The other prompts this render depends on, through includes (for cache invalidation; the
    /// version's own prompt is not repeated here).
    pub depends_on: Vec<PromptName>,
}

impl ResolvedEntry {
    /// The compiled form, built on first use (failures are not cached, so a later fix is seen).
    pub(crate) async fn compiled(
        &self,
        registry: &Registry,
        project: &ProjectName,
        selector: &Selector,
    ) -> Result<&Arc<CompiledEntry>, RegistryError> {
        if let Some(compiled) = self.compiled.get() {
            return Ok(compiled);
        }
        // Until the compile is stored its dependencies are unknown: the mark makes an invalidation
        // meanwhile drop this entry (`ResolvedEntry::depends_on`). It is removed only once
        // `get_or_try_init` has returned, that is after the compile is stored, so one of the two
        // is always visible.
        let _compiling = CompilingMark::set(&self.compiling);
        self.compiled.get_or_try_init(|| compile(registry, project, selector, &self.prompt, &self.content)).await
    }
}

/// One caller compiling an entry, counted for as long as it lives (a dropped request uncounts too).
struct CompilingMark<'a>(&'a AtomicUsize);

impl<'a> CompilingMark<'a> {
    fn set(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for CompilingMark<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Compiles `content` as if it were a version of `root` served through `selector`: unpinned
/// includes resolve at the selector's label (`production` for a version number).
pub(crate) async fn compile(
    registry: &Registry,
    project: &ProjectName,
    selector: &Selector,
    root: &PromptName,
    content: &ServingContent,
) -> Result<Arc<CompiledEntry>, RegistryError> {
    let label = match selector {
        Selector::Label(label) => label.clone(),
        Selector::Version(_) => LabelName::production(),
    };
    let root = root.clone();
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut included: Vec<Included> = Vec::new();
    let mut depends_on: Vec<PromptName> = Vec::new();
    let mut pending: Vec<(Vec<String>, String)> =
        content.sources().map(|source| (vec![root.to_string()], source.to_owned())).collect();
    let mut visits = 0usize;
    while let Some((path, source)) = pending.pop() {
        for reference in find_includes(&source)? {
            let name = reference.prompt.to_string();
            if path.contains(&name) {
                let mut chain = path.clone();
                chain.push(name);
                return Err(CoreError::IncludeCycle(chain).into());
            }
            if path.len() > MAX_INCLUDE_DEPTH {
                let mut chain = path.clone();
                chain.push(name);
                return Err(CoreError::IncludeDepth { max: MAX_INCLUDE_DEPTH, chain }.into());
            }
            visits += 1;
            if visits > MAX_INCLUDE_VISITS {
                return Err(CoreError::Render(format!("more than {MAX_INCLUDE_VISITS} includes in one render")).into());
            }
            let target = match reference.version {
                Some(version) => registry.resolve(project, &reference.prompt, &Selector::Version(version)).await?,
                None => {
                    let including = path.last().cloned().unwrap_or_else(|| root.to_string());
                    resolve_unpinned(registry, project, &reference.prompt, &label, &including).await?
                }
            };
            let Some(template) = target.content.text() else {
                return Err(CoreError::IncludeNotText(name).into());
            };
            let template_name = reference.template_name();
            if !included.iter().any(|i| i.reference == template_name) {
                included.push(Included {
                    reference: template_name.clone(),
                    prompt: reference.prompt.clone(),
                    version: target.version,
                });
            }
            sources.insert(template_name, template.to_owned());
            if reference.prompt != root && !depends_on.contains(&reference.prompt) {
                depends_on.push(reference.prompt.clone());
            }
            let mut nested_path = path.clone();
            nested_path.push(name);
            pending.push((nested_path, template.to_owned()));
        }
    }
    let plain = if sources.is_empty() { ServingTemplate::plain(content) } else { None };
    let prompt = match plain {
        Some(plain) => plain,
        None => ServingTemplate::Compiled(Box::new(CompiledPrompt::compile(&content.to_content(), &sources)?)),
    };
    Ok(Arc::new(CompiledEntry { prompt, included, depends_on }))
}

/// An unpinned include at `label`, or at `production` when the included prompt has no `label`.
async fn resolve_unpinned(
    registry: &Registry,
    project: &ProjectName,
    prompt: &PromptName,
    label: &LabelName,
    including: &str,
) -> Result<Arc<ResolvedEntry>, RegistryError> {
    let missing = |fallback: Option<&LabelName>| RegistryError::IncludeLabelNotFound {
        prompt: prompt.to_string(),
        label: label.to_string(),
        fallback: fallback.map(ToString::to_string),
        including: including.to_owned(),
    };
    let production = LabelName::production();
    match registry.resolve(project, prompt, &Selector::Label(label.clone())).await {
        Err(RegistryError::Store(StoreError::LabelNotFound { .. })) if *label == production => Err(missing(None)),
        Err(RegistryError::Store(StoreError::LabelNotFound { .. })) => {
            match registry.resolve(project, prompt, &Selector::Label(production.clone())).await {
                Err(RegistryError::Store(StoreError::LabelNotFound { .. })) => Err(missing(Some(&production))),
                other => other,
            }
        }
        other => other,
    }
}
