//! The command line as clap parses it: flags and subcommands only, no defaults resolved from files
//! (that happens in `settings`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod backup;
mod governance;
mod rollouts;

pub use backup::{BackupCommand, HealthcheckArgs};
pub use governance::{DecideArgs, FreezeArgs, PolicyCommand, RequestArgs, RequestsArgs};
pub use rollouts::{RolloutActionArgs, RolloutCommand, RolloutPickArgs, RolloutStartArgs, WatchArgs};

/// OPM, the open prompt manager: serve a prompt registry and manage its prompts.
#[derive(Debug, Parser)]
#[command(name = "opm", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every client command understands.
#[derive(Debug, Args)]
pub struct GlobalFlags {
    /// The server's base URL.
    #[arg(long, global = true, env = "OPM_URL", value_name = "URL")]
    pub url: Option<String>,
    /// API key; defaults to `$OPM_DATA_DIR/admin.key` or `./.opm/admin.key` when present.
    #[arg(long, global = true, env = "OPM_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Project to work in (global admin keys only); for `keys create`, the new key's project.
    #[arg(long, global = true, env = "OPM_PROJECT", value_name = "NAME")]
    pub project: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Request timeout in seconds.
    #[arg(long, global = true, env = "OPM_TIMEOUT", default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable tables and text.
    Table,
    /// JSON, for scripts.
    Json,
    /// YAML, for scripts and people.
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the OPM server.
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(StoreArgs),
    /// Back up, verify or restore a SQLite database (online: the server may keep running).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Exit 0 when the server at `--url` answers `/healthz` (or `/readyz`), 1 otherwise: for
    /// container health checks in images without curl.
    Healthcheck(HealthcheckArgs),
    /// Make the server match prompt files: plan, then create, publish and relabel what differs.
    Apply(ApplyArgs),
    /// Write every non-archived prompt's latest version to DIR/NAME.yaml.
    Export(ExportArgs),
    /// List prompts or show one.
    #[command(subcommand)]
    Get(GetCommand),
    /// List a prompt's versions, newest first.
    History(NameArg),
    /// Show what changed between two versions of a prompt.
    Diff(DiffArgs),
    /// Render a prompt with variables.
    Render(RenderArgs),
    /// Run a prompt on its configured model and print the answer.
    Invoke(RenderArgs),
    /// Move, list and inspect labels.
    #[command(subcommand)]
    Label(LabelCommand),
    /// Point a label back at its previous version.
    Rollback(RollbackArgs),
    /// Canary rollouts of a label: start, status, list, pause, resume, promote, abort.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Print the project's changes (versions, label moves, rollouts) as they happen.
    Watch(WatchArgs),
    /// Ask for a protected label to move: files a change request that applies once approved.
    Request(RequestArgs),
    /// List the project's change requests (`--state pending` for the approval queue).
    Requests(RequestsArgs),
    /// Approve a change request (not your own); the last approval needed moves the label.
    Approve(DecideArgs),
    /// Reject a change request.
    Reject(DecideArgs),
    /// Withdraw your change request.
    Cancel(DecideArgs),
    /// Freeze the project now: label moves and rollout starts are refused until `opm unfreeze`.
    Freeze(FreezeArgs),
    /// Lift the immediate freeze.
    Unfreeze(FreezeArgs),
    /// Show or set the project's governance policy (protected labels, freeze windows, publish rules).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Archive a prompt (hidden from lists and resolution, history kept).
    Archive(NameArg),
    /// Restore an archived prompt.
    Restore(NameArg),
    /// Show the audit trail, or verify its hash chain.
    Audit(AuditArgs),
    /// Per-version (or label, model or split arm) calls, errors, latency, tokens, cost and feedback of
    /// a prompt, with each group compared against the baseline.
    Stats(StatsArgs),
    /// Score a generation (by its `x-opm-generation-id`).
    Feedback(FeedbackArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List or create projects (global admin keys).
    #[command(subcommand)]
    Projects(ProjectsCommand),
}

/// Where the store lives.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite in the data directory.
    #[arg(long, env = "OPM_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and the bootstrap admin key.
    #[arg(long, env = "OPM_DATA_DIR", default_value = ".opm", value_name = "DIR")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "OPM_ADDR", default_value = "127.0.0.1:8321", value_name = "ADDR")]
    pub addr: String,
    /// Configuration file (gateway providers); defaults to `<data-dir>/opm.toml` when it exists.
    #[arg(long, env = "OPM_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Log format on stderr: `json` (one object per line, with request and trace ids), `text`, or
    /// `auto` (text on a terminal, JSON otherwise). The level comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "OPM_LOG_FORMAT", default_value = "auto", value_parser = ["auto", "json", "text"])]
    pub log_format: String,
    /// How often the rollout controller wakes up (e.g. `1s`); checks still wait for each rollout's interval.
    #[arg(long, env = "OPM_ROLLOUT_TICK", default_value = "1s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub rollout_tick: std::time::Duration,
    /// Testing aid: let an admin move this server's clock forward with `POST /api/v1/clock/advance`,
    /// so a rollout's intervals pass at once. Never in production.
    #[arg(long, env = "OPM_ADJUSTABLE_CLOCK", hide = true)]
    pub adjustable_clock: bool,
    /// Serve only the API: no web UI at `/ui/` (and no redirect from `/`).
    #[arg(long, env = "OPM_NO_UI")]
    pub no_ui: bool,
    /// After SIGTERM, how long in-flight requests may finish before they are dropped (watch
    /// streams end at once); queued telemetry is written after it either way.
    #[arg(long, env = "OPM_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub shutdown_grace: std::time::Duration,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A prompt file or a directory of them (`*.yaml`, `*.yml`, searched recursively).
    #[arg(short = 'f', long = "filename", value_name = "DIR_OR_FILE")]
    pub path: PathBuf,
    /// Show the plan and diffs; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Point this label at each applied version.
    #[arg(long, requires = "reason", value_name = "LABEL")]
    pub label: Option<String>,
    /// Why the label moves (recorded in its history); also the message of a new version whose
    /// file repeats the `message:` of the version it replaces.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write to (created when missing).
    pub dir: PathBuf,
    /// File format: OPM YAML (`NAME.yaml`) or Prompty (`NAME.prompty`, chat prompts only).
    #[arg(long, value_enum, default_value_t = ExportFormat::Yaml)]
    pub format: ExportFormat,
}

