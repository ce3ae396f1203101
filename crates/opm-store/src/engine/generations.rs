//! Stored generations and feedback: batched inserts, lookups, retention and statistics.
//!
//! These are telemetry, not audited changes: writes take a plain write transaction (on SQLite the
//! single writer connection, so each transaction is kept short) without touching the audit head,
//! and announce no change events.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use opm_core::names::ProjectName;

use super::Backend;
use crate::generations::{
    Feedback, GenerationRow, GroupStats, NewFeedback, SpendRow, StatsQuery, check_feedback, check_row,
    check_stats_query, day_number, sort_groups, spend_of,
};
use crate::rows::truncate_micros;
use crate::sql::generations::MAX_ROWS_PER_INSERT;
use crate::{StoreError, StoreResult};

/// Inserts the batch in one transaction, skipping ids already stored; returns how many were new.
/// Every row is checked first, so an invalid row fails the batch before anything is written.
pub(super) async fn insert(backend: &impl Backend, rows: &[GenerationRow]) -> StoreResult<u64> {
    rows.iter().try_for_each(check_row)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut tx = backend.writer().await?;
    let mut inserted = std::collections::HashSet::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(statement_rows(rest.len()));
        inserted.extend(tx.ops().insert_generations(chunk).await?);
        rest = tail;
    }
    // The spend of the rows that were new, in the same transaction: a batch written twice (a retry
    // after a lost commit answer) adds its calls' cost once.
    let spend = spend_of(rows.iter().filter(|row| inserted.contains(&row.id)));
    tx.ops().add_spend(&spend).await?;
    tx.commit(Vec::new()).await?;
    Ok(u64::try_from(inserted.len()).unwrap_or(u64::MAX))
}

/// The spend ledger from `first_day` on.
pub(super) async fn spend_since(backend: &impl Backend, first_day: NaiveDate) -> StoreResult<Vec<SpendRow>> {
    let number = day_number(Utc.from_utc_datetime(&first_day.and_hms_opt(0, 0, 0).unwrap_or_default()));
    backend.reader().await?.spend_since(number).await
}

/// How many of `remaining` rows the next statement carries: a power of two up to the maximum, so
/// only a few distinct statements are ever prepared.
fn statement_rows(remaining: usize) -> usize {
    match remaining.checked_ilog2() {
        _ if remaining >= MAX_ROWS_PER_INSERT => MAX_ROWS_PER_INSERT,
        // The largest power of two not above `remaining`.
        Some(log2) => 1 << log2,
        None => 1,
    }
}

pub(super) async fn get(backend: &impl Backend, project: &ProjectName, id: &str) -> StoreResult<GenerationRow> {
    let mut ops = backend.reader().await?;
    ops.get_generation(project, id).await?.ok_or_else(|| not_found(project, id))
}

pub(super) async fn count(backend: &impl Backend) -> StoreResult<u64> {
    backend.reader().await?.count_generations().await
}

/// Deletes at most `limit` of the oldest generations started before `cutoff`, and their feedback.
pub(super) async fn delete_before(backend: &impl Backend, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
    if limit == 0 {
        return Ok(0);
    }
    let mut tx = backend.writer().await?;
    let deleted = tx.ops().delete_generations_before(cutoff, limit).await?;
    tx.commit(Vec::new()).await?;
    Ok(deleted)
}

pub(super) async fn add_feedback(backend: &impl Backend, new: &NewFeedback) -> StoreResult<Feedback> {
    check_feedback(new)?;
    let mut tx = backend.writer().await?;
    let feedback = tx
        .ops()
        .insert_feedback(new, truncate_micros(new.at))
        .await?
        .ok_or_else(|| not_found(&new.project, &new.generation_id))?;
    tx.commit(Vec::new()).await?;
    Ok(feedback)
}

/// Oldest first; a generation that does not exist in the project is not found.
pub(super) async fn list_feedback(
    backend: &impl Backend,
    project: &ProjectName,
    generation_id: &str,
) -> StoreResult<Vec<Feedback>> {
    let mut ops = backend.reader().await?;
    let feedback = ops.list_feedback(project, generation_id).await?;
    if feedback.is_empty() && ops.get_generation(project, generation_id).await?.is_none() {
        return Err(not_found(project, generation_id));
    }
    Ok(feedback)
}

pub(super) async fn stats(backend: &impl Backend, query: &StatsQuery) -> StoreResult<Vec<GroupStats>> {
    check_stats_query(query)?;
    let mut groups = backend.reader().await?.generation_stats(query).await?;
    sort_groups(&mut groups, query.by);
    Ok(groups)
}

fn not_found(project: &ProjectName, id: &str) -> StoreError {
    StoreError::GenerationNotFound { project: project.to_string(), id: id.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_carry_powers_of_two() {
        let sizes = |mut remaining: usize| {
            let mut sizes = Vec::new();
            while remaining > 0 {
                let size = statement_rows(remaining);
                sizes.push(size);
                remaining -= size;
            }
            sizes
        };
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(1000), [512, 256, 128, 64, 32, 8]);
        assert_eq!(sizes(1024), [1024]);
        assert_eq!(sizes(2500), [1024, 1024, 256, 128, 64, 4]);
    }
}
