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
    counter INTEGER NOT NULL
) STRICT;
INSERT INTO reference_marker (id, counter) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER forms_reference_insert AFTER INSERT ON forms
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER forms_reference_update AFTER UPDATE ON forms
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER forms_reference_delete AFTER DELETE ON forms
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER pathways_reference_insert AFTER INSERT ON pathways
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER pathways_reference_update AFTER UPDATE ON pathways
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER pathways_reference_delete AFTER DELETE ON pathways
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER rulesets_reference_insert AFTER INSERT ON rulesets
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER rulesets_reference_update AFTER UPDATE ON rulesets
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER rulesets_reference_delete AFTER DELETE ON rulesets
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ruleset_activations_reference_insert AFTER INSERT ON ruleset_activations
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ruleset_activations_reference_update AFTER UPDATE ON ruleset_activations
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ruleset_activations_reference_delete AFTER DELETE ON ruleset_activations
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER shadow_runs_reference_insert AFTER INSERT ON shadow_runs
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER shadow_runs_reference_update AFTER UPDATE OF ruleset_id, version, stopped_at ON shadow_runs
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER shadow_runs_reference_delete AFTER DELETE ON shadow_runs
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER services_reference_insert AFTER INSERT ON services
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER services_reference_update AFTER UPDATE ON services
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER services_reference_delete AFTER DELETE ON services
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER practitioners_reference_insert AFTER INSERT ON practitioners
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER practitioners_reference_update AFTER UPDATE ON practitioners
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER practitioners_reference_delete AFTER DELETE ON practitioners
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER oncall_reference_insert AFTER INSERT ON oncall
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER oncall_reference_update AFTER UPDATE ON oncall
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER oncall_reference_delete AFTER DELETE ON oncall
BEGIN
    UPDATE reference_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER forms_reference_insert;
DROP TRIGGER forms_reference_update;
DROP TRIGGER forms_reference_delete;
DROP TRIGGER pathways_reference_insert;
DROP TRIGGER pathways_reference_update;
DROP TRIGGER pathways_reference_delete;
DROP TRIGGER rulesets_reference_insert;
DROP TRIGGER rulesets_reference_update;
DROP TRIGGER rulesets_reference_delete;
DROP TRIGGER ruleset_activations_reference_insert;
DROP TRIGGER ruleset_activations_reference_update;
DROP TRIGGER ruleset_activations_reference_delete;
DROP TRIGGER shadow_runs_reference_insert;
DROP TRIGGER shadow_runs_reference_update;
DROP TRIGGER shadow_runs_reference_delete;
DROP TRIGGER services_reference_insert;
DROP TRIGGER services_reference_update;
DROP TRIGGER services_reference_delete;
DROP TRIGGER practitioners_reference_insert;
DROP TRIGGER practitioners_reference_update;
DROP TRIGGER practitioners_reference_delete;
DROP TRIGGER oncall_reference_insert;
DROP TRIGGER oncall_reference_update;
DROP TRIGGER oncall_reference_delete;
DROP TABLE reference_marker;
