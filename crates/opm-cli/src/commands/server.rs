//! `opm serve` and `opm migrate`: the server side, in this process.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::args::{ServeArgs, StoreArgs};

/// Runs the server until SIGINT or SIGTERM. Logs go to stderr (`RUST_LOG`, default `info`);
/// stdout carries only the `opm listening on` line and a generated admin key.
pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let json = match args.log_format.as_str() {
        "json" => true,
        "text" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    init_logging(json);
    let config = opm_server::ServeConfig {
        addr: args.addr,
        database_url: args.store.database_url.filter(|url| !url.is_empty()),
        data_dir: args.store.data_dir,
        bootstrap_admin_key: std::env::var("OPM_BOOTSTRAP_ADMIN_KEY").ok().filter(|key| !key.is_empty()),
        config_path: args.config,
        rollout_tick: args.rollout_tick,
        adjustable_clock: args.adjustable_clock,
        ui: !args.no_ui,
        shutdown_grace: args.shutdown_grace,
    };
    opm_server::serve(config).await?;
    Ok(ExitCode::SUCCESS)
}

/// Connects to the store, which runs pending migrations, and exits.
pub async fn migrate(args: StoreArgs) -> anyhow::Result<ExitCode> {
    init_logging(false);
    let url = database_url(&args)?;
    opm_store::connect(&url).await.with_context(|| format!("cannot migrate {}", redact(&url)))?;
    println!("database is up to date: {}", redact(&url));
    Ok(ExitCode::SUCCESS)
}

/// The database URL of `args`: `--database-url`, else SQLite in the data directory (created).
pub fn database_url(args: &StoreArgs) -> anyhow::Result<String> {
    match args.database_url.as_ref().filter(|url| !url.is_empty()) {
        Some(url) => Ok(url.clone()),
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
            Ok(format!("sqlite://{}", args.data_dir.join("opm.db").display()))
        }
    }
}

/// Logs on stderr. JSON lines carry the request span's fields (`request_id`, `trace_id`, method,
/// path) on every event logged while a request is handled.
fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second initialisation (a library did it first) is harmless: keep the first.
    let _ = if json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init()
    } else {
        let ansi = std::io::stderr().is_terminal();
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init()
    };
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://opm:secret@db:5432/opm"), "postgres://opm:***@db:5432/opm");
        assert_eq!(redact("postgres://opm@db/opm"), "postgres://opm@db/opm");
        assert_eq!(redact("sqlite://.opm/opm.db"), "sqlite://.opm/opm.db");
    }
}
