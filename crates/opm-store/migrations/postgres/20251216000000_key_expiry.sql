-- Key safety: keys may expire, and the time a key last authenticated a request is kept (written
-- in batches by the server's usage flush, never once per request).
-- The SQLite schema (../sqlite) has the same columns and meaning.

-- When the key stops working (microseconds since the epoch); NULL for a key that never expires.
ALTER TABLE api_keys ADD COLUMN expires_at_us BIGINT;
-- When the key last authenticated a request, as of the last usage flush; NULL when never used.
ALTER TABLE api_keys ADD COLUMN last_used_at_us BIGINT;
