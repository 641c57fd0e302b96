-- Services directory and routing: HSDS service documents, practitioners, the postcode gazetteer,
-- booked appointments, and what a decision matched and booked. A service's revision grows on every
-- upsert so replicas can tell, from COUNT and SUM(revision), that their cached index is stale even
-- when two imports share a timestamp. The partial unique index on (practitioner_id, start_at) over
-- booked rows is what makes two bookings of one slot unable to both commit.

-- +goose Up
CREATE TABLE services (
    id         TEXT    NOT NULL PRIMARY KEY,
    document   TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE practitioners (
    id         TEXT NOT NULL PRIMARY KEY,
    definition TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE gazetteer (
    postcode TEXT NOT NULL PRIMARY KEY,
    lat      DOUBLE PRECISION NOT NULL,
    lon      DOUBLE PRECISION NOT NULL,
    oslaua   TEXT NOT NULL
);

CREATE TABLE appointments (
    id                 TEXT    NOT NULL PRIMARY KEY,
    decision_id        TEXT    NOT NULL,
    subject_ref        TEXT    NOT NULL,
    practitioner_id    TEXT    NOT NULL,
    service_id         TEXT    NOT NULL,
    pathway            TEXT    NOT NULL,
    start_at           TIMESTAMPTZ   NOT NULL,
    end_at             TIMESTAMPTZ   NOT NULL,
    lat                DOUBLE PRECISION    NOT NULL,
    lon                DOUBLE PRECISION    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('booked', 'cancelled')),
    pinned             INTEGER NOT NULL DEFAULT 0,
    skills             TEXT    NOT NULL DEFAULT '[]',
    candidate_services TEXT    NOT NULL DEFAULT '[]',
    created_at         TIMESTAMPTZ   NOT NULL,
    updated_at         TIMESTAMPTZ   NOT NULL
);

CREATE UNIQUE INDEX appointments_booked_slot ON appointments (practitioner_id, start_at) WHERE status = 'booked';
CREATE INDEX appointments_start ON appointments (start_at);
CREATE INDEX appointments_subject ON appointments (subject_ref, start_at);
CREATE INDEX appointments_decision ON appointments (decision_id);

ALTER TABLE decisions ADD COLUMN services TEXT NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN assignment TEXT NOT NULL DEFAULT 'null';
ALTER TABLE decisions ADD COLUMN unassigned_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE decisions DROP COLUMN unassigned_reason;
ALTER TABLE decisions DROP COLUMN assignment;
ALTER TABLE decisions DROP COLUMN services;
DROP TABLE appointments;
DROP TABLE gazetteer;
DROP TABLE practitioners;
DROP TABLE services;
