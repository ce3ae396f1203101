//! `opm backup create|verify|restore` (SQLite, through `opm_store::backup`, in this process: no
//! server or key needed, only the file) and `opm healthcheck` (a client of `/healthz`).

use std::process::ExitCode;

use anyhow::Context;
use opm_store::backup::{self, BackupSummary, RestoreOptions};

use crate::args::{BackupCommand, HealthcheckArgs};
use crate::commands::server::{database_url, redact};
use crate::settings::Settings;

/// Runs one backup command.
pub async fn backup(command: BackupCommand) -> anyhow::Result<ExitCode> {
    match command {
        BackupCommand::Create(args) => {
            let url = database_url(&args.store)?;
            let summary =
                backup::backup(&url, &args.file).await.with_context(|| format!("cannot back up {}", redact(&url)))?;
            print_summary("backup written and verified", &summary);
        }
        BackupCommand::Verify(args) => {
            let summary = backup::verify_backup(&args.file).await?;
            print_summary("backup verified", &summary);
        }
        BackupCommand::Restore(args) => {
            let url = database_url(&args.store)?;
            let options = RestoreOptions { replace_existing: args.force };
            let summary = backup::restore(&args.file, &url, options)
                .await
                .with_context(|| format!("cannot restore {} into {}", args.file.display(), redact(&url)))?;
            print_summary("database restored and verified", &summary);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 when the server answers its health (or readiness) check.
pub async fn healthcheck(settings: &Settings, args: &HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let answer = if args.ready { settings.client.ready().await } else { settings.client.health().await };
    let health = answer.context("health check failed")?;
    println!("{}", health.status);
    Ok(ExitCode::SUCCESS)
}

fn print_summary(what: &str, summary: &BackupSummary) {
    println!("{what}: {} ({} bytes)", summary.path.display(), summary.bytes);
    println!(
        "  schema {}: {} projects, {} prompts, {} versions",
        summary.schema_version, summary.projects, summary.prompts, summary.versions
    );
    println!("  audit chain verified: {} entries, head {}", summary.audit_entries, summary.audit_head_hash);
}
