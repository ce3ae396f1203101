-- OPM's initial SQLite schema.
-- Timestamps are INTEGER microseconds since the Unix epoch; JSON values are stored as TEXT.
-- The PostgreSQL schema (../postgres) has the same tables, columns and meaning.

CREATE TABLE projects (
    name TEXT PRIMARY KEY NOT NULL,
    created_at_us INTEGER NOT NULL
);

INSERT INTO projects (name, created_at_us)
VALUES ('default', CAST(unixepoch('subsec') * 1000000 AS INTEGER));

CREATE TABLE prompts (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects (name),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The tags in the order given, as a JSON array; `prompt_tags` indexes them.
    tags_json TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE prompt_tags (
    prompt_id INTEGER NOT NULL REFERENCES prompts (id),
    tag TEXT NOT NULL,
    PRIMARY KEY (prompt_id, tag)
);

CREATE INDEX prompt_tags_by_tag ON prompt_tags (tag, prompt_id);

CREATE TABLE versions (
    prompt_id INTEGER NOT NULL REFERENCES prompts (id),
    version INTEGER NOT NULL CHECK (version >= 1),
    content_json TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    message TEXT NOT NULL,
    author_key_id TEXT,
    author_name TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    PRIMARY KEY (prompt_id, version)
);

CREATE TABLE labels (
    prompt_id INTEGER NOT NULL REFERENCES prompts (id),
    name TEXT NOT NULL,
    -- A LabelTarget, e.g. {"type":"version","version":3}.
    target_json TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL,
    updated_by_key_id TEXT,
    updated_by_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (prompt_id, name)
);

CREATE INDEX labels_by_name ON labels (name, prompt_id);

CREATE TABLE label_history (
    seq INTEGER PRIMARY KEY,
    prompt_id INTEGER NOT NULL REFERENCES prompts (id),
    label TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('set', 'rollback')),
    from_json TEXT,
    to_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_key_id TEXT,
    actor_name TEXT NOT NULL,
    at_us INTEGER NOT NULL
);

CREATE INDEX label_history_by_label ON label_history (prompt_id, label, seq);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    -- NULL for a global key.
    project TEXT REFERENCES projects (name),
    secret_hash TEXT NOT NULL UNIQUE,
    created_at_us INTEGER NOT NULL,
    revoked_at_us INTEGER
);

CREATE INDEX api_keys_by_project ON api_keys (project);

-- The audit hash chain (see opm_core::audit). Rows are only ever appended.
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,
    actor_key_id TEXT,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    project TEXT NOT NULL,
    target TEXT NOT NULL,
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

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

-- The newest audit entry; every mutation locks this row first (seq 0 = empty chain).
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
