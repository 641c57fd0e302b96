-- Rule governance: the append-only audit trail of rule-set lifecycle changes, approvals with the
-- impact preview shown to the approver, and shadow runs with the disagreements they recorded.

-- +goose Up
CREATE TABLE ruleset_audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset_id  TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    detail      TEXT    NOT NULL
) STRICT;

CREATE INDEX ruleset_audit_ruleset ON ruleset_audit (ruleset_id, version);

CREATE TABLE ruleset_approvals (
    ruleset_id TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    approver   TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    impact     TEXT    NOT NULL,
    at         TEXT    NOT NULL,
    PRIMARY KEY (ruleset_id, version)
) STRICT;

CREATE TABLE shadow_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset_id TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    started_by TEXT    NOT NULL,
    started_at TEXT    NOT NULL,
    stopped_by TEXT,
    stopped_at TEXT,
    evaluated  INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE shadow_differences (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         INTEGER NOT NULL REFERENCES shadow_runs (id),
    decision_id    TEXT    NOT NULL,
    live_pathway   TEXT    NOT NULL,
    live_rule      TEXT    NOT NULL,
    shadow_pathway TEXT    NOT NULL,
    shadow_rule    TEXT    NOT NULL,
    at             TEXT    NOT NULL,
    UNIQUE (run_id, decision_id)
) STRICT;

-- +goose Down
DROP TABLE shadow_differences;
DROP TABLE shadow_runs;
DROP TABLE ruleset_approvals;
DROP TABLE ruleset_audit;
