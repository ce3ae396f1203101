//! Property tests of the parsers a user's bytes reach first: prompt YAML files and the JSON request
//! bodies of the API (`opm-api` request types, which reject unknown fields). Arbitrary or mutated
//! input never panics, and an error names its place (line, and the offending field or value).

use std::path::Path;

use proptest::prelude::*;

use super::*;

const VALID: &str = "\
name: support-reply
description: Answers a ticket
tags: [support, chat]
type: chat
messages:
  - role: system
    content: You help {{ product }} customers.
  - role: user
    content: '{{ question }}'
variables:
  product: {type: string, default: OPM}
  question: {type: string}
";

fn parse_text(text: &str) -> Result<PromptFile, FileError> {
    parse(Path::new("p.yaml"), text)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any text, YAML-looking or not, is parsed or refused; never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t:{}\\[\\]\\-#&*!|>'\"%@`]{0,200}") {
        let _ = parse_text(&text);
    }

    /// A valid file cut anywhere, or with any text spliced in anywhere, never panics, and a
    /// refusal that comes from the YAML itself carries a line within the file.
    #[test]
    fn mutated_files_never_panic(at in 0..VALID.len(), insert in "[ -~\n]{0,12}", cut in any::<bool>()) {
        let at = (0..=at).rev().find(|i| VALID.is_char_boundary(*i)).unwrap_or(0);
        let text = if cut { VALID[..at].to_owned() } else { format!("{}{insert}{}", &VALID[..at], &VALID[at..]) };
        if let Err(error) = parse_text(&text) {
            let lines = u64::try_from(text.lines().count()).unwrap() + 1;
            prop_assert!(error.line.is_none_or(|line| line <= lines), "{error} (file has {lines} lines)");
            prop_assert!(!error.message.is_empty());
        }
    }

    /// An unknown field on any line is refused, naming the field and its line.
    #[test]
    fn unknown_fields_are_named_with_their_line(field in "zz[a-z_]{1,10}", line in 0_usize..4) {
        let mut lines: Vec<&str> = VALID.lines().collect();
        let extra = format!("{field}: 1");
        lines.insert(line, &extra);
        let error = parse_text(&lines.join("\n")).unwrap_err();
        prop_assert!(error.message.contains(&field), "{error}");
        prop_assert_eq!(error.line, Some(u64::try_from(line).unwrap() + 1), "{}", error);
    }

    /// A bad prompt name is refused at line 1, whatever the name.
    #[test]
    fn bad_names_point_at_line_one(name in "[a-z]{0,5}[ A-Z!$%^*+=~]{1,3}[a-z]{0,5}") {
        let text = VALID.replacen("support-reply", &format!("'{name}'"), 1);
        let error = parse_text(&text).unwrap_err();
        prop_assert_eq!(error.line, Some(1), "{}", error);
    }

    /// API request bodies: arbitrary bytes are parsed or refused without a panic, and a refusal
    /// names the line and column (serde_json's position) where the body went wrong.
    #[test]
    fn request_bodies_never_panic_and_name_the_place(body in "[ -~\n]{0,120}") {
        for result in [
            serde_json::from_str::<opm_api::prompts::CreateVersionRequest>(&body).map(|_| ()),
            serde_json::from_str::<opm_api::labels::SetLabelRequest>(&body).map(|_| ()),
            serde_json::from_str::<opm_api::rollouts::StartRolloutRequest>(&body).map(|_| ()),
        ] {
            if let Err(error) = result {
                prop_assert!(error.line() >= 1, "{error}");
                prop_assert!(error.to_string().contains("line"), "{error}");
            }
        }
    }

    /// An unknown field in a request body is refused by name.
    #[test]
    fn unknown_body_fields_are_named(field in "zz[a-z_]{1,10}") {
        let body = format!(r#"{{"version": 1, "reason": "r", "{field}": true}}"#);
        let error = serde_json::from_str::<opm_api::labels::SetLabelRequest>(&body).unwrap_err();
        prop_assert!(error.to_string().contains(&field), "{error}");
    }
}
