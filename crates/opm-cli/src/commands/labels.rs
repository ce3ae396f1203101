//! Labels: `label set`, `label list`, `label history` and `rollback`.

use std::process::ExitCode;

use opm_api::labels::{LabelDto, LabelTargetDto, RollbackRequest, SetLabelRequest, SplitArmDto};

use crate::args::{LabelCommand, RollbackArgs};
use crate::output::{emit, one_line, print_table, table, time};
use crate::settings::Settings;

/// `opm label set|list|history`.
pub async fn label(settings: &Settings, command: LabelCommand) -> anyhow::Result<ExitCode> {
    let client = &settings.client;
    match command {
        LabelCommand::Set(args) => {
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
            let request = SetLabelRequest { version: args.version, split, reason: args.reason };
            let label = client.set_label(&args.name, &args.label, &request).await?;
            emit(settings.output, &label, |label| {
                println!("label `{}` of `{}` now points at {}", label.name, args.name, target(&label.target));
            })?;
        }
        LabelCommand::List(args) => {
            let labels = client.list_labels(&args.name).await?.items;
            emit(settings.output, &labels, |labels| print_labels(labels))?;
        }
        LabelCommand::History(args) => {
            let (name, label) = (args.name.as_str(), args.label.as_str());
            let changes =
                super::all_pages(|page| async move { client.label_history(name, label, &page).await }).await?;
            emit(settings.output, &changes, |changes| {
                let mut rows = table(&["seq", "at", "kind", "from", "to", "actor", "reason"]);
                for change in changes {
                    rows.add_row(vec![
                        change.seq.to_string(),
                        time(&change.at),
                        change.kind.clone(),
                        change.from.as_ref().map(target).unwrap_or_else(|| "-".into()),
                        target(&change.to),
                        change.actor.name.clone(),
                        one_line(&change.reason, 60),
                    ]);
                }
                print_table(&rows);
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `opm rollback NAME LABEL --reason R`.
pub async fn rollback(settings: &Settings, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let request = RollbackRequest { reason: args.reason.clone() };
    let label = settings.client.rollback_label(&args.name, &args.label, &request).await?;
    emit(settings.output, &label, |label| {
        println!("label `{}` of `{}` rolled back to {}", label.name, args.name, target(&label.target));
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_labels(labels: &[LabelDto]) {
    let mut rows = table(&["label", "target", "updated", "by", "reason"]);
    for label in labels {
        rows.add_row(vec![
            label.name.clone(),
            target(&label.target),
            time(&label.updated_at),
            label.updated_by.name.clone(),
            one_line(&label.reason, 60),
        ]);
    }
    print_table(&rows);
}

/// `v7`, or a split as `v7 90% + v8 10%`.
pub fn target(target: &LabelTargetDto) -> String {
    match target {
        LabelTargetDto::Version { version } => format!("v{version}"),
        LabelTargetDto::Split { arms, .. } => {
            arms.iter().map(|arm| format!("v{} {}%", arm.version, arm.weight)).collect::<Vec<_>>().join(" + ")
        }
    }
}
