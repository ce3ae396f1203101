//! The built-in secret scan: credentials of the major providers, private keys and JWTs in prompt
//! content are refused at publish, so a prompt never carries a live key to every client.
//!
//! Shapes (prefix and length, as the issuers document them): OpenAI `sk-…` and `sk-proj-…`,
//! Anthropic `sk-ant-…`, AWS access key ids `AKIA…`/`ASIA…`, GitHub `ghp_…` (and `gho_`, `ghu_`,
//! `ghs_`, `ghr_`) and `github_pat_…`, Slack `xox?-…`, Google `AIza…`, PEM private key headers,
//! and JSON Web Tokens (`eyJ….eyJ….…`).

use std::sync::LazyLock;

use regex::Regex;

/// One credential found: what it looks like and where (`template`/`messages[1]` with a 1-based
/// line, or a JSON part such as `metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFinding {
    pub kind: &'static str,
    pub place: String,
    pub line: Option<usize>,
}

static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("provider API key (sk-…)", r"\bsk-[A-Za-z0-9_-]{20,}"),
        ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
        ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
        ("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
        ("PEM private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
        ("JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ]
    .into_iter()
    .filter_map(|(kind, pattern)| Regex::new(pattern).ok().map(|regex| (kind, regex)))
    .collect()
});

/// Names the `sk-…` family more precisely than the pattern does.
fn refine(kind: &'static str, matched: &str) -> &'static str {
    if !matched.starts_with("sk-") {
        return kind;
    }
    if matched.starts_with("sk-ant-") {
        "Anthropic API key"
    } else if matched.starts_with("sk-proj-") {
        "OpenAI project API key"
    } else {
        "OpenAI API key"
    }
}

/// The credentials in `text`, each with its 1-based line, first per line and kind.
pub fn scan(place: &str, text: &str) -> Vec<SecretFinding> {
    let mut findings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for (kind, regex) in PATTERNS.iter() {
            if let Some(found) = regex.find(line) {
                let kind = refine(kind, found.as_str());
                findings.push(SecretFinding { kind, place: place.to_owned(), line: Some(index + 1) });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[&str]) {
        let kinds: Vec<&str> = scan("template", text).iter().map(|finding| finding.kind).collect();
        assert_eq!(kinds, expected, "{text}");
    }

    #[test]
    fn finds_credentials() {
        // Fake keys assembled at run time, so this file does not trip scanners itself.
        let tail = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6";
        check(&format!("key: sk-{tail}"), &["OpenAI API key"]);
        check(&format!("sk-proj-{tail}"), &["OpenAI project API key"]);
        check(&format!("use sk-ant-api03-{tail}"), &["Anthropic API key"]);
        check(&format!("AKIA{}", "IOSFODNN7EXAMPLE"), &["AWS access key id"]);
        check(&format!("ghp_{tail}abcd"), &["GitHub token"]);
        check(&format!("github_pat_11{tail}"), &["GitHub fine-grained token"]);
        check(&format!("xoxb-{}", "1234567890-abcdef"), &["Slack token"]);
        check(&format!("AIza{tail}abc"), &["Google API key"]);
        check(&format!("-----BEGIN RSA {}-----", "PRIVATE KEY"), &["PEM private key"]);
        check(&format!("-----BEGIN {}-----", "PRIVATE KEY"), &["PEM private key"]);
        check(&format!("eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.{tail}"), &["JSON Web Token"]);
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        check("Ask the user about their task-list and sk-ills.", &[]);
        check("A short sk-abc token is not a key; AKIA alone neither.", &[]);
        check("-----BEGIN PUBLIC KEY-----", &[]);
        check("{{ user_name }} asked: what is eyJ?", &[]);
    }

    #[test]
    fn reports_lines() {
        let text = format!("line one\nline two sk-{}\n", "A1b2C3d4E5f6G7h8I9j0K1l2");
        assert_eq!(scan("messages[1]", &text)[0].line, Some(2));
        assert_eq!(scan("messages[1]", &text)[0].place, "messages[1]");
        assert!(PATTERNS.len() == 8, "every pattern compiles");
    }
}
