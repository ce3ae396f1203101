//! `opm stats` (per-version analytics of a prompt) and `opm feedback` (score a generation).

use std::process::ExitCode;

use opm_api::telemetry::{FeedbackRequest, PercentilesDto, StatsDto};

use crate::args::{FeedbackArgs, StatsArgs};
use crate::output::{emit, print_table, table, time};
use crate::settings::Settings;

/// `opm stats NAME [--window 1h] [--by version|label|model]`.
pub async fn stats(settings: &Settings, args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let stats = settings.client.stats(&args.name, Some(&args.window), Some(&args.by)).await?;
    emit(settings.output, &stats, print_stats)?;
    Ok(ExitCode::SUCCESS)
}

fn print_stats(stats: &StatsDto) {
    println!(
        "{} by {}, last {} ({} – {})",
        stats.prompt,
        stats.by,
        stats.window,
        time(&stats.since),
        time(&stats.until)
    );
    if stats.groups.is_empty() {
        println!("no calls in this window");
        return;
    }
    let mut rows = table(&[
        &stats.by,
        "calls",
        "errors",
        "latency p50/p95/p99 ms",
        "ttft p50 ms",
        "tokens in/out",
        "cost $",
        "$/call",
        "feedback",
    ]);
    for group in &stats.groups {
        rows.add_row(vec![
            group.group.clone(),
            group.calls.to_string(),
            format!("{} ({:.1}%)", group.errors, group.error_rate * 100.0),
            group.latency_ms.as_ref().map(percentiles).unwrap_or_else(|| "-".into()),
            group.ttft_ms.as_ref().map(|p| format!("{:.0}", p.p50)).unwrap_or_else(|| "-".into()),
            format!("{}/{}", group.tokens.input, group.tokens.output),
            format!("{:.4}", group.cost.total_usd),
            group.cost.per_call_usd.map(|c| format!("{c:.6}")).unwrap_or_else(|| "-".into()),
            match group.feedback.mean_score {
                Some(mean) => format!("{mean:.2} (n={})", group.feedback.count),
                None => "-".into(),
            },
        ]);
    }
    print_table(&rows);
}

fn percentiles(p: &PercentilesDto) -> String {
    format!("{:.0}/{:.0}/{:.0}", p.p50, p.p95, p.p99)
}

/// `opm feedback GENERATION_ID --score S [--comment C]`.
pub async fn feedback(settings: &Settings, args: &FeedbackArgs) -> anyhow::Result<ExitCode> {
    let request =
        FeedbackRequest { generation_id: args.generation_id.clone(), score: args.score, comment: args.comment.clone() };
    let stored = settings.client.feedback(&request).await?;
    emit(settings.output, &stored, |stored| {
        println!("feedback {} recorded for generation {}: score {}", stored.id, stored.generation_id, stored.score);
    })?;
    Ok(ExitCode::SUCCESS)
}
