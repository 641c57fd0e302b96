-- The access audit is sealed after the fact: an access row is written in its request's
-- transaction with no hash, no index entries and no lock on the chain head, and the sealer links
-- committed rows into the hash chain in batches, in access_audit_links, and files them in the
-- record and subject indexes. A request no longer waits on every other audited request, and
-- writes one B-tree entry where it wrote six. A row is protected by the append-only triggers from
-- its commit and by the chain from its sealing, seconds later; searches read the short unsealed
-- tail directly.
--
-- Rows written before this migration were chained in place: their links are copied, chain place
-- equal to row seq. audit_chains.sealed_to is the seal mark: every access row at or below it is
-- linked (or its seq was never committed), so `carepath audit verify` knows which rows must be in
-- the chain.

-- +goose Up
CREATE TABLE access_audit_links (
    chain_seq INTEGER PRIMARY KEY,
    row_seq   INTEGER NOT NULL UNIQUE,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
) STRICT;

INSERT INTO access_audit_links (chain_seq, row_seq, prev_hash, hash)
SELECT seq, seq, prev_hash, hash FROM access_audit ORDER BY seq;

-- +goose StatementBegin
CREATE TRIGGER access_audit_links_no_update BEFORE UPDATE ON access_audit_links
BEGIN
    SELECT RAISE(ABORT, 'access_audit_links is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER access_audit_links_no_delete BEFORE DELETE ON access_audit_links
BEGIN
    SELECT RAISE(ABORT, 'access_audit_links is append-only');
END;
-- +goose StatementEnd

-- "What did this person look at": filed by the sealer, as the record index is.
CREATE TABLE access_audit_subjects (
    subject TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (subject, seq)
) STRICT, WITHOUT ROWID;

INSERT INTO access_audit_subjects (subject, seq) SELECT subject, seq FROM access_audit;
DROP INDEX access_audit_subject;

-- +goose StatementBegin
CREATE TRIGGER access_audit_subjects_no_update BEFORE UPDATE ON access_audit_subjects
BEGIN
    SELECT RAISE(ABORT, 'access_audit_subjects is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER access_audit_subjects_no_delete BEFORE DELETE ON access_audit_subjects
BEGIN
    SELECT RAISE(ABORT, 'access_audit_subjects is append-only');
END;
-- +goose StatementEnd

ALTER TABLE audit_chains ADD COLUMN sealed_to INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER audit_chains_forward;
UPDATE audit_chains SET sealed_to = seq WHERE chain = 'access';

-- A head only moves forward: neither its length nor its seal mark goes back, and one of them moves.
-- +goose StatementBegin
CREATE TRIGGER audit_chains_forward BEFORE UPDATE ON audit_chains
WHEN NEW.chain <> OLD.chain OR NEW.start_seq <> OLD.start_seq OR NEW.seq < OLD.seq OR NEW.sealed_to < OLD.sealed_to
    OR (NEW.seq = OLD.seq AND NEW.sealed_to = OLD.sealed_to)
BEGIN
    SELECT RAISE(ABORT, 'audit_chains heads only move forward');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_chains_forward;
-- +goose StatementBegin
CREATE TRIGGER audit_chains_forward BEFORE UPDATE ON audit_chains
WHEN NEW.chain <> OLD.chain OR NEW.start_seq <> OLD.start_seq OR NEW.seq <= OLD.seq
BEGIN
    SELECT RAISE(ABORT, 'audit_chains heads only move forward');
END;
-- +goose StatementEnd
ALTER TABLE audit_chains DROP COLUMN sealed_to;
CREATE INDEX access_audit_subject ON access_audit (subject, seq);
DROP TRIGGER access_audit_subjects_no_delete;
DROP TRIGGER access_audit_subjects_no_update;
DROP TABLE access_audit_subjects;
DROP TRIGGER access_audit_links_no_delete;
DROP TRIGGER access_audit_links_no_update;
DROP TABLE access_audit_links;
