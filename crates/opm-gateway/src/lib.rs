//! OPM's LLM gateway: calls OpenAI, Anthropic and OpenAI-compatible providers (and a built-in mock)
//! with per-attempt timeouts, retries with jittered backoff, fallbacks to other models, a circuit
//! breaker per provider, streaming, token accounting and cost; plus [`ingress`], the pure translation
//! between the OpenAI / Anthropic wire formats that apps speak and the gateway's neutral types.
//!
//! The HTTP routes live in `opm-server`; this crate knows HTTP only as a client.
//!
//! # Configuration (`opm.toml`)
//!
//! [`GatewayConfig`] is the `[gateway]` section: one `[gateway.providers.NAME]` table per provider,
//! named as targets refer to it (`openai/gpt-4o` → provider `openai`). A `mock` provider is always
//! present. A provider whose key variable is unset still loads (with a warning); its calls fail with
//! `upstream_auth`.
//!
//! ```toml
//! [gateway.providers.openai]
//! type = "openai"                        # openai | anthropic | openai-compatible | mock
//! api_key_env = "OPENAI_API_KEY"         # default for type openai; or api_key_file = "/run/secrets/openai"
//!
//! [gateway.providers.anthropic]
//! type = "anthropic"                     # key from ANTHROPIC_API_KEY unless configured
//! timeouts = { connect_ms = 5000, first_byte_ms = 60000, total_ms = 300000 }
//! retry = { max_attempts = 3, base_delay_ms = 200, max_delay_ms = 5000 }
//! breaker = { failure_threshold = 5, open_ms = 30000 }
//! pool = { max_idle = 64, idle_timeout_ms = 30000 }  # idle upstream connections kept
//!
//! [gateway.providers.local]
//! type = "openai-compatible"
//! base_url = "http://127.0.0.1:8080/v1"  # includes the /v1
//! headers = { "x-team" = "search" }
//! prices = { "llama-3.1-8b" = { input = 0.05, output = 0.10 } }  # USD per million tokens
//! ```
//!
//! ```
//! // The body of the `[gateway]` section:
//! let config: opm_gateway::GatewayConfig = toml::from_str(r#"
//!     [providers.local]
//!     type = "openai-compatible"
//!     base_url = "http://127.0.0.1:8080/v1"
//! "#).unwrap();
//! let gateway = opm_gateway::Gateway::new(config, opm_gateway::PriceTable::builtin()).unwrap();
//! assert_eq!(gateway.providers().len(), 2); // `local` and the built-in `mock`
//! ```

mod breaker;
mod config;
mod error;
mod event;
mod gateway;
pub mod ingress;
mod price;
mod prompted;
mod provider;
mod record;
mod retry;
mod types;

pub use breaker::BreakerState;
pub use config::{
    BreakerPolicy, GatewayConfig, MOCK_PROVIDER, PoolPolicy, ProviderConfig, ProviderKind, RetryPolicy, Timeouts,
};
pub use error::{GatewayError, TimeoutPhase};
pub use event::{ChatStream, StreamEvent};
pub use gateway::Gateway;
pub use price::{BUILTIN_PRICES, Price, PriceTable};
pub use prompted::prompt_request;
pub use provider::DEFAULT_ANTHROPIC_MAX_TOKENS;
pub use record::{ChannelRecorder, GenerationRecord, GenerationRecorder, GenerationStatus, NoopRecorder, duration_ms};
pub use types::{ChatMessage, ChatParams, ChatRequest, ChatResponse, FinishReason, ModelTarget, Role, ToolCall, Usage};
