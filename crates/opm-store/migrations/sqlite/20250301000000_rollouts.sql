-- Safe delivery: whether a call's arm came from its caller's stickiness key, the arm on feedback
-- (copied like the other grouping columns), and canary rollouts of labels.
-- The PostgreSQL schema (../postgres) has the same tables, columns and meaning.

-- Whether the split arm was assigned by the caller's stickiness key (1) or at random for a call
-- without one (0); NULL when the call did not go through a split.
ALTER TABLE generations ADD COLUMN sticky INTEGER CHECK (sticky IN (0, 1));

ALTER TABLE feedback ADD COLUMN arm TEXT;
UPDATE feedback SET arm = (SELECT g.arm FROM generations g WHERE g.id = feedback.generation_id);

CREATE TABLE rollouts (
    -- Assigned by the store, increasing.
    id INTEGER PRIMARY KEY,
    prompt_id INTEGER NOT NULL REFERENCES prompts (id),
    label TEXT NOT NULL,
    stable_version INTEGER NOT NULL,
    canary_version INTEGER NOT NULL,
    -- A RolloutSpec as JSON.
    spec_json TEXT NOT NULL,
    -- The state's name (RolloutState::name), for the index below and filters; state_json has the rest.
    state TEXT NOT NULL CHECK (state IN ('progressing', 'paused', 'promoted', 'aborted')),
    state_json TEXT NOT NULL,
    -- The newest CheckResult as JSON, NULL before the first check.
    last_check_json TEXT,
    checks INTEGER NOT NULL CHECK (checks >= 0),
    -- Starts at 1 and increases with every update (optimistic locking).
    revision INTEGER NOT NULL CHECK (revision >= 1),
    reason TEXT NOT NULL,
    created_by_key_id TEXT,
    created_by_name TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    FOREIGN KEY (prompt_id, stable_version) REFERENCES versions (prompt_id, version),
    FOREIGN KEY (prompt_id, canary_version) REFERENCES versions (prompt_id, version)
);

-- At most one active (progressing or paused) rollout per label.
CREATE UNIQUE INDEX rollouts_one_active ON rollouts (prompt_id, label) WHERE state IN ('progressing', 'paused');
CREATE INDEX rollouts_by_label ON rollouts (prompt_id, label, id);
