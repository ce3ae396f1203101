-- Gateway spend per project, key and UTC day: the ledger budgets are checked against. The
-- generation writer adds each batch's costs here in the batch's own transaction (only rows that were
-- new), so spend survives restarts, is shared by replicas, and outlives generation retention.
-- The SQLite schema (../sqlite) has the same table, columns and meaning.

CREATE TABLE spend_daily (
    project TEXT NOT NULL,
    -- The key that made the calls; '' for calls without one.
    key_id TEXT NOT NULL,
    -- Days since 1970-01-01, UTC.
    day BIGINT NOT NULL,
    -- The sum of the calls' known costs, in US dollars (calls of unknown cost add nothing).
    cost_usd DOUBLE PRECISION NOT NULL,
    calls BIGINT NOT NULL,
    PRIMARY KEY (project, key_id, day)
);

-- The spend of the calls stored before this table existed.
INSERT INTO spend_daily (project, key_id, day, cost_usd, calls)
SELECT project, COALESCE(key_id, ''), started_at_us / 86400000000, COALESCE(SUM(cost_usd), 0), COUNT(*)
FROM generations
GROUP BY project, COALESCE(key_id, ''), started_at_us / 86400000000;
