-- Identity: teams, users with their roles, API tokens and web sessions (secrets stored only as
-- hashes), and who submitted each decision for which team.

-- +goose Up
CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id              TEXT    PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    roles           TEXT    NOT NULL,
    practitioner_id TEXT    NOT NULL DEFAULT '',
    password_hash   TEXT    NOT NULL DEFAULT '',
    disabled        INTEGER NOT NULL DEFAULT 0,
    demo            INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT    NOT NULL
) STRICT;

CREATE TABLE user_teams (
    user_id TEXT NOT NULL REFERENCES users (id),
    team_id TEXT NOT NULL REFERENCES teams (id),
    PRIMARY KEY (user_id, team_id)
) STRICT;

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
) STRICT;

CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    hash         TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    principal    TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
) STRICT;

CREATE INDEX sessions_subject ON sessions (subject);

ALTER TABLE decisions ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN submitted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE ruleset_audit ADD COLUMN actor_name TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE ruleset_audit DROP COLUMN actor_name;
ALTER TABLE decisions DROP COLUMN submitted_by;
ALTER TABLE decisions DROP COLUMN team_id;
DROP TABLE sessions;
DROP TABLE api_tokens;
DROP TABLE user_teams;
DROP TABLE users;
DROP TABLE teams;
