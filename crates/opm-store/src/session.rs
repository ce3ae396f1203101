//! [`Session`]: the one implementation of [`Ops`], over a SQLite or PostgreSQL connection (pooled,
//! or inside a write transaction).
//!
//! The SQL is shared ([`crate::sql`]); `Session` is generic over the sqlx driver, with the bounds
//! both drivers meet spelled out once on the impl. The engine sees only `dyn Ops`.

mod generations;
mod governance;
mod rollouts;

use std::marker::PhantomData;
use std::ops::DerefMut;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opm_core::audit::AuditEntry;
use opm_core::auth::ApiKey;
use opm_core::label::{Label, LabelChange};
use opm_core::names::{LabelName, ProjectName, PromptName, TagName};
use opm_core::prompt::{Prompt, PromptVersion};
use sqlx::{Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use crate::ops::{GenerationOps, GovernanceOps, Ops, RolloutOps};
use crate::rows::{
    AuditRow, HeadRow, KeyRow, LabelChangeRow, LabelRow, ProjectRow, PromptRow, StoredPrompt, VersionRow,
    change_kind_str, to_json,
};
use crate::sql::Dialect;
use crate::{AuditFilter, NewApiKey, NewPrompt, Project, PromptFilter, StoreResult, sql};

/// A connection `C` of driver `DB`: a `PoolConnection` for reads, a `Transaction` for writes.
pub(crate) struct Session<DB, C> {
    conn: C,
    dialect: &'static Dialect,
    _database: PhantomData<fn() -> DB>,
}

impl<DB, C> Session<DB, C> {
    pub(crate) fn new(conn: C, dialect: &'static Dialect) -> Self {
        Self { conn, dialect, _database: PhantomData }
    }

    pub(crate) fn into_conn(self) -> C {
        self.conn
    }
}

#[async_trait]
impl<DB, C> Ops for Session<DB, C>
where
    DB: Database,
    C: DerefMut<Target = DB::Connection> + Send,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> HeadRow: FromRow<'r, DB::Row>,
    for<'r> AuditRow: FromRow<'r, DB::Row>,
    for<'r> ProjectRow: FromRow<'r, DB::Row>,
    for<'r> PromptRow: FromRow<'r, DB::Row>,
    for<'r> VersionRow: FromRow<'r, DB::Row>,
    for<'r> LabelRow: FromRow<'r, DB::Row>,
    for<'r> LabelChangeRow: FromRow<'r, DB::Row>,
    for<'r> KeyRow: FromRow<'r, DB::Row>,
    Self: GenerationOps + RolloutOps + GovernanceOps,
{
    async fn ping(&mut self) -> StoreResult<()> {
        sqlx::query::<DB>(sql::PING).execute(&mut *self.conn).await?;
        Ok(())
    }

    async fn lock_audit_head(&mut self) -> StoreResult<HeadRow> {
        let head = sqlx::query_as::<DB, HeadRow>(self.dialect.lock_audit_head).fetch_one(&mut *self.conn).await?;
        Ok(head)
    }

    async fn append_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        let record = &entry.record;
        sqlx::query::<DB>(sql::INSERT_AUDIT)
            .bind(entry.seq)
            .bind(record.at.timestamp_micros())
            .bind(record.actor.key_id.clone())
            .bind(record.actor.name.clone())
            .bind(record.action.clone())
            .bind(record.project.clone())
            .bind(record.target.clone())
            .bind(record.before.as_ref().map(to_json).transpose()?)
            .bind(record.after.as_ref().map(to_json).transpose()?)
            .bind(record.reason.clone())
            .bind(record.request_id.clone())
            .bind(entry.prev_hash.clone())
            .bind(entry.hash.clone())
            .execute(&mut *self.conn)
            .await?;
        sqlx::query::<DB>(sql::SET_AUDIT_HEAD)
            .bind(entry.seq)
            .bind(entry.hash.clone())
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn list_audit(&mut self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let prompt_target = filter.prompt.as_ref().map(|name| format!("prompt/{name}"));
        let rows = sqlx::query_as::<DB, AuditRow>(sql::LIST_AUDIT)
            .bind(filter.project.clone())
            .bind(prompt_target.clone())
            .bind(prompt_target.as_ref().map(|target| format!("{target}/")))
            .bind(prompt_target.as_ref().map(|target| format!("{target}0")))
            .bind(filter.actor.clone())
            .bind(filter.action.clone())
            .bind(filter.since.map(|at| at.timestamp_micros()))
            .bind(filter.until.map(|at| at.timestamp_micros()))
            .bind(filter.before_seq)
            .bind(i64::from(filter.limit))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }

    async fn audit_chain_page(&mut self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query_as::<DB, AuditRow>(sql::AUDIT_CHAIN_PAGE)
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }

    async fn insert_project(&mut self, name: &ProjectName, at: DateTime<Utc>) -> StoreResult<Option<Project>> {
        let row = sqlx::query_as::<DB, ProjectRow>(sql::INSERT_PROJECT)
            .bind(name.to_string())
            .bind(at.timestamp_micros())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(ProjectRow::into_project).transpose()
    }

    async fn get_project(&mut self, name: &ProjectName) -> StoreResult<Option<Project>> {
        let row = sqlx::query_as::<DB, ProjectRow>(sql::GET_PROJECT)
            .bind(name.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(ProjectRow::into_project).transpose()
    }

    async fn list_projects(&mut self) -> StoreResult<Vec<Project>> {
        let rows = sqlx::query_as::<DB, ProjectRow>(sql::LIST_PROJECTS).fetch_all(&mut *self.conn).await?;
        rows.into_iter().map(ProjectRow::into_project).collect()
    }

    async fn find_prompt(&mut self, project: &ProjectName, name: &PromptName) -> StoreResult<Option<StoredPrompt>> {
        let row = sqlx::query_as::<DB, PromptRow>(sql::FIND_PROMPT)
            .bind(project.to_string())
            .bind(name.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(PromptRow::into_stored).transpose()
    }

    async fn list_prompts(&mut self, project: &ProjectName, filter: &PromptFilter) -> StoreResult<Vec<Prompt>> {
        // `latest` is never stored: it matches every prompt with a version.
        let (stored_label, needs_version) = match &filter.label {
            Some(label) if label.is_latest() => (None, true),
            Some(label) => (Some(label.to_string()), false),
            None => (None, false),
        };
        let rows = sqlx::query_as::<DB, PromptRow>(sql::LIST_PROMPTS)
            .bind(project.to_string())
            .bind(filter.include_archived)
            .bind(filter.after.as_ref().map(ToString::to_string))
            .bind(filter.tag.as_ref().map(ToString::to_string))
            .bind(stored_label)
            .bind(needs_version)
            .bind(i64::from(filter.limit))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(|row| row.into_stored().map(|stored| stored.prompt)).collect()
    }

    async fn insert_prompt(&mut self, new: &NewPrompt, at: DateTime<Utc>) -> StoreResult<Option<i64>> {
        let inserted = sqlx::query_as::<DB, (i64,)>(sql::INSERT_PROMPT)
            .bind(new.project.to_string())
            .bind(new.name.to_string())
            .bind(new.description.clone())
            .bind(to_json(&new.tags)?)
            .bind(at.timestamp_micros())
            .fetch_optional(&mut *self.conn)
            .await?;
        let Some((prompt_id,)) = inserted else { return Ok(None) };
        self.insert_tags(prompt_id, &new.tags).await?;
        Ok(Some(prompt_id))
    }

    async fn update_prompt_meta(
        &mut self,
        prompt_id: i64,
        description: &str,
        tags: &[TagName],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query::<DB>(sql::UPDATE_PROMPT_META)
            .bind(prompt_id)
            .bind(description.to_owned())
            .bind(to_json(tags)?)
            .bind(at.timestamp_micros())
            .execute(&mut *self.conn)
            .await?;
        sqlx::query::<DB>(sql::DELETE_TAGS).bind(prompt_id).execute(&mut *self.conn).await?;
        self.insert_tags(prompt_id, tags).await
    }

    async fn set_archived(&mut self, prompt_id: i64, archived: bool, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query::<DB>(sql::SET_ARCHIVED)
            .bind(prompt_id)
            .bind(archived)
            .bind(at.timestamp_micros())
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn latest_version(&mut self, prompt: &StoredPrompt) -> StoreResult<Option<PromptVersion>> {
        let row = sqlx::query_as::<DB, VersionRow>(sql::LATEST_VERSION)
            .bind(prompt.id)
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(|row| row.into_version(&prompt.prompt)).transpose()
    }

    async fn get_version(&mut self, prompt: &StoredPrompt, version: u32) -> StoreResult<Option<PromptVersion>> {
        let row = sqlx::query_as::<DB, VersionRow>(sql::GET_VERSION)
            .bind(prompt.id)
            .bind(i64::from(version))
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(|row| row.into_version(&prompt.prompt)).transpose()
    }

    async fn list_versions(
        &mut self,
        prompt: &StoredPrompt,
        before: Option<u32>,
        limit: u32,
    ) -> StoreResult<Vec<PromptVersion>> {
        let rows = sqlx::query_as::<DB, VersionRow>(sql::LIST_VERSIONS)
            .bind(prompt.id)
            .bind(before.map(i64::from))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(|row| row.into_version(&prompt.prompt)).collect()
    }

    async fn insert_version(&mut self, prompt_id: i64, version: &PromptVersion) -> StoreResult<()> {
        sqlx::query::<DB>(sql::INSERT_VERSION)
            .bind(prompt_id)
            .bind(i64::from(version.version))
            .bind(to_json(&version.content)?)
            .bind(version.content_hash.clone())
            .bind(version.message.clone())
            .bind(version.author.key_id.clone())
            .bind(version.author.name.clone())
            .bind(version.created_at.timestamp_micros())
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn get_label(&mut self, prompt_id: i64, name: &LabelName) -> StoreResult<Option<Label>> {
        let row = sqlx::query_as::<DB, LabelRow>(sql::GET_LABEL)
            .bind(prompt_id)
            .bind(name.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(LabelRow::into_label).transpose()
    }

    async fn list_labels(&mut self, prompt_id: i64) -> StoreResult<Vec<Label>> {
        let rows = sqlx::query_as::<DB, LabelRow>(sql::LIST_LABELS).bind(prompt_id).fetch_all(&mut *self.conn).await?;
        rows.into_iter().map(LabelRow::into_label).collect()
    }

    async fn save_label(&mut self, prompt_id: i64, label: &Label) -> StoreResult<()> {
        sqlx::query::<DB>(sql::UPSERT_LABEL)
            .bind(prompt_id)
            .bind(label.name.to_string())
            .bind(to_json(&label.target)?)
            .bind(label.updated_at.timestamp_micros())
            .bind(label.updated_by.key_id.clone())
            .bind(label.updated_by.name.clone())
            .bind(label.reason.clone())
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn insert_label_change(
        &mut self,
        prompt_id: i64,
        label: &LabelName,
        change: &LabelChange,
    ) -> StoreResult<i64> {
        let (seq,) = sqlx::query_as::<DB, (i64,)>(sql::INSERT_LABEL_CHANGE)
            .bind(prompt_id)
            .bind(label.to_string())
            .bind(change_kind_str(change.kind).to_owned())
            .bind(change.from.as_ref().map(to_json).transpose()?)
            .bind(to_json(&change.to)?)
            .bind(change.reason.clone())
            .bind(change.actor.key_id.clone())
            .bind(change.actor.name.clone())
            .bind(change.at.timestamp_micros())
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(seq)
    }

    async fn label_history(&mut self, prompt_id: i64, label: &LabelName, limit: u32) -> StoreResult<Vec<LabelChange>> {
        let rows = sqlx::query_as::<DB, LabelChangeRow>(sql::LABEL_HISTORY)
            .bind(prompt_id)
            .bind(label.to_string())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(LabelChangeRow::into_change).collect()
    }

    async fn insert_key(&mut self, new: &NewApiKey, at: DateTime<Utc>) -> StoreResult<bool> {
        let inserted = sqlx::query_as::<DB, (String,)>(sql::INSERT_KEY)
            .bind(new.id.clone())
            .bind(new.name.clone())
            .bind(new.role.as_str().to_owned())
            .bind(new.project.as_ref().map(ToString::to_string))
            .bind(new.secret_hash.clone())
            .bind(at.timestamp_micros())
            .bind(new.expires_at.map(|expires_at| expires_at.timestamp_micros()))
            .fetch_optional(&mut *self.conn)
            .await?;
        Ok(inserted.is_some())
    }

    async fn get_key(&mut self, id: &str) -> StoreResult<Option<ApiKey>> {
        let row =
            sqlx::query_as::<DB, KeyRow>(sql::GET_KEY).bind(id.to_owned()).fetch_optional(&mut *self.conn).await?;
        row.map(KeyRow::into_key).transpose()
    }

    async fn find_key_by_hash(&mut self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query_as::<DB, KeyRow>(sql::FIND_KEY_BY_HASH)
            .bind(secret_hash.to_owned())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(KeyRow::into_key).transpose()
    }

    async fn list_keys(&mut self, project: Option<&ProjectName>) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query_as::<DB, KeyRow>(sql::LIST_KEYS)
            .bind(project.map(ToString::to_string))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn revoke_key(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query::<DB>(sql::REVOKE_KEY)
            .bind(id.to_owned())
            .bind(at.timestamp_micros())
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn count_keys(&mut self) -> StoreResult<u64> {
        let (count,) = sqlx::query_as::<DB, (i64,)>(sql::COUNT_KEYS).fetch_one(&mut *self.conn).await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn count_other_active_global_admins(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<u64> {
        let (count,) = sqlx::query_as::<DB, (i64,)>(sql::COUNT_OTHER_ACTIVE_GLOBAL_ADMINS)
            .bind(id.to_owned())
            .bind(at.timestamp_micros())
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn touch_key(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query::<DB>(sql::TOUCH_KEY)
            .bind(id.to_owned())
            .bind(at.timestamp_micros())
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }
}

impl<DB, C> Session<DB, C>
where
    DB: Database,
    C: DerefMut<Target = DB::Connection> + Send,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
{
    async fn insert_tags(&mut self, prompt_id: i64, tags: &[TagName]) -> StoreResult<()> {
        for tag in tags {
            sqlx::query::<DB>(sql::INSERT_TAG).bind(prompt_id).bind(tag.to_string()).execute(&mut *self.conn).await?;
        }
        Ok(())
    }
}
