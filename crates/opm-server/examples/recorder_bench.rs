//! Benchmarks the generation pipeline as the server runs it: records handed to the server's
//! recorder (Prometheus counting + the bounded queue) and stored by the background writer in
//! SQLite, against a baseline in the same run: the same rows inserted directly with the store's
//! batched insert (the database's own ceiling, no queue, no metrics).
//!
//! ```text
//! cargo run --release -p opm-server --example recorder_bench -- [--rate 25000] [--seconds 10] [--database-url URL]
//! ```
//!
//! Phase 1 offers `--rate` records/s for `--seconds` at a constant pace (1 ms ticks) and reports
//! what was stored, what was dropped and the request-path cost of one `record()` call. Phase 2
//! offers records as fast as one producer can for the same time (saturation: drops are expected
//! once the queue is full; the stored rate is the pipeline's ceiling). Phase 3 is the baseline.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use opm_gateway::{Gateway, GatewayConfig, GenerationRecord, GenerationStatus, PriceTable, Usage};
use opm_registry::Registry;
use opm_server::AppState;
use opm_server::recorder::RecorderSettings;

type BenchResult<T> = Result<T, Box<dyn Error>>;

struct Args {
    rate: u64,
    seconds: u64,
    database_url: Option<String>,
}

fn parse_args() -> BenchResult<Args> {
    let mut args = Args { rate: 25_000, seconds: 10, database_url: None };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rate" => args.rate = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--database-url" => args.database_url = Some(value),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

fn record(i: u64) -> GenerationRecord {
    GenerationRecord {
        id: GenerationRecord::new_id(),
        arm: None,
        sticky: None,
        started_at: Utc::now(),
        prompt: Some(format!("prompt-{}", i % 20)),
        prompt_version: Some(1 + (i % 3) as u32),
        label: Some(if i.is_multiple_of(10) { "canary" } else { "production" }.to_owned()),
        project: Some("default".to_owned()),
        provider: "openai".to_owned(),
        model: "gpt-4o-mini".to_owned(),
        status: if i.is_multiple_of(50) { GenerationStatus::Error } else { GenerationStatus::Ok },
        error_kind: i.is_multiple_of(50).then(|| "upstream_unavailable".to_owned()),
        latency_ms: 200.0 + (i % 300) as f64,
        ttft_ms: i.is_multiple_of(2).then_some(80.0),
        upstream_ms: 199.0 + (i % 300) as f64,
        usage: Usage { input_tokens: Some(420), output_tokens: Some(96), cached_input_tokens: Some(0) },
        cost_usd: Some(0.000_12),
        key_id: Some("key_0123456789".to_owned()),
        attempts: 1,
        fallback_index: 0,
        streamed: i.is_multiple_of(2),
    }
}

fn sample(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
}

struct Phase {
    offered: u64,
    stored: u64,
    dropped: f64,
    elapsed: Duration,
    call_ns: Vec<u64>,
}

async fn run_phase(url: &str, rate: Option<u64>, seconds: u64) -> BenchResult<Phase> {
    let store = opm_store::connect(url).await?;
    let before = store.count_generations().await?;
    let registry = Registry::new(store.clone());
    let gateway = Arc::new(Gateway::new(GatewayConfig::default(), PriceTable::builtin())?);
    let state = AppState::new(registry, gateway, opm_telemetry::Telemetry::disabled(), &RecorderSettings::default());
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut offered = 0_u64;
    let mut call_ns = Vec::new();
    match rate {
        Some(rate) => {
            let mut ticker = tokio::time::interval(Duration::from_millis(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while Instant::now() < end {
                ticker.tick().await;
                let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
                while offered < due {
                    let record = record(offered);
                    let call = Instant::now();
                    state.recorder.record(record);
                    call_ns.push(call.elapsed().as_nanos() as u64);
                    offered += 1;
                }
            }
        }
        None => {
            while Instant::now() < end {
                for _ in 0..1000 {
                    state.recorder.record(record(offered));
                    offered += 1;
                }
                tokio::task::yield_now().await;
            }
        }
    }
    state.writer.flush().await;
    let elapsed = started.elapsed();
    let stored = store.count_generations().await? - before;
    let dropped = sample(&state.metrics.render(), "opm_recorder_dropped_total");
    state.writer.shutdown().await;
    Ok(Phase { offered, stored, dropped, elapsed, call_ns })
}

async fn baseline(url: &str, seconds: u64) -> BenchResult<(u64, Duration)> {
    let store = opm_store::connect(url).await?;
    let project = opm_core::names::ProjectName::parse("default")?;
    let started = Instant::now();
    let mut stored = 0_u64;
    let mut i = 0_u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let rows: Vec<opm_store::GenerationRow> = (0..2000)
            .map(|_| {
                i += 1;
                let r = record(i);
                opm_store::GenerationRow {
                    id: r.id,
                    project: project.clone(),
                    started_at: r.started_at,
                    prompt: r.prompt,
                    prompt_version: r.prompt_version,
                    label: r.label,
                    arm: None,
                    sticky: None,
                    provider: r.provider,
                    model: r.model,
                    status: opm_store::GenerationOutcome::Ok,
                    error_kind: r.error_kind,
                    latency_ms: r.latency_ms,
                    ttft_ms: r.ttft_ms,
                    upstream_ms: r.upstream_ms,
                    input_tokens: r.usage.input_tokens,
                    output_tokens: r.usage.output_tokens,
                    cached_tokens: r.usage.cached_input_tokens,
                    cost_usd: r.cost_usd,
                    key_id: r.key_id,
                    attempts: r.attempts,
                    fallback_index: 0,
                    streamed: r.streamed,
                }
            })
            .collect();
        stored += store.insert_generations(&rows).await?;
    }
    Ok((stored, started.elapsed()))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let url =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    println!(
        "generation pipeline benchmark: {} s per phase, store {}",
        args.seconds,
        url.split("://").next().unwrap_or("")
    );

    let mut paced = run_phase(&url, Some(args.rate), args.seconds).await?;
    paced.call_ns.sort_unstable();
    println!(
        "paced      offered {:>7}/s  stored {:>7.0}/s  dropped {:>6}  (stored {} of {})  record() p50 {} ns p99 {} ns",
        args.rate,
        paced.stored as f64 / paced.elapsed.as_secs_f64(),
        paced.dropped,
        paced.stored,
        paced.offered,
        percentile(&paced.call_ns, 0.5),
        percentile(&paced.call_ns, 0.99),
    );
    let saturated = run_phase(&url, None, args.seconds).await?;
    println!(
        "saturated  offered {:>7.0}/s  stored {:>7.0}/s  dropped {:>6}  (the queue drops what the store cannot take)",
        saturated.offered as f64 / saturated.elapsed.as_secs_f64(),
        saturated.stored as f64 / saturated.elapsed.as_secs_f64(),
        saturated.dropped,
    );
    let (stored, elapsed) = baseline(&url, args.seconds).await?;
    let direct = stored as f64 / elapsed.as_secs_f64();
    println!("baseline   direct batched insert (2000 rows per call)  stored {direct:>7.0}/s");
    println!(
        "ratio      pipeline saturated / direct insert = {:.2}",
        saturated.stored as f64 / saturated.elapsed.as_secs_f64() / direct
    );
    if paced.dropped > 0.0 || paced.stored != paced.offered {
        return Err(format!("the paced phase lost records: stored {} of {}", paced.stored, paced.offered).into());
    }
    Ok(())
}
