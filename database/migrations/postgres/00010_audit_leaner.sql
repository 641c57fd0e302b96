-- A leaner access audit: every stored decision writes an access row, so each index the row
-- touches is a page more in the decision's commit. The record index is keyed (record_id, seq),
-- which answers "who looked at this record" alone, instead of a key on (seq, record_id) and a
-- second index; its foreign key goes, since `carepath audit verify` checks every index entry
-- against its row; the index on at goes, since searches by time walk seq, which grows with time,
-- and filter on at.

-- +goose Up
ALTER TABLE access_audit_records DROP CONSTRAINT access_audit_records_seq_fkey;
ALTER TABLE access_audit_records DROP CONSTRAINT access_audit_records_pkey;
DROP INDEX access_audit_records_record;
ALTER TABLE access_audit_records ADD PRIMARY KEY (record_id, seq);
DROP INDEX access_audit_at;

-- +goose Down
CREATE INDEX access_audit_at ON access_audit (at);
ALTER TABLE access_audit_records DROP CONSTRAINT access_audit_records_pkey;
ALTER TABLE access_audit_records ADD PRIMARY KEY (seq, record_id);
CREATE INDEX access_audit_records_record ON access_audit_records (record_id, seq);
ALTER TABLE access_audit_records ADD CONSTRAINT access_audit_records_seq_fkey FOREIGN KEY (seq) REFERENCES access_audit (seq);
