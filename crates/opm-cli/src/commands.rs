//! Dispatch: `serve`, `migrate` and `backup` run the server side in-process; every other command talks to a
//! server through `opm-client` with the resolved [`Settings`].

mod admin;
mod apply;
mod backup;
mod export;
mod governance;
mod labels;
mod prompts;
mod rollouts;
mod server;
mod telemetry;
mod watch;

use std::process::ExitCode;

use opm_api::Page;
use opm_client::{ClientError, PageQuery};

use crate::args::{Cli, Command, GetCommand};
use crate::settings::Settings;

/// Runs the parsed command line; `project_on_command_line` says whether `--project` was typed.
pub async fn run(cli: Cli, project_on_command_line: bool) -> anyhow::Result<ExitCode> {
    let settings = match cli.command {
        Command::Serve(args) => return server::serve(args).await,
        Command::Migrate(args) => return server::migrate(args).await,
        Command::Backup(command) => return backup::backup(command).await,
        _ => Settings::resolve(&cli.global, project_on_command_line)?,
    };
    let settings = &settings;
    match cli.command {
        Command::Serve(_) | Command::Migrate(_) | Command::Backup(_) => unreachable_command(),
        Command::Healthcheck(args) => backup::healthcheck(settings, &args).await,
        Command::Apply(args) => apply::apply(settings, &args).await,
        Command::Export(args) => export::export(settings, &args).await,
        Command::Get(GetCommand::Prompts(args)) => prompts::list(settings, &args).await,
        Command::Get(GetCommand::Prompt(args)) => prompts::show(settings, &args).await,
        Command::History(args) => prompts::history(settings, &args.name).await,
        Command::Diff(args) => prompts::diff(settings, &args).await,
        Command::Render(args) => prompts::render(settings, &args).await,
        Command::Invoke(args) => prompts::invoke(settings, &args).await,
        Command::Archive(args) => prompts::archive(settings, &args.name, true).await,
        Command::Restore(args) => prompts::archive(settings, &args.name, false).await,
        Command::Label(command) => labels::label(settings, command).await,
        Command::Rollback(args) => labels::rollback(settings, &args).await,
        Command::Rollout(command) => rollouts::rollout(settings, command).await,
        Command::Watch(args) => watch::watch(settings, &args).await,
        Command::Request(args) => governance::request(settings, &args).await,
        Command::Requests(args) => governance::requests(settings, &args).await,
        Command::Approve(args) => governance::decide(settings, "approve", &args).await,
        Command::Reject(args) => governance::decide(settings, "reject", &args).await,
        Command::Cancel(args) => governance::decide(settings, "cancel", &args).await,
        Command::Freeze(args) => governance::freeze(settings, true, &args).await,
        Command::Unfreeze(args) => governance::freeze(settings, false, &args).await,
        Command::Policy(command) => governance::policy(settings, command).await,
        Command::Audit(args) => admin::audit(settings, &args).await,
        Command::Stats(args) => telemetry::stats(settings, &args).await,
        Command::Feedback(args) => telemetry::feedback(settings, &args).await,
        Command::Keys(command) => admin::keys(settings, command).await,
        Command::Projects(command) => admin::projects(settings, command).await,
    }
}

/// Every item of a paged listing: calls `fetch` with each `next_cursor` until the last page.
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, ClientError>
where
    F: FnMut(PageQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, ClientError>>,
{
    let mut items = Vec::new();
    let mut page = PageQuery { cursor: None, limit: Some(100) };
    loop {
        let answer = fetch(page.clone()).await?;
        items.extend(answer.items);
        match answer.next_cursor {
            Some(cursor) if page.cursor.as_ref() != Some(&cursor) => page.cursor = Some(cursor),
            _ => return Ok(items),
        }
    }
}

fn unreachable_command() -> anyhow::Result<ExitCode> {
    anyhow::bail!("internal error: server commands are dispatched before client settings")
}
