-- Attestations: the signed bundles of every agent-authored merge, in an
-- append-only log chained by hash (package provenance/attestlog). Row n
-- carries the RowHash of row n-1 as prev_hash; row_hash covers every
-- column but the bundle, which its sha256 covers. The bundles live in their
-- own table so queries that do not want them read small rows. Triggers
-- refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) on both tables: a
-- tampering needs them dropped first, and `agentgate audit verify-log`
-- then says which rows changed. Times are Unix milliseconds.
--
-- Sections marked "-- +agentgate sqlite|postgres|both" are run by that
-- database only (store/migrate.go).

-- +goose Up
CREATE TABLE attestations (
-- +agentgate sqlite
    seq            INTEGER PRIMARY KEY,      -- the rowid: rows are stored in chain order
    owner          TEXT    GENERATED ALWAYS AS (substr(repository, 1, instr(repository, '/') - 1)) VIRTUAL,
-- +agentgate postgres
    seq            BIGINT  PRIMARY KEY,
    owner          TEXT    GENERATED ALWAYS AS (split_part(repository, '/', 1)) STORED,
-- +agentgate both
    -- owner is derived from repository (so it cannot be edited apart from
    -- it): an API token scoped to "owner/*" reads one index in chain order.
    repository     TEXT    NOT NULL,         -- owner/name
    id             TEXT    NOT NULL UNIQUE,  -- "att_" + 26 sortable base32 characters
    commit_sha     TEXT    NOT NULL,         -- the commit that landed on the base branch
    pull_number    INTEGER NOT NULL DEFAULT 0,
    predicate_type TEXT    NOT NULL,
    name           TEXT    NOT NULL DEFAULT '', -- tells apart statements of one type on one commit (a check name)
    agent          TEXT    NOT NULL DEFAULT '',
    model          TEXT    NOT NULL DEFAULT '',
    signer_key_id  TEXT    NOT NULL,
    signed_at      BIGINT  NOT NULL,
    -- The latest signed_at of this row and every row before it: never
    -- decreasing along the chain, so the first row whose max_signed_at
    -- reaches a time bounds, exactly, where rows signed since then start
    -- (a row may be appended later than it was signed). Not hashed: it
    -- only steers queries, and verify-log checks it still bounds them.
    max_signed_at  BIGINT  NOT NULL,
    bundle_sha256  TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    row_hash       TEXT    NOT NULL
);
-- One statement of a kind per landed commit: a redelivered merge adds nothing.
CREATE UNIQUE INDEX attestations_statement ON attestations (repository, commit_sha, predicate_type, name);
CREATE INDEX attestations_commit ON attestations (commit_sha, seq);
CREATE INDEX attestations_repository ON attestations (repository, seq);
CREATE INDEX attestations_owner ON attestations (owner, seq);
CREATE INDEX attestations_repository_time ON attestations (repository, signed_at, seq);
CREATE INDEX attestations_time ON attestations (signed_at, seq);
CREATE INDEX attestations_max_signed_at ON attestations (max_signed_at, seq);
CREATE INDEX attestations_pull ON attestations (pull_number, repository, seq);
CREATE INDEX attestations_agent ON attestations (agent, seq);
CREATE INDEX attestations_model ON attestations (model, seq);
CREATE INDEX attestations_predicate_type ON attestations (predicate_type, seq);
CREATE INDEX attestations_signer ON attestations (signer_key_id, seq);

CREATE TABLE attestation_bundles (
-- +agentgate sqlite
    seq    INTEGER PRIMARY KEY REFERENCES attestations (seq),
    bundle BLOB    NOT NULL                  -- the Sigstore bundle v0.3 JSON, as signed
-- +agentgate postgres
    seq    BIGINT  PRIMARY KEY REFERENCES attestations (seq),
    bundle BYTEA   NOT NULL
-- +agentgate both
);

-- +agentgate sqlite
-- +goose StatementBegin
CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations
BEGIN SELECT RAISE(ABORT, 'attestations are append-only: UPDATE refused'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations
BEGIN SELECT RAISE(ABORT, 'attestations are append-only: DELETE refused'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER attestation_bundles_no_update BEFORE UPDATE ON attestation_bundles
BEGIN SELECT RAISE(ABORT, 'attestation_bundles are append-only: UPDATE refused'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER attestation_bundles_no_delete BEFORE DELETE ON attestation_bundles
BEGIN SELECT RAISE(ABORT, 'attestation_bundles are append-only: DELETE refused'); END;
-- +goose StatementEnd
-- +agentgate postgres
-- +goose StatementBegin
CREATE FUNCTION attestations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations
    FOR EACH ROW EXECUTE FUNCTION attestations_append_only();
CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations
    FOR EACH ROW EXECUTE FUNCTION attestations_append_only();
CREATE TRIGGER attestations_no_truncate BEFORE TRUNCATE ON attestations
    FOR EACH STATEMENT EXECUTE FUNCTION attestations_append_only();
CREATE TRIGGER attestation_bundles_no_update BEFORE UPDATE ON attestation_bundles
    FOR EACH ROW EXECUTE FUNCTION attestations_append_only();
CREATE TRIGGER attestation_bundles_no_delete BEFORE DELETE ON attestation_bundles
    FOR EACH ROW EXECUTE FUNCTION attestations_append_only();
CREATE TRIGGER attestation_bundles_no_truncate BEFORE TRUNCATE ON attestation_bundles
    FOR EACH STATEMENT EXECUTE FUNCTION attestations_append_only();
-- +agentgate both

-- +goose Down
DROP TABLE attestation_bundles;
DROP TABLE attestations;
-- +agentgate postgres
DROP FUNCTION attestations_append_only();
-- +agentgate both
