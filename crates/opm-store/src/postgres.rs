//! The PostgreSQL backend, for several OPM replicas on one database.
//!
//! Every mutation starts by locking the single `audit_head` row (`SELECT … FOR UPDATE`), which
//! serializes writers across processes: version numbers stay contiguous and there is one audit
//! chain. Change events are sent with `pg_notify` inside the mutating transaction (so they are
//! delivered only on commit) and reach every replica's [`crate::Store::subscribe`] through a
//! `LISTEN` connection ([`listener`]). Leadership ([`crate::Store::try_lead`]) is a session advisory
//! lock on a dedicated connection ([`leadership`]).

mod leadership;
mod listener;

pub use leadership::LEADER_APPLICATION_NAME;
pub use listener::LISTENER_APPLICATION_NAME;

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::engine::{Backend, WriteTx};
use crate::leadership::Leadership;
use crate::ops::Ops;
use crate::session::Session;
use crate::{ChangeEvent, StoreError, StoreResult, sql};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections in the pool (mutations queue on the head lock, so more would not write faster).
const MAX_CONNECTIONS: u32 = 16;
/// How long a call waits for a pooled connection before reporting the database unavailable. While
/// PostgreSQL is down every call waits this long (new connections are refused at once and retried),
/// so it bounds how fast an outage becomes a clear 503; a healthy pool hands out connections in
/// microseconds even under the write benchmark's load.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Change events buffered per subscriber before it lags.
const EVENT_BUFFER: usize = 1024;

/// A [`crate::Store`] in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    /// For connections outside the pool (leadership).
    options: PgConnectOptions,
    events: broadcast::Sender<ChangeEvent>,
    listener: JoinHandle<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…` or `postgresql://…`), applies pending migrations and starts
    /// listening for other replicas' changes.
    pub async fn connect(url: &str) -> StoreResult<PostgresStore> {
        let options: PgConnectOptions =
            url.parse().map_err(|error| StoreError::InvalidInput(format!("invalid PostgreSQL URL: {error}")))?;
        // JIT compilation costs about a second on a statistics query over a million generations
        // and never pays off for OPM's short queries.
        let options = options.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let listener = listener::start(options.clone(), events.clone()).await?;
        tracing::info!("connected to PostgreSQL store");
        Ok(Self { pool, options, events, listener })
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[async_trait]
impl Backend for PostgresStore {
    const NAME: &'static str = "postgres";

    async fn reader(&self) -> StoreResult<Box<dyn Ops>> {
        let conn = self.pool.acquire().await?;
        Ok(Box::new(Session::<Postgres, _>::new(conn, &sql::POSTGRES)))
    }

    async fn writer(&self) -> StoreResult<Box<dyn WriteTx>> {
        // Explicit, so a server default of REPEATABLE READ cannot turn the lock wait into
        // serialization failures: after the head lock, each statement sees the latest commits.
        let tx = self.pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await?;
        Ok(Box::new(PgWriteTx { session: Session::new(tx, &sql::POSTGRES) }))
    }

    fn events(&self) -> broadcast::Receiver<ChangeEvent> {
        self.events.subscribe()
    }

    async fn lead(&self, name: &str) -> StoreResult<Option<Box<dyn Leadership>>> {
        leadership::try_lead(&self.options, name).await
    }
}

/// A write transaction; its events are notified inside it and delivered on commit.
struct PgWriteTx {
    session: Session<Postgres, Transaction<'static, Postgres>>,
}

#[async_trait]
impl WriteTx for PgWriteTx {
    fn ops(&mut self) -> &mut dyn Ops {
        &mut self.session
    }

    async fn commit(self: Box<Self>, events: Vec<ChangeEvent>) -> StoreResult<()> {
        let mut tx = self.session.into_conn();
        for event in &events {
            let Some(payload) = listener::encode(event) else { continue };
            sqlx::query("SELECT pg_notify($1, $2)").bind(listener::CHANNEL).bind(payload).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
