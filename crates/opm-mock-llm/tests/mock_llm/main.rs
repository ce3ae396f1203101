//! Black-box tests of the mock over real loopback HTTP: both wire formats, every fault, the counters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod anthropic;
mod control;
mod faults;
mod openai;
mod support;
