-- Route versions come from a sequence, which hands out numbers without a lock, instead of the
-- visits counter of routing_marker, whose row every booking held until its commit, so bookings
-- of different practitioners no longer wait for each other. A booking checks the version of the
-- route it planned on and stamps a new one in one statement (see routing.SQLStore.ClaimRoute).

-- +goose Up
CREATE SEQUENCE route_seq;
SELECT setval('route_seq', GREATEST(
    (SELECT counter FROM routing_marker WHERE name = 'visits'),
    (SELECT COALESCE(MAX(seq), 0) FROM route_changes), 1));

-- +goose Down
DROP SEQUENCE route_seq;
