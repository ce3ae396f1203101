//! The HTTP routes, one module per resource. Handlers are thin: parse, authorize, call the
//! registry or store, convert to wire types.

pub mod audit;
pub mod governance;
pub mod health;
pub mod keys;
pub mod labels;
pub mod langfuse;
pub mod llm;
pub mod mcp;
pub mod prompts;
pub mod rollouts;
pub mod series;
pub mod serving;
pub mod telemetry;
pub mod versions;
pub mod watch;

use opm_core::names::{LabelName, PromptName};

use crate::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;

/// Clamps a requested page size.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => Err(ApiError::invalid("invalid_query", "`limit` must be at least 1")),
        Some(n) if n > MAX_LIMIT => {
            Err(ApiError::invalid("invalid_query", format!("`limit` must be at most {MAX_LIMIT}")))
        }
        Some(n) => Ok(n),
    }
}

/// Parses a prompt name from the path.
pub fn prompt_name(name: &str) -> Result<PromptName, ApiError> {
    PromptName::parse(name).map_err(ApiError::from)
}

/// Parses a label name from the path or query.
pub fn label_name(name: &str) -> Result<LabelName, ApiError> {
    LabelName::parse(name).map_err(ApiError::from)
}

/// Parses a version number from the path.
pub fn version_number(text: &str) -> Result<u32, ApiError> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ApiError::invalid("invalid_version", format!("`{text}` is not a version number (1, 2, 3…)"))),
    }
}
