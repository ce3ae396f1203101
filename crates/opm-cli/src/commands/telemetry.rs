//! `opm stats` (per-version, label, model or arm analytics of a prompt, with each group compared
//! against the baseline) and `opm feedback` (score a generation).

use std::process::ExitCode;

use opm_api::telemetry::{ComparisonDto, FeedbackRequest, PercentilesDto, StatsDto, TestDto};
use opm_client::StatsQuery;

use crate::args::{FeedbackArgs, StatsArgs};
use crate::output::{emit, print_table, signed_significant, significant, table, time};
use crate::settings::Settings;

/// `opm stats NAME [--window 1h] [--by version|label|model|arm] [--label L]`.
pub async fn stats(settings: &Settings, args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let query = StatsQuery { window: Some(args.window.clone()), by: Some(args.by.clone()), label: args.label.clone() };
    let stats = settings.client.stats_with(&args.name, &query).await?;
    emit(settings.output, &stats, print_stats)?;
    Ok(ExitCode::SUCCESS)
}

fn print_stats(stats: &StatsDto) {
    let through = stats.label.as_ref().map(|label| format!(" through label `{label}`")).unwrap_or_default();
    println!(
        "{}{through} by {}, last {} ({} – {})",
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
        "unsticky",
    ]);
    for group in &stats.groups {
        rows.add_row(vec![
            group.group.clone(),
            group.calls.to_string(),
            format!("{} ({:.1}%)", group.errors, group.error_rate * 100.0),
            group.latency_ms.as_ref().map(percentiles).unwrap_or_else(|| "-".into()),
            group.ttft_ms.as_ref().map(|p| significant(p.p50)).unwrap_or_else(|| "-".into()),
            format!("{}/{}", group.tokens.input, group.tokens.output),
            significant(group.cost.total_usd),
            group.cost.per_call_usd.map(significant).unwrap_or_else(|| "-".into()),
            match group.feedback.mean_score {
                Some(mean) => format!("{mean:.2} (n={})", group.feedback.count),
                None => "-".into(),
            },
            group.unsticky_calls.to_string(),
        ]);
    }
    print_table(&rows);
    print_comparisons(stats);
}

/// Each group against the baseline: difference and p-value per test, significant or not.
fn print_comparisons(stats: &StatsDto) {
    let Some(baseline) = &stats.baseline else { return };
    println!();
    println!("against baseline {} {baseline} (two-sided tests):", stats.by);
    if stats.comparisons.is_empty() {
        println!("  no other group to compare");
    }
    for comparison in &stats.comparisons {
        println!("  {} {}: {}", stats.by, comparison.group, comparison_line(comparison));
    }
}

fn comparison_line(comparison: &ComparisonDto) -> String {
    let tests = [
        ("error rate", comparison.error_rate.as_ref().map(|test| test_text(test, |d| format!("{:+.2} pp", d * 100.0)))),
        (
            "latency",
            comparison
                .latency_mean_ms
                .as_ref()
                .map(|test| test_text(test, |d| format!("{} ms", signed_significant(d)))),
        ),
        ("feedback", comparison.feedback_mean.as_ref().map(|test| test_text(test, |d| format!("{d:+.3}")))),
    ];
    let parts: Vec<String> =
        tests.into_iter().map(|(name, text)| format!("{name} {}", text.unwrap_or_else(|| "n/a".into()))).collect();
    parts.join("; ")
}

/// `+1.20 pp, p=0.031 significant`.
fn test_text(test: &TestDto, difference: impl Fn(f64) -> String) -> String {
    let verdict = if test.significant { "significant" } else { "not significant" };
    format!("{}, p={:.3} {verdict}", difference(test.difference), test.p_value)
}

fn percentiles(p: &PercentilesDto) -> String {
    format!("{}/{}/{}", significant(p.p50), significant(p.p95), significant(p.p99))
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
