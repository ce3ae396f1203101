//! Per-version, label, arm or model statistics of a prompt: a table for the window, the
//! significance tests against the baseline, and charts over time from the stats series.

use axum::extract::{Path, Query};
use axum::response::Response;
use maud::{Markup, html};
use opm_api::telemetry::{GroupStatsDto, StatsDto, StatsSeriesDto};
use serde::Deserialize;

use super::respond;
use crate::api::query;
use crate::chart::{Series, line_chart};
use crate::layout::{ms, percent, prompt_tabs, usd};
use crate::session::Page;

/// Window, grouping and label filter.
#[derive(Debug, Default, Deserialize)]
pub struct StatsQuery {
    #[serde(default)]
    by: String,
    #[serde(default)]
    window: String,
    #[serde(default)]
    label: String,
}

/// `/ui/prompts/{name}/stats`.
pub async fn page(Page { state, session }: Page, Path(name): Path<String>, Query(q): Query<StatsQuery>) -> Response {
    respond(&session, async {
        let by = if q.by.is_empty() { "version" } else { q.by.as_str() };
        let window = if q.window.is_empty() { "1h" } else { q.window.as_str() };
        let params = query(&[("by", by), ("window", window), ("label", &q.label)]);
        let who = &session.credentials;
        let stats: StatsDto = state.api.get(who, &format!("/api/v1/prompts/{name}/stats{params}")).await?;
        let series_params = query(&[("by", by), ("window", window), ("label", &q.label), ("buckets", "12")]);
        let series: StatsSeriesDto = state.api.get(who, &format!("/api/v1/prompts/{name}/stats/series{series_params}")).await?;
        let body = html! {
            h1 { "Stats: " (name) }
            (prompt_tabs(&name, "stats", &session))
            form.filters method="get" action={ "/ui/prompts/" (name) "/stats" } {
                label { "By " select name="by" {
                    @for option in ["version", "label", "arm", "model"] { option value=(option) selected[option == by] { (option) } }
                } }
                label { "Window " select name="window" {
                    @for option in ["15m", "1h", "6h", "24h", "7d", "30d"] { option value=(option) selected[option == window] { (option) } }
                } }
                label { "Label " input type="text" name="label" value=(q.label) placeholder="any"; }
                button type="submit" { "Show" }
            }
            p.hint { (stats.since.format("%Y-%m-%d %H:%M")) " → " (stats.until.format("%Y-%m-%d %H:%M UTC")) }
            (stats_table(&stats.groups))
            @if !stats.comparisons.is_empty() {
                h2 { "Against the baseline (" (stats.baseline.as_deref().unwrap_or("?")) ")" }
                table #comparisons {
                    thead { tr { th { "Group" } th { "Error rate Δ" } th { "p" } th { "Latency Δ ms" } th { "p" } th { "Significant?" } } }
                    tbody {
                        @for c in &stats.comparisons {
                            tr {
                                td { (c.group) }
                                td { (c.error_rate.map(|t| percent(t.difference)).unwrap_or_default()) }
                                td { (c.error_rate.map(|t| format!("{:.3}", t.p_value)).unwrap_or_default()) }
                                td { (c.latency_mean_ms.map(|t| format!("{:.1}", t.difference)).unwrap_or_default()) }
                                td { (c.latency_mean_ms.map(|t| format!("{:.3}", t.p_value)).unwrap_or_default()) }
                                td { (if c.error_rate.is_some_and(|t| t.significant) || c.latency_mean_ms.is_some_and(|t| t.significant) { "yes" } else { "no" }) }
                            }
                        }
                    }
                }
            }
            h2 { "Over time" }
            (charts(&series))
        };
        Ok(crate::layout::page(&session, &format!("Stats {name}"), body))
    }
    .await)
}

/// The stats of each group as a table.
pub fn stats_table(groups: &[GroupStatsDto]) -> Markup {
    html! {
        @if groups.is_empty() { p.empty { "No calls in this window." } } @else {
            div.scroll {
            table.stats {
                thead { tr {
                    th { "Group" } th { "Calls" } th { "Error rate" } th { "p50" } th { "p95" } th { "p99" } th { "TTFT p50" }
                    th { "Tokens in / out" } th { "Cost" } th { "Per call" } th { "Feedback" }
                } }
                tbody {
                    @for g in groups {
                        tr {
                            td { (g.group) } td { (g.calls) } td { (percent(g.error_rate)) " (" (g.errors) ")" }
                            td { (g.latency_ms.map(|p| ms(p.p50)).unwrap_or_default()) }
                            td { (g.latency_ms.map(|p| ms(p.p95)).unwrap_or_default()) }
                            td { (g.latency_ms.map(|p| ms(p.p99)).unwrap_or_default()) }
                            td { (g.ttft_ms.map(|p| ms(p.p50)).unwrap_or_default()) }
                            td { (g.tokens.input) " / " (g.tokens.output) }
                            td { (usd(g.cost.total_usd)) }
                            td { (g.cost.per_call_usd.map(usd).unwrap_or_default()) }
                            td { (g.feedback.count) @if let Some(m) = g.feedback.mean_score { " (mean " (format!("{m:.2}")) ")" } }
                        }
                    }
                }
            }
            }
        }
    }
}

fn charts(series: &StatsSeriesDto) -> Markup {
    let labels: Vec<String> = series.buckets.iter().map(|b| b.until.format("%H:%M").to_string()).collect();
    let mut groups: Vec<String> = Vec::new();
    for bucket in &series.buckets {
        for g in &bucket.groups {
            if !groups.contains(&g.group) {
                groups.push(g.group.clone());
            }
        }
    }
    let metric = |pick: fn(&GroupStatsDto) -> Option<f64>| -> Vec<Series> {
        groups
            .iter()
            .map(|name| Series {
                name: name.clone(),
                points: series
                    .buckets
                    .iter()
                    .map(|b| b.groups.iter().find(|g| &g.group == name).and_then(pick))
                    .collect(),
            })
            .collect()
    };
    html! {
        @if groups.is_empty() { p.empty { "No calls to chart in this window." } } @else {
            div.charts {
                (line_chart("Calls", &labels, &metric(|g| Some(g.calls as f64)), |v| format!("{v:.0}")))
                (line_chart("Error rate", &labels, &metric(|g| (g.calls > 0).then_some(g.error_rate)), percent))
                (line_chart("Latency p95", &labels, &metric(|g| g.latency_ms.map(|p| p.p95)), ms))
                (line_chart("Cost", &labels, &metric(|g| Some(g.cost.total_usd)), usd))
            }
        }
    }
}
