//! Black-box tests of the `opm` binary: each test starts `opm serve` on `127.0.0.1:0` with a
//! fresh SQLite data directory and drives it with `opm` client commands, as a user would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apply;
mod client;
mod commands;
mod harness;
mod rollouts;
