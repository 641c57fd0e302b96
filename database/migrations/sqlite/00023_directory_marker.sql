-- The services directory's own change counter. The reference marker (00021) moves with any
-- reference change, a rule-set activation as much as a service import; compiling the directory's
-- index takes about 0.1 ms a service (catchment polygons and their grids), so a replica rebuilds
-- it only when this counter says the services themselves changed. It counts every insert, update
-- and delete, so no pair of changes can leave it where it was.

-- +goose Up
CREATE TABLE directory_marker (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
) STRICT;
INSERT INTO directory_marker (id, counter) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER services_directory_insert AFTER INSERT ON services
BEGIN
    UPDATE directory_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER services_directory_update AFTER UPDATE ON services
BEGIN
    UPDATE directory_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER services_directory_delete AFTER DELETE ON services
BEGIN
    UPDATE directory_marker SET counter = counter + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER services_directory_insert;
DROP TRIGGER services_directory_update;
DROP TRIGGER services_directory_delete;
DROP TABLE directory_marker;
