//! Which templates the Langfuse SDKs compile exactly as OPM renders them: only plain
//! `{{ identifier }}` substitution. Python's `TemplateParser` looks up the trimmed text between
//! `{{` and `}}` as a key and leaves anything else literal; JS uses mustache. Filters, statements,
//! comments and includes would reach the application half-rendered, so they are refused instead.

/// The variables a plain template substitutes, in order of first use, or the first construct the
/// SDKs would not render as OPM does (quoted as written, shortened).
pub fn plain_variables(template: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(start) = find_open(rest) {
        let opener = &rest[start..start + 2];
        let after = &rest[start + 2..];
        let closer = match opener {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let Some(end) = after.find(closer) else {
            return Err(format!("an unclosed `{opener}`"));
        };
        let inner = &after[..end];
        let written = format!("{opener}{inner}{closer}");
        if opener != "{{" || !is_identifier(inner.trim()) {
            return Err(format!("`{}`", shorten(&written)));
        }
        let name = inner.trim().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
        rest = &after[end + 2..];
    }
    Ok(names)
}

fn find_open(text: &str) -> Option<usize> {
    ["{{", "{%", "{#"].iter().filter_map(|opener| text.find(opener)).min()
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::plain_variables;

    fn check(template: &str, expected: Result<&[&str], &str>) {
        let got = plain_variables(template);
        let expected = expected.map(|names| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>());
        assert_eq!(got, expected.map_err(str::to_owned), "{template:?}");
    }

    #[test]
    fn plain_substitution_is_accepted() {
        check("", Ok(&[]));
        check("no variables }} at all", Ok(&[]));
        check("Hi {{name}}", Ok(&["name"]));
        check("Hi {{ name }}, {{ name }} and {{ _x1 }}", Ok(&["name", "_x1"]));
    }

    #[test]
    fn everything_else_is_named() {
        check("{{ name | upper }}", Err("`{{ name | upper }}`"));
        check("{{ user.name }}", Err("`{{ user.name }}`"));
        check("{{- name }}", Err("`{{- name }}`"));
        check("a {% if vip %}VIP{% endif %}", Err("`{% if vip %}`"));
        check("{% include \"other\" %}", Err("`{% include \"other\" %}`"));
        check("{# note #} hi", Err("`{# note #}`"));
        check("{{ name", Err("an unclosed `{{`"));
        check("{{ 1name }}", Err("`{{ 1name }}`"));
    }
}
