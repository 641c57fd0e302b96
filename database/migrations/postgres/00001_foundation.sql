-- Foundation schema: forms, pathways, versioned rule sets and their
-- activations, and the decision log. JSON payloads are TEXT, not JSONB, so the
-- canonical bytes Carepath stores (and hashes) are returned unchanged.

-- +goose Up
CREATE TABLE forms (
    id         TEXT        NOT NULL,
    version    INTEGER     NOT NULL,
    definition TEXT        NOT NULL,
    sha256     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE pathways (
    id          TEXT        NOT NULL PRIMARY KEY,
    name        TEXT        NOT NULL,
    description TEXT        NOT NULL,
    definition  TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE rulesets (
    id         TEXT        NOT NULL,
    version    INTEGER     NOT NULL,
    form_id    TEXT        NOT NULL,
    source     TEXT        NOT NULL,
    sha256     TEXT        NOT NULL,
    status     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE ruleset_activations (
    seq            BIGSERIAL   PRIMARY KEY,
    ruleset_id     TEXT        NOT NULL,
    version        INTEGER     NOT NULL,
    effective_from TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (ruleset_id, version) REFERENCES rulesets (id, version)
);

CREATE INDEX ruleset_activations_ruleset_effective
    ON ruleset_activations (ruleset_id, effective_from);

CREATE TABLE decisions (
    seq             BIGSERIAL   PRIMARY KEY,
    id              TEXT        NOT NULL UNIQUE,
    idempotency_key TEXT        UNIQUE,
    request_sha256  TEXT        NOT NULL,
    input           TEXT        NOT NULL,
    input_sha256    TEXT        NOT NULL,
    form_id         TEXT        NOT NULL,
    form_version    INTEGER     NOT NULL,
    subject_ref     TEXT        NOT NULL,
    scores          TEXT        NOT NULL,
    ruleset_id      TEXT        NOT NULL,
    ruleset_version INTEGER     NOT NULL,
    ruleset_sha256  TEXT        NOT NULL,
    pathway         TEXT        NOT NULL,
    priority        TEXT        NOT NULL,
    respond_within  TEXT        NOT NULL,
    flags           TEXT        NOT NULL,
    rule_id         TEXT        NOT NULL,
    explanation     TEXT        NOT NULL,
    authored_at     TIMESTAMPTZ NOT NULL,
    decided_at      TIMESTAMPTZ NOT NULL,
    engine_version  TEXT        NOT NULL
);

CREATE INDEX decisions_ruleset_authored ON decisions (ruleset_id, authored_at);
CREATE INDEX decisions_subject ON decisions (subject_ref);

-- +goose Down
DROP TABLE decisions;
DROP TABLE ruleset_activations;
DROP TABLE rulesets;
DROP TABLE pathways;
DROP TABLE forms;
