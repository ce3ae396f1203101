//! Webhook deliveries over real HTTP on loopback: a recording axum receiver with scripted answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod delivery;
mod queue;
mod retries;
mod support;
