//! Leadership across processes on PostgreSQL: a session advisory lock (`pg_try_advisory_lock`)
//! taken on a dedicated connection, outside the pool, and held as long as that connection lives.
//! A leader that dies closes its connection, PostgreSQL releases the lock, and another process's
//! next `try_lead` wins: that is the takeover.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::Mutex;

use crate::StoreResult;
use crate::leadership::{Leadership, advisory_key};

/// The `application_name` of leadership connections (in `pg_stat_activity`).
pub const LEADER_APPLICATION_NAME: &str = "opm-leader";
/// How long `still_held` waits for the database before answering `false`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Tries to take the lock of `name` on a new connection.
pub(super) async fn try_lead(options: &PgConnectOptions, name: &str) -> StoreResult<Option<Box<dyn Leadership>>> {
    let key = advisory_key(name);
    let mut conn = options.clone().application_name(LEADER_APPLICATION_NAME).connect().await?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut conn).await?;
    if !locked {
        let _ = conn.close().await;
        return Ok(None);
    }
    tracing::info!(name, "leadership acquired");
    Ok(Some(Box::new(PgLeadership { conn: Mutex::new(Some(conn)), key, name: name.to_owned() })))
}

/// The lock's connection; `None` once it failed (the lock is then gone).
struct PgLeadership {
    conn: Mutex<Option<PgConnection>>,
    key: i64,
    name: String,
}

#[async_trait]
impl Leadership for PgLeadership {
    async fn still_held(&self) -> bool {
        let mut guard = self.conn.lock().await;
        let Some(conn) = guard.as_mut() else { return false };
        // Session advisory locks with a bigint key are listed as classid = high 32 bits,
        // objid = low 32 bits, objsubid = 1.
        let query = sqlx::query_as::<_, (bool,)>(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND pid = pg_backend_pid() AND objsubid = 1 \
             AND classid = CAST(($1 >> 32) & 4294967295 AS oid) AND objid = CAST($1 & 4294967295 AS oid))",
        )
        .bind(self.key)
        .fetch_one(conn);
        match tokio::time::timeout(CHECK_TIMEOUT, query).await {
            Ok(Ok((held,))) => held,
            outcome => {
                tracing::warn!(name = %self.name, error = ?outcome.err(), "leadership lost");
                // Closing the connection makes sure the lock is released if it was still held.
                *guard = None;
                false
            }
        }
    }

    async fn release(self: Box<Self>) {
        let Some(mut conn) = self.conn.lock().await.take() else { return };
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(self.key).execute(&mut conn).await;
        let _ = conn.close().await;
        tracing::info!(name = %self.name, "leadership released");
    }
}
