-- Safe delivery: whether a call's arm came from its caller's stickiness key, the arm on feedback
-- (copied like the other grouping columns), and canary rollouts of labels.
-- The SQLite schema (../sqlite) has the same tables, columns and meaning.

-- Whether the split arm was assigned by the caller's stickiness key (TRUE) or at random for a call
-- without one (FALSE); NULL when the call did not go through a split.
ALTER TABLE generations ADD COLUMN sticky BOOLEAN;

ALTER TABLE feedback ADD COLUMN arm TEXT COLLATE "C";
UPDATE feedback f SET arm = g.arm FROM generations g WHERE g.id = f.generation_id AND g.arm IS NOT NULL;

CREATE TABLE rollouts (
    -- Assigned by the store, increasing.
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prompt_id BIGINT NOT NULL REFERENCES prompts (id),
    label TEXT COLLATE "C" NOT NULL,
    stable_version BIGINT NOT NULL,
    canary_version BIGINT NOT NULL,
    -- A RolloutSpec as JSON.
    spec_json TEXT NOT NULL,
    -- The state's name (RolloutState::name), for the index below and filters; state_json has the rest.
    state TEXT NOT NULL CHECK (state IN ('progressing', 'paused', 'promoted', 'aborted')),
    state_json TEXT NOT NULL,
    -- The newest CheckResult as JSON, NULL before the first check.
    last_check_json TEXT,
    checks BIGINT NOT NULL CHECK (checks >= 0),
    -- Starts at 1 and increases with every update (optimistic locking).
    revision BIGINT NOT NULL CHECK (revision >= 1),
    reason TEXT NOT NULL,
    created_by_key_id TEXT,
    created_by_name TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL,
    FOREIGN KEY (prompt_id, stable_version) REFERENCES versions (prompt_id, version),
    FOREIGN KEY (prompt_id, canary_version) REFERENCES versions (prompt_id, version)
);

-- At most one active (progressing or paused) rollout per label.
CREATE UNIQUE INDEX rollouts_one_active ON rollouts (prompt_id, label) WHERE state IN ('progressing', 'paused');
CREATE INDEX rollouts_by_label ON rollouts (prompt_id, label, id);
