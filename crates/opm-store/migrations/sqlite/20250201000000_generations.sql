-- Stored generations (one row per gateway call) and the feedback scored on them.
-- These rows are telemetry: they are written in batches without audit entries or change events,
-- and deleted by the retention job. There is no foreign key to `projects` so inserts stay cheap.
-- The PostgreSQL schema (../postgres) has the same tables, columns and meaning.

CREATE TABLE generations (
    -- A UUID v7 as text (time-ordered, so the index on it grows at its end).
    id TEXT PRIMARY KEY NOT NULL,
    project TEXT NOT NULL,
    started_at_us INTEGER NOT NULL,
    prompt TEXT,
    prompt_version INTEGER,
    label TEXT,
    -- The rollout or split arm that served the call.
    arm TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'cancelled')),
    error_kind TEXT,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    upstream_ms REAL NOT NULL,
    -- Unknown token counts and costs are NULL, never 0.
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_tokens INTEGER,
    cost_usd REAL,
    key_id TEXT,
    attempts INTEGER NOT NULL,
    fallback_index INTEGER NOT NULL,
    streamed INTEGER NOT NULL CHECK (streamed IN (0, 1))
);

-- Statistics of one prompt over a time window.
CREATE INDEX generations_by_prompt ON generations (project, prompt, started_at_us);
-- Retention deletes the oldest rows first.
CREATE INDEX generations_by_time ON generations (started_at_us);

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    generation_id TEXT NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    score REAL NOT NULL,
    comment TEXT,
    key_id TEXT,
    created_at_us INTEGER NOT NULL,
    -- Copied from the generation (which never changes), so statistics group feedback without a join.
    prompt TEXT,
    prompt_version INTEGER,
    label TEXT,
    model TEXT NOT NULL,
    started_at_us INTEGER NOT NULL
);

CREATE INDEX feedback_by_generation ON feedback (generation_id, id);
CREATE INDEX feedback_by_prompt ON feedback (project, prompt, started_at_us);
