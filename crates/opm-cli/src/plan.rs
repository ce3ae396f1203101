//! The plan of `opm apply`: per prompt file, compare local content with the server's latest
//! version (by content hash) and its description and tags, and decide what to do. Pure: the
//! server's state comes in as [`RemoteState`].
//!
//! A new version's message is the file's `message:`, except when the content changed but that
//! message is the one of the version it replaces (a file edited without touching its message would
//! claim to be the first version again): then `--reason` is the message, and without `--reason`
//! the file is refused, naming the file and its `message:` line.

use std::collections::{BTreeMap, BTreeSet};

use opm_core::content::VersionContent;
use opm_core::diff::{diff_versions, render_for_diff};
use opm_core::template::find_includes;
use serde::Serialize;

use crate::prompt_file::PromptFile;

/// What the server has for one prompt.
#[derive(Debug, Clone)]
pub struct RemoteState {
    pub description: String,
    pub tags: Vec<String>,
    pub archived: bool,
    pub latest: Option<RemoteVersion>,
    /// Where the label given with `--label` points now.
    pub label_version: Option<u32>,
}

/// The server's latest version of a prompt.
#[derive(Debug, Clone)]
pub struct RemoteVersion {
    pub version: u32,
    pub content_hash: String,
    pub content: VersionContent,
    /// The version's commit message.
    pub message: String,
}

/// What happens to a prompt's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ContentChange {
    /// The prompt does not exist: create it with its first version.
    Create,
    /// Publish a new version; `from` is the current latest (none for a prompt without versions).
    NewVersion { from: Option<u32>, changed_fields: Vec<String> },
    /// The latest version already has this content.
    Unchanged { version: u32 },
}

/// Moving the `--label` label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelMove {
    pub label: String,
    pub from: Option<u32>,
    /// The target version; none when it is the version this apply publishes.
    pub to: Option<u32>,
}

/// The plan for one prompt file.
#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    pub name: String,
    pub file: String,
    /// `create`, `new version`, `update` or `unchanged`.
    pub action: &'static str,
    pub content: ContentChange,
    /// `description` and/or `tags` when they differ from the server's.
    pub metadata_changes: Vec<String>,
    pub label: Option<LabelMove>,
    /// The message of the version this apply publishes (none when it publishes nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the message is not the file's (it repeats the replaced version's; `--reason` is used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_note: Option<String>,
    /// Why this file cannot be applied as it is (nothing is written while any file is refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// A unified diff of the content (all `+` for a new prompt), empty when unchanged.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
}

impl PlanItem {
    /// Whether applying this item writes anything.
    pub fn is_noop(&self) -> bool {
        matches!(self.content, ContentChange::Unchanged { .. })
            && self.metadata_changes.is_empty()
            && self.label.is_none()
    }
}

/// Plans one file against the server's state (`None`: the prompt does not exist); `reason` is
/// `--reason`.
pub fn plan_item(
    file: &PromptFile,
    remote: Option<&RemoteState>,
    label: Option<&str>,
    reason: Option<&str>,
) -> Result<PlanItem, String> {
    let local_hash = file.content.content_hash();
    let (content, metadata_changes, diff) = match remote {
        None => (ContentChange::Create, Vec::new(), added_diff(&file.name, &file.content)),
        Some(remote) if remote.archived => {
            return Err(format!(
                "{}: prompt `{}` is archived; run `opm restore {}` first",
                file.path.display(),
                file.name,
                file.name
            ));
        }
        Some(remote) => {
            let mut metadata_changes = Vec::new();
            if remote.description != file.description {
                metadata_changes.push("description".to_owned());
            }
            if remote.tags != file.tags {
                metadata_changes.push("tags".to_owned());
            }
            let (content, diff) = match &remote.latest {
                None => (
                    ContentChange::NewVersion { from: None, changed_fields: vec!["content".into()] },
                    added_diff(&file.name, &file.content),
                ),
                Some(latest) if latest.content_hash == local_hash => {
                    (ContentChange::Unchanged { version: latest.version }, String::new())
                }
                Some(latest) => {
                    let diff = diff_versions(latest.version, &latest.content, latest.version + 1, &file.content);
                    let mut changed_fields = diff.changed_fields;
                    if changed_fields.is_empty() {
                        // Equal as far as the diff can tell, yet hashed differently: publish anyway.
                        changed_fields.push("content".into());
                    }
                    (ContentChange::NewVersion { from: Some(latest.version), changed_fields }, diff.unified)
                }
            };
            (content, metadata_changes, diff)
        }
    };
    let label = label.and_then(|label| {
        let current = remote.and_then(|remote| remote.label_version);
        match &content {
            ContentChange::Unchanged { version } if current == Some(*version) => None,
            ContentChange::Unchanged { version } => {
                Some(LabelMove { label: label.into(), from: current, to: Some(*version) })
            }
            _ => Some(LabelMove { label: label.into(), from: current, to: None }),
        }
    });
    let (message, message_note, refused) = version_message(file, remote, &content, reason);
    let action = match (&content, metadata_changes.is_empty()) {
        (ContentChange::Create, _) => "create",
        (ContentChange::NewVersion { .. }, _) => "new version",
        (ContentChange::Unchanged { .. }, false) => "update",
        (ContentChange::Unchanged { .. }, true) => "unchanged",
    };
    Ok(PlanItem {
        name: file.name.clone(),
        file: file.path.display().to_string(),
        action,
        content,
        metadata_changes,
        label,
        message,
        message_note,
        refused,
        diff,
    })
}

