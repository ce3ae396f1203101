//! Pointing errors at lines of a prompt file: YAML errors carry their own position; opm-core
//! validation errors name a template (`template`, `messages[2]`) or a variable, which is found back
//! in the file.

use opm_core::CoreError;

use crate::prompt_file::FieldLines;

/// The parser's message without its source snippet or trailing position (the caller prints
/// `file:line:column` itself).
pub fn yaml_message(error: &serde_saphyr::Error) -> String {
    let text = error.without_snippet().to_string();
    let first_line = text.lines().next().unwrap_or_default().trim().to_owned();
    match first_line.rfind(" at line ") {
        Some(index) if first_line[index..].contains("column") => first_line[..index].trim_end().to_owned(),
        _ => first_line,
    }
}

/// The 1-based line of the field a validation error is about, when it can be found.
pub fn content_error_line(error: &CoreError, lines: &FieldLines, text: &str) -> Option<u64> {
    match error {
        CoreError::TemplateSyntax { template, .. } | CoreError::TemplateUsesUndeclared { template, .. } => {
            template_line(template, lines)
        }
        CoreError::InvalidInclude(reference) => {
            find_line(text, |line| line.contains("include") && line.contains(reference.as_str()))
        }
        CoreError::InvalidContent(message) => {
            if let Some(rest) = message.strip_prefix("messages[") {
                let index: usize = rest.split(']').next()?.parse().ok()?;
                return lines.message_items.get(index).copied();
            }
            if message.contains("message") {
                return lines.messages;
            }
            if let Some(name) = backquoted_after(message, "variable name `").or(backquoted_after(message, "variable `"))
            {
                return variable_line(text, name);
            }
            if message.starts_with("template ") {
                return lines.template;
            }
            None
        }
        _ => None,
    }
}

fn template_line(template: &str, lines: &FieldLines) -> Option<u64> {
    if template == "template" {
        return lines.template;
    }
    let index: usize = template.strip_prefix("messages[")?.strip_suffix(']')?.parse().ok()?;
    lines.message_items.get(index).copied().or(lines.messages)
}

fn backquoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let start = message.find(prefix)? + prefix.len();
    let rest = &message[start..];
    Some(&rest[..rest.find('`')?])
}

/// The line declaring `name` under the top-level `variables:` key.
fn variable_line(text: &str, name: &str) -> Option<u64> {
    let section = find_line(text, |line| line.starts_with("variables:"))?;
    let candidates = [format!("{name}:"), format!("\"{name}\":"), format!("'{name}':")];
    text.lines()
        .enumerate()
        .skip(usize::try_from(section).ok()?)
        .take_while(|(_, line)| line.is_empty() || line.starts_with([' ', '\t', '#']))
        .find(|(_, line)| candidates.iter().any(|candidate| line.trim_start().starts_with(candidate.as_str())))
        .and_then(|(index, _)| u64::try_from(index + 1).ok())
        .or(Some(section))
}

fn find_line(text: &str, predicate: impl Fn(&str) -> bool) -> Option<u64> {
    let index = text.lines().position(predicate)?;
    u64::try_from(index + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str =
        "name: x\nvariables:\n  topic:\n    type: string\n  '1bad': {}\ntype: text\ntemplate: '{{ topic }}'\n";

    #[test]
    fn variables_are_found_under_their_section() {
        assert_eq!(variable_line(FILE, "topic"), Some(3));
        assert_eq!(variable_line(FILE, "1bad"), Some(5));
        assert_eq!(variable_line(FILE, "missing"), Some(2));
        assert_eq!(variable_line("name: x\n", "topic"), None);
    }

    #[test]
    fn errors_map_to_field_lines() {
        let lines = FieldLines { kind: Some(1), messages: Some(4), message_items: vec![5, 7], template: Some(9) };
        let undeclared =
            |template: &str| CoreError::TemplateUsesUndeclared { template: template.into(), names: vec![] };
        assert_eq!(content_error_line(&undeclared("template"), &lines, ""), Some(9));
        assert_eq!(content_error_line(&undeclared("messages[1]"), &lines, ""), Some(7));
        let role = CoreError::InvalidContent("messages[0].role `robot` is not one of …".into());
        assert_eq!(content_error_line(&role, &lines, ""), Some(5));
        let empty = CoreError::InvalidContent("a chat prompt needs at least one message".into());
        assert_eq!(content_error_line(&empty, &lines, ""), Some(4));
        let default = CoreError::InvalidContent("default of variable `topic` must be number, got string".into());
        assert_eq!(content_error_line(&default, &lines, FILE), Some(3));
        let render = CoreError::Render("boom".into());
        assert_eq!(content_error_line(&render, &lines, FILE), None);
    }
}
