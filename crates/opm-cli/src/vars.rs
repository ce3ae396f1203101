//! Render variables from the command line: `--var key=value` (JSON when it parses, else a string)
//! layered over an optional `--vars-file` JSON object.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// Parses one `key=value`. The value is JSON when it parses as JSON (`3`, `true`, `["a"]`,
/// `"quoted"`), otherwise the raw text as a string.
pub fn parse_var(text: &str) -> anyhow::Result<(String, Value)> {
    let Some((key, raw)) = text.split_once('=') else {
        bail!("`--var {text}` must look like key=value");
    };
    let key = key.trim();
    if key.is_empty() {
        bail!("`--var {text}` has an empty variable name");
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    Ok((key.to_owned(), value))
}

/// The variables of a render: the file's object first, then each `--var` in order.
pub fn collect_vars(vars: &[String], vars_file: Option<&Path>) -> anyhow::Result<Map<String, Value>> {
    let mut variables = match vars_file {
        Some(path) => read_vars_file(path)?,
        None => Map::new(),
    };
    for text in vars {
        let (key, value) = parse_var(text)?;
        variables.insert(key, value);
    }
    Ok(variables)
}

fn read_vars_file(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    match value {
        Value::Object(map) => Ok(map),
        other => bail!("{} must hold a JSON object of variables, not {}", path.display(), kind(&other)),
    }
}

fn kind(value: &Value) -> &'static str {
    opm_core::content::json_type_name(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(input: &str, key: &str, value: Value) {
        assert_eq!(parse_var(input).unwrap(), (key.to_owned(), value), "{input}");
    }

    #[test]
    fn values_are_json_when_they_parse() {
        check("n=3", "n", json!(3));
        check("ratio=0.5", "ratio", json!(0.5));
        check("ok=true", "ok", json!(true));
        check("items=[1,2]", "items", json!([1, 2]));
        check("obj={\"a\":1}", "obj", json!({"a": 1}));
        check("quoted=\"42\"", "quoted", json!("42"));
        check("nothing=null", "nothing", Value::Null);
    }

    #[test]
    fn other_values_are_strings() {
        check("name=Ada", "name", json!("Ada"));
        check("empty=", "empty", json!(""));
        check("eq=a=b", "eq", json!("a=b"));
        check("sentence=hello world", "sentence", json!("hello world"));
        check("broken=[1,", "broken", json!("[1,"));
        check(" spaced =x", "spaced", json!("x"));
    }

    #[test]
    fn malformed_vars_are_rejected() {
        assert!(parse_var("novalue").unwrap_err().to_string().contains("key=value"));
        assert!(parse_var("=x").unwrap_err().to_string().contains("empty variable name"));
    }

    #[test]
    fn command_line_vars_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.json");
        std::fs::write(&path, r#"{"a": 1, "b": "file"}"#).unwrap();
        let vars = collect_vars(&["b=cli".into(), "c=[true]".into()], Some(&path)).unwrap();
        assert_eq!(Value::Object(vars), json!({"a": 1, "b": "cli", "c": [true]}));
        std::fs::write(&path, "[1]").unwrap();
        let error = collect_vars(&[], Some(&path)).unwrap_err();
        assert!(error.to_string().contains("must hold a JSON object of variables, not array"), "{error}");
    }
}
