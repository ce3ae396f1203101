//! The SQL both backends run, written once in the dialect SQLite and PostgreSQL share: `$N`
//! parameters (SQLite reads them as numbered parameters too), `ON CONFLICT`, `RETURNING`,
//! `BIGINT`/`INTEGER` microsecond timestamps and JSON as text.
//!
//! Every value is a bound parameter. Optional filters are written as `($N IS NULL OR …)` so each
//! query is one static string. The per-backend statements (the audit-head lock, generation
//! statistics) are gathered in a [`Dialect`].

pub(crate) mod generations;
pub(crate) mod governance;
pub(crate) mod rollouts;

/// The columns of a prompt row, with its newest version number.
macro_rules! select_prompt {
    () => {
        "SELECT p.id, p.project, p.name, p.description, p.tags_json, p.archived, \
         p.created_at_us, p.updated_at_us, \
         (SELECT MAX(v.version) FROM versions v WHERE v.prompt_id = p.id) AS latest_version \
         FROM prompts p "
    };
}

/// The columns of a version row.
macro_rules! select_version {
    () => {
        "SELECT version, content_json, content_hash, message, author_key_id, author_name, created_at_us \
         FROM versions "
    };
}

/// The columns of a label row.
macro_rules! select_label {
    () => {
        "SELECT name, target_json, updated_at_us, updated_by_key_id, updated_by_name, reason FROM labels "
    };
}

/// The columns of an API key row (never the secret hash).
macro_rules! select_key {
    () => {
        "SELECT id, name, role, project, created_at_us, revoked_at_us, expires_at_us, last_used_at_us FROM api_keys "
    };
}

/// The columns of an audit row.
macro_rules! select_audit {
    () => {
        "SELECT seq, at_us, actor_key_id, actor_name, action, project, target, before_json, after_json, \
         reason, request_id, prev_hash, hash FROM audit "
    };
}

pub(crate) const PING: &str = "SELECT 1";

// Projects.
pub(crate) const INSERT_PROJECT: &str = "INSERT INTO projects (name, created_at_us) VALUES ($1, $2) \
     ON CONFLICT DO NOTHING RETURNING name, created_at_us";
pub(crate) const GET_PROJECT: &str = "SELECT name, created_at_us FROM projects WHERE name = $1";
pub(crate) const LIST_PROJECTS: &str = "SELECT name, created_at_us FROM projects ORDER BY name";

// Prompts.
pub(crate) const FIND_PROMPT: &str = concat!(select_prompt!(), "WHERE p.project = $1 AND p.name = $2");
/// `$2` include archived, `$3` after name, `$4` tag, `$5` stored label, `$6` has a version, `$7` limit.
pub(crate) const LIST_PROMPTS: &str = concat!(
    select_prompt!(),
    "WHERE p.project = $1 \
     AND ($2 OR p.archived = FALSE) \
     AND ($3 IS NULL OR p.name > $3) \
     AND ($4 IS NULL OR EXISTS (SELECT 1 FROM prompt_tags t WHERE t.prompt_id = p.id AND t.tag = $4)) \
     AND ($5 IS NULL OR EXISTS (SELECT 1 FROM labels l WHERE l.prompt_id = p.id AND l.name = $5)) \
     AND (NOT $6 OR EXISTS (SELECT 1 FROM versions v WHERE v.prompt_id = p.id)) \
     ORDER BY p.name LIMIT $7"
);
pub(crate) const INSERT_PROMPT: &str = "INSERT INTO prompts \
     (project, name, description, tags_json, archived, created_at_us, updated_at_us) \
     VALUES ($1, $2, $3, $4, FALSE, $5, $5) ON CONFLICT DO NOTHING RETURNING id";
pub(crate) const UPDATE_PROMPT_META: &str =
    "UPDATE prompts SET description = $2, tags_json = $3, updated_at_us = $4 WHERE id = $1";
pub(crate) const SET_ARCHIVED: &str = "UPDATE prompts SET archived = $2, updated_at_us = $3 WHERE id = $1";
pub(crate) const DELETE_TAGS: &str = "DELETE FROM prompt_tags WHERE prompt_id = $1";
pub(crate) const INSERT_TAG: &str = "INSERT INTO prompt_tags (prompt_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING";

// Versions.
pub(crate) const LATEST_VERSION: &str =
    concat!(select_version!(), "WHERE prompt_id = $1 ORDER BY version DESC LIMIT 1");
pub(crate) const GET_VERSION: &str = concat!(select_version!(), "WHERE prompt_id = $1 AND version = $2");
pub(crate) const LIST_VERSIONS: &str =
    concat!(select_version!(), "WHERE prompt_id = $1 AND ($2 IS NULL OR version < $2) ORDER BY version DESC LIMIT $3");
