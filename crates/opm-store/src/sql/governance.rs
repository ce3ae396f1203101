//! The SQL of governance policies and change requests, the same on both backends. A request row
//! references its prompt by id; reads join the prompt for its project and name.

/// The columns of a change request row, with its prompt's project and name.
macro_rules! select_request {
    () => {
        "SELECT c.id, p.project, p.name AS prompt, c.prompt_id, c.label, c.change_json, c.expected_json, c.reason, \
         c.state, c.approvals_required, c.approvals_json, c.author_key_id, c.author_name, c.created_at_us, \
         c.decided_by_key_id, c.decided_by_name, c.decided_at_us, c.decision_reason \
         FROM change_requests c JOIN prompts p ON p.id = c.prompt_id "
    };
}

pub(crate) const GET_POLICY: &str = "SELECT project, policy_json, revision, updated_at_us, updated_by_key_id, \
     updated_by_name FROM governance_policies WHERE project = $1";
/// The first policy of a project; no row when one exists already.
pub(crate) const INSERT_POLICY: &str = "INSERT INTO governance_policies \
     (project, policy_json, revision, updated_at_us, updated_by_key_id, updated_by_name) \
     VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT DO NOTHING";
/// `$1` project, `$2` expected revision; no row changes when the revision moved on.
pub(crate) const UPDATE_POLICY: &str = "UPDATE governance_policies SET policy_json = $3, revision = revision + 1, \
     updated_at_us = $4, updated_by_key_id = $5, updated_by_name = $6 WHERE project = $1 AND revision = $2";

/// Returns the new id.
pub(crate) const INSERT_REQUEST: &str = "INSERT INTO change_requests \
     (prompt_id, label, change_json, expected_json, reason, state, approvals_required, approvals_json, \
     author_key_id, author_name, created_at_us) \
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, '[]', $7, $8, $9) RETURNING id";
pub(crate) const GET_REQUEST: &str = concat!(select_request!(), "WHERE p.project = $1 AND c.id = $2");
pub(crate) const UPDATE_REQUEST: &str = "UPDATE change_requests SET state = $2, approvals_json = $3, \
     decided_by_key_id = $4, decided_by_name = $5, decided_at_us = $6, decision_reason = $7 WHERE id = $1";
/// `$1` project, `$2` prompt name, `$3` label, `$4` state, `$5` limit.
pub(crate) const LIST_REQUESTS: &str = concat!(
    select_request!(),
    "WHERE p.project = $1 \
     AND ($2 IS NULL OR p.name = $2) \
     AND ($3 IS NULL OR c.label = $3) \
     AND ($4 IS NULL OR c.state = $4) \
     ORDER BY c.id DESC LIMIT $5"
);
