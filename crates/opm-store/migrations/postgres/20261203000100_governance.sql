-- Governance: each project's policy (protected labels, freezes, publish rules) and change requests
-- for protected labels.
-- The SQLite schema (../sqlite) has the same tables, columns and meaning.

CREATE TABLE governance_policies (
    project TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES projects (name),
    -- An opm_core::governance::GovernancePolicy as JSON.
    policy_json TEXT NOT NULL,
    -- Starts at 1 and increases with every change (optimistic locking; 0 means "no policy yet").
    revision BIGINT NOT NULL CHECK (revision >= 1),
    updated_at_us BIGINT NOT NULL,
    updated_by_key_id TEXT,
    updated_by_name TEXT NOT NULL
);

CREATE TABLE change_requests (
    -- Assigned by the store, increasing.
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prompt_id BIGINT NOT NULL REFERENCES prompts (id),
    label TEXT COLLATE "C" NOT NULL,
    -- An opm_core::governance::RequestedChange as JSON.
    change_json TEXT NOT NULL,
    -- The label's target when the request was filed (NULL: the label did not exist).
    expected_json TEXT,
    reason TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'rejected', 'cancelled', 'stale')),
    approvals_required BIGINT NOT NULL CHECK (approvals_required BETWEEN 0 AND 2),
    -- The approvals so far, a JSON array of {actor, at, reason}.
    approvals_json TEXT NOT NULL,
    author_key_id TEXT,
    author_name TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    decided_by_key_id TEXT,
    decided_by_name TEXT,
    decided_at_us BIGINT,
    decision_reason TEXT
);

CREATE INDEX change_requests_by_label ON change_requests (prompt_id, label, id);
CREATE INDEX change_requests_by_state ON change_requests (state, id);
