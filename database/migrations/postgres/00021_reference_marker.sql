-- Reference data (forms, pathways, rule sets and their activations, shadow runs, the services
-- directory, practitioners and the on-call rota) changes rarely and is read by every decision, so
-- each replica holds it in memory. One counter, raised by these triggers whenever any of it
-- changes, tells a replica when to read it again; on PostgreSQL the change is also announced on
-- the channel carepath_reference, so replicas listening hear of it within milliseconds.
-- Appointments and visits change with every booking and keep their own marker (routing_marker).
-- A shadow run's evaluation counts change with every shadowed decision and are left out.

-- +goose Up
CREATE TABLE reference_marker (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    counter BIGINT  NOT NULL
);
INSERT INTO reference_marker (id, counter) VALUES (1, 0);

-- The row stays locked until commit, so counters are committed in the order they are handed out:
-- a replica that reads counter V and then the data sees every change up to V. The payload is
-- constant so that PostgreSQL folds a bulk import's notifications into one.
-- +goose StatementBegin
CREATE FUNCTION reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
    PERFORM pg_notify('carepath_reference', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER forms_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON forms
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER pathways_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pathways
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER rulesets_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rulesets
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER ruleset_activations_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ruleset_activations
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER shadow_runs_reference AFTER INSERT OR UPDATE OF ruleset_id, version, stopped_at OR DELETE OR TRUNCATE ON shadow_runs
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER services_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER practitioners_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON practitioners
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER oncall_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oncall
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();

-- +goose Down
DROP TRIGGER forms_reference ON forms;
DROP TRIGGER pathways_reference ON pathways;
DROP TRIGGER rulesets_reference ON rulesets;
DROP TRIGGER ruleset_activations_reference ON ruleset_activations;
DROP TRIGGER shadow_runs_reference ON shadow_runs;
DROP TRIGGER services_reference ON services;
DROP TRIGGER practitioners_reference ON practitioners;
DROP TRIGGER oncall_reference ON oncall;
DROP FUNCTION reference_changed();
DROP TABLE reference_marker;
