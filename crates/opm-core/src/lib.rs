//! OPM's domain: prompt names, versions and their content, labels, weighted splits and their
//! sticky bucketing, canary rollout decisions, significance tests, templates, the audit hash chain
//! and API-key roles.
//!
//! This crate does no IO and knows nothing of HTTP or SQL: storage and transport crates convert to
//! and from these types. Everything here is deterministic given its inputs (randomness and time are
//! passed in by the caller).
//!
//! Safe delivery lives in four modules: [`bucketing`] (Unleash-compatible MurmurHash3 buckets,
//! algorithm recorded), [`split`] (a label's weighted split and which arm a request gets: sticky,
//! and monotone when a canary grows), [`rollout`] (the canary controller's checks and state
//! machine) and [`stats`] (the significance tests behind "is arm B really worse?").

pub mod audit;
pub mod auth;
pub mod bucketing;
pub mod canonical;
pub mod content;
pub mod diff;
pub mod error;
pub mod experiment;
pub mod governance;
pub mod label;
pub mod names;
pub mod prompt;
pub mod rollout;
pub mod split;
pub mod stats;
pub mod template;

pub use error::{CoreError, ErrorKind};
pub use rollout::{ArmMetrics, CheckResult, Decision, RolloutSpec, RolloutState, Thresholds, Verdict};
pub use split::{Assignment, Split, SplitArm, SplitArms};
pub use stats::{Alternative, SignificanceTest};
