//! Governance: `opm request`, `opm requests`, `opm approve`, `opm reject`, `opm cancel`,
//! `opm freeze`, `opm unfreeze` and `opm policy show|set`.

use std::process::ExitCode;

use anyhow::Context;
use opm_api::governance::{ChangeRequestDto, PolicyDto, PolicyRulesDto, SetPolicyRequest};
use opm_api::labels::{SetLabelRequest, SplitArmDto};

use crate::args::{DecideArgs, FreezeArgs, PolicyCommand, RequestArgs, RequestsArgs};
use crate::output::{emit, one_line, print_table, table, time};
use crate::settings::Settings;

/// `opm request NAME LABEL VERSION --reason R`: files a change request on a protected label.
pub async fn request(settings: &Settings, args: &RequestArgs) -> anyhow::Result<ExitCode> {
    let split = match &args.split {
        Some(text) => Some(
            opm_core::split::SplitArms::parse(text)?
                .as_slice()
                .iter()
                .map(|arm| SplitArmDto { version: arm.version, weight: arm.weight })
                .collect(),
        ),
        None => None,
    };
    let body = SetLabelRequest { version: args.version, split, reason: args.reason.clone() };
    let filed = settings.client.request_label_change(&args.name, &args.label, &body).await?;
    emit(settings.output, &filed, |filed| {
        println!(
            "change request {} filed: `{}` of `{}` → {} once {} approval(s) are in (`opm approve {}`)",
            filed.id,
            filed.label,
            filed.prompt,
            change(filed),
            filed.approvals_required,
            filed.id
        );
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `opm requests [--state S] [--prompt P]`: the project's change requests, newest first.
pub async fn requests(settings: &Settings, args: &RequestsArgs) -> anyhow::Result<ExitCode> {
    let page = settings.client.list_change_requests(args.state.as_deref(), args.prompt.as_deref(), Some(500)).await?;
    emit(settings.output, &page.items, |requests| {
        let mut rows = table(&["id", "state", "prompt", "label", "to", "approvals", "author", "filed", "reason"]);
        for request in requests {
            rows.add_row(vec![
                request.id.to_string(),
                request.state.clone(),
                request.prompt.clone(),
                request.label.clone(),
                change(request),
                format!("{}/{}", request.approvals.len(), request.approvals_required),
                request.author.name.clone(),
                time(&request.created_at),
                one_line(&request.reason, 50),
            ]);
        }
        print_table(&rows);
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `opm approve|reject|cancel ID`.
pub async fn decide(settings: &Settings, action: &str, args: &DecideArgs) -> anyhow::Result<ExitCode> {
    let decided = settings.client.decide_change_request(args.id, action, &args.reason).await?;
    emit(settings.output, &decided, |decided| print_decision(action, decided))?;
    Ok(ExitCode::SUCCESS)
}

fn print_decision(action: &str, request: &ChangeRequestDto) {
    match request.state.as_str() {
        "applied" => println!(
            "change request {} approved and applied: `{}` of `{}` now points at {}",
            request.id,
            request.label,
            request.prompt,
            change(request)
        ),
        "pending" => println!(
            "change request {}: {} of {} approval(s) in",
            request.id,
            request.approvals.len(),
            request.approvals_required
        ),
        state => println!("change request {} {action}: now {state}", request.id),
    }
}

/// `opm freeze --reason R` (`on`) and `opm unfreeze --reason R`.
pub async fn freeze(settings: &Settings, on: bool, args: &FreezeArgs) -> anyhow::Result<ExitCode> {
    let policy = settings.client.freeze(on, &args.reason).await?;
    emit(settings.output, &policy, print_policy)?;
    Ok(ExitCode::SUCCESS)
}

/// `opm policy show|set`.
pub async fn policy(settings: &Settings, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let client = &settings.client;
    let policy = match command {
        PolicyCommand::Show => client.policy().await?,
        PolicyCommand::Set(args) => {
            let text =
                std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
            let rules: PolicyRulesDto = serde_saphyr::from_str(&text)
                .map_err(|error| anyhow::anyhow!("{}: not a governance policy: {error}", args.file.display()))?;
            let current = client.policy().await?;
            let request = SetPolicyRequest { rules, expected_revision: current.revision, reason: args.reason };
            client.set_policy(&request).await?
        }
    };
    emit(settings.output, &policy, print_policy)?;
    Ok(ExitCode::SUCCESS)
}

fn print_policy(policy: &PolicyDto) {
    println!("project `{}`, policy revision {}", policy.project, policy.revision);
    match &policy.active_freeze {
        Some(freeze) => println!("FROZEN by `{}`: {}", freeze.name, freeze.reason),
        None => println!("not frozen"),
    }
    for protection in &policy.rules.protected_labels {
        println!(
            "protected label `{}`: moved by {} or above, {} approval(s)",
            protection.label, protection.move_role, protection.approvals
        );
    }
    for window in &policy.rules.freeze_windows {
        println!(
            "freeze window `{}`: {} to {} ({})",
            window.name,
            time(&window.starts_at),
            time(&window.ends_at),
            window.reason
        );
    }
    let publish = &policy.rules.publish;
    println!(
        "publish: secret scan {}, message {}, description {}, documented variables {}, {} forbidden pattern(s)",
        if publish.secret_scan { "on" } else { "off" },
        if publish.require_message { "required" } else { "optional" },
        if publish.require_description { "required" } else { "optional" },
        if publish.require_documented_variables { "required" } else { "optional" },
        publish.forbidden_patterns.len()
    );
    let limits = &policy.rules.limits;
    for (whose, set) in std::iter::once(("project", &limits.project))
        .chain(std::iter::once(("each key", &limits.per_key)))
        .chain(limits.keys.iter().map(|(key, set)| (key.as_str(), set)))
    {
        let mut parts = Vec::new();
        if let Some(rate) = set.requests_per_second {
            parts.push(format!(
                "{rate} req/s (burst {})",
                set.burst.map_or_else(|| "default".to_owned(), |b| b.to_string())
            ));
        }
        if let Some(daily) = set.daily_usd {
            parts.push(format!("${daily} a day"));
        }
        if let Some(monthly) = set.monthly_usd {
            parts.push(format!("${monthly} a month"));
        }
        if !parts.is_empty() {
            println!("gateway limits for {whose}: {}", parts.join(", "));
        }
    }
}

/// What a request does: the label's new target, or the rollout it starts.
fn change(request: &opm_api::governance::ChangeRequestDto) -> String {
    match (&request.target, &request.rollout) {
        (Some(target), _) => super::labels::target(target),
        (None, Some(rollout)) => format!(
            "a rollout of version {} (steps {})",
            rollout.canary_version,
            rollout.spec.steps.iter().map(|step| format!("{step}%")).collect::<Vec<_>>().join(", ")
        ),
        (None, None) => "?".to_owned(),
    }
}
