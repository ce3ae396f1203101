//! The library's one error type: what can go wrong starting the server or reading a fault spec.

use std::net::SocketAddr;

/// Everything the mock server's library API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why the operating system refused.
        source: std::io::Error,
    },
    /// The server loop failed while serving or shutting down.
    #[error("mock server stopped with an error: {0}")]
    Serve(#[source] std::io::Error),
    /// The server task panicked or was cancelled.
    #[error("mock server task ended abnormally: {0}")]
    Task(String),
    /// A fault spec (the `x-mock-fault` header or `--fault`) could not be parsed.
    #[error("invalid fault spec `{spec}`: {reason}")]
    FaultSpec {
        /// The offending item of the spec.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A reply mode (`--reply`) could not be parsed.
    #[error("invalid reply mode `{0}`: expected `summary`, `echo` or `words:N`")]
    ReplyMode(String),
}
