//! Administration: the audit trail (`audit`, `audit verify`), API keys (`keys create|list|revoke`)
//! and projects (`projects list|create`).

use std::process::ExitCode;

use opm_api::keys::{CreateKeyRequest, CreateProjectRequest, KeyDto};
use opm_client::{AuditQuery, PageQuery};

use crate::args::{AuditArgs, AuditCommand, KeysCommand, OutputFormat, ProjectsCommand};
use crate::output::{emit, one_line, or_dash, print_table, short_hash, table, time};
use crate::settings::Settings;

/// `opm audit [filters]` and `opm audit verify` (exit 1 when the chain is broken).
pub async fn audit(settings: &Settings, args: &AuditArgs) -> anyhow::Result<ExitCode> {
    if let Some(AuditCommand::Verify) = args.command {
        let verdict = settings.client.verify_audit().await?;
        emit(settings.output, &verdict, |verdict| match &verdict.broken_at {
            None => println!(
                "audit chain ok: {} entries verified, head {}",
                verdict.checked,
                short_hash(&verdict.head_hash)
            ),
            Some(broken) => println!(
                "audit chain BROKEN at entry {}: {} ({} entries verified before it)",
                broken.seq, broken.reason, verdict.checked
            ),
        })?;
        return Ok(if verdict.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let query = AuditQuery {
        prompt: args.prompt.clone(),
        actor: args.actor.clone(),
        action: args.action.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        page: PageQuery { cursor: None, limit: Some(args.limit.max(1)) },
    };
    let entries = settings.client.list_audit(&query).await?.items;
    emit(settings.output, &entries, |entries| {
        let mut rows = table(&["seq", "at", "actor", "action", "target", "reason"]);
        for entry in entries {
            rows.add_row(vec![
                entry.seq.to_string(),
                time(&entry.at),
                entry.actor.name.clone(),
                entry.action.clone(),
                entry.target.clone(),
                or_dash(&one_line(entry.reason.as_deref().unwrap_or_default(), 50)),
            ]);
        }
        print_table(&rows);
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `opm keys create|list|revoke`.
pub async fn keys(settings: &Settings, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let client = &settings.client;
    match command {
        KeysCommand::Create(args) => {
            let expires_at = match (args.expires_at, args.expires_in) {
                (Some(at), _) => Some(at),
                (None, Some(after)) => Some(chrono::Utc::now() + chrono::Duration::from_std(after)?),
                (None, None) => None,
            };
            let request = CreateKeyRequest {
                name: args.name,
                role: args.role,
                project: settings.explicit_project.clone(),
                expires_at,
            };
            let created = client.create_key(&request).await?;
            if settings.output == OutputFormat::Table {
                let key = &created.key;
                let expiry = key.expires_at.as_ref().map(|at| format!(", expires {}", time(at))).unwrap_or_default();
                eprintln!(
                    "created key {} (`{}`, {}, project {}{expiry}); its secret is shown only now:",
                    key.id,
                    key.name,
                    key.role,
                    key.project.as_deref().unwrap_or("all (global)")
                );
                println!("{}", created.secret);
            } else {
                emit(settings.output, &created, |_| {})?;
            }
        }
        KeysCommand::List => {
            let keys = super::all_pages(|page| async move { client.list_keys(&page).await }).await?;
            emit(settings.output, &keys, |keys| print_keys(keys))?;
        }
        KeysCommand::Revoke(args) => {
            let key = client.revoke_key(&args.id, args.force).await?;
            emit(settings.output, &key, |key| println!("key {} (`{}`) revoked", key.id, key.name))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `opm projects list|create`.
pub async fn projects(settings: &Settings, command: ProjectsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProjectsCommand::List => {
            let projects = super::all_pages(|page| async move { settings.client.list_projects(&page).await }).await?;
            emit(settings.output, &projects, |projects| {
                let mut rows = table(&["name", "created"]);
                for project in projects {
                    rows.add_row(vec![project.name.clone(), time(&project.created_at)]);
                }
                print_table(&rows);
            })?;
        }
        ProjectsCommand::Create(args) => {
            let project = settings.client.create_project(&CreateProjectRequest { name: args.name }).await?;
            emit(settings.output, &project, |project| println!("project `{}` created", project.name))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_keys(keys: &[KeyDto]) {
    let mut rows = table(&["id", "name", "role", "project", "created", "expires", "last used", "revoked"]);
    let dash = || "-".to_owned();
    for key in keys {
        rows.add_row(vec![
            key.id.clone(),
            key.name.clone(),
            key.role.clone(),
            key.project.clone().unwrap_or_else(|| "*".into()),
            time(&key.created_at),
            key.expires_at.as_ref().map(time).unwrap_or_else(dash),
            key.last_used_at.as_ref().map(time).unwrap_or_else(dash),
            key.revoked_at.as_ref().map(time).unwrap_or_else(dash),
        ]);
    }
    print_table(&rows);
}
