//! Prompts as code: one YAML file per prompt (or a Dotprompt `.prompt` / Prompty `.prompty` file,
//! translated by the `dotprompt` and `prompty` modules), loaded strictly (unknown fields are errors) and
//! validated with opm-core before anything is sent, with errors pointing at `file:line:column`.
//!
//! ```yaml
//! name: support-reply            # required, the prompt's name
//! description: Answers a ticket  # optional
//! tags: [support]                # optional
//! message: tighten the tone      # optional version message (default "opm apply"; see plan.rs on repeats)
//! type: chat                     # chat | text (inferred from messages/template when left out)
//! messages:                      # chat: role + Jinja2 content
//!   - role: system
//!     content: You help {{ product }} customers.
//! template: "..."                # text: one Jinja2 template
//! variables:                     # every variable a template reads must be declared
//!   product: {type: string, description: Product name, default: OPM}
//! model: {provider: openai, model: gpt-4o-mini, parameters: {temperature: 0.2}}
//! metadata: {owner: support-team}
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use opm_api::prompts::ContentDto;
use opm_core::CoreError;
use opm_core::content::{ChatMessage, ModelConfig, PromptBody, PromptType, VariableSpec, VersionContent};
use opm_core::names::{PromptName, TagName};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::locate;

pub mod dotprompt;
mod front_matter;
pub mod prompty;

/// The commit message used when a file has none.
pub const DEFAULT_MESSAGE: &str = "opm apply";

/// A loaded, validated prompt file.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptFile {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub message: String,
    /// The line of the file's `message:` (none: the file has none and [`DEFAULT_MESSAGE`] is used).
    pub message_line: Option<u64>,
    pub content: VersionContent,
}

/// Why a file cannot be applied, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// The file as written, with source positions for the fields errors point at.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    message: Option<Spanned<String>>,
    #[serde(rename = "type", default)]
    kind: Option<Spanned<PromptType>>,
    #[serde(default)]
    messages: Option<Spanned<Vec<Spanned<ChatMessage>>>>,
    #[serde(default)]
    template: Option<Spanned<String>>,
    #[serde(default)]
    variables: BTreeMap<String, VariableSpec>,
    #[serde(default)]
    model: Option<ModelConfig>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// Source lines of the fields, for pointing validation errors at them.
#[derive(Debug, Default)]
pub struct FieldLines {
    pub kind: Option<u64>,
    pub messages: Option<u64>,
    pub message_items: Vec<u64>,
    pub template: Option<u64>,
}

/// Parses and validates one file's text; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<PromptFile, FileError> {
    let error_at = |line: Option<u64>, column: Option<u64>, message: String| FileError {
        path: path.to_owned(),
        line: line.filter(|line| *line > 0),
        column: column.filter(|column| *column > 0),
        message,
    };
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|error| {
        let location = error.location();
        let message = locate::yaml_message(&error);
        error_at(location.map(|l| l.line()), location.map(|l| l.column()), message)
    })?;
    let name_line = Some(raw.name.referenced.line());
    PromptName::parse(&raw.name.value).map_err(|error| error_at(name_line, None, error.to_string()))?;
    let mut tags = Vec::with_capacity(raw.tags.len());
    for tag in &raw.tags {
        TagName::parse(&tag.value).map_err(|error| error_at(Some(tag.referenced.line()), None, error.to_string()))?;
        tags.push(tag.value.clone());
    }
    let lines = FieldLines {
        kind: raw.kind.as_ref().map(|kind| kind.referenced.line()),
        messages: raw.messages.as_ref().map(|messages| messages.referenced.line()),
        message_items: raw
            .messages
            .as_ref()
            .map(|messages| messages.value.iter().map(|message| message.referenced.line()).collect())
            .unwrap_or_default(),
        template: raw.template.as_ref().map(|template| template.referenced.line()),
    };
    let kind = raw.kind.map(|kind| kind.value);
    let messages = raw.messages.map(|messages| messages.value.into_iter().map(|m| m.value).collect::<Vec<_>>());
    let template = raw.template.map(|template| template.value);
    let body = match (kind, messages, template) {
        (Some(PromptType::Chat) | None, Some(messages), None) => PromptBody::Chat { messages },
        (Some(PromptType::Text) | None, None, Some(template)) => PromptBody::Text { template },
        (_, Some(_), Some(_)) => {
            return Err(error_at(lines.template, None, "give `messages` (chat) or `template` (text), not both".into()));
        }
        (Some(PromptType::Chat), None, Some(_)) => {
            return Err(error_at(lines.template, None, "a chat prompt has `messages`, not `template`".into()));
        }
        (Some(PromptType::Text), Some(_), None) => {
            return Err(error_at(lines.messages, None, "a text prompt has `template`, not `messages`".into()));
        }
        (_, None, None) => {
            return Err(error_at(lines.kind, None, "a prompt needs `messages` (chat) or `template` (text)".into()));
        }
    };
    let content = VersionContent { body, variables: raw.variables, model: raw.model, metadata: raw.metadata };
    content.validate().map_err(|error| {
        let line = locate::content_error_line(&error, &lines, text);
        error_at(line, None, describe(&error))
    })?;
    Ok(PromptFile {
        path: path.to_owned(),
        name: raw.name.value,
        description: raw.description,
        tags,
        message_line: raw.message.as_ref().filter(|m| !m.value.trim().is_empty()).map(|m| m.referenced.line()),
        message: raw
            .message
            .map(|message| message.value)
            .filter(|message| !message.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_MESSAGE.into()),
        content,
    })
}

