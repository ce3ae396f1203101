-- OPM's initial PostgreSQL schema.
-- Timestamps are BIGINT microseconds since the Unix epoch and JSON values are stored as TEXT, so
-- both backends share their SQL and store byte-identical values (the audit hash covers them).
-- Names and targets use the "C" collation so ordering and cursors match SQLite's byte order.
-- The SQLite schema (../sqlite) has the same tables, columns and meaning.

CREATE TABLE projects (
    name TEXT COLLATE "C" PRIMARY KEY,
    created_at_us BIGINT NOT NULL
);

INSERT INTO projects (name, created_at_us)
VALUES ('default', (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT);

CREATE TABLE prompts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project TEXT COLLATE "C" NOT NULL REFERENCES projects (name),
    name TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    -- The tags in the order given, as a JSON array; `prompt_tags` indexes them.
    tags_json TEXT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE prompt_tags (
    prompt_id BIGINT NOT NULL REFERENCES prompts (id),
    tag TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (prompt_id, tag)
);

CREATE INDEX prompt_tags_by_tag ON prompt_tags (tag, prompt_id);

CREATE TABLE versions (
    prompt_id BIGINT NOT NULL REFERENCES prompts (id),
    version BIGINT NOT NULL CHECK (version >= 1),
    content_json TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    message TEXT NOT NULL,
    author_key_id TEXT,
    author_name TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    PRIMARY KEY (prompt_id, version)
);

CREATE TABLE labels (
    prompt_id BIGINT NOT NULL REFERENCES prompts (id),
    name TEXT COLLATE "C" NOT NULL,
    -- A LabelTarget, e.g. {"type":"version","version":3}.
    target_json TEXT NOT NULL,
    updated_at_us BIGINT NOT NULL,
    updated_by_key_id TEXT,
    updated_by_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (prompt_id, name)
);

CREATE INDEX labels_by_name ON labels (name, prompt_id);

CREATE TABLE label_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prompt_id BIGINT NOT NULL REFERENCES prompts (id),
    label TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('set', 'rollback')),
    from_json TEXT,
    to_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_key_id TEXT,
    actor_name TEXT NOT NULL,
    at_us BIGINT NOT NULL
);

CREATE INDEX label_history_by_label ON label_history (prompt_id, label, seq);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    -- NULL for a global key.
    project TEXT COLLATE "C" REFERENCES projects (name),
    secret_hash TEXT NOT NULL UNIQUE,
    created_at_us BIGINT NOT NULL,
    revoked_at_us BIGINT
);

CREATE INDEX api_keys_by_project ON api_keys (project);

-- The audit hash chain (see opm_core::audit). Rows are only ever appended.
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at_us BIGINT NOT NULL,
    actor_key_id TEXT,
    actor_name TEXT NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    project TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    before_json TEXT,
    after_json TEXT,
    reason TEXT,
    request_id TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE INDEX audit_by_project ON audit (project, seq);
CREATE INDEX audit_by_target ON audit (target, seq);
CREATE INDEX audit_by_action ON audit (action, seq);
CREATE INDEX audit_by_actor_key ON audit (actor_key_id, seq);
CREATE INDEX audit_by_actor_name ON audit (actor_name, seq);
CREATE INDEX audit_by_time ON audit (at_us);

CREATE FUNCTION opm_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END
$$;

CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION opm_audit_append_only();

-- The newest audit entry; every mutation locks this row first (seq 0 = empty chain).
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
