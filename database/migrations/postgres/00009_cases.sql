-- Cases: what happens after a decision. One row per case (its id is the decision that referred it)
-- holding the current status, with the columns the worklist filters and the outcome report groups
-- by copied from the decision, so neither joins the decision log; and an append-only history of
-- every step, who took it and when. A follow-up assessment on the same form and subject is linked
-- to the open case (followup_id, end_scores) rather than opening another.

-- +goose Up
CREATE TABLE cases (
    seq               BIGSERIAL   PRIMARY KEY,
    id                TEXT        NOT NULL UNIQUE,
    form_id           TEXT        NOT NULL,
    subject_ref       TEXT        NOT NULL,
    team_id           TEXT        NOT NULL,
    pathway           TEXT        NOT NULL,
    priority          TEXT        NOT NULL,
    ruleset_id        TEXT        NOT NULL,
    ruleset_version   INTEGER     NOT NULL,
    rule_id           TEXT        NOT NULL,
    service_id        TEXT        NOT NULL,
    appointment_id    TEXT        NOT NULL,
    practitioner_id   TEXT        NOT NULL,
    manual_allocation BOOLEAN     NOT NULL,
    status            TEXT        NOT NULL,
    respond_by        TIMESTAMPTZ,
    opened_at         TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    start_scores      TEXT        NOT NULL,
    followup_id       TEXT        NOT NULL DEFAULT '',
    end_scores        TEXT        NOT NULL DEFAULT '',
    at_home           BOOLEAN,
    revision          INTEGER     NOT NULL DEFAULT 1
);

CREATE INDEX cases_team_status ON cases (team_id, status, seq);
CREATE INDEX cases_status_respond_by ON cases (status, respond_by);
CREATE INDEX cases_form_subject ON cases (form_id, subject_ref);

CREATE TABLE case_steps (
    seq         BIGSERIAL   PRIMARY KEY,
    case_id     TEXT        NOT NULL,
    step        TEXT        NOT NULL,
    from_status TEXT        NOT NULL,
    to_status   TEXT        NOT NULL,
    actor       TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    detail      TEXT        NOT NULL
);

CREATE INDEX case_steps_case ON case_steps (case_id, seq);

CREATE TRIGGER case_steps_append_only BEFORE UPDATE OR DELETE ON case_steps
    FOR EACH ROW EXECUTE FUNCTION carepath_append_only();
CREATE TRIGGER case_steps_no_truncate BEFORE TRUNCATE ON case_steps
    FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only();

-- +goose Down
DROP TRIGGER case_steps_no_truncate ON case_steps;
DROP TRIGGER case_steps_append_only ON case_steps;
DROP TABLE case_steps;
DROP TABLE cases;
