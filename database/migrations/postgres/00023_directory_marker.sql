-- The services directory's own change counter. The reference marker (00021) moves with any
-- reference change, a rule-set activation as much as a service import; compiling the directory's
-- index takes about 0.1 ms a service (catchment polygons and their grids), so a replica rebuilds
-- it only when this counter says the services themselves changed. It counts every statement that
-- inserts, updates, deletes or truncates, so no pair of changes can leave it where it was.

-- +goose Up
CREATE TABLE directory_marker (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    counter BIGINT  NOT NULL
);
INSERT INTO directory_marker (id, counter) VALUES (1, 0);

-- +goose StatementBegin
CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE directory_marker SET counter = counter + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER services_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

-- +goose Down
DROP TRIGGER services_directory ON services;
DROP FUNCTION directory_changed();
DROP TABLE directory_marker;
