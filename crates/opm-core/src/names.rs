//! Validated names: projects, prompts, labels and tags share one rule
//! (lowercase ASCII letters, digits, `-`, `_`, `.`; 1 to 128 characters; starts with a letter or digit).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::CoreError;

/// The longest name accepted.
pub const MAX_NAME_LEN: usize = 128;

const NAME_RULE: &str = "use 1 to 128 lowercase letters, digits, `-`, `_` or `.`, starting with a letter or digit";

fn check_name(what: &'static str, value: &str) -> Result<(), CoreError> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    let starts_ok = value.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if value.is_empty() || value.len() > MAX_NAME_LEN || !starts_ok || !value.chars().all(valid_char) {
        return Err(CoreError::InvalidName { what, value: truncate(value), rule: NAME_RULE });
    }
    Ok(())
}

fn truncate(value: &str) -> String {
    value.chars().take(MAX_NAME_LEN + 8).collect()
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            /// Validates `value` against the naming rule.
            pub fn parse(value: &str) -> Result<Self, CoreError> {
                check_name($what, value)?;
                Ok(Self(value.to_owned()))
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(&value).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A project (namespace) name, e.g. `default`.
    ProjectName,
    "project name"
);
name_type!(
    /// A prompt name, unique within its project.
    PromptName,
    "prompt name"
);
name_type!(
    /// A label name such as `production` or `staging`.
    LabelName,
    "label name"
);
name_type!(
    /// A tag attached to a prompt.
    TagName,
    "tag"
);

impl ProjectName {
    /// The project that always exists.
    pub fn default_project() -> Self {
        Self("default".to_owned())
    }
}

impl LabelName {
    /// The label OPM keeps pointing at the newest version.
    pub const LATEST: &'static str = "latest";
    /// The label resolved when none is given.
    pub const PRODUCTION: &'static str = "production";

    /// The `production` label.
    pub fn production() -> Self {
        Self(Self::PRODUCTION.to_owned())
    }

    /// The automatic `latest` label.
    pub fn latest() -> Self {
        Self(Self::LATEST.to_owned())
    }

    /// Whether this is the automatic `latest` label.
    pub fn is_latest(&self) -> bool {
        self.0 == Self::LATEST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, ok: bool) {
        assert_eq!(PromptName::parse(value).is_ok(), ok, "{value:?}");
    }

    #[test]
    fn name_rules() {
        check("welcome", true);
        check("a", true);
        check("support.reply-v2_final", true);
        check("9lives", true);
        check(&"a".repeat(128), true);
        check(&"a".repeat(129), false);
        check("", false);
        check("Welcome", false);
        check("-lead", false);
        check(".hidden", false);
        check("has space", false);
        check("slash/name", false);
        check("émoji", false);
        check("name@3", false);
    }

    #[test]
    fn error_names_the_value() {
        let error = LabelName::parse("Prod").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid label name `Prod`: use 1 to 128 lowercase letters, digits, `-`, `_` or `.`, starting with a letter or digit"
        );
    }

    #[test]
    fn deserialize_validates() {
        assert!(serde_json::from_str::<PromptName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<PromptName>("\"NOT OK\"").is_err());
    }
}