/// The message a published version gets, a note when it is not the file's, and a refusal.
fn version_message(
    file: &PromptFile,
    remote: Option<&RemoteState>,
    content: &ContentChange,
    reason: Option<&str>,
) -> (Option<String>, Option<String>, Option<String>) {
    let replaced = match content {
        ContentChange::Unchanged { .. } => return (None, None, None),
        ContentChange::Create | ContentChange::NewVersion { from: None, .. } => None,
        ContentChange::NewVersion { from: Some(_), .. } => remote.and_then(|remote| remote.latest.as_ref()),
    };
    let Some((replaced, line)) = replaced.zip(file.message_line).filter(|(r, _)| r.message == file.message) else {
        return (Some(file.message.clone()), None, None);
    };
    let place = format!("{}:{line}", file.path.display());
    match reason.map(str::trim).filter(|reason| !reason.is_empty()) {
        Some(reason) => (
            Some(reason.to_owned()),
            Some(format!("message from --reason: `message:` ({place}) repeats v{}'s", replaced.version)),
            None,
        ),
        None => (
            None,
            None,
            Some(format!(
                "{place}: `message: {}` is the message of v{} this version replaces; \
                 change `message:` or give --reason",
                file.message, replaced.version
            )),
        ),
    }
}

/// A diff that adds every line of `content`, for a prompt the server does not have yet.
fn added_diff(name: &str, content: &VersionContent) -> String {
    let mut diff = format!("--- /dev/null\n+++ {name} (new)\n");
    for line in render_for_diff(content).lines() {
        diff.push('+');
        diff.push_str(line);
        diff.push('\n');
    }
    diff
}

/// Orders files so that prompts included by others (`{% include "name" %}`) come first.
pub fn order_by_includes(files: Vec<PromptFile>) -> Vec<PromptFile> {
    let names: BTreeSet<String> = files.iter().map(|file| file.name.clone()).collect();
    let dependencies: BTreeMap<String, Vec<String>> = files
        .iter()
        .map(|file| {
            let included = file
                .content
                .templates()
                .into_iter()
                .flat_map(|(_, source)| find_includes(source).unwrap_or_default())
                .map(|reference| reference.prompt.to_string())
                .filter(|name| names.contains(name) && *name != file.name)
                .collect();
            (file.name.clone(), included)
        })
        .collect();
    let mut ordered_names = Vec::new();
    let mut visited = BTreeSet::new();
    for file in &files {
        visit(&file.name, &dependencies, &mut visited, &mut ordered_names);
    }
    let mut by_name: BTreeMap<String, PromptFile> = files.into_iter().map(|file| (file.name.clone(), file)).collect();
    ordered_names.iter().filter_map(|name| by_name.remove(name)).collect()
}

fn visit(
    name: &str,
    dependencies: &BTreeMap<String, Vec<String>>,
    visited: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) {
    if !visited.insert(name.to_owned()) {
        return;
    }
    for dependency in dependencies.get(name).into_iter().flatten() {
        visit(dependency, dependencies, visited, out);
    }
    out.push(name.to_owned());
}

#[cfg(test)]
mod tests;
