//! The SQLite backend: one file in WAL mode, a single-connection writer pool (writes queue there and
//! start with `BEGIN IMMEDIATE`) and a separate read-only pool, so reads never wait for writes.
//!
//! Commits are synced (`synchronous=FULL`), so an acknowledged write survives a crash or `kill -9`.
//! Change events reach only this process's subscribers: a second process on the same file does not
//! hear them (use PostgreSQL to run several replicas). For the same reason leadership
//! ([`crate::Store::try_lead`]) is per store instance: one leader per name within this process.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Sqlite, Transaction};
use tokio::sync::broadcast;

use crate::engine::{Backend, WriteTx};
use crate::leadership::{Leadership, LocalLeaders};
use crate::ops::Ops;
use crate::session::Session;
use crate::{ChangeEvent, StoreError, StoreResult, sql};

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another process's lock on the file before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in the read pool.
const READERS: u32 = 4;
/// Change events buffered per subscriber before it lags.
const EVENT_BUFFER: usize = 1024;

/// A [`crate::Store`] in a SQLite file.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    events: broadcast::Sender<ChangeEvent>,
    leaders: LocalLeaders,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::new().filename(path).busy_timeout(BUSY_TIMEOUT).foreign_keys(true);
        let writer_options = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(|conn, _| {
                Box::pin(async move {
                    // A COMMIT that failed (disk full, I/O error) leaves sqlx's transaction depth at 1
                    // after SQLite rolled back by itself: the rollback on drop then fails too and every
                    // later BEGIN is refused. The ping runs that queued rollback; a connection still in
                    // a transaction after it is closed, and the pool opens a fresh one.
                    conn.ping().await?;
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(writer_options)
            .await;
        let writer = match writer.map_err(StoreError::from) {
            Ok(writer) => writer,
            Err(StoreError::NotWritable(why)) if path.exists() => {
                return Self::open_read_only_dir(path, options, why).await;
            }
            Err(error) => return Err(error),
        };
        MIGRATOR.run(&writer).await?;
        // One helper thread for large sorts (generation statistics sort a window of up to millions
        // of rows): about a fifth off their time, at no extra CPU.
        let reader_options = options.read_only(true).pragma("threads", "1");
        let reader = SqlitePoolOptions::new().max_connections(READERS).connect_with(reader_options).await?;
        tracing::info!(path = %path.display(), "opened SQLite store");
        Ok(Self::from_pools(writer, reader))
    }

    /// The data directory (or the file) is read-only: SQLite cannot create the `-wal` and `-shm`
    /// files a writer needs. Serve reads from read-only connections (every write then fails as
    /// [`StoreError::NotWritable`]), provided the schema is current. Without a `-wal` file the
    /// database file holds every commit, so it is opened `immutable` (no `-shm` needed).
    async fn open_read_only_dir(path: &Path, options: SqliteConnectOptions, why: String) -> StoreResult<SqliteStore> {
        let options = options.read_only(true);
        let options = if wal_file(path).exists() { options } else { options.immutable(true) };
        let pool = SqlitePoolOptions::new().max_connections(READERS).connect_with(options).await?;
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&pool).await?;
        if let Some(pending) = MIGRATOR.iter().find(|migration| !applied.contains(&migration.version)) {
            return Err(StoreError::NotWritable(format!(
                "{why}; and migration {} is pending, which a read-only database cannot apply",
                pending.version
            )));
        }
        tracing::warn!(path = %path.display(), reason = %why, "SQLite store is read-only: serving reads, refusing writes");
        Ok(Self::read_only(pool))
    }

    /// A private in-memory database (for tests and trials): one connection serves reads and writes,
    /// and everything is gone when the store is dropped.
    pub async fn open_in_memory() -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::new().in_memory(true).foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self::from_pools(pool.clone(), pool))
    }

    /// Closes every connection, waiting until the file is released (dropping the store closes
    /// them in the background).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// A store over a pool of read-only connections (backup verification): reads work, writes fail.
    pub(crate) fn read_only(pool: SqlitePool) -> SqliteStore {
        Self::from_pools(pool.clone(), pool)
    }

    fn from_pools(writer: SqlitePool, reader: SqlitePool) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self { writer, reader, events, leaders: LocalLeaders::default() }
    }
}

/// The write-ahead log beside the database file `path`.
fn wal_file(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

#[async_trait]
impl Backend for SqliteStore {
    const NAME: &'static str = "sqlite";

    async fn reader(&self) -> StoreResult<Box<dyn Ops>> {
        let conn = self.reader.acquire().await?;
        Ok(Box::new(Session::<Sqlite, _>::new(conn, &sql::SQLITE)))
    }

    async fn writer(&self) -> StoreResult<Box<dyn WriteTx>> {
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(SqliteWriteTx { session: Session::new(tx, &sql::SQLITE), events: self.events.clone() }))
    }

    fn events(&self) -> broadcast::Receiver<ChangeEvent> {
        self.events.subscribe()
    }

    async fn lead(&self, name: &str) -> StoreResult<Option<Box<dyn Leadership>>> {
        Ok(self.leaders.try_lead(name))
    }
}

/// A write transaction; its events go to this process's subscribers after the commit.
struct SqliteWriteTx {
    session: Session<Sqlite, Transaction<'static, Sqlite>>,
    events: broadcast::Sender<ChangeEvent>,
}

#[async_trait]
impl WriteTx for SqliteWriteTx {
    fn ops(&mut self) -> &mut dyn Ops {
        &mut self.session
    }

    async fn commit(self: Box<Self>, events: Vec<ChangeEvent>) -> StoreResult<()> {
        let SqliteWriteTx { session, events: sender } = *self;
        session.into_conn().commit().await?;
        for event in events {
            // No subscribers is fine: nobody caches anything yet.
            let _ = sender.send(event);
        }
        Ok(())
    }
}
