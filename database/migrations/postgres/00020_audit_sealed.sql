-- The access audit is sealed after the fact: an access row is written in its request's
-- transaction with no hash, no index entries and no lock on the chain head, and the sealer links
-- committed rows into the hash chain in batches, in access_audit_links, and files them in the
-- record and subject indexes. A request no longer waits on every other audited request across
-- replicas, holds no lock for its access record, and writes one row and its primary key. A row
-- is protected by the append-only triggers from its commit and by the chain from its sealing,
-- seconds later; searches read the short unsealed tail directly.
--
-- access_audit.seq now comes from a sequence, so it has gaps where a transaction rolled back;
-- the chain's own place, access_audit_links.chain_seq, has none. Rows written before this
-- migration were chained in place: their links are copied, chain place equal to row seq.
-- audit_chains.sealed_to is the seal mark: every access row at or below it is linked (or its seq
-- was never committed), so `carepath audit verify` knows which rows must be in the chain.

-- +goose Up
CREATE TABLE access_audit_links (
    chain_seq BIGINT PRIMARY KEY,
    row_seq   BIGINT NOT NULL UNIQUE,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL
);

INSERT INTO access_audit_links (chain_seq, row_seq, prev_hash, hash)
SELECT seq, seq, prev_hash, hash FROM access_audit;

CREATE TRIGGER access_audit_links_append_only BEFORE UPDATE OR DELETE ON access_audit_links
    FOR EACH ROW EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER access_audit_links_no_truncate BEFORE TRUNCATE ON access_audit_links
    FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only();

-- "What did this person look at": filed by the sealer, as the record index is.
CREATE TABLE access_audit_subjects (
    subject TEXT   NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (subject, seq)
);
INSERT INTO access_audit_subjects (subject, seq) SELECT subject, seq FROM access_audit;
DROP INDEX access_audit_subject;
CREATE TRIGGER access_audit_subjects_append_only BEFORE UPDATE OR DELETE ON access_audit_subjects
    FOR EACH ROW EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER access_audit_subjects_no_truncate BEFORE TRUNCATE ON access_audit_subjects
    FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only();

CREATE SEQUENCE access_audit_seq_seq OWNED BY access_audit.seq;
SELECT setval('access_audit_seq_seq', COALESCE((SELECT MAX(seq) FROM access_audit), 0) + 1, false);
ALTER TABLE access_audit ALTER COLUMN seq SET DEFAULT nextval('access_audit_seq_seq');

ALTER TABLE audit_chains ADD COLUMN sealed_to BIGINT NOT NULL DEFAULT 0;

-- A head only moves forward: neither its length nor its seal mark goes back, and one of them moves.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION carepath_audit_chains_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.chain <> OLD.chain OR NEW.start_seq <> OLD.start_seq OR NEW.seq < OLD.seq
        OR NEW.sealed_to < OLD.sealed_to OR (NEW.seq = OLD.seq AND NEW.sealed_to = OLD.sealed_to) THEN
        RAISE EXCEPTION 'audit_chains heads only move forward' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

UPDATE audit_chains SET sealed_to = seq WHERE chain = 'access' AND seq > 0;

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION carepath_audit_chains_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.chain <> OLD.chain OR NEW.start_seq <> OLD.start_seq OR NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'audit_chains heads only move forward' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
ALTER TABLE audit_chains DROP COLUMN sealed_to;
ALTER TABLE access_audit ALTER COLUMN seq DROP DEFAULT;
DROP SEQUENCE access_audit_seq_seq;
CREATE INDEX access_audit_subject ON access_audit (subject, seq);
DROP TABLE access_audit_subjects;
DROP TRIGGER access_audit_links_no_truncate ON access_audit_links;
DROP TRIGGER access_audit_links_append_only ON access_audit_links;
DROP TABLE access_audit_links;
