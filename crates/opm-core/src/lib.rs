//! OPM's domain: prompt names, versions and their content, labels, templates, the audit hash chain
//! and API-key roles.
//!
//! This crate does no IO and knows nothing of HTTP or SQL: storage and transport crates convert to
//! and from these types. Everything here is deterministic given its inputs (randomness and time are
//! passed in by the caller).

pub mod audit;
pub mod auth;
pub mod bucketing;
pub mod canonical;
pub mod content;
pub mod diff;
pub mod error;
pub mod label;
pub mod names;
pub mod prompt;
pub mod split;
pub mod stats;
pub mod template;

pub use error::{CoreError, ErrorKind};
