//! RFC 9457 problem details, the body of every API error (`application/problem+json`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of problem responses.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An API error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the error class: `https://opm.dev/errors/{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the error class.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong and what to fix, for a person.
    pub detail: String,
    /// Stable machine-readable code (see `docs/errors.md`).
    pub code: String,
    /// The request id, also in the `x-request-id` header; quote it when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}
