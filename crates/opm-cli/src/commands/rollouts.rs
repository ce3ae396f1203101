//! `opm rollout start|status|list|pause|resume|promote|abort`: canary rollouts of a label.
//!
//! The server decides everything (validation, steps, checks); this module turns flags into
//! requests, picks which rollout a command means, and prints what the server answered.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use opm_api::rollouts::{
    ArmMetricsDto, CheckResultDto, RolloutActionRequest, RolloutDto, RolloutSpecDto, RolloutStateDto,
    SignificanceTestDto, StartRolloutRequest, VerdictDto,
};
use opm_client::Client;

use crate::args::{RolloutActionArgs, RolloutCommand, RolloutPickArgs, RolloutStartArgs};
use crate::output::{emit, one_line, print_table, significant, table, time};
use crate::settings::Settings;

/// `opm rollout …`.
pub async fn rollout(settings: &Settings, command: RolloutCommand) -> anyhow::Result<ExitCode> {
    let client = &settings.client;
    match command {
        RolloutCommand::Start(args) if args.request => {
            let filed = client.request_rollout(&args.name, &start_request(&args)).await?;
            emit(settings.output, &filed, |filed| {
                println!(
                    "change request {} filed: start a rollout of `{}` v{} on label `{}` once {} approval(s) are given (`opm approve {}`)",
                    filed.id,
                    filed.prompt,
                    filed.rollout.as_ref().map_or(args.to, |rollout| rollout.canary_version),
                    filed.label,
                    filed.approvals_required,
                    filed.id
                );
            })?;
        }
        RolloutCommand::Start(args) => {
            let rollout = client.start_rollout(&args.name, &start_request(&args)).await?;
            emit(settings.output, &rollout, |rollout| {
                println!(
                    "rollout {} of `{}` started: label `{}` sends {}% to v{}, the rest to v{}",
                    rollout.id,
                    rollout.prompt,
                    rollout.label,
                    rollout.canary_percent,
                    rollout.canary_version,
                    rollout.stable_version
                );
                if let Some(at) = &rollout.next_check_at {
                    println!("first check at {}", time(at));
                }
            })?;
        }
        RolloutCommand::Status(args) => {
            let rollout = pick(client, &args, false).await?;
            emit(settings.output, &rollout, print_status)?;
        }
        RolloutCommand::List(args) => {
            let rollouts = client.list_rollouts(&args.name, args.label.as_deref(), args.active).await?.items;
            emit(settings.output, &rollouts, |rollouts| print_list(rollouts))?;
        }
        RolloutCommand::Pause(args) => act(settings, "pause", &args).await?,
        RolloutCommand::Resume(args) => act(settings, "resume", &args).await?,
        RolloutCommand::Promote(args) => act(settings, "promote", &args).await?,
        RolloutCommand::Abort(args) => act(settings, "abort", &args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn start_request(args: &RolloutStartArgs) -> StartRolloutRequest {
    StartRolloutRequest {
        label: Some(args.label.clone()),
        to: args.to,
        steps: args.steps.clone(),
        interval: args.interval.clone(),
        max_error_rate: args.max_error_rate,
        max_p95_latency_ms: args.max_p95_latency_ms,
        max_cost_per_call: args.max_cost_per_call,
        min_feedback: args.min_feedback,
        min_samples: args.min_samples,
        failure_limit: args.failure_limit,
        inconclusive_limit: args.inconclusive_limit,
        reason: args.reason.clone(),
    }
}

/// `pause`, `resume`, `promote` or `abort` on the picked rollout (the label's active one).
async fn act(settings: &Settings, action: &str, args: &RolloutActionArgs) -> anyhow::Result<()> {
    let client = &settings.client;
    let target = pick(client, &args.pick, true).await?;
    let request = RolloutActionRequest { reason: args.reason.clone() };
    let rollout = client.rollout_action(&target.prompt, target.id, action, &request).await?;
    emit(settings.output, &rollout, |r| {
        let head = format!("rollout {} of `{}`", r.id, r.prompt);
        match action {
            "pause" => {
                println!("{head} paused: label `{}` holds v{} at {}%", r.label, r.canary_version, r.canary_percent)
            }
            "resume" => println!("{head} resumed at {}% (v{})", r.canary_percent, r.canary_version),
            "promote" => println!("{head} promoted: label `{}` now points at v{}", r.label, r.canary_version),
            _ => println!("{head} aborted: label `{}` back at v{}", r.label, r.stable_version),
        }
    })
}

/// The rollout `--id` names, else the label's active one, else (unless `active_only`) its newest.
async fn pick(client: &Client, pick: &RolloutPickArgs, active_only: bool) -> anyhow::Result<RolloutDto> {
    if let Some(id) = pick.id {
        return Ok(client.get_rollout(&pick.name, id).await?);
    }
    let (name, label) = (pick.name.as_str(), pick.label.as_str());
    if let Some(active) = client.list_rollouts(name, Some(label), true).await?.items.into_iter().next() {
        return Ok(active);
    }
    if active_only {
        bail!("label `{label}` of `{name}` has no active rollout; name one with --id (see `opm rollout list {name}`)");
    }
    let newest = client.list_rollouts(name, Some(label), false).await?.items.into_iter().next();
    newest.ok_or_else(|| {
        anyhow!("label `{label}` of `{name}` has no rollouts; start one with `opm rollout start {name} --label {label} --to VERSION --reason …`")
    })
}

fn print_list(rollouts: &[RolloutDto]) {
    let mut rows = table(&["id", "label", "from", "to", "state", "canary", "step", "checks", "created", "reason"]);
    for rollout in rollouts {
        rows.add_row(vec![
            rollout.id.to_string(),
            rollout.label.clone(),
            format!("v{}", rollout.stable_version),
            format!("v{}", rollout.canary_version),
            rollout.state.clone(),
            format!("{}%", rollout.canary_percent),
            step(rollout),
            rollout.checks.to_string(),
            time(&rollout.created_at),
            one_line(&rollout.reason, 50),
        ]);
    }
    print_table(&rows);
}

/// `2/4`, or `-` once finished.
fn step(rollout: &RolloutDto) -> String {
    match rollout.step {
        Some(index) => format!("{}/{}", index + 1, rollout.steps.len()),
        None => "-".into(),
    }
}

fn print_status(rollout: &RolloutDto) {
    let steps: Vec<String> = rollout.steps.iter().map(u8::to_string).collect();
    println!(
        "rollout {} of `{}`, label `{}`: v{} → v{}",
        rollout.id, rollout.prompt, rollout.label, rollout.stable_version, rollout.canary_version
    );
    println!("state:       {}", state_line(rollout));
    println!("canary:      {}% (step {} of steps {})", rollout.canary_percent, step(rollout), steps.join(","));
    let every = humantime::format_duration(Duration::from_millis(rollout.interval_ms));
    match &rollout.next_check_at {
        Some(at) => println!("next check:  {} (every {every})", time(at)),
        None => println!("next check:  - (every {every})"),
    }
    println!("gates:       {}", gates(&rollout.spec));
    println!("checks:      {}", rollout.checks);
    println!(
        "started:     {} by {}: {}",
        time(&rollout.created_at),
        rollout.created_by.name,
        one_line(&rollout.reason, 80)
    );
    let Some(check) = &rollout.last_check else {
        println!("last check:  none yet");
        return;
    };
    print_check(rollout, check);
}

/// `progressing`, `paused since T: why`, `aborted at T: why`, `promoted at T`.
fn state_line(rollout: &RolloutDto) -> String {
    match &rollout.state_detail {
        RolloutStateDto::Progressing { failures, .. } if *failures > 0 => {
            format!("progressing ({failures} failed check(s) so far)")
        }
        RolloutStateDto::Paused { reason, since, .. } => {
            format!("paused since {}: {}", time(since), one_line(reason, 80))
        }
        RolloutStateDto::Aborted { reason, at } => format!("aborted at {}: {}", time(at), one_line(reason, 80)),
        RolloutStateDto::Promoted { at } => format!("promoted at {}", time(at)),
        RolloutStateDto::Progressing { .. } => rollout.state.clone(),
    }
}

fn gates(spec: &RolloutSpecDto) -> String {
    let thresholds = &spec.thresholds;
    let mut parts = Vec::new();
    if let Some(rate) = thresholds.max_error_rate {
        parts.push(format!("error rate ≤ {}", percent(rate)));
    }
    if let Some(ms) = thresholds.max_p95_latency_ms {
        parts.push(format!("p95 ≤ {ms} ms"));
    }
    if let Some(usd) = thresholds.max_cost_per_call_usd {
        parts.push(format!("cost/call ≤ ${usd}"));
    }
    if let Some(score) = thresholds.min_feedback {
        parts.push(format!("feedback ≥ {score}"));
    }
    parts.push(format!("{} calls per arm", spec.min_samples));
    parts.push(format!("{} failure(s) tolerated", spec.failure_limit));
    parts.join(", ")
}

fn print_check(rollout: &RolloutDto, check: &CheckResultDto) {
    match &check.verdict {
        VerdictDto::Passed => println!("last check:  passed"),
        VerdictDto::Failed { reasons } | VerdictDto::Inconclusive { reasons } => {
            let verdict = if matches!(check.verdict, VerdictDto::Failed { .. }) { "failed" } else { "inconclusive" };
            println!("last check:  {verdict}");
            for reason in reasons {
                println!("  - {reason}");
            }
        }
    }
    let summary = &check.summary;
    let mut rows = table(&["arm", "version", "calls", "errors", "error rate", "p95 ms", "feedback"]);
    for (arm, version, metrics) in
        [("stable", rollout.stable_version, &summary.stable), ("canary", rollout.canary_version, &summary.canary)]
    {
        rows.add_row(arm_row(arm, version, metrics));
    }
    print_table(&rows);
    let tests = [
        ("error rate", &summary.error_rate_test),
        ("latency", &summary.latency_test),
        ("feedback", &summary.feedback_test),
    ];
    let tests: Vec<String> = tests
        .iter()
        .map(|(name, test)| format!("{name} {}", test.as_ref().map(p_value).unwrap_or("n/a".into())))
        .collect();
    println!("tests (canary vs stable, α {}): {}", summary.alpha, tests.join("; "));
}

fn arm_row(arm: &str, version: u32, metrics: &ArmMetricsDto) -> Vec<String> {
    vec![
        arm.to_owned(),
        format!("v{version}"),
        metrics.calls.to_string(),
        metrics.errors.to_string(),
        metrics.error_rate().map(percent).unwrap_or_else(|| "-".into()),
        metrics.latency_p95_ms.map(significant).unwrap_or_else(|| "-".into()),
        match metrics.feedback_mean {
            Some(mean) => format!("{mean:.2} (n={})", metrics.feedback_count),
            None => "-".into(),
        },
    ]
}

/// `p=0.012 (significant)`.
fn p_value(test: &SignificanceTestDto) -> String {
    let verdict = if test.significant { "significant" } else { "not significant" };
    format!("p={:.3} ({verdict})", test.p_value)
}

/// A fraction as a percentage, `0.0213` → `2.13%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}
