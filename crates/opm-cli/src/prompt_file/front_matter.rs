//! What Dotprompt (`.prompt`) and Prompty (`.prompty`) files share: YAML front matter between
//! `---` lines, a template body after it, and errors that point at a line of the file.

use std::path::Path;

use serde_json::{Map, Value};

use super::FileError;

/// A split file: the front matter as JSON, the body, and the file line the body starts on.
pub struct Split {
    pub meta: Map<String, Value>,
    pub body: String,
    pub body_line: u64,
}

/// Splits `text` at its front matter (leading blank and `#` comment lines allowed before it).
pub fn split(path: &Path, text: &str) -> Result<Split, FileError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines.iter().position(|line| {
        let trimmed = line.trim();
        !(trimmed.is_empty() || trimmed.starts_with('#'))
    });
    let Some(start) = start.filter(|&i| is_fence(lines[i])) else {
        return Ok(Split { meta: Map::new(), body: text.to_owned(), body_line: 1 });
    };
    let Some(end) = lines.iter().skip(start + 1).position(|line| is_fence(line)).map(|i| i + start + 1) else {
        return Err(error(path, Some(start as u64 + 1), "the front matter opened here has no closing `---`"));
    };
    let yaml: String = lines[start + 1..end].concat();
    let meta = if yaml.trim().is_empty() {
        Map::new()
    } else {
        let value: Value = serde_saphyr::from_str(&yaml).map_err(|e| {
            let line = e.location().map(|l| l.line() + start as u64 + 1);
            error(path, line, format!("front matter: {}", crate::locate::yaml_message(&e)))
        })?;
        match value {
            Value::Object(meta) => meta,
            Value::Null => Map::new(),
            _ => return Err(error(path, Some(start as u64 + 2), "the front matter must be a YAML mapping")),
        }
    };
    Ok(Split { meta, body: lines[end + 1..].concat(), body_line: end as u64 + 2 })
}

fn is_fence(line: &str) -> bool {
    matches!(line.trim_end(), "---" | "+++")
}

/// An error at `line` of `path`.
pub fn error(path: &Path, line: Option<u64>, message: impl Into<String>) -> FileError {
    FileError { path: path.to_owned(), line, column: None, message: message.into() }
}

/// The line of the front-matter key `key` (`key:` at the start of a line), for errors.
pub fn key_line(text: &str, key: &str) -> Option<u64> {
    text.lines().position(|line| line.trim_start().starts_with(&format!("{key}:"))).map(|i| i as u64 + 1)
}
