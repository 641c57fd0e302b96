-- Foundation schema: forms, pathways, versioned rule sets and their
-- activations, and the decision log. JSON payloads are TEXT so the canonical
-- bytes Carepath stores are returned unchanged; timestamps are TEXT written by
-- database.Time in a fixed-width UTC format, so they sort and compare as text.
-- STRICT makes SQLite enforce column types as PostgreSQL does.

-- +goose Up
CREATE TABLE forms (
    id         TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (id, version)
) STRICT;

CREATE TABLE pathways (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    definition  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE rulesets (
    id         TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    form_id    TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (id, version)
) STRICT;

CREATE TABLE ruleset_activations (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset_id     TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    effective_from TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    FOREIGN KEY (ruleset_id, version) REFERENCES rulesets (id, version)
) STRICT;

CREATE INDEX ruleset_activations_ruleset_effective
    ON ruleset_activations (ruleset_id, effective_from);

CREATE TABLE decisions (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    idempotency_key TEXT    UNIQUE,
    request_sha256  TEXT    NOT NULL,
    input           TEXT    NOT NULL,
    input_sha256    TEXT    NOT NULL,
    form_id         TEXT    NOT NULL,
    form_version    INTEGER NOT NULL,
    subject_ref     TEXT    NOT NULL,
    scores          TEXT    NOT NULL,
    ruleset_id      TEXT    NOT NULL,
    ruleset_version INTEGER NOT NULL,
    ruleset_sha256  TEXT    NOT NULL,
    pathway         TEXT    NOT NULL,
    priority        TEXT    NOT NULL,
    respond_within  TEXT    NOT NULL,
    flags           TEXT    NOT NULL,
    rule_id         TEXT    NOT NULL,
    explanation     TEXT    NOT NULL,
    authored_at     TEXT    NOT NULL,
    decided_at      TEXT    NOT NULL,
    engine_version  TEXT    NOT NULL
) STRICT;

CREATE INDEX decisions_ruleset_authored ON decisions (ruleset_id, authored_at);
CREATE INDEX decisions_subject ON decisions (subject_ref);

-- +goose Down
DROP TABLE decisions;
DROP TABLE ruleset_activations;
DROP TABLE rulesets;
DROP TABLE pathways;
DROP TABLE forms;
