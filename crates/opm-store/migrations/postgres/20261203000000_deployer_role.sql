-- The `deployer` role (between editor and admin).
-- The SQLite schema (../sqlite) has the same tables, columns and meaning.

ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('viewer', 'editor', 'deployer', 'admin'));
