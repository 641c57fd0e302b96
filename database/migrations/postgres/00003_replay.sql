-- Replay streams a rule set's decisions in seq order, a page at a time (WHERE ruleset_id = ? AND
-- seq > ? ORDER BY seq LIMIT n). Without this index the planner reads every decision of the rule
-- set and sorts it for each page, which makes a million-case replay quadratic.

--
-- The large JSON columns of decisions are compressed with lz4 rather than the default pglz: a bulk
-- import spends much of PostgreSQL's CPU compressing explanations, and lz4 does it several times
-- faster. A server built without lz4 keeps pglz.

-- +goose Up
CREATE INDEX decisions_ruleset_seq ON decisions (ruleset_id, seq);

-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE decisions
        ALTER COLUMN input SET COMPRESSION lz4,
        ALTER COLUMN explanation SET COMPRESSION lz4,
        ALTER COLUMN services SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available; decisions keep the default compression';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX decisions_ruleset_seq;
