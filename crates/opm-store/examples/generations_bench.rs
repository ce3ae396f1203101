//! Measures stored generations: batched inserts into a fresh database (rows/s and per-batch
//! time), `generation_stats` per grouping over the stored rows (median of several runs), and
//! retention deletes.
//!
//! ```text
//! cargo run --release -p opm-store --example generations_bench -- [--rows 1000000] [--batch 1000]
//!     [--runs 5] [--feedback 1000] [--database-url URL]
//! ```
//!
//! Without `--database-url` it uses a new SQLite file in a temporary directory. A `postgres://`
//! URL names an admin connection: a fresh database is created on that server and dropped at the
//! end (`scripts/with-postgres.sh sh -c 'cargo run … -- --database-url "$OPM_TEST_DATABASE_URL"'`).
//! Rows spread evenly over 24 hours across 10 versions, 3 labels (one of them "none") and 3 models.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opm_core::names::{ProjectName, PromptName};
use opm_store::{GenerationOutcome, GenerationRow, NewFeedback, StatsGroupBy, StatsQuery, Store};
use sqlx::{AssertSqlSafe, Connection};

type BenchResult<T> = Result<T, Box<dyn Error>>;

struct Settings {
    rows: usize,
    batch: usize,
    runs: usize,
    feedback: usize,
    database_url: Option<String>,
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let settings = parse_args()?;
    let dir = tempfile::tempdir()?;
    let (url, cleanup) = match &settings.database_url {
        Some(url) if url.starts_with("postgres") => {
            let (url, name) = fresh_postgres_database(url).await?;
            (url, Some(name))
        }
        Some(url) => (url.clone(), None),
        None => (format!("sqlite://{}", dir.path().join("bench.db").display()), None),
    };
    let store = opm_store::connect(&url).await?;
    println!("backend: {}, rows: {}, batch: {}", store.backend(), settings.rows, settings.batch);

    let day_start = DateTime::from_timestamp(1_750_000_000, 0).ok_or("bad start time")?;
    insert_rows(&store, &settings, day_start).await?;
    add_feedback(&store, &settings, day_start).await?;
    measure_stats(&store, &settings, day_start).await?;
    measure_retention(&store, day_start).await?;

