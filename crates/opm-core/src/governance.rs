//! Governance: a project's policy for who may move which label and how many approvals a move
//! needs (four eyes), change freezes, and the rules every published version must pass.
//!
//! The policy is one value per project ([`GovernancePolicy`], stored as JSON by the store); the
//! decisions here take the caller's role and the time as inputs and do no IO:
//! - [`GovernancePolicy::move_right`]: may this role move this label directly, or must it file a
//!   change request (`POST /api/v1/prompts/{name}/labels/{label}/requests`)?
//! - [`GovernancePolicy::active_freeze`]: is the project frozen now, and by which freeze?
//! - [`publish::check_publish`] (with [`secrets::scan`]): may this content be published?
//! - [`limits`]: may this key send another request through the gateway (token buckets), and is
//!   its or its project's spend budget left?
//!
//! Rollbacks and rollout aborts are never blocked by protection, approvals or freezes: getting
//! back to a known-good target is always allowed (and audited like every move).

pub mod limits;
pub mod publish;
pub mod request;
pub mod secrets;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::auth::Role;
use crate::names::LabelName;
use crate::prompt::Actor;

pub use limits::{GatewayLimits, Limits};
pub use publish::{ForbiddenPattern, PublishPolicy, check_publish};
pub use request::{Approval, ChangeRequest, ChangeRequestState, RequestedChange};

/// Most approvals a protected label may require.
pub const MAX_APPROVALS: u8 = 2;
/// Most protected labels, freeze windows or forbidden patterns in one policy.
pub const MAX_POLICY_ITEMS: usize = 100;

/// A project's governance policy. The default (no policy stored) protects nothing, freezes nothing
/// and only runs the secret scan on publish.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernancePolicy {
    #[serde(default)]
    pub protected_labels: Vec<LabelProtection>,
    /// Planned freeze windows.
    #[serde(default)]
    pub freeze_windows: Vec<FreezeWindow>,
    /// An immediate freeze, in force until lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<ImmediateFreeze>,
    #[serde(default)]
    pub publish: PublishPolicy,
    /// Request rates and spend budgets on the gateway's LLM routes.
    #[serde(default, skip_serializing_if = "GatewayLimits::is_empty")]
    pub limits: GatewayLimits,
}

/// How one label is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelProtection {
    pub label: LabelName,
    /// The least role that may move the label (`deployer` or `admin`) and approve its requests.
    pub move_role: Role,
    /// Approvals a move needs from keys other than its author (0, 1 or 2).
    #[serde(default)]
    pub approvals: u8,
}

/// A planned freeze: label moves and rollout starts are refused from `starts_at` until `ends_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeWindow {
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

/// A freeze set "now" by someone, until lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImmediateFreeze {
    pub reason: String,
    pub since: DateTime<Utc>,
    pub by: Actor,
}

/// The freeze in force, as errors and the API name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFreeze {
    /// The window's name, or `immediate`.
    pub name: String,
    pub reason: String,
    /// When it ends by itself (`None` for an immediate freeze).
    pub until: Option<DateTime<Utc>>,
}

/// What a role may do with a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveRight {
    /// Move it directly.
    Direct,
    /// File a change request; it applies after `approvals` approvals by keys with `move_role` or
    /// above other than the author (at least one approval when the author lacks `move_role`).
    Request { move_role: Role, approvals: u8 },
}

impl GovernancePolicy {
    /// Checks limits and names; every item is well-formed and labels are protected once.
    pub fn validate(&self) -> Result<(), CoreError> {
        let invalid = |message: String| Err(CoreError::InvalidPolicy(message));
        if self.protected_labels.len() > MAX_POLICY_ITEMS || self.freeze_windows.len() > MAX_POLICY_ITEMS {
            return invalid(format!("at most {MAX_POLICY_ITEMS} protected labels and freeze windows"));
        }
        for (index, protection) in self.protected_labels.iter().enumerate() {
            crate::label::check_movable(&protection.label)?;
            if protection.move_role < Role::Deployer {
                return invalid(format!(
                    "protected_labels[{index}]: `move_role` must be `deployer` or `admin`, not `{}`",
                    protection.move_role
                ));
            }
            if protection.approvals > MAX_APPROVALS {
                return invalid(format!("protected_labels[{index}]: `approvals` must be 0, 1 or 2"));
            }
            if self.protected_labels[..index].iter().any(|other| other.label == protection.label) {
                return invalid(format!("label `{}` is protected twice", protection.label));
            }
        }
        for (index, window) in self.freeze_windows.iter().enumerate() {
            if window.name.trim().is_empty() || window.name.len() > 100 {
                return invalid(format!("freeze_windows[{index}]: `name` must be 1 to 100 characters"));
            }
            if window.ends_at <= window.starts_at {
                return invalid(format!(
                    "freeze_windows[{index}] (`{}`): `ends_at` must be after `starts_at`",
                    window.name
                ));
            }
            crate::prompt::check_text("freeze reason", &window.reason, true)?;
        }
        self.limits.validate()?;
        self.publish.validate()
    }

