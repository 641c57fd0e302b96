-- The outbox: every state change is written to outbox_events in the transaction that makes it,
-- so an event exists exactly when its change committed. Deliveries fan each event out to the
-- subscriptions whose filter it matches, in the same transaction, and delivery workers claim them
-- with SELECT … FOR UPDATE SKIP LOCKED, so replicas share the work without waiting on each other.
--
-- seq orders events; a delivery is sent only when no earlier delivery of the same case to the
-- same subscription is still pending, so receivers see each case's events in order. A claimed
-- delivery stays pending with next_attempt_at pushed out by the claim's lease: a worker that dies
-- mid-send leaves it to be claimed again once the lease ends (at-least-once, same event id).

-- +goose Up
CREATE TABLE outbox_events (
    seq        BIGSERIAL   PRIMARY KEY,
    id         TEXT        NOT NULL UNIQUE,
    type       TEXT        NOT NULL,
    case_key   TEXT        NOT NULL,
    payload    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX outbox_events_created ON outbox_events (created_at);
CREATE INDEX outbox_events_case ON outbox_events (case_key, seq);

CREATE TABLE outbox_subscriptions (
    id         TEXT        PRIMARY KEY,
    url        TEXT        NOT NULL,
    secret     TEXT        NOT NULL,
    events     TEXT        NOT NULL,
    format     TEXT        NOT NULL,
    active     BOOLEAN     NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    removed_at TIMESTAMPTZ
);

CREATE TABLE outbox_deliveries (
    id              BIGSERIAL   PRIMARY KEY,
    event_seq       BIGINT      NOT NULL REFERENCES outbox_events (seq),
    subscription_id TEXT        NOT NULL REFERENCES outbox_subscriptions (id),
    case_key        TEXT        NOT NULL,
    status          TEXT        NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER     NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT        NOT NULL,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (event_seq, subscription_id)
);

CREATE INDEX outbox_deliveries_due ON outbox_deliveries (event_seq) WHERE status = 'pending';
CREATE INDEX outbox_deliveries_case ON outbox_deliveries (subscription_id, case_key, event_seq) WHERE status = 'pending';
CREATE INDEX outbox_deliveries_status ON outbox_deliveries (status, event_seq);

-- +goose Down
DROP TABLE outbox_deliveries;
DROP TABLE outbox_subscriptions;
DROP TABLE outbox_events;
