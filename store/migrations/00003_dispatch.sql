-- Dispatch: tasks (an issue handed to an agent), their transitions (the
-- audit trail attestations draw on), the plans agents wrote and people
-- approved, and the runs of the agent. Times are Unix milliseconds.

-- +goose Up
CREATE TABLE tasks (
    id                TEXT PRIMARY KEY,        -- "t-" + 10 hex; in branch names and trailers
    installation_id   BIGINT  NOT NULL,
    repository        TEXT    NOT NULL,        -- owner/name
    repository_id     BIGINT  NOT NULL,
    issue_number      INTEGER NOT NULL,
    issue_title       TEXT    NOT NULL DEFAULT '',
    -- The issue as it was when the task started: runs see this snapshot, so
    -- an edit after a person approved the plan cannot change the task.
    issue_body        TEXT    NOT NULL DEFAULT '',
    issue_author      TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL,
    -- 1 while the task is not finished. The partial unique index below is
    -- what makes "one active task per issue" true across replicas.
    active            INTEGER NOT NULL DEFAULT 1,
    quick             INTEGER NOT NULL DEFAULT 0, -- plan approval skipped
    requester         TEXT    NOT NULL,
    requester_id      BIGINT  NOT NULL DEFAULT 0,
    trigger_kind      TEXT    NOT NULL DEFAULT '', -- label | command
    trigger_delivery  TEXT    NOT NULL DEFAULT '',
    agent             TEXT    NOT NULL DEFAULT '',
    runner            TEXT    NOT NULL DEFAULT '',
    branch            TEXT    NOT NULL,
    pull_number       INTEGER NOT NULL DEFAULT 0,
    plan_id           TEXT    NOT NULL DEFAULT '', -- the latest plan
    approved_plan_id  TEXT    NOT NULL DEFAULT '',
    status_comment_id BIGINT  NOT NULL DEFAULT 0,  -- the sticky progress comment
    reason            TEXT    NOT NULL DEFAULT '', -- why it failed, was cancelled or closed
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);
CREATE UNIQUE INDEX tasks_one_active ON tasks (repository, issue_number) WHERE active = 1;
CREATE INDEX tasks_issue ON tasks (repository, issue_number, created_at);
CREATE INDEX tasks_pull ON tasks (repository, pull_number);
CREATE INDEX tasks_state ON tasks (active, state, updated_at);

CREATE TABLE task_events (
    task_id     TEXT    NOT NULL REFERENCES tasks (id),
    seq         INTEGER NOT NULL,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,               -- a login, or "agentgate"
    from_state  TEXT    NOT NULL DEFAULT '',
    to_state    TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    delivery_id TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (task_id, seq)
);

CREATE TABLE plans (
    task_id     TEXT    NOT NULL REFERENCES tasks (id),
    id          TEXT    NOT NULL,               -- "p-" + 8 hex of sha256
    sha256      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    paths       TEXT    NOT NULL,               -- JSON array of globs
    acceptance  TEXT    NOT NULL,               -- JSON array
    run_id      TEXT    NOT NULL DEFAULT '',
    comment_id  BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    approved_by TEXT    NOT NULL DEFAULT '',
    approved_at BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, id)
);

CREATE TABLE runs (
    id             TEXT PRIMARY KEY,            -- "r-" + 10 hex
    task_id        TEXT    NOT NULL REFERENCES tasks (id),
    seq            INTEGER NOT NULL,            -- 1, 2, ... within the task
    kind           TEXT    NOT NULL,            -- plan | implement | revise
    state          TEXT    NOT NULL,            -- queued | running | succeeded | failed | interrupted | cancelled
    runner         TEXT    NOT NULL DEFAULT '',
    agent          TEXT    NOT NULL DEFAULT '',
    agent_version  TEXT    NOT NULL DEFAULT '',
    model          TEXT    NOT NULL DEFAULT '',
    requested_by   TEXT    NOT NULL DEFAULT '',
    instructions   TEXT    NOT NULL DEFAULT '', -- untrusted: revise text, review comments
    prompt_sha256  TEXT    NOT NULL DEFAULT '',
    base_sha       TEXT    NOT NULL DEFAULT '',
    head_sha       TEXT    NOT NULL DEFAULT '',
    exit_code      INTEGER NOT NULL DEFAULT 0,
    error          TEXT    NOT NULL DEFAULT '',
    input_tokens   BIGINT  NOT NULL DEFAULT 0,
    output_tokens  BIGINT  NOT NULL DEFAULT 0,
    cost_micro_usd BIGINT  NOT NULL DEFAULT 0,
    token_sha256   TEXT    NOT NULL DEFAULT '', -- the actions runner's one-time task token, hashed
    log            TEXT    NOT NULL DEFAULT '', -- the agent's output, capped; kept in the store so any replica serves it
    owner          TEXT    NOT NULL DEFAULT '', -- the replica running it
    heartbeat_at   BIGINT  NOT NULL DEFAULT 0,
    deadline       BIGINT  NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    started_at     BIGINT  NOT NULL DEFAULT 0,
    finished_at    BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (task_id, seq)
);
CREATE INDEX runs_state ON runs (state, heartbeat_at);

-- +goose Down
DROP TABLE runs;
DROP TABLE plans;
DROP TABLE task_events;
DROP TABLE tasks;
