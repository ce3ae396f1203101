//! Governance: a project's policy (protected labels, freeze windows, the immediate freeze, publish
//! rules), change requests on protected labels, and the publish check.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ActorDto;
use crate::labels::LabelTargetDto;

/// A project's governance rules, as `PUT /api/v1/governance` takes them (the immediate freeze is
/// set and lifted with its own routes, so it is not part of this body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRulesDto {
    /// Labels only some roles may move, with the approvals a move needs.
    #[serde(default)]
    pub protected_labels: Vec<LabelProtectionDto>,
    /// Planned freezes: label moves and rollout starts are refused inside each window.
    #[serde(default)]
    pub freeze_windows: Vec<FreezeWindowDto>,
    #[serde(default)]
    pub publish: PublishPolicyDto,
    /// Request rates and spend budgets on the gateway's LLM routes (`/v1/chat/completions`,
    /// `/v1/messages`, `…/invoke`); over a limit a call gets 429 with `Retry-After`.
    #[serde(default)]
    pub limits: GatewayLimitsDto,
}

/// A project's gateway limits: for the whole project, for each key, and per-key overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayLimitsDto {
    /// Limits on all the project's calls together.
    #[serde(default)]
    pub project: LimitsDto,
    /// Limits on each key's calls (unless the key has an override).
    #[serde(default)]
    pub per_key: LimitsDto,
    /// Overrides by key id (the `id` of `opm keys list`), replacing `per_key` for that key (at
    /// most 1,000).
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, LimitsDto>,
}

/// One set of limits; an absent field does not limit. Budgets count the price table's cost of
/// stored calls (US dollars) per UTC day and calendar month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsDto {
    /// Sustained requests per second (a token bucket's refill rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0, maximum = 1000000)]
    pub requests_per_second: Option<f64>,
    /// Requests that may arrive at once (the bucket's size; default one second's worth, at least
    /// 1). Needs `requests_per_second`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub burst: Option<u32>,
    /// Spend per UTC day, in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub daily_usd: Option<f64>,
    /// Spend per UTC calendar month, in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub monthly_usd: Option<f64>,
}

/// How one label is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelProtectionDto {
    #[schema(min_length = 1, max_length = 128, pattern = r"^[a-z0-9][a-z0-9_.-]{0,127}$")]
    pub label: String,
    /// `deployer` or `admin`: the least role that may move the label and approve its requests.
    #[schema(schema_with = move_role_schema)]
    pub move_role: String,
    /// Approvals (0, 1 or 2) a move needs from keys other than its author.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub approvals: u8,
}

fn move_role_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["deployer", "admin"]))
        .description(Some("`deployer` or `admin`: the least role that may move the label and approve its requests."))
        .build()
}

/// A planned freeze window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeWindowDto {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`.
    pub ends_at: DateTime<Utc>,
    #[schema(pattern = r"\S")]
    pub reason: String,
}

/// Rules every new version must pass; the secret scan is on unless turned off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishPolicyDto {
    /// The version message must not be blank.
    #[serde(default)]
    pub require_message: bool,
    /// The prompt's description must not be blank.
    #[serde(default)]
    pub require_description: bool,
    /// Longest template or message content, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_template_chars: Option<u32>,
    /// Providers a version may name (empty: any).
    #[serde(default)]
    pub allowed_providers: Vec<String>,
    /// Models a version may name, `model` or `provider/model` (empty: any).
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Every declared variable needs a description.
    #[serde(default)]
    pub require_documented_variables: bool,
    /// Regular expressions no template line may match.
    #[serde(default)]
    pub forbidden_patterns: Vec<ForbiddenPatternDto>,
    /// Refuse content that looks like a credential (provider API keys, AWS, GitHub, Slack, Google
    /// keys, PEM private keys, JWTs).
    #[serde(default = "default_true")]
    pub secret_scan: bool,
}

fn default_true() -> bool {
    true
}

impl Default for PublishPolicyDto {
    fn default() -> Self {
        Self {
            require_message: false,
            require_description: false,
            max_template_chars: None,
            allowed_providers: Vec::new(),
            allowed_models: Vec::new(),
            require_documented_variables: false,
            forbidden_patterns: Vec::new(),
            secret_scan: true,
        }
    }
}

/// A named regular expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenPatternDto {
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// A regular expression (Rust `regex` syntax); one that does not compile is refused.
    pub pattern: String,
}

/// `PUT /api/v1/governance`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPolicyRequest {
    pub rules: PolicyRulesDto,
    /// The revision read (0 before the first policy); a policy changed since is a 409.
    #[schema(minimum = 0)]
    pub expected_revision: i64,
    #[schema(pattern = r"\S")]
    pub reason: String,
}

/// The immediate freeze in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImmediateFreezeDto {
    pub reason: String,
    pub since: DateTime<Utc>,
    pub by: ActorDto,
}

/// The freeze in force now, whichever it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActiveFreezeDto {
    /// The window's name, or `immediate`.
    pub name: String,
    pub reason: String,
    /// When it ends by itself (absent for the immediate freeze).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// `GET /api/v1/governance`: the project's policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyDto {
    pub project: String,
    pub rules: PolicyRulesDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<ImmediateFreezeDto>,
    /// What is frozen right now (the immediate freeze or a window), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_freeze: Option<ActiveFreezeDto>,
    /// 0 before the first policy is set.
    pub revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ActorDto>,
}

/// `POST /api/v1/governance/freeze` and `…/unfreeze`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeRequest {
    #[schema(pattern = r"\S")]
    pub reason: String,
}

/// `POST /api/v1/change-requests/{id}/{action}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// Required to reject or cancel; optional for an approval.
    #[serde(default)]
    pub reason: String,
}

/// One approval of a change request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDto {
    pub by: ActorDto,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// A change request on a protected label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeRequestDto {
    pub id: i64,
    pub project: String,
    pub prompt: String,
    pub label: String,
    /// Where the label moves when the request applies.
    pub target: LabelTargetDto,
    /// The label's target when the request was filed; it applies only while the label still
    /// points there (absent: the label did not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<LabelTargetDto>,
    pub reason: String,
    /// `pending`, `applied`, `rejected`, `cancelled` or `stale`.
    pub state: String,
    pub approvals_required: u8,
    pub approvals: Vec<ApprovalDto>,
    pub author: ActorDto,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<ActorDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
}

/// One broken publish rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ViolationDto {
    /// `require_message`, `secret_scan`, `forbidden_pattern:NAME`, …
    pub rule: String,
    /// `message`, `template line 3`, `messages[1] line 2`, `model`, `variables.NAME`, …
    pub place: String,
    pub detail: String,
}

/// The answer of the publish check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublishCheckDto {
    /// Whether the version may be published (no violations).
    pub ok: bool,
    pub violations: Vec<ViolationDto>,
}
