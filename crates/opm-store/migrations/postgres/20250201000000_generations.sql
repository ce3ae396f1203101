-- Stored generations (one row per gateway call) and the feedback scored on them.
-- These rows are telemetry: they are written in batches without audit entries or change events,
-- and deleted by the retention job. There is no foreign key to `projects` so inserts stay cheap.
-- The SQLite schema (../sqlite) has the same tables, columns and meaning.

CREATE TABLE generations (
    -- A UUID v7 as text (time-ordered, so the index on it grows at its end).
    id TEXT COLLATE "C" PRIMARY KEY,
    project TEXT COLLATE "C" NOT NULL,
    started_at_us BIGINT NOT NULL,
    prompt TEXT COLLATE "C",
    prompt_version BIGINT,
    label TEXT COLLATE "C",
    -- The rollout or split arm that served the call.
    arm TEXT COLLATE "C",
    provider TEXT COLLATE "C" NOT NULL,
    model TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'cancelled')),
    error_kind TEXT,
    latency_ms DOUBLE PRECISION NOT NULL,
    ttft_ms DOUBLE PRECISION,
    upstream_ms DOUBLE PRECISION NOT NULL,
    -- Unknown token counts and costs are NULL, never 0.
    input_tokens BIGINT,
    output_tokens BIGINT,
    cached_tokens BIGINT,
    cost_usd DOUBLE PRECISION,
    key_id TEXT,
    attempts BIGINT NOT NULL,
    fallback_index BIGINT NOT NULL,
    streamed BOOLEAN NOT NULL
);

-- Statistics of one prompt over a time window.
CREATE INDEX generations_by_prompt ON generations (project, prompt, started_at_us);
-- Retention deletes the oldest rows first.
CREATE INDEX generations_by_time ON generations (started_at_us);

CREATE TABLE feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project TEXT COLLATE "C" NOT NULL,
    generation_id TEXT COLLATE "C" NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    score DOUBLE PRECISION NOT NULL,
    comment TEXT,
    key_id TEXT,
    created_at_us BIGINT NOT NULL,
    -- Copied from the generation (which never changes), so statistics group feedback without a join.
    prompt TEXT COLLATE "C",
    prompt_version BIGINT,
    label TEXT COLLATE "C",
    model TEXT COLLATE "C" NOT NULL,
    started_at_us BIGINT NOT NULL
);

CREATE INDEX feedback_by_generation ON feedback (generation_id, id);
CREATE INDEX feedback_by_prompt ON feedback (project, prompt, started_at_us);
