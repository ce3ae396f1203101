//! Weighted splits of a label across versions (`7=90,8=10`) and the sticky assignment of a request
//! to one of their arms.
//!
//! # Arms and weights
//! A split has 1 to [`MAX_ARMS`] arms with distinct versions; weights are percentages (each
//! `0..=100`, summing to exactly 100). Order matters: **the first arm is the base** (the stable
//! version), the others are **challengers** (canaries, or the B, C… of an experiment). Keep the
//! base first while ramping a canary: reordering arms reassigns keys.
//!
//! # Sticky assignment (two stages, [`crate::bucketing`])
//! With a stickiness key, in the split's `group` (`{project}/{prompt}/{label}`):
//! 1. **Percentage gate** (Unleash: modulus 100, seed 0): with `C` the challengers' total weight,
//!    the key goes to the challengers iff its bucket `b = normalized(group, key, 100, 0)` is `<= C`,
//!    otherwise to the base arm.
//! 2. **Variant split** among the challengers (Unleash: seed 86028157) over the challengers' weights
//!    divided by their greatest common divisor, so that only their *ratio* matters.
//!
//! What is guaranteed:
//! - **Stickiness:** the same key gets the same arm for as long as the split is unchanged.
//! - **Two arms (stable/canary):** the canary serves exactly the keys with `b <= p` (its weight).
//!   Moving the canary from `p` to `q >= p` moves exactly the keys with `b` in `(p, q]` from stable
//!   to canary and nothing else; no key ever goes from canary back to stable while the canary grows.
//! - **More arms:** growing `C` only moves keys from the base into the challengers (those with `b`
//!   in the added range) and shrinking it only moves keys back to the base; a key never crosses
//!   between base and challengers otherwise. Among the challengers a key keeps its arm as long as
//!   the challengers' weight *ratio* is unchanged (5/5 → 10/10 moves nobody between B and C); a
//!   changed ratio re-slices the challengers among themselves (Unleash's variant split is not
//!   monotone), but never sends anyone to the base.
//!
//! Without a key the caller's random number picks an arm in proportion to the weights (no
//! randomness inside this crate), and the assignment says it was not sticky. An empty key counts
//! as no key (otherwise every empty key would share one bucket).
//!
//! # Stored form
//! `{"arms": [{"version": 7, "weight": 90}, …], "group": "…", "algorithm":
//! "unleash-murmur3-x86_32", "algorithm_version": 1}`. Deserializing validates everything and
//! refuses an algorithm this build does not implement rather than reassigning users silently.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::bucketing::{self, ALGORITHM, ALGORITHM_VERSION};
use crate::names::{LabelName, ProjectName, PromptName};

/// The most arms a split may have.
pub const MAX_ARMS: usize = 10;

/// What the weights of a split sum to (they are percentages).
pub const TOTAL_WEIGHT: u32 = 100;

/// The longest stickiness group accepted, in bytes.
pub const MAX_GROUP_LEN: usize = 512;

/// One arm of a split: a version and its share of traffic in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitArm {
    pub version: u32,
    pub weight: u32,
}

/// A validated list of arms (the base first), written `7=90,8=10` on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<SplitArm>", into = "Vec<SplitArm>")]
pub struct SplitArms(Vec<SplitArm>);

/// A label's weighted split: its arms, the stickiness group keys are hashed in, and the bucketing
/// algorithm (recorded so that a future change of algorithm is visible, never silent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredSplit", into = "StoredSplit")]
pub struct Split {
    arms: SplitArms,
    group: String,
    algorithm: String,
    algorithm_version: u32,
}

/// Which arm served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub version: u32,
    /// The arm's position in the split (0 is the base).
    pub arm_index: usize,
    /// Whether a stickiness key decided (false: the caller's random number did).
    pub sticky: bool,
}

/// The serialized shape of a [`Split`], validated into one on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSplit {
    arms: SplitArms,
    group: String,
    algorithm: String,
    algorithm_version: u32,
}

/// The stickiness group of a label: `{project}/{prompt}/{label}` (names never contain `/`).
pub fn stickiness_group(project: &ProjectName, prompt: &PromptName, label: &LabelName) -> String {
    format!("{project}/{prompt}/{label}")
}