    drop(store);
    if let (Some(name), Some(admin_url)) = (cleanup, &settings.database_url) {
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}

async fn insert_rows(store: &Arc<dyn Store>, settings: &Settings, day_start: DateTime<Utc>) -> BenchResult<()> {
    let mut random = Random(0x5eed_1234_abcd_ef01);
    let spacing_us = 86_400_000_000 / i64::try_from(settings.rows.max(1))?;
    let mut batch_ms = Vec::new();
    let started = Instant::now();
    let mut last_tenth = (Duration::ZERO, 0);
    for first in (0..settings.rows).step_by(settings.batch) {
        let rows: Vec<GenerationRow> = (first..(first + settings.batch).min(settings.rows))
            .map(|index| row(&mut random, index, day_start, spacing_us))
            .collect::<BenchResult<_>>()?;
        let batch_started = Instant::now();
        store.insert_generations(&rows).await?;
        let elapsed = batch_started.elapsed();
        batch_ms.push(elapsed.as_secs_f64() * 1000.0);
        if first >= settings.rows * 9 / 10 {
            last_tenth = (last_tenth.0 + elapsed, last_tenth.1 + rows.len());
        }
    }
    let total = started.elapsed();
    println!(
        "insert: {} rows in {:.2} s = {:.0} rows/s (last 10%: {:.0} rows/s); per batch median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        settings.rows,
        total.as_secs_f64(),
        settings.rows as f64 / total.as_secs_f64(),
        last_tenth.1 as f64 / last_tenth.0.as_secs_f64(),
        percentile(&mut batch_ms, 50),
        percentile(&mut batch_ms, 99),
        percentile(&mut batch_ms, 100),
    );
    println!("stored: {} generations", store.count_generations().await?);
    Ok(())
}

fn row(random: &mut Random, index: usize, day_start: DateTime<Utc>, spacing_us: i64) -> BenchResult<GenerationRow> {
    let index_u64 = u64::try_from(index)?;
    let started_at = day_start + chrono::Duration::microseconds(i64::try_from(index)? * spacing_us);
    let status = match random.below(1000) {
        0..=19 => GenerationOutcome::Error,
        20..=24 => GenerationOutcome::Cancelled,
        _ => GenerationOutcome::Ok,
    };
    let streamed = random.below(2) == 0;
    let latency_ms = 50.0 + random.unit() * random.unit() * 4000.0;
    Ok(GenerationRow {
        id: uuid::Uuid::now_v7().to_string(),
        project: ProjectName::default_project(),
        started_at,
        prompt: Some("welcome".to_owned()),
        prompt_version: Some(u32::try_from(index_u64 % 10 + 1)?),
        label: match index % 3 {
            0 => Some("production".to_owned()),
            1 => Some("staging".to_owned()),
            _ => None,
        },
        arm: None,
        sticky: None,
        provider: "openai".to_owned(),
        model: ["gpt-4o-mini", "gpt-4o", "claude-haiku"][index / 7 % 3].to_owned(),
        status,
        error_kind: (status == GenerationOutcome::Error).then(|| "upstream_error".to_owned()),
        latency_ms,
        ttft_ms: streamed.then(|| latency_ms * random.unit()),
        upstream_ms: latency_ms - 0.3,
        input_tokens: (!index.is_multiple_of(20)).then(|| random.below(4000)),
        output_tokens: (!index.is_multiple_of(20)).then(|| random.below(800)),
        cached_tokens: (index.is_multiple_of(5)).then(|| random.below(1000)),
        cost_usd: (!index.is_multiple_of(20)).then(|| random.unit() / 100.0),
        key_id: Some("key-bench".to_owned()),
        attempts: 1,
        fallback_index: 0,
        streamed,
    })
}

/// Adds feedback, one call each, on extra generations spread over the day (so the statistics
/// join some feedback).
async fn add_feedback(store: &Arc<dyn Store>, settings: &Settings, day_start: DateTime<Utc>) -> BenchResult<()> {
    if settings.feedback == 0 {
        return Ok(());
    }
    let mut random = Random(7);
    let spacing_us = 86_400_000_000 / i64::try_from(settings.feedback)?;
    let rows: Vec<GenerationRow> = (0..settings.feedback)
        .map(|index| {
            let row = row(&mut random, index, day_start, spacing_us)?;
            Ok(GenerationRow { id: format!("feedback-target-{index}"), ..row })
        })
        .collect::<BenchResult<_>>()?;
    store.insert_generations(&rows).await?;
    let started = Instant::now();
    for (index, row) in rows.iter().enumerate() {
        let new = NewFeedback {
            project: row.project.clone(),
            generation_id: row.id.clone(),
            score: f64::from(u32::try_from(index % 5)?) / 4.0,
            comment: None,
            key_id: Some("key-bench".to_owned()),
            at: chrono::Utc::now(),
        };
        store.add_feedback(&new).await?;
    }
    let elapsed = started.elapsed();
    println!(
        "feedback: {} added (one call each) in {:.2} s, {:.2} ms per call",
        settings.feedback,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / settings.feedback as f64
    );
    Ok(())
}

async fn measure_stats(store: &Arc<dyn Store>, settings: &Settings, day_start: DateTime<Utc>) -> BenchResult<()> {
    for by in [StatsGroupBy::Version, StatsGroupBy::Label, StatsGroupBy::Model] {
        let query = StatsQuery {
            project: ProjectName::default_project(),
            prompt: PromptName::parse("welcome")?,
            since: day_start,
            until: day_start + chrono::Duration::hours(24),
            label: None,
            by,
        };
        let mut times = Vec::new();
        let mut cpu_times = Vec::new();
        let mut groups = Vec::new();
        for _ in 0..settings.runs {
            let (started, cpu_started) = (Instant::now(), process_cpu_ms());
            groups = store.generation_stats(&query).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if let (Some(before), Some(after)) = (cpu_started, process_cpu_ms()) {
                cpu_times.push(after - before);
            }
        }
        let calls: u64 = groups.iter().map(|group| group.calls).sum();
        // The work happens in this process only with the embedded SQLite.
        let cpu = match store.backend() {
            "sqlite" => format!(" (this process's CPU {:.0} ms)", percentile(&mut cpu_times, 50)),
            _ => String::new(),
        };
        let first = groups.first().ok_or("no groups")?;
        println!(
            "stats by {by:?}: median {:.0} ms{cpu}, min {:.0} ms, max {:.0} ms over {} runs; \
             {} groups, {calls} calls; first group `{}`: latency {:?}, ttft {:?}, feedback {} (mean {:?})",
            percentile(&mut times, 50),
            percentile(&mut times, 0),
            percentile(&mut times, 100),
            settings.runs,
            groups.len(),
            first.group,
            first.latency_ms,
            first.ttft_ms,
            first.feedback_count,
            first.feedback_mean,
        );
    }
    Ok(())
}

async fn measure_retention(store: &Arc<dyn Store>, day_start: DateTime<Utc>) -> BenchResult<()> {
    let cutoff = day_start + chrono::Duration::hours(1);
    let mut times = Vec::new();
    let mut deleted = 0;
    for _ in 0..10 {
        let started = Instant::now();
        deleted += store.delete_generations_before(cutoff, 1000).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "retention: deleted {deleted} rows in batches of 1000, median {:.1} ms, max {:.1} ms per batch",
        percentile(&mut times, 50),
        percentile(&mut times, 100)
    );
    Ok(())
}

/// CPU time (user and system) of this process so far, on Linux; with an embedded SQLite it is
/// the query's cost whatever else the machine runs (10 ms resolution).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

/// The nearest-rank percentile (0 is the minimum).
fn percentile(values: &mut [f64], percent: usize) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = (percent * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied().unwrap_or(f64::NAN)
}

/// Creates `opm_bench_<random>` on the server of `admin_url`; returns its URL and name.
async fn fresh_postgres_database(admin_url: &str) -> BenchResult<(String, String)> {
    let name = format!("opm_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(base, query)| (base, Some(query)));
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let server = base[scheme_end..].find('/').map_or(base, |slash| &base[..scheme_end + slash]);
    let url = match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    };
    Ok((url, name))
}

fn parse_args() -> BenchResult<Settings> {
    let mut settings = Settings { rows: 1_000_000, batch: 1000, runs: 5, feedback: 1000, database_url: None };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => settings.rows = value()?.parse()?,
            "--batch" => settings.batch = value()?.parse::<usize>()?.max(1),
            "--runs" => settings.runs = value()?.parse::<usize>()?.max(1),
            "--feedback" => settings.feedback = value()?.parse()?,
            "--database-url" => settings.database_url = Some(value()?),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    Ok(settings)
}

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// In `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
