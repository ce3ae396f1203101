//! [`GenerationOps`] for [`Session`]: generation inserts as one multi-row statement with the
//! driver's own placeholders, lookups, retention, feedback and statistics.

use std::ops::DerefMut;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opm_core::names::ProjectName;
use sqlx::{Arguments, AssertSqlSafe, Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::Session;
use crate::generations::{
    Feedback, GenerationRow, GroupStats, NewFeedback, SpendRow, StatsGroupBy, StatsQuery, day_of,
};
use crate::ops::GenerationOps;
use crate::rows::{FeedbackRow, GenerationDbRow, StatsRow};
use crate::sql::generations as sql;
use crate::{StoreError, StoreResult};

#[async_trait]
impl<DB, C> GenerationOps for Session<DB, C>
where
    DB: Database,
    C: DerefMut<Target = DB::Connection> + Send,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DB::QueryResult: RowsAffected,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (String, String, i64, f64, i64): FromRow<'r, DB::Row>,
    for<'r> GenerationDbRow: FromRow<'r, DB::Row>,
    for<'r> FeedbackRow: FromRow<'r, DB::Row>,
    for<'r> StatsRow: FromRow<'r, DB::Row>,
{
    async fn insert_generations(&mut self, rows: &[GenerationRow]) -> StoreResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut insert = Insert::<DB>::new(sql::INSERT_GENERATIONS, rows.len() * sql::GENERATION_COLUMNS);
        for (index, row) in rows.iter().enumerate() {
            insert.sql.push_str(if index == 0 { "(" } else { ", (" });
            insert.bind(row.id.as_str())?;
            insert.bind(row.project.as_str())?;
            insert.bind(row.started_at.timestamp_micros())?;
            insert.bind(row.prompt.as_deref())?;
            insert.bind(row.prompt_version.map(i64::from))?;
            insert.bind(row.label.as_deref())?;
            insert.bind(row.arm.as_deref())?;
            insert.bind(row.provider.as_str())?;
            insert.bind(row.model.as_str())?;
            insert.bind(row.status.as_str())?;
            insert.bind(row.error_kind.as_deref())?;
            insert.bind(row.latency_ms)?;
            insert.bind(row.ttft_ms)?;
            insert.bind(row.upstream_ms)?;
            insert.bind(row.input_tokens.map(to_i64).transpose()?)?;
            insert.bind(row.output_tokens.map(to_i64).transpose()?)?;
            insert.bind(row.cached_tokens.map(to_i64).transpose()?)?;
            insert.bind(row.cost_usd)?;
            insert.bind(row.key_id.as_deref())?;
            insert.bind(i64::from(row.attempts))?;
            insert.bind(i64::from(row.fallback_index))?;
            insert.bind(row.streamed)?;
            insert.bind(row.sticky)?;
            insert.sql.push(')');
            insert.first_in_row = true;
        }
        insert.sql.push_str(sql::INSERT_GENERATIONS_END);
        // Only constant SQL and placeholders were written: every value is bound.
        let inserted = sqlx::query_as_with::<DB, (String,), _>(AssertSqlSafe(insert.sql), insert.args)
            .fetch_all(&mut *self.conn)
            .await?;
        Ok(inserted.into_iter().map(|(id,)| id).collect())
    }

    async fn add_spend(&mut self, spend: &[(String, String, i64, f64, i64)]) -> StoreResult<()> {
        for (project, key_id, day, cost, calls) in spend {
            sqlx::query::<DB>(sql::ADD_SPEND)
                .bind(project.as_str())
                .bind(key_id.as_str())
                .bind(*day)
                .bind(*cost)
                .bind(*calls)
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    async fn spend_since(&mut self, first_day: i64) -> StoreResult<Vec<SpendRow>> {
        let rows = sqlx::query_as::<DB, (String, String, i64, f64, i64)>(sql::SPEND_SINCE)
            .bind(first_day)
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter()
            .map(|(project, key_id, day, cost_usd, calls)| {
                let day = day_of(day)
                    .ok_or_else(|| StoreError::Internal(format!("stored spend day {day} is out of range")))?;
                Ok(SpendRow {
                    project,
                    key_id: (!key_id.is_empty()).then_some(key_id),
                    day,
                    cost_usd,
                    calls: u64::try_from(calls).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn get_generation(&mut self, project: &ProjectName, id: &str) -> StoreResult<Option<GenerationRow>> {
        let row = sqlx::query_as::<DB, GenerationDbRow>(sql::GET_GENERATION)
            .bind(id)
            .bind(project.as_str())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(GenerationDbRow::into_row).transpose()
    }

    async fn count_generations(&mut self) -> StoreResult<u64> {
        let (count,) = sqlx::query_as::<DB, (i64,)>(sql::COUNT_GENERATIONS).fetch_one(&mut *self.conn).await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn delete_generations_before(&mut self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let result = sqlx::query::<DB>(sql::DELETE_GENERATIONS_BEFORE)
            .bind(cutoff.timestamp_micros())
            .bind(i64::from(limit))
            .execute(&mut *self.conn)
            .await?;
        Ok(RowsAffected::rows_affected(&result))
    }

    async fn insert_feedback(&mut self, new: &NewFeedback, at: DateTime<Utc>) -> StoreResult<Option<Feedback>> {
        let row = sqlx::query_as::<DB, FeedbackRow>(sql::INSERT_FEEDBACK)
            .bind(new.project.as_str())
            .bind(new.generation_id.as_str())
            .bind(new.score)
            .bind(new.comment.as_deref())
            .bind(new.key_id.as_deref())
            .bind(at.timestamp_micros())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(FeedbackRow::into_feedback).transpose()
    }

    async fn list_feedback(&mut self, project: &ProjectName, generation_id: &str) -> StoreResult<Vec<Feedback>> {
        let rows = sqlx::query_as::<DB, FeedbackRow>(sql::LIST_FEEDBACK)
            .bind(generation_id)
            .bind(project.as_str())
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(FeedbackRow::into_feedback).collect()
    }

    async fn generation_stats(&mut self, query: &StatsQuery) -> StoreResult<Vec<GroupStats>> {
        let stats = &self.dialect.generation_stats;
        let statement = match query.by {
            StatsGroupBy::Version => stats.by_version,
            StatsGroupBy::Label => stats.by_label,
            StatsGroupBy::Model => stats.by_model,
            StatsGroupBy::Arm => stats.by_arm,
        };
        let rows = sqlx::query_as::<DB, StatsRow>(statement)
            .bind(query.project.as_str())
            .bind(query.prompt.as_str())
            .bind(query.since.timestamp_micros())
            .bind(query.until.timestamp_micros())
            .bind(query.label.as_deref())
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(StatsRow::into_stats).collect()
    }
}

/// A multi-row statement being written: its SQL and its bound values.
struct Insert<DB: Database> {
    sql: String,
    args: DB::Arguments,
    first_in_row: bool,
}

impl<DB: Database> Insert<DB> {
    fn new(prefix: &str, values: usize) -> Self {
        let mut args = DB::Arguments::default();
        args.reserve(values, values * 8);
        let mut sql = String::with_capacity(prefix.len() + values * 8);
        sql.push_str(prefix);
        Self { sql, args, first_in_row: true }
    }

    /// Binds a value and writes its placeholder (`?` on SQLite, `$N` on PostgreSQL).
    fn bind<'q, T: Encode<'q, DB> + Type<DB>>(&mut self, value: T) -> StoreResult<()> {
        if !self.first_in_row {
            self.sql.push_str(", ");
        }
        self.first_in_row = false;
        self.args
            .add(value)
            .map_err(|error| StoreError::Internal(format!("cannot bind a generation value: {error}")))?;
        self.args
            .format_placeholder(&mut self.sql)
            .map_err(|error| StoreError::Internal(format!("cannot write a placeholder: {error}")))
    }
}

fn to_i64(value: u64) -> StoreResult<i64> {
    i64::try_from(value)
        .map_err(|_| StoreError::InvalidInput(format!("a token count of {value} is too large to store")))
}

/// The number of rows a statement changed, which each driver reports on its own result type.
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}
