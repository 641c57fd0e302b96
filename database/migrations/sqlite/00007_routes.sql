-- Day routes: a visit's window, so an urgent insertion that moves it later keeps its promise; a
-- change marker that per-process route caches read to know whether to re-read anything; one row
-- per practitioner that a booking transaction locks and stamps with the marker value, so concurrent
-- insertions into one practitioner's day take turns and caches re-read only what changed; the
-- on-call rota; escalated cases for the coordinator's worklist; and the history of moved visits.

-- +goose Up
ALTER TABLE appointments ADD COLUMN earliest_at TEXT;
ALTER TABLE appointments ADD COLUMN latest_at TEXT;

CREATE TABLE routing_marker (
    name    TEXT    NOT NULL PRIMARY KEY,
    counter INTEGER NOT NULL
) STRICT;
INSERT INTO routing_marker (name, counter) VALUES ('roster', 0), ('visits', 0);

CREATE TABLE route_changes (
    practitioner_id TEXT    NOT NULL PRIMARY KEY,
    seq             INTEGER NOT NULL
) STRICT;
CREATE INDEX route_changes_seq ON route_changes (seq);

CREATE TABLE oncall (
    id              TEXT NOT NULL PRIMARY KEY,
    service_id      TEXT NOT NULL,
    practitioner_id TEXT NOT NULL,
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX oncall_service ON oncall (service_id, starts_at);

CREATE TABLE escalations (
    decision_id TEXT NOT NULL PRIMARY KEY,
    team_id     TEXT NOT NULL,
    pathway     TEXT NOT NULL,
    priority    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    deadline_at TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT
) STRICT;
CREATE INDEX escalations_team ON escalations (team_id, deadline_at);

CREATE TABLE visit_moves (
    visit_id    TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    from_start  TEXT NOT NULL,
    to_start    TEXT NOT NULL,
    moved_at    TEXT NOT NULL,
    PRIMARY KEY (visit_id, decision_id)
) STRICT;

-- +goose Down
DROP TABLE visit_moves;
DROP TABLE escalations;
DROP TABLE oncall;
DROP TABLE route_changes;
DROP TABLE routing_marker;
ALTER TABLE appointments DROP COLUMN latest_at;
ALTER TABLE appointments DROP COLUMN earliest_at;
