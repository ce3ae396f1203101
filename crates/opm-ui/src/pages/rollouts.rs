//! Canary rollouts: start one (steps, interval, gates), watch its status (both arms' metrics from
//! the last check and live, the checks so far from the audit trail), pause, resume, promote or
//! abort.

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use http::Method;
use maud::{Markup, html};
use opm_api::Page as ApiPage;
use opm_api::audit::AuditEntryDto;
use opm_api::rollouts::{CheckResultDto, RolloutActionRequest, RolloutDto, StartRolloutRequest, VerdictDto};
use opm_api::telemetry::StatsDto;

use super::respond;
use super::stats::stats_table;
use crate::api::query;
use crate::error::{UiError, UiResult};
use crate::layout::{csrf, page, percent, prompt_tabs, time};
use crate::session::{Page, Posted, Session};

/// `/ui/prompts/{name}/rollouts`: the prompt's rollouts and the start form.
pub async fn list(Page { state, session }: Page, Path(name): Path<String>) -> Response {
    respond(&session, async {
        let rollouts: ApiPage<RolloutDto> =
            state.api.get(&session.credentials, &format!("/api/v1/prompts/{name}/rollouts")).await?;
        let body = html! {
            h1 { "Rollouts: " (name) }
            (prompt_tabs(&name, "rollouts", &session))
            @if rollouts.items.is_empty() { p.empty { "No rollouts yet." } } @else {
                div.scroll {
                table #rollouts {
                    thead { tr { th { "Id" } th { "Label" } th { "Stable → canary" } th { "State" } th { "Canary share" } th { "Checks" } th { "Started" } } }
                    tbody {
                        @for r in &rollouts.items {
                            tr {
                                td { a href={ "/ui/prompts/" (name) "/rollouts/" (r.id) } { "#" (r.id) } }
                                td { (r.label) } td { "v" (r.stable_version) " → v" (r.canary_version) }
                                td { span.badge { (r.state) } } td { (r.canary_percent) "%" } td { (r.checks) }
                                td { (time(&r.created_at)) }
                            }
                        }
                    }
                }
                }
            }
            @if session.can_edit() { (start_form(&session, &name)) }
        };
        Ok(page(&session, &format!("Rollouts {name}"), body))
    }
    .await)
}

fn start_form(session: &Session, name: &str) -> Markup {
    html! {
        form.card #start-rollout method="post" action={ "/ui/prompts/" (name) "/rollouts" } {
            h2 { "Start a rollout" }
            (csrf(session))
            div.row {
                label { "Label " input type="text" name="label" value="production" required; }
                label { "Canary version " input type="number" name="to" min="1" required; }
            }
            div.row {
                label { "Steps " span.hint { "(percent, ending at 100)" } input type="text" name="steps" value="5,25,50,100"; }
                label { "Interval " span.hint { "(e.g. 10m)" } input type="text" name="interval" value="10m"; }
            }
            div.row {
                label { "Max error rate " span.hint { "(0–1)" } input type="text" name="max_error_rate" placeholder="0.02"; }
                label { "Max p95 latency (ms)" input type="text" name="max_p95_latency_ms" placeholder="3000"; }
                label { "Min samples per arm" input type="text" name="min_samples" placeholder="200"; }
            }
            div.row {
                label { "Max cost per call (USD)" input type="text" name="max_cost_per_call"; }
                label { "Min mean feedback" input type="text" name="min_feedback"; }
                label { "Failed checks tolerated" input type="text" name="failure_limit" placeholder="0"; }
            }
            label { "Reason " span.hint { "(required)" } input type="text" name="reason" required; }
            button type="submit" { "Start rollout" }
        }
    }
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> UiResult<Option<T>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| UiError::form(format!("{what} `{text}` is not a number")))
}

/// Starts a rollout.
pub async fn start(Path(name): Path<String>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let steps = fields
                .get("steps")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.trim_end_matches('%')
                        .parse::<u8>()
                        .map_err(|_| UiError::form(format!("step `{s}` is not a percentage")))
                })
                .collect::<UiResult<Vec<u8>>>()?;
            let request = StartRolloutRequest {
                label: Some(fields.get("label").to_owned()).filter(|l| !l.is_empty()),
                to: number(fields.required("to", "the canary version")?, "the canary version")?.unwrap_or_default(),
                steps: (!steps.is_empty()).then_some(steps),
                interval: Some(fields.get("interval").to_owned()).filter(|i| !i.is_empty()),
                max_error_rate: number(fields.get("max_error_rate"), "the max error rate")?,
                max_p95_latency_ms: number(fields.get("max_p95_latency_ms"), "the max p95 latency")?,
                max_cost_per_call: number(fields.get("max_cost_per_call"), "the max cost per call")?,
                min_feedback: number(fields.get("min_feedback"), "the min feedback")?,
                min_samples: number(fields.get("min_samples"), "the min samples")?,
                failure_limit: number(fields.get("failure_limit"), "the failed checks tolerated")?,
                inconclusive_limit: None,
                reason: fields.required("reason", "a reason")?.to_owned(),
            };
            let path = format!("/api/v1/prompts/{name}/rollouts");
            let rollout: RolloutDto = state.api.json(&session.credentials, Method::POST, &path, &request).await?;
            Ok(Redirect::to(&format!("/ui/prompts/{name}/rollouts/{}", rollout.id)).into_response())
        }
        .await,
    )
}

