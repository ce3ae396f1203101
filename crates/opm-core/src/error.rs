//! The crate's one error enum, plus the protocol-neutral [`ErrorKind`] every OPM crate maps to.
//!
//! The HTTP layer turns an [`ErrorKind`] into a status code in exactly one place; the stable
//! `code()` strings form the public error catalogue (`docs/errors.md`).

use std::fmt;

/// What kind of failure an error is, independent of any protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is malformed or breaks a rule; fixing the input fixes the call.
    Invalid,
    /// The request cannot be read as sent (not the wire format, an unknown parameter): a client bug
    /// rather than a broken rule.
    Malformed,
    /// The thing asked for does not exist (or is archived and so hidden).
    NotFound,
    /// The request conflicts with the current state (already exists, archived, nothing to roll back).
    Conflict,
    /// No valid credentials were given.
    Unauthenticated,
    /// Valid credentials without the needed role or project.
    Forbidden,
    /// The request body is larger than allowed.
    TooLarge,
    /// Too many requests.
    RateLimited,
    /// A dependency (the database, an overloaded model provider, an open circuit breaker) is not
    /// reachable right now; retrying may help.
    Unavailable,
    /// A dependency answered, but wrongly: an upstream model provider failed, rejected OPM's
    /// credentials or sent something unreadable.
    UpstreamFailed,
    /// A deadline ran out waiting on a dependency.
    TimedOut,
    /// A bug or an unexpected state; details are logged, never returned.
    Internal,
}

impl ErrorKind {
    /// Every kind, for tables that must cover them all.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::Invalid,
        ErrorKind::Malformed,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Unauthenticated,
        ErrorKind::Forbidden,
        ErrorKind::TooLarge,
        ErrorKind::RateLimited,
        ErrorKind::Unavailable,
        ErrorKind::UpstreamFailed,
        ErrorKind::TimedOut,
        ErrorKind::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::Malformed => "malformed",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::TooLarge => "too large",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::UpstreamFailed => "upstream failed",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Internal => "internal",
        };
        f.write_str(text)
    }
}

/// Errors raised by domain validation and template rendering.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CoreError {
    #[error("invalid {what} `{value}`: {rule}")]
    InvalidName { what: &'static str, value: String, rule: &'static str },
    #[error("invalid prompt content: {0}")]
    InvalidContent(String),
    #[error("template `{template}` does not parse: {message}")]
    TemplateSyntax { template: String, message: String },
    #[error("template `{template}` uses undeclared variables: {}", names.join(", "))]
    TemplateUsesUndeclared { template: String, names: Vec<String> },
    #[error("missing required variables: {}", .0.join(", "))]
    MissingVariables(Vec<String>),
    #[error("undeclared variables given: {} (declared: {})", names.join(", "), declared.join(", "))]
    UndeclaredVariables { names: Vec<String>, declared: Vec<String> },
    #[error("variable `{name}` must be {expected}, got {actual}")]
    VariableType { name: String, expected: String, actual: String },
    #[error("rendering failed: {0}")]
    Render(String),
    #[error("include cycle: {}", .0.join(" -> "))]
    IncludeCycle(Vec<String>),
    #[error("includes nested deeper than {max} levels: {}", chain.join(" -> "))]
    IncludeDepth { max: usize, chain: Vec<String> },
    #[error("invalid include `{0}`: use `name` or `name@VERSION` as a string literal")]
    InvalidInclude(String),
    #[error("prompt `{0}` is a chat prompt; only text prompts can be included")]
    IncludeNotText(String),
    #[error("label `{0}` is managed by OPM and cannot be moved")]
    ReservedLabel(String),
    #[error("invalid label target: {0}")]
    InvalidTarget(String),
    #[error("unknown role `{0}` (expected viewer, editor, deployer or admin)")]
    UnknownRole(String),
    #[error("invalid split: {0}")]
    InvalidSplit(String),
    #[error(
        "unsupported bucketing algorithm `{algorithm}` version {version} (this build knows `{known}` version {known_version})"
    )]
    UnsupportedBucketing { algorithm: String, version: u32, known: &'static str, known_version: u32 },
    #[error("invalid rollout: {0}")]
    InvalidRollout(String),
    #[error("cannot {action} a rollout that is {state}")]
    RolloutTransition { action: &'static str, state: &'static str },
    #[error(
        "key `{0}` is the key making this request; revoking it locks this client out, so it needs an explicit force (`?force=true`, `opm keys revoke --force`)"
    )]
    SelfRevocation(String),
    #[error("invalid key expiry: {0}")]
    InvalidExpiry(String),
    #[error("invalid governance policy: {0}")]
    InvalidPolicy(String),
    #[error(
        "label `{label}` of prompt `{prompt}` is protected: moving it needs the `{move_role}` role and {approvals} approval(s); file a change request with POST /api/v1/prompts/{prompt}/labels/{label}/requests (`opm request`), or for a rollout POST /api/v1/prompts/{prompt}/rollouts/requests (`opm rollout start --request`)"
    )]
    LabelProtected { prompt: String, label: String, move_role: String, approvals: u8 },
    #[error(
        "the project is frozen by `{name}` ({reason}) until {until}: label moves and rollout starts are refused; rollbacks and rollout aborts still work"
    )]
    Frozen { name: String, reason: String, until: String },
    #[error("change request {id} was filed by this caller: someone else must approve it (four eyes)")]
    SelfApproval { id: i64 },
    #[error("only the author of change request {id} or an admin may cancel it")]
    NotRequestAuthor { id: i64 },
    #[error("change request {id} already has an approval from `{name}`")]
    AlreadyApproved { id: i64, name: String },
    #[error("change request {id} is {state}, not pending")]
    ChangeRequestClosed { id: i64, state: &'static str },
    #[error("the project's publish policy refuses this version: {}", describe_violations(.0))]
    PublishRefused(Vec<crate::governance::publish::Violation>),
}

