//! Integration tests of the gateway against `opm-mock-llm` on loopback (both wire formats, plain and
//! streamed, every reliability path) and of the ingress translation (golden JSON and SSE).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completions;
mod ingress_anthropic;
mod ingress_openai;
mod pool;
mod reliability;
mod round_trip;
mod streaming;
mod support;
