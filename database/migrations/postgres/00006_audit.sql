-- Access audit and tamper evidence: who read or changed whose record, and the rule-governance
-- trail, both append-only in the database itself (triggers refuse UPDATE, DELETE and TRUNCATE) and
-- each a hash chain whose head sits in audit_chains, so `carepath audit verify` can name the first
-- row that was edited or removed.
--
-- seq is assigned by the writer from the chain head (head seq + 1, with the head row locked), not
-- by a sequence: a sequence leaves gaps when a transaction rolls back, and then a missing seq could
-- not tell a removed row. ruleset_audit keeps its BIGSERIAL default, unused from here on.
-- ruleset_audit rows written before this migration keep an empty hash: they come before the chain,
-- which starts at audit_chains.start_seq.

-- +goose Up
CREATE TABLE access_audit (
    seq         BIGINT      PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    subject     TEXT        NOT NULL,
    roles       TEXT        NOT NULL,
    team        TEXT        NOT NULL,
    action      TEXT        NOT NULL,
    records     TEXT        NOT NULL,
    purpose     TEXT        NOT NULL,
    break_glass BOOLEAN     NOT NULL,
    outcome     TEXT        NOT NULL,
    client      TEXT        NOT NULL,
    request_id  TEXT        NOT NULL,
    prev_hash   TEXT        NOT NULL,
    hash        TEXT        NOT NULL
);

CREATE INDEX access_audit_subject ON access_audit (subject, seq);
CREATE INDEX access_audit_at ON access_audit (at);
CREATE INDEX access_audit_break_glass ON access_audit (seq) WHERE break_glass;

-- One row per record id an access touched, so "who looked at this record" is an index lookup.
CREATE TABLE access_audit_records (
    seq       BIGINT NOT NULL REFERENCES access_audit (seq),
    record_id TEXT   NOT NULL,
    PRIMARY KEY (seq, record_id)
);

CREATE INDEX access_audit_records_record ON access_audit_records (record_id, seq);

ALTER TABLE ruleset_audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE ruleset_audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';

-- The head of each chain: the last row's seq and hash, so an append locks and reads one row, and a
-- deleted tail still shows. start_seq is the chain's first row.
CREATE TABLE audit_chains (
    chain     TEXT   PRIMARY KEY,
    start_seq BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    hash      TEXT   NOT NULL
);

INSERT INTO audit_chains (chain, start_seq, seq, hash)
VALUES ('access', 1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

INSERT INTO audit_chains (chain, start_seq, seq, hash)
SELECT 'ruleset', COALESCE(MAX(seq), 0) + 1, COALESCE(MAX(seq), 0), '0000000000000000000000000000000000000000000000000000000000000000'
FROM ruleset_audit;

-- +goose StatementBegin
CREATE FUNCTION carepath_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
-- +goose StatementEnd

-- A row written around the chain (no hash) would break it for every later append.
-- +goose StatementBegin
CREATE FUNCTION carepath_ruleset_audit_chained() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.hash = '' THEN
        RAISE EXCEPTION 'ruleset_audit rows are written through the audit chain' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- A chain head only moves forward, so it cannot be wound back to hide a removed tail.
-- +goose StatementBegin
CREATE FUNCTION carepath_audit_chains_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.chain <> OLD.chain OR NEW.start_seq <> OLD.start_seq OR NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'audit_chains heads only move forward' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER access_audit_append_only BEFORE UPDATE OR DELETE ON access_audit
    FOR EACH ROW EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER access_audit_no_truncate BEFORE TRUNCATE ON access_audit
    FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER access_audit_records_append_only BEFORE UPDATE OR DELETE ON access_audit_records
    FOR EACH ROW EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER access_audit_records_no_truncate BEFORE TRUNCATE ON access_audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER ruleset_audit_append_only BEFORE UPDATE OR DELETE ON ruleset_audit
    FOR EACH ROW EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER ruleset_audit_no_truncate BEFORE TRUNCATE ON ruleset_audit
    FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER ruleset_audit_chained BEFORE INSERT ON ruleset_audit
    FOR EACH ROW EXECUTE FUNCTION carepath_ruleset_audit_chained();
CREATE TRIGGER audit_chains_forward BEFORE UPDATE OR DELETE ON audit_chains
    FOR EACH ROW EXECUTE FUNCTION carepath_audit_chains_forward();
CREATE TRIGGER audit_chains_no_truncate BEFORE TRUNCATE ON audit_chains
    FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only();

-- +goose Down
DROP TRIGGER audit_chains_no_truncate ON audit_chains;
DROP TRIGGER audit_chains_forward ON audit_chains;
DROP TRIGGER ruleset_audit_chained ON ruleset_audit;
DROP TRIGGER ruleset_audit_no_truncate ON ruleset_audit;
DROP TRIGGER ruleset_audit_append_only ON ruleset_audit;
DROP TRIGGER access_audit_records_no_truncate ON access_audit_records;
DROP TRIGGER access_audit_records_append_only ON access_audit_records;
DROP TRIGGER access_audit_no_truncate ON access_audit;
DROP TRIGGER access_audit_append_only ON access_audit;
DROP FUNCTION carepath_audit_chains_forward();
DROP FUNCTION carepath_ruleset_audit_chained();
DROP FUNCTION carepath_append_only();
DROP TABLE audit_chains;
ALTER TABLE ruleset_audit DROP COLUMN hash;
ALTER TABLE ruleset_audit DROP COLUMN prev_hash;
DROP TABLE access_audit_records;
DROP TABLE access_audit;