fn describe_violations(violations: &[crate::governance::publish::Violation]) -> String {
    let parts: Vec<String> = violations.iter().map(|v| format!("{} at {}: {}", v.rule, v.place, v.detail)).collect();
    parts.join("; ")
}

impl CoreError {
    /// The protocol-neutral kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::RolloutTransition { .. }
            | CoreError::SelfRevocation(_)
            | CoreError::Frozen { .. }
            | CoreError::AlreadyApproved { .. }
            | CoreError::ChangeRequestClosed { .. } => ErrorKind::Conflict,
            CoreError::LabelProtected { .. } | CoreError::SelfApproval { .. } | CoreError::NotRequestAuthor { .. } => {
                ErrorKind::Forbidden
            }
            _ => ErrorKind::Invalid,
        }
    }

    /// A stable machine-readable code from the error catalogue.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::InvalidName { .. } => "invalid_name",
            CoreError::InvalidContent(_) => "invalid_content",
            CoreError::TemplateSyntax { .. } => "template_syntax",
            CoreError::TemplateUsesUndeclared { .. } => "template_undeclared_variable",
            CoreError::MissingVariables(_) => "missing_variables",
            CoreError::UndeclaredVariables { .. } => "undeclared_variables",
            CoreError::VariableType { .. } => "variable_type",
            CoreError::Render(_) => "render_failed",
            CoreError::IncludeCycle(_) => "include_cycle",
            CoreError::IncludeDepth { .. } => "include_depth",
            CoreError::InvalidInclude(_) => "invalid_include",
            CoreError::IncludeNotText(_) => "include_not_text",
            CoreError::ReservedLabel(_) => "reserved_label",
            CoreError::InvalidTarget(_) => "invalid_label_target",
            CoreError::UnknownRole(_) => "unknown_role",
            CoreError::InvalidSplit(_) => "invalid_split",
            CoreError::UnsupportedBucketing { .. } => "unsupported_bucketing",
            CoreError::InvalidRollout(_) => "invalid_rollout",
            CoreError::SelfRevocation(_) => "self_revocation",
            CoreError::InvalidExpiry(_) => "invalid_expiry",
            CoreError::RolloutTransition { .. } => "rollout_state_conflict",
            CoreError::InvalidPolicy(_) => "invalid_policy",
            CoreError::LabelProtected { .. } => "label_protected",
            CoreError::Frozen { .. } => "change_freeze",
            CoreError::SelfApproval { .. } => "self_approval",
            CoreError::NotRequestAuthor { .. } => "not_request_author",
            CoreError::AlreadyApproved { .. } => "already_approved",
            CoreError::ChangeRequestClosed { .. } => "change_request_closed",
            CoreError::PublishRefused(_) => "publish_policy_violation",
        }
    }
}
