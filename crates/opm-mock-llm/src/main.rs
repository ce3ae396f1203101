//! The `opm-mock-llm` binary: serves the mock on an address until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use opm_mock_llm::{Fault, MockConfig, MockServer, ReplyMode};

/// A loopback server speaking the OpenAI and Anthropic wire formats, with fault injection.
#[derive(Debug, Parser)]
#[command(name = "opm-mock-llm", version)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Latency added before every response's headers (same as `--fault latency=N`).
    #[arg(long, value_name = "N")]
    latency_ms: Option<u64>,
    /// Server-wide default fault, in the `x-mock-fault` grammar (e.g. `status=503,fail-first=2`).
    #[arg(long, value_name = "SPEC", default_value = "")]
    fault: String,
    /// Reply mode: `summary`, `echo` or `words:N`.
    #[arg(long, default_value = "summary")]
    reply: String,
    /// Require `Authorization: Bearer KEY` on `/v1/chat/completions`.
    #[arg(long, env = "OPM_MOCK_OPENAI_KEY", value_name = "KEY")]
    openai_key: Option<String>,
    /// Require `x-api-key: KEY` on `/v1/messages`.
    #[arg(long, env = "OPM_MOCK_ANTHROPIC_KEY", value_name = "KEY")]
    anthropic_key: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut fault = Fault::parse(&args.fault).context("reading --fault")?;
    if let Some(latency) = args.latency_ms {
        fault.latency = Some(Duration::from_millis(latency));
    }
    let config = MockConfig {
        openai_api_key: args.openai_key,
        anthropic_api_key: args.anthropic_key,
        default_fault: fault,
        reply: args.reply.parse::<ReplyMode>().context("reading --reply")?,
        ..MockConfig::default()
    };
    let server = MockServer::bind(args.addr, config).await?;
    println!("opm-mock-llm listening on {}", server.url());
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    server.stop().await?;
    Ok(())
}