pub(crate) const INSERT_VERSION: &str = "INSERT INTO versions \
     (prompt_id, version, content_json, content_hash, message, author_key_id, author_name, created_at_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

// Labels.
pub(crate) const GET_LABEL: &str = concat!(select_label!(), "WHERE prompt_id = $1 AND name = $2");
pub(crate) const LIST_LABELS: &str = concat!(select_label!(), "WHERE prompt_id = $1 ORDER BY name");
pub(crate) const UPSERT_LABEL: &str = "INSERT INTO labels \
     (prompt_id, name, target_json, updated_at_us, updated_by_key_id, updated_by_name, reason) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (prompt_id, name) DO UPDATE SET target_json = excluded.target_json, \
     updated_at_us = excluded.updated_at_us, updated_by_key_id = excluded.updated_by_key_id, \
     updated_by_name = excluded.updated_by_name, reason = excluded.reason";
pub(crate) const INSERT_LABEL_CHANGE: &str = "INSERT INTO label_history \
     (prompt_id, label, kind, from_json, to_json, reason, actor_key_id, actor_name, at_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq";
pub(crate) const LABEL_HISTORY: &str = "SELECT seq, kind, from_json, to_json, reason, actor_key_id, actor_name, at_us \
     FROM label_history WHERE prompt_id = $1 AND label = $2 ORDER BY seq DESC LIMIT $3";

// API keys.
pub(crate) const INSERT_KEY: &str = "INSERT INTO api_keys \
     (id, name, role, project, secret_hash, created_at_us, revoked_at_us, expires_at_us) \
     VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) ON CONFLICT DO NOTHING RETURNING id";
pub(crate) const GET_KEY: &str = concat!(select_key!(), "WHERE id = $1");
pub(crate) const FIND_KEY_BY_HASH: &str = concat!(select_key!(), "WHERE secret_hash = $1");
pub(crate) const LIST_KEYS: &str =
    concat!(select_key!(), "WHERE ($1 IS NULL OR project = $1) ORDER BY created_at_us, id");
pub(crate) const REVOKE_KEY: &str = "UPDATE api_keys SET revoked_at_us = $2 WHERE id = $1";
pub(crate) const COUNT_KEYS: &str = "SELECT COUNT(*) FROM api_keys";
/// Global admin keys other than `$1` that are neither revoked nor expired at `$2`.
pub(crate) const COUNT_OTHER_ACTIVE_GLOBAL_ADMINS: &str = "SELECT COUNT(*) FROM api_keys \
     WHERE id <> $1 AND role = 'admin' AND project IS NULL AND revoked_at_us IS NULL \
     AND (expires_at_us IS NULL OR expires_at_us > $2)";
/// Moves `last_used_at_us` forward only: a late flush never moves it back.
pub(crate) const TOUCH_KEY: &str = "UPDATE api_keys SET last_used_at_us = $2 \
     WHERE id = $1 AND (last_used_at_us IS NULL OR last_used_at_us < $2)";

/// The statements that differ between the backends.
pub(crate) struct Dialect {
    /// Reads the audit head, taking the writers' lock where that needs a statement.
    pub lock_audit_head: &'static str,
    pub generation_stats: generations::StatsSql,
}

pub(crate) static SQLITE: Dialect = Dialect {
    // SQLite serializes writers with `BEGIN IMMEDIATE`; reading the head is enough.
    lock_audit_head: "SELECT seq, hash FROM audit_head WHERE id = 1",
    generation_stats: generations::SQLITE_STATS,
};

pub(crate) static POSTGRES: Dialect = Dialect {
    // PostgreSQL serializes writers on this row lock, held until commit.
    lock_audit_head: "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    generation_stats: generations::POSTGRES_STATS,
};

// Audit.
pub(crate) const SET_AUDIT_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit \
     (seq, at_us, actor_key_id, actor_name, action, project, target, before_json, after_json, \
     reason, request_id, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
/// `$2`/`$3`/`$4` are the prompt target, its children's lower bound (`prompt/NAME/`) and upper
/// bound (`prompt/NAME0`, `0` being the byte after `/`).
pub(crate) const LIST_AUDIT: &str = concat!(
    select_audit!(),
    "WHERE ($1 IS NULL OR project = $1) \
     AND ($2 IS NULL OR target = $2 OR (target >= $3 AND target < $4)) \
     AND ($5 IS NULL OR actor_key_id = $5 OR actor_name = $5) \
     AND ($6 IS NULL OR action = $6) \
     AND ($7 IS NULL OR at_us >= $7) \
     AND ($8 IS NULL OR at_us < $8) \
     AND ($9 IS NULL OR seq < $9) \
     ORDER BY seq DESC LIMIT $10"
);
pub(crate) const AUDIT_CHAIN_PAGE: &str = concat!(select_audit!(), "WHERE seq > $1 ORDER BY seq LIMIT $2");
