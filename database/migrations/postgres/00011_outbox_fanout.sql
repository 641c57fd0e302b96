-- The outbox writes one row per event in the change's transaction; the delivery workers fan it
-- out to the subscriptions active when they first see it. A stored decision so costs the event's
-- row, its id and one entry in the partial index of events not yet fanned out, rather than a row
-- and five index entries per subscription. The indexes on created_at and (case_key, seq) go:
-- replays filter on created_at over seq, which grows with time, and ordering per case is kept by
-- the deliveries.

-- +goose Up
ALTER TABLE outbox_events ADD COLUMN fanned BOOLEAN NOT NULL DEFAULT false;
UPDATE outbox_events SET fanned = true;
CREATE INDEX outbox_events_unfanned ON outbox_events (seq) WHERE NOT fanned;
DROP INDEX outbox_events_created;
DROP INDEX outbox_events_case;

-- +goose Down
CREATE INDEX outbox_events_case ON outbox_events (case_key, seq);
CREATE INDEX outbox_events_created ON outbox_events (created_at);
DROP INDEX outbox_events_unfanned;
ALTER TABLE outbox_events DROP COLUMN fanned;
