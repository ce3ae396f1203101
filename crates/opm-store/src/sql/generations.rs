//! The SQL of stored generations and feedback. Inserts, lookups and retention share one dialect;
//! statistics have one statement per backend and grouping, because the portable form (window
//! functions, then a join on the ranks) took about 1.5× (SQLite) to 3× (PostgreSQL) as long over a
//! million rows. SQLite collects each group's row ids in latency order (`jsonb_group_array(rowid
//! ORDER BY …)`, exact, unlike collecting the values, which JSON renders with 15 digits) and looks
//! up the rows at the ranks; PostgreSQL uses `percentile_disc`. Both pick the value at rank
//! `ceil(p·n)` (nearest rank): PostgreSQL computes `ceil(p * n)` in floating point, which equals the
//! integer `(100p·n + 99) / 100` SQLite uses for p = 0.5, 0.95 and 0.99. The SQLite form needs
//! SQLite 3.45 (JSONB, `ORDER BY` inside aggregates); the bundled library is newer.
//!
//! Statistics bind `$1` project, `$2` prompt, `$3` since and `$4` until (microseconds, until
//! exclusive) and `$5` an optional label filter, and return [`crate::rows::StatsRow`]s. Means and
//! sample variances (latency of `ok` calls, feedback scores): PostgreSQL's `avg`/`var_samp`
//! (numerically stable); SQLite has no `var_samp`, so it uses sums of values and squares,
//! `(Σx² − (Σx)²/n) / (n − 1)`, with a difference within rounding of zero reported as 0 (never
//! negative), which loses precision only when the spread is tiny next to the mean (not the case for
//! latencies or scores).

/// The columns of a generation row, in the order inserts bind them.
macro_rules! generation_columns {
    () => {
        "id, project, started_at_us, prompt, prompt_version, label, arm, provider, model, status, error_kind, \
         latency_ms, ttft_ms, upstream_ms, input_tokens, output_tokens, cached_tokens, cost_usd, key_id, \
         attempts, fallback_index, streamed, sticky"
    };
}

/// The columns of a feedback row.
macro_rules! feedback_columns {
    () => {
        "id, generation_id, score, comment, key_id, created_at_us"
    };
}

/// How many columns an insert binds per row.
pub(crate) const GENERATION_COLUMNS: usize = 23;
/// The most rows one insert statement carries: under SQLite's 32766 and PostgreSQL's 65535 bind
/// parameters. Batches are cut into power-of-two statements up to this size, so a connection
/// prepares at most eleven distinct inserts however the batches vary.
pub(crate) const MAX_ROWS_PER_INSERT: usize = 1024;
const _: () = assert!(MAX_ROWS_PER_INSERT * GENERATION_COLUMNS <= 32766);

/// Followed by one parenthesized tuple of placeholders per row and [`INSERT_GENERATIONS_END`].
pub(crate) const INSERT_GENERATIONS: &str = concat!("INSERT INTO generations (", generation_columns!(), ") VALUES ");
/// Returns the ids of the new rows, so the batch's spend counts each call once even when a batch is
/// written again.
pub(crate) const INSERT_GENERATIONS_END: &str = " ON CONFLICT (id) DO NOTHING RETURNING id";
/// `$1` project, `$2` key id ('' for none), `$3` day number, `$4` cost, `$5` calls: adds to the day.
pub(crate) const ADD_SPEND: &str = "INSERT INTO spend_daily (project, key_id, day, cost_usd, calls) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project, key_id, day) \
     DO UPDATE SET cost_usd = spend_daily.cost_usd + excluded.cost_usd, calls = spend_daily.calls + excluded.calls";
/// `$1` the first day number.
pub(crate) const SPEND_SINCE: &str = "SELECT project, key_id, day, cost_usd, calls FROM spend_daily WHERE day >= $1";
pub(crate) const GET_GENERATION: &str =
    concat!("SELECT ", generation_columns!(), " FROM generations WHERE id = $1 AND project = $2");
pub(crate) const COUNT_GENERATIONS: &str = "SELECT COUNT(*) FROM generations";
/// `$1` cutoff, `$2` limit. Feedback goes with its generation (`ON DELETE CASCADE`).
pub(crate) const DELETE_GENERATIONS_BEFORE: &str = "DELETE FROM generations WHERE id IN \
     (SELECT id FROM generations WHERE started_at_us < $1 ORDER BY started_at_us LIMIT $2)";