/// `/ui/prompts/{name}/rollouts/{id}`: status, arms, checks, actions.
pub async fn show(Page { state, session }: Page, Path((name, id)): Path<(String, i64)>) -> Response {
    respond(&session, async {
        let who = &session.credentials;
        let r: RolloutDto = state.api.get(who, &format!("/api/v1/prompts/{name}/rollouts/{id}")).await?;
        let audit: ApiPage<AuditEntryDto> =
            state.api.get(who, &format!("/api/v1/audit{}", query(&[("prompt", &name), ("limit", "200")]))).await?;
        let suffix = format!("/rollout/{id}");
        let decisions: Vec<&AuditEntryDto> = audit.items.iter().filter(|e| e.target.ends_with(&suffix)).collect();
        let live: StatsDto = state
            .api
            .get(who, &format!("/api/v1/prompts/{name}/stats{}", query(&[("by", "arm"), ("label", &r.label), ("window", "1h")])))
            .await?;
        let active = matches!(r.state.as_str(), "progressing" | "paused");
        let body = html! {
            h1 { "Rollout #" (r.id) ": " (name) " · " (r.label) }
            (prompt_tabs(&name, "rollouts", &session))
            dl.summary #rollout-status {
                dt { "State" } dd { span.badge { (r.state) } }
                dt { "Stable → canary" } dd { "v" (r.stable_version) " → v" (r.canary_version) }
                dt { "Canary share" } dd { (r.canary_percent) "%" @if let Some(step) = r.step { " (step " (step + 1) " of " (r.steps.len()) ")" } }
                dt { "Steps" } dd { (r.steps.iter().map(|s| format!("{s}%")).collect::<Vec<_>>().join(" → ")) }
                dt { "Interval" } dd { (r.interval_ms / 1000) " s" }
                @if let Some(next) = &r.next_check_at { dt { "Next check" } dd { (time(next)) } }
                dt { "Checks" } dd { (r.checks) }
                dt { "Reason" } dd { (r.reason) " — " (r.created_by.name) }
            }
            @if session.can_edit() && active {
                form.card #rollout-actions method="post" action={ "/ui/prompts/" (name) "/rollouts/" (r.id) "/act" } {
                    (csrf(&session))
                    label { "Reason " span.hint { "(required)" } input type="text" name="reason" required; }
                    div.row {
                        @if r.state == "progressing" { button.secondary type="submit" name="action" value="pause" { "Pause" } }
                        @if r.state == "paused" { button.secondary type="submit" name="action" value="resume" { "Resume" } }
                        button type="submit" name="action" value="promote" { "Promote now" }
                        button.danger type="submit" name="action" value="abort" { "Abort (back to v" (r.stable_version) ")" }
                    }
                }
            }
            h2 { "Last check" }
            @match &r.last_check { Some(check) => (check_view(check)), None => p.empty { "No check yet." } }
            h2 { "Live, both arms (last hour, by arm)" }
            (stats_table(&live.groups))
            h2 { "Decisions" }
            div.scroll {
            table #rollout-decisions {
                thead { tr { th { "When" } th { "Action" } th { "By" } th { "Reason" } } }
                tbody { @for e in &decisions { tr { td { (time(&e.at)) } td { (e.action) } td { (e.actor.name) } td { (e.reason.as_deref().unwrap_or_default()) } } } }
            }
            }
        };
        Ok(page(&session, &format!("Rollout {id}"), body))
    }
    .await)
}

fn check_view(check: &CheckResultDto) -> Markup {
    let (verdict, reasons): (&str, &[String]) = match &check.verdict {
        VerdictDto::Passed => ("passed", &[]),
        VerdictDto::Failed { reasons } => ("failed", reasons),
        VerdictDto::Inconclusive { reasons } => ("inconclusive", reasons),
    };
    let summary = &check.summary;
    let number = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_else(|| "—".to_owned());
    let arms = [
        ("stable", &summary.stable, summary.stable_error_rate),
        ("canary", &summary.canary, summary.canary_error_rate),
    ];
    html! {
        p #check-verdict { "Verdict: " strong { (verdict) } }
        @if !reasons.is_empty() { ul { @for r in reasons { li { (r) } } } }
        table.arms {
            thead { tr { th { "Arm" } th { "Calls" } th { "Errors" } th { "Error rate" } th { "p95 ms" } th { "Mean ms" } th { "Feedback" } } }
            tbody {
                @for (name, a, rate) in arms {
                    tr { td { (name) } td { (a.calls) } td { (a.errors) }
                         td { (rate.map(percent).unwrap_or_else(|| "—".to_owned())) }
                         td { (number(a.latency_p95_ms)) } td { (number(a.latency_mean_ms)) } td { (number(a.feedback_mean)) } }
                }
            }
        }
    }
}

/// Pause, resume, promote or abort.
pub async fn act(Path((name, id, _)): Path<(String, i64, String)>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let action = fields.get("action");
            if !matches!(action, "pause" | "resume" | "promote" | "abort") {
                return Err(UiError::form("the action is pause, resume, promote or abort"));
            }
            let request = RolloutActionRequest { reason: fields.required("reason", "a reason")?.to_owned() };
            let path = format!("/api/v1/prompts/{name}/rollouts/{id}/{action}");
            let _: RolloutDto = state.api.json(&session.credentials, Method::POST, &path, &request).await?;
            Ok(Redirect::to(&format!("/ui/prompts/{name}/rollouts/{id}")).into_response())
        }
        .await,
    )
}