impl SplitArms {
    /// Validates `arms`: 1 to [`MAX_ARMS`] arms, distinct versions from 1, weights `0..=100`
    /// summing to [`TOTAL_WEIGHT`].
    pub fn new(arms: Vec<SplitArm>) -> Result<Self, CoreError> {
        let invalid = |message: String| Err(CoreError::InvalidSplit(message));
        if arms.is_empty() || arms.len() > MAX_ARMS {
            return invalid(format!("a split needs 1 to {MAX_ARMS} arms, got {}", arms.len()));
        }
        for (index, arm) in arms.iter().enumerate() {
            if arm.version == 0 {
                return invalid(format!("arm {} has version 0; versions start at 1", index + 1));
            }
            if arms[..index].iter().any(|earlier| earlier.version == arm.version) {
                return invalid(format!("version {} appears in more than one arm", arm.version));
            }
            if arm.weight > TOTAL_WEIGHT {
                return invalid(format!(
                    "version {} has weight {}; weights are percentages 0 to 100",
                    arm.version, arm.weight
                ));
            }
        }
        let total: u32 = arms.iter().map(|arm| arm.weight).sum();
        if total != TOTAL_WEIGHT {
            return invalid(format!("weights sum to {total}; they must sum to {TOTAL_WEIGHT}"));
        }
        Ok(Self(arms))
    }

    /// Parses the command-line form `VERSION=WEIGHT,…` (spaces around items allowed), base first.
    ///
    /// ```
    /// use opm_core::split::SplitArms;
    /// let arms = SplitArms::parse("7=90, 8=10").unwrap();
    /// assert_eq!(arms.to_string(), "7=90,8=10");
    /// assert!(SplitArms::parse("7=90,8=20").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let mut arms = Vec::new();
        for item in text.split(',') {
            let item = item.trim();
            let Some((version, weight)) = item.split_once('=') else {
                return Err(CoreError::InvalidSplit(format!("`{item}` is not VERSION=WEIGHT (e.g. `7=90,8=10`)")));
            };
            let number = |what: &str, text: &str| {
                text.trim()
                    .parse::<u32>()
                    .map_err(|_| CoreError::InvalidSplit(format!("`{item}`: `{text}` is not a {what}")))
            };
            arms.push(SplitArm { version: number("version number", version)?, weight: number("weight", weight)? });
            if arms.len() > MAX_ARMS {
                return Err(CoreError::InvalidSplit(format!("a split needs 1 to {MAX_ARMS} arms")));
            }
        }
        Self::new(arms)
    }

    /// The arms, base first.
    pub fn as_slice(&self) -> &[SplitArm] {
        &self.0
    }
}

impl Split {
    /// A split of `arms` whose keys are hashed in `group` (see [`stickiness_group`]).
    pub fn new(arms: SplitArms, group: impl Into<String>) -> Result<Self, CoreError> {
        let group = group.into();
        if group.is_empty() || group.len() > MAX_GROUP_LEN {
            return Err(CoreError::InvalidSplit(format!(
                "the stickiness group must be 1 to {MAX_GROUP_LEN} bytes, got {}",
                group.len()
            )));
        }
        Ok(Self { arms, group, algorithm: ALGORITHM.to_owned(), algorithm_version: ALGORITHM_VERSION })
    }

    /// Parses `VERSION=WEIGHT,…` (see [`SplitArms::parse`]) into a split hashed in `group`.
    pub fn parse(arms: &str, group: impl Into<String>) -> Result<Self, CoreError> {
        Self::new(SplitArms::parse(arms)?, group)
    }

    /// The two-arm split of a canary rollout: `percent` to `canary`, the rest to `stable` (the base).
    pub fn canary(stable: u32, canary: u32, percent: u32, group: impl Into<String>) -> Result<Self, CoreError> {
        let stable_weight = TOTAL_WEIGHT
            .checked_sub(percent)
            .ok_or_else(|| CoreError::InvalidSplit(format!("canary share {percent} is above 100 percent")))?;
        let arms =
            vec![SplitArm { version: stable, weight: stable_weight }, SplitArm { version: canary, weight: percent }];
        Self::new(SplitArms::new(arms)?, group)
    }

    /// The arms, base first.
    pub fn arms(&self) -> &[SplitArm] {
        self.arms.as_slice()
    }

    /// The stickiness group keys are hashed in.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The bucketing algorithm's name ([`ALGORITHM`]).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The bucketing algorithm's version ([`ALGORITHM_VERSION`]).
    pub fn algorithm_version(&self) -> u32 {
        self.algorithm_version
    }

    /// The base arm's version (the stable one in a canary split).
    pub fn base_version(&self) -> u32 {
        self.arms().first().map_or(0, |arm| arm.version)
    }

