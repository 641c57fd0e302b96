-- A leaner access audit: every stored decision writes an access row, so each B-tree the row
-- touches is a page more in the decision's commit. The record index becomes one WITHOUT ROWID
-- B-tree keyed (record_id, seq), which answers "who looked at this record" alone, instead of a
-- table and a second index; the index on at goes, since searches by time walk seq, which grows
-- with time, and filter on at.

-- +goose Up
CREATE TABLE access_audit_records_keyed (
    record_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;

INSERT INTO access_audit_records_keyed (record_id, seq) SELECT record_id, seq FROM access_audit_records;

DROP TRIGGER access_audit_records_no_update;
DROP TRIGGER access_audit_records_no_delete;
DROP TABLE access_audit_records;
ALTER TABLE access_audit_records_keyed RENAME TO access_audit_records;
DROP INDEX access_audit_at;

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

-- +goose Down
CREATE INDEX access_audit_at ON access_audit (at);
CREATE TABLE access_audit_records_seq (
    seq       INTEGER NOT NULL REFERENCES access_audit (seq),
    record_id TEXT    NOT NULL,
    PRIMARY KEY (seq, record_id)
) STRICT;
INSERT INTO access_audit_records_seq (seq, record_id) SELECT seq, record_id FROM access_audit_records;
DROP TRIGGER access_audit_records_no_update;
DROP TRIGGER access_audit_records_no_delete;
DROP TABLE access_audit_records;
ALTER TABLE access_audit_records_seq RENAME TO access_audit_records;
CREATE INDEX access_audit_records_record ON access_audit_records (record_id, seq);

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
