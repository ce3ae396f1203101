-- The `deployer` role (between editor and admin): SQLite cannot alter a CHECK constraint, so the
-- key table is rebuilt with the wider one and the same columns, rows and index.
-- The PostgreSQL schema (../postgres) has the same tables, columns and meaning.

CREATE TABLE api_keys_with_deployer (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'deployer', 'admin')),
    -- NULL for a global key.
    project TEXT REFERENCES projects (name),
    secret_hash TEXT NOT NULL UNIQUE,
    created_at_us INTEGER NOT NULL,
    revoked_at_us INTEGER,
    expires_at_us INTEGER,
    last_used_at_us INTEGER
);

INSERT INTO api_keys_with_deployer (id, name, role, project, secret_hash, created_at_us, revoked_at_us, expires_at_us, last_used_at_us)
SELECT id, name, role, project, secret_hash, created_at_us, revoked_at_us, expires_at_us, last_used_at_us FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_with_deployer RENAME TO api_keys;
CREATE INDEX api_keys_by_project ON api_keys (project);
