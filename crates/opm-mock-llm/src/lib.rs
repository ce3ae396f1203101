//! A loopback LLM server speaking the OpenAI Chat Completions and Anthropic Messages wire formats,
//! with deterministic replies and per-request fault injection, for OPM's gateway tests and benchmarks.
//!
//! Endpoints: `POST /v1/chat/completions`, `POST /v1/messages`, `GET /v1/models`, `GET /healthz`,
//! and `GET`/`DELETE /mock/requests?key=K` (the number of completion requests sent with `x-mock-key: K`).
//!
//! Replies and token counts are pure functions of the request (see [`text`]); faults come from the
//! `x-mock-fault` header, a `-fail-N`/`-slow-MS` model-name suffix, or the server's default (see [`fault`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), opm_mock_llm::MockError> {
//! use opm_mock_llm::{Fault, MockConfig, MockServer};
//! let server = MockServer::start(MockConfig::default().with_fault(Fault::parse("latency=20")?)).await?;
//! let base_url = format!("{}/v1", server.url());
//! # let _ = base_url;
//! server.stop().await
//! # }
//! ```

mod anthropic;
mod config;
mod control;
mod error;
mod exchange;
mod failure;
pub mod fault;
mod openai;
mod server;
mod state;
mod stream;
pub mod text;

pub use config::{MockConfig, ReplyMode};
pub use error::MockError;
pub use exchange::{FAULT_HEADER, KEY_HEADER};
pub use fault::Fault;
pub use server::{MockServer, router};