    /// The versions this split can serve, in arm order.
    pub fn versions(&self) -> Vec<u32> {
        self.arms().iter().map(|arm| arm.version).collect()
    }

    /// The weight of `version`, if it is an arm.
    pub fn weight_of(&self, version: u32) -> Option<u32> {
        self.arms().iter().find(|arm| arm.version == version).map(|arm| arm.weight)
    }

    /// Assigns a request to an arm: by `sticky_key` when there is one (deterministic, see the
    /// module docs for what is monotone), otherwise by the caller's random number (`random` is
    /// only called then).
    ///
    /// ```
    /// use opm_core::split::Split;
    /// let split = Split::parse("7=90,8=10", "default/welcome/production").unwrap();
    /// let first = split.assign(Some("user-42"), || 0);
    /// assert!(first.sticky);
    /// assert_eq!(split.assign(Some("user-42"), || 99), first);
    /// assert_eq!(split.assign(None, || 95).version, 8); // random 95 → bucket 96 of 100 → last 10%
    /// ```
    pub fn assign(&self, sticky_key: Option<&str>, random: impl FnOnce() -> u32) -> Assignment {
        match sticky_key.filter(|key| !key.is_empty()) {
            Some(key) => self.assign_sticky(key),
            None => {
                let bucket = random() % TOTAL_WEIGHT + 1;
                let weights: Vec<u32> = self.arms().iter().map(|arm| arm.weight).collect();
                let arm_index = bucketing::pick_cumulative(&weights, bucket).unwrap_or(0);
                self.assignment(arm_index, false)
            }
        }
    }

    /// The percentage-gate bucket (`1..=100`) of `key` in this split's group: the key is in the
    /// challengers iff this is at most their total weight.
    pub fn gate_bucket(&self, key: &str) -> u32 {
        bucketing::percentage_bucket(&self.group, key)
    }

    fn assign_sticky(&self, key: &str) -> Assignment {
        let challengers = self.arms().get(1..).unwrap_or_default();
        let challenger_total: u32 = challengers.iter().map(|arm| arm.weight).sum();
        if self.gate_bucket(key) > challenger_total {
            return self.assignment(0, true);
        }
        let divisor = challengers.iter().fold(0, |divisor, arm| gcd(divisor, arm.weight)).max(1);
        let ratio: Vec<u32> = challengers.iter().map(|arm| arm.weight / divisor).collect();
        let arm_index = match ratio.len() {
            1 => 1,
            _ => bucketing::variant_index(&self.group, key, &ratio).map_or(0, |index| index + 1),
        };
        self.assignment(arm_index, true)
    }

    fn assignment(&self, arm_index: usize, sticky: bool) -> Assignment {
        let version = self.arms().get(arm_index).map_or_else(|| self.base_version(), |arm| arm.version);
        Assignment { version, arm_index, sticky }
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl fmt::Display for SplitArms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, arm) in self.0.iter().enumerate() {
            let separator = if index == 0 { "" } else { "," };
            write!(f, "{separator}{}={}", arm.version, arm.weight)?;
        }
        Ok(())
    }
}

impl fmt::Display for Split {
    /// The arms in command-line form (`7=90,8=10`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.arms.fmt(f)
    }
}

impl FromStr for SplitArms {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, CoreError> {
        Self::parse(text)
    }
}

impl TryFrom<Vec<SplitArm>> for SplitArms {
    type Error = CoreError;

    fn try_from(arms: Vec<SplitArm>) -> Result<Self, CoreError> {
        Self::new(arms)
    }
}

impl From<SplitArms> for Vec<SplitArm> {
    fn from(arms: SplitArms) -> Self {
        arms.0
    }
}

impl TryFrom<StoredSplit> for Split {
    type Error = CoreError;

    fn try_from(stored: StoredSplit) -> Result<Self, CoreError> {
        if stored.algorithm != ALGORITHM || stored.algorithm_version != ALGORITHM_VERSION {
            return Err(CoreError::UnsupportedBucketing {
                algorithm: stored.algorithm,
                version: stored.algorithm_version,
                known: ALGORITHM,
                known_version: ALGORITHM_VERSION,
            });
        }
        Split::new(stored.arms, stored.group)
    }
}

impl From<Split> for StoredSplit {
    fn from(split: Split) -> Self {
        StoredSplit {
            arms: split.arms,
            group: split.group,
            algorithm: split.algorithm,
            algorithm_version: split.algorithm_version,
        }
    }
}

#[cfg(test)]
mod tests;
