//! `opm backup` (create, verify, restore a SQLite backup) and `opm healthcheck`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::StoreArgs;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write an online, consistent copy of the SQLite database to FILE (safe while `opm serve` runs
    /// and writes), then verify it. For PostgreSQL use `pg_dump`.
    Create(BackupCreateArgs),
    /// Check a backup: SQLite integrity, a known schema, and the whole audit hash chain.
    Verify(BackupFileArg),
    /// Verify FILE, then make it the database of the data directory (the server must be stopped).
    Restore(BackupRestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    /// Where to write the backup; must not exist yet.
    pub file: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct BackupFileArg {
    /// The backup file.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupRestoreArgs {
    /// The backup file.
    pub file: PathBuf,
    /// Replace an existing database (kept beside it as `opm.db.replaced-TIMESTAMP`). A database that
    /// a running process has open is refused even so.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Check `/readyz` (the store answers) instead of `/healthz` (the process is up).
    #[arg(long)]
    pub ready: bool,
}