/// Inserts only when the generation exists in the project (`$1`), so a missing one returns no row;
/// the generation's prompt, grouping columns and start are copied for statistics.
pub(crate) const INSERT_FEEDBACK: &str = concat!(
    "INSERT INTO feedback (project, generation_id, score, comment, key_id, created_at_us, \
     prompt, prompt_version, label, model, arm, started_at_us) \
     SELECT g.project, g.id, $3, $4, $5, $6, g.prompt, g.prompt_version, g.label, g.model, g.arm, g.started_at_us \
     FROM generations g WHERE g.id = $2 AND g.project = $1 \
     RETURNING ",
    feedback_columns!()
);
pub(crate) const LIST_FEEDBACK: &str =
    concat!("SELECT ", feedback_columns!(), " FROM feedback WHERE generation_id = $1 AND project = $2 ORDER BY id");

/// The rows statistics cover: one prompt of one project in a window, optionally one label.
macro_rules! stats_window {
    () => {
        "WHERE project = $1 AND prompt = $2 AND started_at_us >= $3 AND started_at_us < $4 \
         AND ($5 IS NULL OR label = $5) "
    };
}

/// Feedback count, mean and sample variance (`$variance`) per group, from the columns feedback
/// copies from its generation.
macro_rules! feedback_totals {
    ($group:literal, $variance:expr) => {
        concat!(
            "feedback_totals AS (SELECT ",
            $group,
            " AS grp, COUNT(*) AS feedback_count, AVG(score) AS feedback_mean, ",
            $variance,
            " AS feedback_variance FROM feedback ",
            stats_window!(),
            "GROUP BY ",
            $group,
            ")"
        )
    };
}

/// SQLite's sample variance from a count, a sum and a sum of squares: `(Σx² − (Σx)²/n) / (n − 1)`
/// for n > 1. The difference loses about `n·ε·Σx²` to rounding, so one below `1e-12·Σx²` (a spread
/// under a millionth of the mean) is reported as 0 rather than as noise or a negative number.
macro_rules! sqlite_variance {
    ($count:literal, $sum:literal, $squares:literal) => {
        concat!(
            "CASE WHEN ",
            $count,
            " > 1 THEN CASE WHEN ",
            $squares,
            " - ",
            $sum,
            " * ",
            $sum,
            " / ",
            $count,
            " <= 1e-12 * ",
            $squares,
            " THEN 0.0 ELSE (",
            $squares,
            " - ",
            $sum,
            " * ",
            $sum,
            " / ",
            $count,
            ") / (",
            $count,
            " - 1) END END"
        )
    };
}

/// SQLite's sample variance of the feedback scores of a group.
macro_rules! sqlite_score_variance {
    () => {
        sqlite_variance!("COUNT(*)", "SUM(score)", "SUM(score * score)")
    };
}

/// The value at nearest rank `ceil(p·n)` of a SQLite row-id array ordered by `$column`.
macro_rules! sqlite_rank {
    ($column:literal, $ids:literal, $count:literal, $percent:literal, $alias:literal) => {
        concat!(
            "CASE WHEN t.",
            $count,
            " > 0 THEN (SELECT ",
            $column,
            " FROM generations WHERE rowid = t.",
            $ids,
            " ->> ((",
            $percent,
            " * t.",
            $count,
            " + 99) / 100 - 1)) END AS ",
            $alias
        )
    };
}

