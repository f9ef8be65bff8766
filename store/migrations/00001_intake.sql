-- One schema for SQLite and PostgreSQL: only portable types (TEXT, BIGINT,
-- INTEGER), times as unix milliseconds, no dialect-specific defaults.

-- +goose Up
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,          -- X-GitHub-Delivery; a redelivery reuses it
    event           TEXT    NOT NULL,
    action          TEXT    NOT NULL DEFAULT '',
    installation_id BIGINT  NOT NULL DEFAULT 0,
    repository      TEXT    NOT NULL DEFAULT '',
    outcome         TEXT    NOT NULL,          -- queued | ignored | rejected | ping
    reason          TEXT    NOT NULL DEFAULT '',
    jobs            INTEGER NOT NULL DEFAULT 0,
    payload         TEXT,                      -- kept while jobs may need it
    payload_bytes   INTEGER NOT NULL DEFAULT 0,
    received_at     BIGINT  NOT NULL
);
CREATE INDEX deliveries_received_at ON deliveries (received_at);

CREATE TABLE installations (
    id            BIGINT PRIMARY KEY,
    account_login TEXT   NOT NULL,
    account_type  TEXT   NOT NULL,
    repository_selection TEXT NOT NULL DEFAULT '',
    suspended_at  BIGINT NOT NULL DEFAULT 0,
    deleted_at    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE installation_repositories (
    installation_id BIGINT NOT NULL,
    repository_id   BIGINT NOT NULL,
    full_name       TEXT   NOT NULL,
    private         INTEGER NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (installation_id, repository_id)
);
CREATE INDEX installation_repositories_full_name ON installation_repositories (full_name);

-- Small named values that must survive restarts, e.g. the reconciler's cursor.
CREATE TABLE state (
    name       TEXT PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE state;
DROP TABLE installation_repositories;
DROP TABLE installations;
DROP TABLE deliveries;