    /// The protection of `label`, if any.
    pub fn protection(&self, label: &LabelName) -> Option<&LabelProtection> {
        self.protected_labels.iter().find(|protection| &protection.label == label)
    }

    /// Whether `role` may move `label` directly or must file a change request.
    pub fn move_right(&self, label: &LabelName, role: Role) -> MoveRight {
        match self.protection(label) {
            None => MoveRight::Direct,
            Some(protection) if role >= protection.move_role && protection.approvals == 0 => MoveRight::Direct,
            Some(protection) => {
                MoveRight::Request { move_role: protection.move_role, approvals: approvals_needed(protection, role) }
            }
        }
    }

    /// The freeze in force at `now`: the immediate one first, then the first window containing it.
    pub fn active_freeze(&self, now: DateTime<Utc>) -> Option<ActiveFreeze> {
        if let Some(freeze) = &self.freeze {
            return Some(ActiveFreeze { name: "immediate".to_owned(), reason: freeze.reason.clone(), until: None });
        }
        self.freeze_windows.iter().find(|window| window.starts_at <= now && now < window.ends_at).map(|window| {
            ActiveFreeze { name: window.name.clone(), reason: window.reason.clone(), until: Some(window.ends_at) }
        })
    }

    /// Fails with [`CoreError::Frozen`] while a freeze is in force.
    pub fn ensure_not_frozen(&self, now: DateTime<Utc>) -> Result<(), CoreError> {
        match self.active_freeze(now) {
            Some(freeze) => Err(CoreError::Frozen {
                name: freeze.name,
                reason: freeze.reason,
                until: freeze.until.map_or_else(|| "lifted".to_owned(), |until| until.to_rfc3339()),
            }),
            None => Ok(()),
        }
    }
}

/// Approvals a request by `role` needs: the configured number, and at least one when the author
/// could not move the label alone.
pub fn approvals_needed(protection: &LabelProtection, author_role: Role) -> u8 {
    if author_role >= protection.move_role { protection.approvals } else { protection.approvals.max(1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(move_role: Role, approvals: u8) -> GovernancePolicy {
        GovernancePolicy {
            protected_labels: vec![LabelProtection {
                label: LabelName::parse("production").unwrap(),
                move_role,
                approvals,
            }],
            ..GovernancePolicy::default()
        }
    }

    fn check(policy: &GovernancePolicy, label: &str, role: Role, expected: MoveRight) {
        assert_eq!(policy.move_right(&LabelName::parse(label).unwrap(), role), expected, "{label} {role}");
    }

    #[test]
    fn move_rights() {
        let deployer_alone = policy(Role::Deployer, 0);
        check(&deployer_alone, "staging", Role::Editor, MoveRight::Direct);
        check(&deployer_alone, "production", Role::Deployer, MoveRight::Direct);
        check(&deployer_alone, "production", Role::Admin, MoveRight::Direct);
        let request = |approvals| MoveRight::Request { move_role: Role::Deployer, approvals };
        check(&deployer_alone, "production", Role::Editor, request(1));
        let two = policy(Role::Deployer, 2);
        check(&two, "production", Role::Deployer, request(2));
        check(&two, "production", Role::Admin, request(2));
        check(&two, "production", Role::Editor, request(2));
        let admin = policy(Role::Admin, 1);
        check(&admin, "production", Role::Deployer, MoveRight::Request { move_role: Role::Admin, approvals: 1 });
    }

    #[test]
    fn validation() {
        assert!(policy(Role::Deployer, 2).validate().is_ok());
        assert!(policy(Role::Editor, 0).validate().is_err());
        assert!(policy(Role::Deployer, 3).validate().is_err());
        let mut twice = policy(Role::Deployer, 1);
        twice.protected_labels.push(twice.protected_labels[0].clone());
        assert!(twice.validate().is_err());
        let at = |h: i64| DateTime::from_timestamp(h * 3600, 0).unwrap();
        let window = FreezeWindow { name: "eoy".into(), starts_at: at(2), ends_at: at(1), reason: "r".into() };
        let backwards = GovernancePolicy { freeze_windows: vec![window], ..GovernancePolicy::default() };
        assert!(backwards.validate().is_err());
    }

    #[test]
    fn freezes() {
        let at = |h: i64| DateTime::from_timestamp(h * 3600, 0).unwrap();
        let window = FreezeWindow { name: "eoy".into(), starts_at: at(10), ends_at: at(20), reason: "holidays".into() };
        let mut policy = GovernancePolicy { freeze_windows: vec![window], ..GovernancePolicy::default() };
        assert_eq!(policy.active_freeze(at(9)), None);
        assert_eq!(policy.active_freeze(at(10)).unwrap().name, "eoy");
        assert_eq!(policy.active_freeze(at(20)), None);
        let error = policy.ensure_not_frozen(at(15)).unwrap_err();
        assert!(error.to_string().contains("`eoy`") && error.to_string().contains("holidays"), "{error}");
        policy.freeze = Some(ImmediateFreeze { reason: "incident".into(), since: at(1), by: Actor::system("t") });
        assert_eq!(policy.active_freeze(at(0)).unwrap().name, "immediate");
    }
}
