-- Replay streams a rule set's decisions in seq order, a page at a time (WHERE ruleset_id = ? AND
-- seq > ? ORDER BY seq LIMIT n). Without this index the planner reads every decision of the rule
-- set and sorts it for each page, which makes a million-case replay quadratic.

-- +goose Up
CREATE INDEX decisions_ruleset_seq ON decisions (ruleset_id, seq);

-- +goose Down
DROP INDEX decisions_ruleset_seq;