/// The file formats `opm export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Yaml,
    Prompty,
}

#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// List prompts.
    Prompts(ListPromptsArgs),
    /// Show one prompt and a version's content.
    Prompt(GetPromptArgs),
}

#[derive(Debug, Args)]
pub struct ListPromptsArgs {
    /// Only prompts with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only prompts that have this label.
    #[arg(long)]
    pub label: Option<String>,
    /// Include archived prompts.
    #[arg(long)]
    pub all: bool,
}

/// Which version to show or render.
#[derive(Debug, Args)]
pub struct VersionSelector {
    /// A version number.
    #[arg(long, conflicts_with = "label", value_name = "N")]
    pub version: Option<u32>,
    /// A label.
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
}

#[derive(Debug, Args)]
pub struct GetPromptArgs {
    pub name: String,
    /// Default: the `latest` label.
    #[command(flatten)]
    pub selector: VersionSelector,
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// The prompt's name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub name: String,
    /// The older version.
    pub from: u32,
    /// The newer version.
    pub to: u32,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    pub name: String,
    /// Default: the server's default (`production`).
    #[command(flatten)]
    pub selector: VersionSelector,
    /// A variable as `key=value`; the value is JSON when it parses as JSON, else a string.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// A JSON object of variables; `--var` entries override it.
    #[arg(long, value_name = "FILE.json")]
    pub vars_file: Option<PathBuf>,
    /// Stickiness key for a split label (e.g. a user id): the same key gets the same arm.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LabelCommand {
    /// Point a label at a version, or split it across versions (`--split 7=90,8=10`).
    Set(LabelSetArgs),
    /// List a prompt's labels.
    List(NameArg),
    /// Show how a label moved.
    History(LabelHistoryArgs),
}

#[derive(Debug, Args)]
pub struct LabelSetArgs {
    pub name: String,
    pub label: String,
    /// The version to point at.
    #[arg(required_unless_present = "split", conflicts_with = "split")]
    pub version: Option<u32>,
    /// A weighted split instead, stable arm first: `7=90,8=10` (shares in percent, summing to 100).
    /// Callers keep their arm by passing a stickiness key.
    #[arg(long, value_name = "VERSION=WEIGHT,...")]
    pub split: Option<String>,
    /// Why the label moves.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct LabelHistoryArgs {
    pub name: String,
    pub label: String,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub name: String,
    pub label: String,
    /// Why the label moves back.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The prompt.
    pub name: String,
    /// How far back from now: `15m`, `1h`, `7d`…
    #[arg(long, default_value = "1h")]
    pub window: String,
    /// Group by `version`, `label`, `model` or `arm` (the arms of a split label).
    #[arg(long, default_value = "version", value_parser = ["version", "label", "model", "arm"])]
    pub by: String,
    /// Only calls served through this label (e.g. `--by arm --label production` during a rollout).
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// The generation id (the `x-opm-generation-id` response header).
    pub generation_id: String,
    /// The score, by convention 0 (bad) to 1 (good).
    #[arg(long, allow_negative_numbers = true)]
    pub score: f64,
    /// A comment (at most 4096 characters).
    #[arg(long)]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only entries about this prompt.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Only entries by this actor (key name or id).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only entries with this action (`version.create`, `label.set`, …).
    #[arg(long)]
    pub action: Option<String>,
    /// Entries at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Entries before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit hash chain; exits 1 when it is broken.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret (shown only this once). `--project` binds it to a project.
    Create(KeysCreateArgs),
    /// List keys (never their secrets).
    List,
    /// Revoke a key.
    Revoke(KeysRevokeArgs),
}

#[derive(Debug, Args)]
pub struct KeysCreateArgs {
    /// A name to recognise the key by.
    #[arg(long)]
    pub name: String,
    /// `viewer`, `editor`, `deployer` or `admin`.
    #[arg(long)]
    pub role: String,
    /// The key stops working after this long (`30d`, `12h`, `90m`); refused with `key_expired` then.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, conflicts_with = "expires_at")]
    pub expires_in: Option<std::time::Duration>,
    /// The key stops working at this instant (RFC 3339, e.g. `2027-01-31T00:00:00Z`).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// List projects.
    List,
    /// Create a project.
    Create(NameArg),
}

#[derive(Debug, Args)]
pub struct KeysRevokeArgs {
    /// The key's id.
    pub id: String,
    /// Revoke it even when it is the key this command authenticates with (which locks you out).
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_label_needs_a_reason_and_a_reason_stands_alone() {
        assert!(Cli::try_parse_from(["opm", "apply", "-f", "x", "--label", "production"]).is_err());
        assert!(Cli::try_parse_from(["opm", "apply", "-f", "x", "--label", "p", "--reason", "r"]).is_ok());
        assert!(Cli::try_parse_from(["opm", "apply", "-f", "x", "--reason", "r"]).is_ok());
    }
}
