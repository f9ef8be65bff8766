-- The gate's evaluations: what was decided about a pull request head, on
-- which input, with which policy set. The details page shows them; the
-- attestation work reads them for the verification summary.

-- +goose Up
CREATE TABLE evaluations (
    id              TEXT PRIMARY KEY,
    repository      TEXT    NOT NULL,
    pull_number     INTEGER NOT NULL,
    head_sha        TEXT    NOT NULL,           -- the commit the check run is on
    merge_group     INTEGER NOT NULL DEFAULT 0, -- 1 when head_sha is a merge group's head
    check_run_id    BIGINT  NOT NULL DEFAULT 0,
    conclusion      TEXT    NOT NULL DEFAULT '', -- success | failure | action_required | '' (pending)
    policy_digest   TEXT    NOT NULL DEFAULT '',
    decision        TEXT    NOT NULL,            -- JSON policy.Decision
    input           TEXT    NOT NULL,            -- JSON policy.Input
    api_requests    INTEGER NOT NULL DEFAULT 0,
    trigger_event   TEXT    NOT NULL DEFAULT '',
    delivery_id     TEXT    NOT NULL DEFAULT '',
    started_at      BIGINT  NOT NULL,
    finished_at     BIGINT  NOT NULL
);
CREATE INDEX evaluations_head ON evaluations (repository, head_sha, started_at);
CREATE INDEX evaluations_pull ON evaluations (repository, pull_number, started_at);

-- +goose Down
DROP TABLE evaluations;
