//! [`RolloutOps`] for [`Session`].

use std::ops::DerefMut;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opm_core::names::LabelName;
use opm_core::rollout::{CheckResult, Rollout, RolloutState};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use super::Session;
use super::generations::RowsAffected;
use crate::ops::RolloutOps;
use crate::rollouts::{NewRollout, RolloutFilter};
use crate::rows::{RolloutRow, to_json};
use crate::sql::rollouts as sql;
use crate::{MutationContext, StoreResult};

#[async_trait]
impl<DB, C> RolloutOps for Session<DB, C>
where
    DB: Database,
    C: DerefMut<Target = DB::Connection> + Send,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DB::QueryResult: RowsAffected,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> RolloutRow: FromRow<'r, DB::Row>,
{
    async fn insert_rollout(
        &mut self,
        prompt_id: i64,
        new: &NewRollout,
        ctx: &MutationContext,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let (id,) = sqlx::query_as::<DB, (i64,)>(sql::INSERT_ROLLOUT)
            .bind(prompt_id)
            .bind(new.label.to_string())
            .bind(i64::from(new.stable_version))
            .bind(i64::from(new.canary_version))
            .bind(to_json(&new.spec)?)
            .bind(new.state.name().to_owned())
            .bind(to_json(&new.state)?)
            .bind(new.reason.clone())
            .bind(ctx.actor.key_id.clone())
            .bind(ctx.actor.name.clone())
            .bind(at.timestamp_micros())
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(id)
    }

    async fn get_rollout(&mut self, prompt_id: i64, id: i64) -> StoreResult<Option<Rollout>> {
        let row = sqlx::query_as::<DB, RolloutRow>(sql::GET_ROLLOUT)
            .bind(prompt_id)
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(RolloutRow::into_rollout).transpose()
    }

    async fn active_rollout(&mut self, prompt_id: i64, label: &LabelName) -> StoreResult<Option<Rollout>> {
        let row = sqlx::query_as::<DB, RolloutRow>(sql::ACTIVE_ROLLOUT)
            .bind(prompt_id)
            .bind(label.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(RolloutRow::into_rollout).transpose()
    }

    async fn update_rollout(
        &mut self,
        id: i64,
        expected_revision: i64,
        state: &RolloutState,
        check: Option<&CheckResult>,
        checks: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query::<DB>(sql::UPDATE_ROLLOUT)
            .bind(id)
            .bind(expected_revision)
            .bind(state.name().to_owned())
            .bind(to_json(state)?)
            .bind(check.map(to_json).transpose()?)
            .bind(i64::from(checks))
            .bind(at.timestamp_micros())
            .execute(&mut *self.conn)
            .await?;
        Ok(RowsAffected::rows_affected(&result) == 1)
    }

    async fn list_rollouts(&mut self, filter: &RolloutFilter) -> StoreResult<Vec<Rollout>> {
        let rows = sqlx::query_as::<DB, RolloutRow>(sql::LIST_ROLLOUTS)
            .bind(filter.project.as_ref().map(ToString::to_string))
            .bind(filter.prompt.as_ref().map(ToString::to_string))
            .bind(filter.label.as_ref().map(ToString::to_string))
            .bind(filter.active_only)
            .bind(i64::from(filter.limit))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(RolloutRow::into_rollout).collect()
    }
}
