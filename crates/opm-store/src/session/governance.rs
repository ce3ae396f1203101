//! [`GovernanceOps`] for [`Session`].

use std::ops::DerefMut;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opm_core::governance::{ChangeRequest, GovernancePolicy};
use opm_core::names::ProjectName;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use super::Session;
use super::generations::RowsAffected;
use crate::governance::{ChangeRequestFilter, StoredPolicy};
use crate::ops::GovernanceOps;
use crate::rows::{PolicyRow, RequestRow, to_json};
use crate::sql::governance as sql;
use crate::{MutationContext, StoreResult};

#[async_trait]
impl<DB, C> GovernanceOps for Session<DB, C>
where
    DB: Database,
    C: DerefMut<Target = DB::Connection> + Send,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DB::QueryResult: RowsAffected,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> PolicyRow: FromRow<'r, DB::Row>,
    for<'r> RequestRow: FromRow<'r, DB::Row>,
{
    async fn get_policy(&mut self, project: &ProjectName) -> StoreResult<Option<StoredPolicy>> {
        let row = sqlx::query_as::<DB, PolicyRow>(sql::GET_POLICY)
            .bind(project.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(PolicyRow::into_policy).transpose()
    }

    async fn save_policy(
        &mut self,
        project: &ProjectName,
        policy: &GovernancePolicy,
        expected_revision: i64,
        ctx: &MutationContext,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let json = to_json(policy)?;
        let result = if expected_revision == 0 {
            sqlx::query::<DB>(sql::INSERT_POLICY)
                .bind(project.to_string())
                .bind(json)
                .bind(at.timestamp_micros())
                .bind(ctx.actor.key_id.clone())
                .bind(ctx.actor.name.clone())
                .execute(&mut *self.conn)
                .await?
        } else {
            sqlx::query::<DB>(sql::UPDATE_POLICY)
                .bind(project.to_string())
                .bind(expected_revision)
                .bind(json)
                .bind(at.timestamp_micros())
                .bind(ctx.actor.key_id.clone())
                .bind(ctx.actor.name.clone())
                .execute(&mut *self.conn)
                .await?
        };
        Ok(RowsAffected::rows_affected(&result) == 1)
    }

    async fn insert_change_request(&mut self, prompt_id: i64, request: &ChangeRequest) -> StoreResult<i64> {
        let (id,) = sqlx::query_as::<DB, (i64,)>(sql::INSERT_REQUEST)
            .bind(prompt_id)
            .bind(request.label.to_string())
            .bind(to_json(&request.change)?)
            .bind(request.expected.as_ref().map(to_json).transpose()?)
            .bind(request.reason.clone())
            .bind(i64::from(request.approvals_required))
            .bind(request.author.key_id.clone())
            .bind(request.author.name.clone())
            .bind(request.created_at.timestamp_micros())
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(id)
    }

    async fn get_change_request(
        &mut self,
        project: &ProjectName,
        id: i64,
    ) -> StoreResult<Option<(i64, ChangeRequest)>> {
        let row = sqlx::query_as::<DB, RequestRow>(sql::GET_REQUEST)
            .bind(project.to_string())
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(|row| {
            let prompt_id = row.prompt_id;
            row.into_request().map(|request| (prompt_id, request))
        })
        .transpose()
    }

    async fn update_change_request(&mut self, request: &ChangeRequest) -> StoreResult<()> {
        sqlx::query::<DB>(sql::UPDATE_REQUEST)
            .bind(request.id)
            .bind(request.state.as_str().to_owned())
            .bind(to_json(&request.approvals)?)
            .bind(request.decided_by.as_ref().and_then(|actor| actor.key_id.clone()))
            .bind(request.decided_by.as_ref().map(|actor| actor.name.clone()))
            .bind(request.decided_at.map(|at| at.timestamp_micros()))
            .bind(request.decision_reason.clone())
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn list_change_requests(&mut self, filter: &ChangeRequestFilter) -> StoreResult<Vec<ChangeRequest>> {
        let rows = sqlx::query_as::<DB, RequestRow>(sql::LIST_REQUESTS)
            .bind(filter.project.to_string())
            .bind(filter.prompt.as_ref().map(ToString::to_string))
            .bind(filter.label.as_ref().map(ToString::to_string))
            .bind(filter.state.map(|state| state.as_str().to_owned()))
            .bind(i64::from(filter.limit))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(RequestRow::into_request).collect()
    }
}
