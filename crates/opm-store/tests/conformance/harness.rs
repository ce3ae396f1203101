//! Runs a case against a fresh database: a temporary SQLite file, or a new PostgreSQL database
//! created through the admin URL in `OPM_TEST_DATABASE_URL` (see `scripts/with-postgres.sh`).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use opm_store::{PostgresStore, SqliteStore, Store};
use sqlx::{AssertSqlSafe, Connection};

/// The backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A store on a fresh database, and how to reach that database behind the store's back.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    location: Location,
}

enum Location {
    Sqlite { path: PathBuf, _dir: Arc<tempfile::TempDir> },
    Postgres { url: String },
}

impl TestDb {
    pub fn kind(&self) -> Kind {
        match self.location {
            Location::Sqlite { .. } => Kind::Sqlite,
            Location::Postgres { .. } => Kind::Postgres,
        }
    }

    /// Runs SQL on a separate raw connection (an intruder, an operator, or an injected fault).
    pub async fn execute_raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.location {
            Location::Sqlite { path, .. } => {
                let url = format!("sqlite://{}", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            Location::Postgres { url } => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
        }
    }

    /// The SQL for this backend.
    pub async fn execute_raw_per_backend(&self, sqlite: &str, postgres: &str) -> Result<(), sqlx::Error> {
        match self.kind() {
            Kind::Sqlite => self.execute_raw(sqlite).await,
            Kind::Postgres => self.execute_raw(postgres).await,
        }
    }

    /// Another store on the same database, as a second process would open it.
    pub async fn open_another(&self) -> Arc<dyn Store> {
        match &self.location {
            Location::Sqlite { path, .. } => Arc::new(SqliteStore::open(path).await.unwrap()),
            Location::Postgres { url } => Arc::new(PostgresStore::connect(url).await.unwrap()),
        }
    }
}

/// Runs a case that only needs the store.
pub async fn store<F, Fut>(kind: Kind, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    db(kind, |db: TestDb| async move {
        case(db.store.clone()).await;
        drop(db);
    })
    .await;
}

/// Runs a case that also reaches the database directly.
pub async fn db<F, Fut>(kind: Kind, case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    match kind {
        Kind::Sqlite => case(sqlite_db().await).await,
        Kind::Postgres => {
            let Some(admin_url) = postgres_admin_url() else { return };
            let (db, name) = postgres_db(&admin_url).await;
            case(db).await;
            drop_postgres_db(&admin_url, &name).await;
        }
    }
}

async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let store = SqliteStore::open(&path).await.unwrap();
    TestDb { store: Arc::new(store), location: Location::Sqlite { path, _dir: Arc::new(dir) } }
}

/// The admin URL, or `None` (with a loud warning) when PostgreSQL cases are skipped.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("OPM_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("OPM_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("OPM_REQUIRE_POSTGRES=1 but OPM_TEST_DATABASE_URL is not set");
            }
            eprintln!(
                "WARNING: OPM_TEST_DATABASE_URL is not set: this PostgreSQL case is SKIPPED \
                 (run through scripts/with-postgres.sh to include it)"
            );
            None
        }
    }
}

/// Creates `opm_test_<random>` and connects a store to it.
pub async fn postgres_db(admin_url: &str) -> (TestDb, String) {
    let name = format!("opm_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    let url = database_url(admin_url, &name);
    let store = PostgresStore::connect(&url).await.unwrap();
    (TestDb { store: Arc::new(store), location: Location::Postgres { url } }, name)
}

async fn drop_postgres_db(admin_url: &str, name: &str) {
    let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await else { return };
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    if let Err(error) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await {
        eprintln!("could not drop test database {name}: {error}");
    }
}

/// `admin_url` with its database replaced by `name` (query parameters kept).
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[test]
fn database_url_replaces_the_database() {
    assert_eq!(database_url("postgres://postgres@127.0.0.1:5/postgres", "x"), "postgres://postgres@127.0.0.1:5/x");
    assert_eq!(database_url("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
    assert_eq!(database_url("postgres://h", "x"), "postgres://h/x");
}
