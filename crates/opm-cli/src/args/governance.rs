//! The flags of the governance commands: `opm request`, `opm requests`, `opm approve`, `opm reject`,
//! `opm cancel`, `opm freeze`, `opm unfreeze` and `opm policy`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The prompt.
    pub name: String,
    /// The protected label to move.
    pub label: String,
    /// The version to point it at.
    #[arg(required_unless_present = "split", conflicts_with = "split")]
    pub version: Option<u32>,
    /// A weighted split instead, stable arm first: `7=90,8=10`.
    #[arg(long, value_name = "VERSION=WEIGHT,...")]
    pub split: Option<String>,
    /// Why the label should move (shown to the approvers, kept in the audit trail).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct RequestsArgs {
    /// `pending` (the approval queue), `applied`, `rejected`, `cancelled` or `stale`; default: all.
    #[arg(long)]
    pub state: Option<String>,
    /// Only requests on this prompt.
    #[arg(long)]
    pub prompt: Option<String>,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The change request's id.
    pub id: i64,
    /// Why (required to reject or cancel).
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct FreezeArgs {
    /// Why (recorded in the audit trail and shown in every refusal).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the project's governance policy and what is frozen now.
    Show,
    /// Replace the project's rules with a YAML or JSON file (`protected_labels`, `freeze_windows`,
    /// `publish`); admin keys only.
    Set(PolicySetArgs),
}

#[derive(Debug, Args)]
pub struct PolicySetArgs {
    /// The rules file.
    pub file: PathBuf,
    /// Why the rules change.
    #[arg(long)]
    pub reason: String,
}