/// The validation error, with what to do about it where that is not obvious.
fn describe(error: &CoreError) -> String {
    match error {
        CoreError::TemplateUsesUndeclared { .. } => format!("{error}; declare them under `variables:`"),
        _ => error.to_string(),
    }
}

/// Parses a file by its extension: Dotprompt (`.prompt`), Prompty (`.prompty`), else OPM YAML.
pub fn parse_any(path: &Path, text: &str) -> Result<PromptFile, FileError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("prompt") => dotprompt::parse(path, text),
        Some("prompty") => prompty::parse(path, text),
        _ => parse(path, text),
    }
}

/// Loads a file, or every `*.yaml`/`*.yml`/`*.prompt`/`*.prompty` under a directory (recursively, in path order).
/// Every file is checked; all errors are returned together.
pub fn load(path: &Path) -> Result<Vec<PromptFile>, Vec<FileError>> {
    let paths = match find_files(path) {
        Ok(paths) => paths,
        Err(error) => return Err(vec![error]),
    };
    if paths.is_empty() {
        return Err(vec![FileError {
            path: path.to_owned(),
            line: None,
            column: None,
            message: "no prompt files (*.yaml, *.yml, *.prompt, *.prompty) found".into(),
        }]);
    }
    let mut files: Vec<PromptFile> = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|error| FileError { path: path.clone(), line: None, column: None, message: error.to_string() })
            .and_then(|text| parse_any(&path, &text));
        match parsed {
            Ok(file) => match files.iter().find(|other| other.name == file.name) {
                Some(other) => errors.push(FileError {
                    path: file.path.clone(),
                    line: None,
                    column: None,
                    message: format!("prompt `{}` is also defined in {}", file.name, other.path.display()),
                }),
                None => files.push(file),
            },
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() { Ok(files) } else { Err(errors) }
}

fn find_files(path: &Path) -> Result<Vec<PathBuf>, FileError> {
    let io_error = |path: &Path, error: std::io::Error| FileError {
        path: path.to_owned(),
        line: None,
        column: None,
        message: error.to_string(),
    };
    let metadata = std::fs::metadata(path).map_err(|error| io_error(path, error))?;
    if metadata.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut found = Vec::new();
    let mut pending = vec![path.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|error| io_error(&dir, error))? {
            let entry_path = entry.map_err(|error| io_error(&dir, error))?.path();
            let hidden = entry_path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if entry_path.is_dir() {
                pending.push(entry_path);
            } else if matches!(
                entry_path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "prompt" | "prompty")
            ) {
                found.push(entry_path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What `opm export` writes: the same format `parse` reads.
#[derive(Debug, Serialize)]
struct ExportedFile<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(flatten)]
    content: &'a ContentDto,
}

/// A prompt as YAML in the prompt-file format (no commit message: the next apply writes its own).
pub fn to_yaml(name: &str, description: &str, tags: &[String], content: &ContentDto) -> anyhow::Result<String> {
    crate::output::to_yaml(&ExportedFile { name, description, tags, content })
}

/// Domain content as wire content (the two share one flat JSON form).
pub fn content_to_dto(content: &VersionContent) -> anyhow::Result<ContentDto> {
    Ok(serde_json::from_value(serde_json::to_value(content)?)?)
}

/// Wire content as domain content.
pub fn dto_to_content(content: &ContentDto) -> anyhow::Result<VersionContent> {
    Ok(serde_json::from_value(serde_json::to_value(content)?)?)
}

#[cfg(test)]
mod import_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