/// The rows of the window come sorted by group and latency, so SQLite groups them without a
/// second sort and the latency-ordered row ids are appended in order.
macro_rules! sqlite_stats {
    ($group:literal) => {
        concat!(
            "WITH totals AS (SELECT grp, COUNT(*) AS calls, \
             SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors, \
             SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled, \
             SUM(CASE WHEN status = 'ok' THEN 1 ELSE 0 END) AS ok_calls, \
             SUM(CASE WHEN status = 'ok' AND ttft_ms IS NOT NULL THEN 1 ELSE 0 END) AS ttft_calls, \
             SUM(CASE WHEN sticky = 0 THEN 1 ELSE 0 END) AS unsticky, \
             AVG(CASE WHEN status = 'ok' THEN latency_ms END) AS latency_mean, \
             SUM(CASE WHEN status = 'ok' THEN latency_ms END) AS latency_sum, \
             SUM(CASE WHEN status = 'ok' THEN latency_ms * latency_ms END) AS latency_squares, \
             COALESCE(SUM(input_tokens), 0) AS input_tokens, \
             COALESCE(SUM(output_tokens), 0) AS output_tokens, \
             COALESCE(SUM(cached_tokens), 0) AS cached_tokens, \
             COALESCE(SUM(cost_usd), 0.0) AS cost_usd, \
             COUNT(cost_usd) AS calls_with_cost, \
             jsonb_group_array(row_id ORDER BY latency_ms) FILTER (WHERE status = 'ok') AS by_latency, \
             jsonb_group_array(row_id ORDER BY ttft_ms) FILTER (WHERE status = 'ok' AND ttft_ms IS NOT NULL) AS by_ttft \
             FROM (SELECT ",
            $group,
            " AS grp, rowid AS row_id, status, latency_ms, ttft_ms, input_tokens, output_tokens, cached_tokens, \
             cost_usd, sticky FROM generations ",
            stats_window!(),
            "ORDER BY ",
            $group,
            ", latency_ms) GROUP BY grp), ",
            feedback_totals!($group, sqlite_score_variance!()),
            " SELECT CAST(t.grp AS TEXT) AS grp, t.calls, t.errors, t.cancelled, \
             t.input_tokens, t.output_tokens, t.cached_tokens, t.cost_usd, t.calls_with_cost, ",
            sqlite_rank!("latency_ms", "by_latency", "ok_calls", "50", "latency_p50"),
            ", ",
            sqlite_rank!("latency_ms", "by_latency", "ok_calls", "95", "latency_p95"),
            ", ",
            sqlite_rank!("latency_ms", "by_latency", "ok_calls", "99", "latency_p99"),
            ", ",
            sqlite_rank!("ttft_ms", "by_ttft", "ttft_calls", "50", "ttft_p50"),
            ", ",
            sqlite_rank!("ttft_ms", "by_ttft", "ttft_calls", "95", "ttft_p95"),
            ", ",
            sqlite_rank!("ttft_ms", "by_ttft", "ttft_calls", "99", "ttft_p99"),
            ", t.latency_mean, ",
            sqlite_variance!("t.ok_calls", "t.latency_sum", "t.latency_squares"),
            " AS latency_variance, t.unsticky, \
             COALESCE(fb.feedback_count, 0) AS feedback_count, fb.feedback_mean, fb.feedback_variance \
             FROM totals t LEFT JOIN feedback_totals fb ON fb.grp IS NOT DISTINCT FROM t.grp"
        )
    };
}

macro_rules! postgres_stats {
    ($group:literal) => {
        concat!(
            "WITH totals AS (SELECT ",
            $group,
            " AS grp, COUNT(*) AS calls, \
             COUNT(*) FILTER (WHERE status = 'error') AS errors, \
             COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled, \
             COUNT(*) FILTER (WHERE sticky = FALSE) AS unsticky, \
             AVG(latency_ms) FILTER (WHERE status = 'ok') AS latency_mean, \
             var_samp(latency_ms) FILTER (WHERE status = 'ok') AS latency_variance, \
             CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT) AS cached_tokens, \
             COALESCE(SUM(cost_usd), 0) AS cost_usd, \
             COUNT(cost_usd) AS calls_with_cost, \
             percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) \
             FILTER (WHERE status = 'ok') AS latency, \
             percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ttft_ms) \
             FILTER (WHERE status = 'ok' AND ttft_ms IS NOT NULL) AS ttft \
             FROM generations ",
            stats_window!(),
            "GROUP BY ",
            $group,
            "), ",
            feedback_totals!($group, "var_samp(score)"),
            " SELECT CAST(t.grp AS TEXT) AS grp, t.calls, t.errors, t.cancelled, \
             t.input_tokens, t.output_tokens, t.cached_tokens, t.cost_usd, t.calls_with_cost, \
             t.latency[1] AS latency_p50, t.latency[2] AS latency_p95, t.latency[3] AS latency_p99, \
             t.ttft[1] AS ttft_p50, t.ttft[2] AS ttft_p95, t.ttft[3] AS ttft_p99, \
             t.latency_mean, t.latency_variance, t.unsticky, \
             COALESCE(fb.feedback_count, 0) AS feedback_count, fb.feedback_mean, fb.feedback_variance \
             FROM totals t LEFT JOIN feedback_totals fb ON fb.grp IS NOT DISTINCT FROM t.grp"
        )
    };
}

/// One backend's statistics statements.
pub(crate) struct StatsSql {
    pub by_version: &'static str,
    pub by_label: &'static str,
    pub by_model: &'static str,
    pub by_arm: &'static str,
}

pub(crate) const SQLITE_STATS: StatsSql = StatsSql {
    by_version: sqlite_stats!("prompt_version"),
    by_label: sqlite_stats!("label"),
    by_model: sqlite_stats!("model"),
    by_arm: sqlite_stats!("arm"),
};

pub(crate) const POSTGRES_STATS: StatsSql = StatsSql {
    by_version: postgres_stats!("prompt_version"),
    by_label: postgres_stats!("label"),
    by_model: postgres_stats!("model"),
    by_arm: postgres_stats!("arm"),
};
