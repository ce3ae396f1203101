//! The flags of `opm rollout …` (canary rollouts of a label) and `opm watch` (the change feed).

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Start a canary rollout: the label (pointing at one version) becomes a sticky split with the
    /// first step's share on `--to`, raised step by step while checks pass and returned to the
    /// stable version at once when they fail.
    Start(RolloutStartArgs),
    /// Show a rollout: state, share, step, next check, the last check's verdict and metrics.
    /// Default: the label's active rollout, else its newest.
    Status(RolloutPickArgs),
    /// List a prompt's rollouts, newest first.
    List(RolloutListArgs),
    /// Hold the canary at its current share until resumed (the label's active rollout unless `--id`).
    Pause(RolloutActionArgs),
    /// Continue a paused rollout with a fresh check window.
    Resume(RolloutActionArgs),
    /// Point the label at the canary alone now, skipping the remaining steps. Final.
    Promote(RolloutActionArgs),
    /// Point the label back at the stable version now. Final.
    Abort(RolloutActionArgs),
}

#[derive(Debug, Args)]
pub struct RolloutStartArgs {
    /// The prompt.
    pub name: String,
    /// The label to roll out; it must point at one version, the stable one.
    #[arg(long, default_value = "production")]
    pub label: String,
    /// The canary version.
    #[arg(long, value_name = "VERSION")]
    pub to: u32,
    /// Canary shares in percent, increasing and ending at 100 (server default `5,25,50,100`).
    #[arg(long, value_delimiter = ',', value_name = "PERCENT,...")]
    pub steps: Option<Vec<u8>>,
    /// How long each step is measured before its check, e.g. `10m` (server default `10m`).
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Fail a check when the canary's error rate is above this fraction (0.02 is 2%).
    #[arg(long, value_name = "FRACTION")]
    pub max_error_rate: Option<f64>,
    /// Fail a check when the canary's 95th-percentile latency is above this.
    #[arg(long, value_name = "MS")]
    pub max_p95_latency_ms: Option<f64>,
    /// Fail a check when the canary's mean cost per call is above this many US dollars.
    #[arg(long, value_name = "USD")]
    pub max_cost_per_call: Option<f64>,
    /// Fail a check when the canary's mean feedback is below this, or significantly below stable's.
    #[arg(long, allow_negative_numbers = true, value_name = "SCORE")]
    pub min_feedback: Option<f64>,
    /// Calls each arm needs in a window before a check can pass or fail (server default 200).
    #[arg(long, value_name = "N")]
    pub min_samples: Option<u64>,
    /// Failed checks tolerated; one more aborts (server default 0: the first failure aborts).
    #[arg(long, value_name = "N")]
    pub failure_limit: Option<u32>,
    /// Consecutive inconclusive checks at one step before pausing for a human (default: never).
    #[arg(long, value_name = "N")]
    pub inconclusive_limit: Option<u32>,
    /// Why (recorded in the audit trail and the label's history).
    #[arg(long)]
    pub reason: String,
    /// File a change request instead (a protected label): the rollout starts once approved
    /// (`opm approve ID`).
    #[arg(long)]
    pub request: bool,
}

/// Which rollout: `--id`, or the label's active one (for `status`, else its newest).
#[derive(Debug, Args)]
pub struct RolloutPickArgs {
    /// The prompt.
    pub name: String,
    /// The label whose rollout to pick.
    #[arg(long, default_value = "production")]
    pub label: String,
    /// A rollout id instead (see `opm rollout list`).
    #[arg(long, value_name = "N")]
    pub id: Option<i64>,
}

#[derive(Debug, Args)]
pub struct RolloutListArgs {
    /// The prompt.
    pub name: String,
    /// Only this label's rollouts.
    #[arg(long)]
    pub label: Option<String>,
    /// Only progressing or paused ones.
    #[arg(long)]
    pub active: bool,
}

#[derive(Debug, Args)]
pub struct RolloutActionArgs {
    #[command(flatten)]
    pub pick: RolloutPickArgs,
    /// Why (recorded in the audit trail).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only this prompt's changes.
    #[arg(long, value_name = "NAME")]
    pub prompt: Option<String>,
    /// Replay the changes after this event id first (`0`: from the beginning).
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,
}
