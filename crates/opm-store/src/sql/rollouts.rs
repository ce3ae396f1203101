//! The SQL of rollouts, the same on both backends. A rollout row references its prompt by id; reads
//! join the prompt for its project and name.

/// The columns of a rollout row, with its prompt's project and name.
macro_rules! select_rollout {
    () => {
        "SELECT r.id, p.project, p.name AS prompt, r.label, r.stable_version, r.canary_version, r.spec_json, \
         r.state_json, r.last_check_json, r.checks, r.revision, r.reason, r.created_by_key_id, \
         r.created_by_name, r.created_at_us, r.updated_at_us \
         FROM rollouts r JOIN prompts p ON p.id = r.prompt_id "
    };
}

/// The state names of an active rollout, as the partial unique index `rollouts_one_active` has them.
macro_rules! active_states {
    () => {
        "('progressing', 'paused')"
    };
}

/// Returns the new id.
pub(crate) const INSERT_ROLLOUT: &str = "INSERT INTO rollouts \
     (prompt_id, label, stable_version, canary_version, spec_json, state, state_json, last_check_json, checks, \
     revision, reason, created_by_key_id, created_by_name, created_at_us, updated_at_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, 1, $8, $9, $10, $11, $11) RETURNING id";
pub(crate) const GET_ROLLOUT: &str = concat!(select_rollout!(), "WHERE r.prompt_id = $1 AND r.id = $2");
pub(crate) const ACTIVE_ROLLOUT: &str =
    concat!(select_rollout!(), "WHERE r.prompt_id = $1 AND r.label = $2 AND r.state IN ", active_states!());
/// `$1` id, `$2` expected revision; no row changes when the revision moved on.
pub(crate) const UPDATE_ROLLOUT: &str = "UPDATE rollouts SET state = $3, state_json = $4, \
     last_check_json = COALESCE($5, last_check_json), checks = $6, revision = revision + 1, updated_at_us = $7 \
     WHERE id = $1 AND revision = $2";
/// `$1` project, `$2` prompt name, `$3` label, `$4` active only, `$5` limit.
pub(crate) const LIST_ROLLOUTS: &str = concat!(
    select_rollout!(),
    "WHERE ($1 IS NULL OR p.project = $1) \
     AND ($2 IS NULL OR p.name = $2) \
     AND ($3 IS NULL OR r.label = $3) \
     AND (NOT $4 OR r.state IN ",
    active_states!(),
    ") ORDER BY r.id DESC LIMIT $5"
);
