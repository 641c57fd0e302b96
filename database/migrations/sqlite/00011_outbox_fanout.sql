-- The outbox writes one row per event in the change's transaction; the delivery workers fan it
-- out to the subscriptions active when they first see it. A stored decision so costs the event's
-- row and its id's index entry, rather than a row and five index entries per subscription.
-- SQLite runs one writer at a time, so every event up to the highest seq a worker can see has
-- committed: the workers keep how far they have fanned out in one row (PostgreSQL, whose
-- transactions commit out of seq order, marks each event instead). The indexes on created_at and
-- (case_key, seq) go: replays filter on created_at over seq, which grows with time, and ordering
-- per case is kept by the deliveries.

-- +goose Up
CREATE TABLE outbox_fanout (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    seq  INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_fanout (only, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM outbox_events;
DROP INDEX outbox_events_created;
DROP INDEX outbox_events_case;

-- +goose Down
CREATE INDEX outbox_events_case ON outbox_events (case_key, seq);
CREATE INDEX outbox_events_created ON outbox_events (created_at);
DROP TABLE outbox_fanout;
