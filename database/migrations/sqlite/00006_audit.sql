-- Access audit and tamper evidence: who read or changed whose record, and the rule-governance
-- trail, both append-only in the database itself (triggers refuse UPDATE and DELETE) and each a
-- hash chain whose head sits in audit_chains, so `carepath audit verify` can name the first row
-- that was edited or removed.
--
-- seq is assigned by the writer from the chain head (head seq + 1, under the write lock), not by
-- AUTOINCREMENT, so a chain has no gaps and a missing seq always means a removed row.
-- ruleset_audit rows written before this migration keep an empty hash: they come before the chain,
-- which starts at audit_chains.start_seq.

-- +goose Up
CREATE TABLE access_audit (
    seq         INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    roles       TEXT    NOT NULL,
    team        TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    records     TEXT    NOT NULL,
    purpose     TEXT    NOT NULL,
    break_glass INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    client      TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
) STRICT;

CREATE INDEX access_audit_subject ON access_audit (subject, seq);
CREATE INDEX access_audit_at ON access_audit (at);
CREATE INDEX access_audit_break_glass ON access_audit (seq) WHERE break_glass = 1;

-- One row per record id an access touched, so "who looked at this record" is an index lookup.
CREATE TABLE access_audit_records (
    seq       INTEGER NOT NULL REFERENCES access_audit (seq),
    record_id TEXT    NOT NULL,
    PRIMARY KEY (seq, record_id)
) STRICT;

CREATE INDEX access_audit_records_record ON access_audit_records (record_id, seq);

ALTER TABLE ruleset_audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE ruleset_audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';

-- The head of each chain: the last row's seq and hash, so an append reads one row, and a deleted
-- tail still shows. start_seq is the chain's first row.
CREATE TABLE audit_chains (
    chain     TEXT    PRIMARY KEY,
    start_seq INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    hash      TEXT    NOT NULL
) STRICT;

INSERT INTO audit_chains (chain, start_seq, seq, hash)
VALUES ('access', 1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

INSERT INTO audit_chains (chain, start_seq, seq, hash)
SELECT 'ruleset', COALESCE(MAX(seq), 0) + 1, COALESCE(MAX(seq), 0), '0000000000000000000000000000000000000000000000000000000000000000'
FROM ruleset_audit;

-- +goose StatementBegin
CREATE TRIGGER access_audit_no_update BEFORE UPDATE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER access_audit_no_delete BEFORE DELETE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER access_audit_records_no_update BEFORE UPDATE ON access_audit_records
BEGIN
    SELECT RAISE(ABORT, 'access_audit_records is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER access_audit_records_no_delete BEFORE DELETE ON access_audit_records
BEGIN
    SELECT RAISE(ABORT, 'access_audit_records is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ruleset_audit_no_update BEFORE UPDATE ON ruleset_audit
BEGIN
    SELECT RAISE(ABORT, 'ruleset_audit is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ruleset_audit_no_delete BEFORE DELETE ON ruleset_audit
BEGIN
    SELECT RAISE(ABORT, 'ruleset_audit is append-only');
END;
-- +goose StatementEnd

-- A row written around the chain (no hash) would break it for every later append.
-- +goose StatementBegin
CREATE TRIGGER ruleset_audit_chained BEFORE INSERT ON ruleset_audit WHEN NEW.hash = ''
BEGIN
    SELECT RAISE(ABORT, 'ruleset_audit rows are written through the audit chain');
END;
-- +goose StatementEnd

-- A chain head only moves forward, so it cannot be wound back to hide a removed tail.
-- +goose StatementBegin
CREATE TRIGGER audit_chains_forward BEFORE UPDATE ON audit_chains
WHEN NEW.chain <> OLD.chain OR NEW.start_seq <> OLD.start_seq OR NEW.seq <= OLD.seq
BEGIN
    SELECT RAISE(ABORT, 'audit_chains heads only move forward');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_chains_no_delete BEFORE DELETE ON audit_chains
BEGIN
    SELECT RAISE(ABORT, 'audit_chains heads only move forward');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_chains_no_delete;
DROP TRIGGER audit_chains_forward;
DROP TRIGGER ruleset_audit_chained;
DROP TRIGGER ruleset_audit_no_delete;
DROP TRIGGER ruleset_audit_no_update;
DROP TRIGGER access_audit_records_no_delete;
DROP TRIGGER access_audit_records_no_update;
DROP TRIGGER access_audit_no_delete;
DROP TRIGGER access_audit_no_update;
DROP TABLE audit_chains;
ALTER TABLE ruleset_audit DROP COLUMN hash;
ALTER TABLE ruleset_audit DROP COLUMN prev_hash;
DROP TABLE access_audit_records;
DROP TABLE access_audit;
