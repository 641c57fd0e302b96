package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Lockout: after MaxFailedSignIns wrong passwords in a row an account is locked for LockoutPeriod;
// each further failure while locked extends nothing, so an attacker cannot keep a person out for
// longer than the period after they stop.
const (
	MaxFailedSignIns = 5
	LockoutPeriod    = 15 * time.Minute
)

// Team is a group of people that owns services and practitioners.
type Team struct {
	ID        string    `json:"id" db:"id"`
	Name      string    `json:"name" db:"name"`
	CreatedAt time.Time `json:"created_at" db:"-"`
}

// User is a local account.
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Name         string    `json:"name"`
	Roles        []Role    `json:"roles"`
	Teams        []string  `json:"teams"`
	Practitioner string    `json:"practitioner,omitempty"`
	Disabled     bool      `json:"disabled"`
	Demo         bool      `json:"demo"`
	HasPassword  bool      `json:"has_password"`
	CreatedAt    time.Time `json:"created_at"`
}

// Principal returns the user as an authenticated principal signed in by method.
func (u User) Principal(method Method) *Principal {
	return &Principal{Subject: u.ID, Name: u.Name, Roles: slices.Clone(u.Roles), Teams: slices.Clone(u.Teams),
		Practitioner: u.Practitioner, Method: method, Demo: u.Demo}
}

// NewUser is what adding a user takes; Password may be empty for an account that only uses API
// tokens or single sign-on.
type NewUser struct {
	Username     string
	Name         string
	Roles        []Role
	Teams        []string
	Practitioner string
	Password     string
	Demo         bool
}

// Token describes an API token; the secret itself is shown once, when it is made, and never stored.
type Token struct {
	ID         string     `json:"id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// SQLStore keeps users, teams, API tokens and sessions on SQLite or PostgreSQL.
type SQLStore struct {
	DB *database.DB
}

// NewSQLStore returns a store over db.
func NewSQLStore(db *database.DB) *SQLStore { return &SQLStore{DB: db} }

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,99}$`)

// normaliseName folds a username or team id to the one form it is stored and compared in, so
// that "Alice" and "alice " are one account, never two.
func normaliseName(field, s string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	if !namePattern.MatchString(n) {
		return "", failure.Errorf(failure.Invalid, "%s %q: 1 to 100 of a-z, 0-9 and . _ @ -, starting with a letter or digit", field, s)
	}
	return n, nil
}

// AddTeam stores a team; an existing id is a conflict.
func (s *SQLStore) AddTeam(ctx context.Context, id, name string, now time.Time) (Team, error) {
	id, err := normaliseName("team", id)
	if err != nil {
		return Team{}, err
	}
	if strings.TrimSpace(name) == "" {
		name = id
	}
	_, err = s.DB.ExecContext(ctx, s.DB.Rebind(`INSERT INTO teams (id, name, created_at) VALUES (?, ?, ?)`), id, name, database.NewTime(now))
	if database.IsUniqueViolation(err) {
		return Team{}, failure.Errorf(failure.Conflict, "team %s exists already", id)
	}
	if err != nil {
		return Team{}, fmt.Errorf("identity: unable to add team: %w", err)
	}
	return Team{ID: id, Name: name, CreatedAt: database.NewTime(now).Time}, nil
}

// Teams lists the teams by id.
func (s *SQLStore) Teams(ctx context.Context) ([]Team, error) {
	var rows []struct {
		ID        string        `db:"id"`
		Name      string        `db:"name"`
		CreatedAt database.Time `db:"created_at"`
	}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT id, name, created_at FROM teams ORDER BY id`); err != nil {
		return nil, fmt.Errorf("identity: unable to list teams: %w", err)
	}
	out := make([]Team, len(rows))
	for i, r := range rows {
		out[i] = Team{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.Time}
	}
	return out, nil
}

func (s *SQLStore) checkTeams(ctx context.Context, ex database.Querier, teams []string) ([]string, error) {
	var out []string
	for _, t := range teams {
		id, err := normaliseName("team", t)
		if err != nil {
			return nil, err
		}
		var n int
		if err := ex.GetContext(ctx, &n, s.DB.Rebind(`SELECT COUNT(*) FROM teams WHERE id = ?`), id); err != nil {
			return nil, fmt.Errorf("identity: unable to read team: %w", err)
		}
		if n == 0 {
			return nil, failure.Errorf(failure.Invalid, "team %q: no such team; add it with carepath teams add", t)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

func joinRoles(rs []Role) string {
	names := RoleNames(rs)
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

// AddUser stores a local account with a fresh stable id.
func (s *SQLStore) AddUser(ctx context.Context, nu NewUser, now time.Time) (User, error) {
	username, err := normaliseName("username", nu.Username)
	if err != nil {
		return User{}, err
	}
	if len(nu.Roles) == 0 {
		return User{}, failure.Errorf(failure.Invalid, "roles: give at least one of %s", roleList())
	}
	for _, r := range nu.Roles {
		if _, err := ParseRole(string(r)); err != nil {
			return User{}, err
		}
	}
	name := strings.TrimSpace(nu.Name)
	if name == "" {
		name = username
	}
	if len(name) > 200 {
		return User{}, failure.Errorf(failure.Invalid, "name: at most 200 characters")
	}
	hash := ""
	if nu.Password != "" {
		if hash, err = HashPassword(nu.Password); err != nil {
			return User{}, err
		}
	}
	u := User{ID: uuid.Must(uuid.NewV7()).String(), Username: username, Name: name, Roles: nu.Roles,
		Practitioner: nu.Practitioner, Demo: nu.Demo, HasPassword: hash != "", CreatedAt: database.NewTime(now).Time}
	err = s.DB.InTx(ctx, func(tx *database.Tx) error {
		teams, err := s.checkTeams(ctx, tx, nu.Teams)
		if err != nil {
			return err
		}
		u.Teams = teams
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO users (id, username, display_name, roles, practitioner_id, password_hash, demo, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), u.ID, username, name, joinRoles(nu.Roles), nu.Practitioner, hash, nu.Demo, database.NewTime(now))
		if database.IsUniqueViolation(err) {
			return failure.Errorf(failure.Conflict, "user %s exists already", username)
		}
		if err != nil {
			return fmt.Errorf("identity: unable to add user: %w", err)
		}
		return s.writeTeams(ctx, tx, u.ID, teams)
	})
	if err != nil {
		return User{}, err
	}
	slices.Sort(u.Roles)
	return u, nil
}

func (s *SQLStore) writeTeams(ctx context.Context, tx *database.Tx, userID string, teams []string) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM user_teams WHERE user_id = ?`), userID); err != nil {
		return fmt.Errorf("identity: unable to clear teams: %w", err)
	}
	for _, t := range teams {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO user_teams (user_id, team_id) VALUES (?, ?)`), userID, t); err != nil {
			return fmt.Errorf("identity: unable to add team: %w", err)
		}
	}
	return nil
}

type userRow struct {
	ID           string         `db:"id"`
	Username     string         `db:"username"`
	Name         string         `db:"display_name"`
	Roles        string         `db:"roles"`
	Practitioner string         `db:"practitioner_id"`
	PasswordHash string         `db:"password_hash"`
	Disabled     bool           `db:"disabled"`
	Demo         bool           `db:"demo"`
	Failed       int            `db:"failed_logins"`
	LockedUntil  *database.Time `db:"locked_until"`
	CreatedAt    database.Time  `db:"created_at"`
}

const userColumns = `id, username, display_name, roles, practitioner_id, password_hash, disabled, demo, failed_logins, locked_until, created_at`

func (s *SQLStore) user(ctx context.Context, ex database.Querier, where string, arg any) (userRow, User, error) {
	var r userRow
	// No stored name or id holds U+0000 or bytes that are not UTF-8, and PostgreSQL refuses to
	// look such a one up rather than find nothing: such a user does not exist.
	if text, ok := arg.(string); ok && (!utf8.ValidString(text) || strings.IndexByte(text, 0) >= 0) {
		return r, User{}, failure.Errorf(failure.NotFound, "no user %q", text)
	}
	err := ex.GetContext(ctx, &r, s.DB.Rebind(`SELECT `+userColumns+` FROM users WHERE `+where), arg)
	if errors.Is(err, sql.ErrNoRows) {
		return r, User{}, failure.Errorf(failure.NotFound, "no user %s", arg)
	}
	if err != nil {
		return r, User{}, fmt.Errorf("identity: unable to read user: %w", err)
	}
	u, err := s.complete(ctx, ex, r)
	return r, u, err
}

func (s *SQLStore) complete(ctx context.Context, ex database.Querier, r userRow) (User, error) {
	roles, err := ParseRoles(r.Roles)
	if err != nil {
		return User{}, fmt.Errorf("identity: user %s has a stored role that is not known: %w", r.Username, err)
	}
	var teams []string
	if err := ex.SelectContext(ctx, &teams, s.DB.Rebind(`SELECT team_id FROM user_teams WHERE user_id = ? ORDER BY team_id`), r.ID); err != nil {
		return User{}, fmt.Errorf("identity: unable to read teams: %w", err)
	}
	return User{ID: r.ID, Username: r.Username, Name: r.Name, Roles: roles, Teams: teams, Practitioner: r.Practitioner,
		Disabled: r.Disabled, Demo: r.Demo, HasPassword: r.PasswordHash != "", CreatedAt: r.CreatedAt.Time}, nil
}

// User returns the account with the given username.
func (s *SQLStore) User(ctx context.Context, username string) (User, error) {
	name, err := normaliseName("username", username)
	if err != nil {
		return User{}, err
	}
	_, u, err := s.user(ctx, s.DB, "username = ?", name)
	return u, err
}

// Users lists every account by username.
func (s *SQLStore) Users(ctx context.Context) ([]User, error) {
	var rows []userRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT `+userColumns+` FROM users ORDER BY username`); err != nil {
		return nil, fmt.Errorf("identity: unable to list users: %w", err)
	}
	out := make([]User, 0, len(rows))
	for _, r := range rows {
		u, err := s.complete(ctx, s.DB, r)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// CountUsers returns how many accounts there are.
func (s *SQLStore) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM users`); err != nil {
		return 0, fmt.Errorf("identity: unable to count users: %w", err)
	}
	return n, nil
}

// SetRoles replaces a user's roles and, when teams is not nil, their teams; sessions opened before
// keep the roles they had until they expire, so revoke them for an urgent change.
func (s *SQLStore) SetRoles(ctx context.Context, username string, roles []Role, teams []string) (User, error) {
	if len(roles) == 0 {
		return User{}, failure.Errorf(failure.Invalid, "roles: give at least one of %s", roleList())
	}
	name, err := normaliseName("username", username)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.DB.InTx(ctx, func(tx *database.Tx) error {
		_, found, err := s.user(ctx, tx, "username = ?", name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE users SET roles = ? WHERE id = ?`), joinRoles(roles), found.ID); err != nil {
			return fmt.Errorf("identity: unable to set roles: %w", err)
		}
		if teams != nil {
			checked, err := s.checkTeams(ctx, tx, teams)
			if err != nil {
				return err
			}
			if err := s.writeTeams(ctx, tx, found.ID, checked); err != nil {
				return err
			}
		}
		_, u, err = s.user(ctx, tx, "id = ?", found.ID)
		return err
	})
	return u, err
}

// SetPassword replaces a user's password and clears any lockout.
func (s *SQLStore) SetPassword(ctx context.Context, username, password string) error {
	name, err := normaliseName("username", username)
	if err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	res, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE username = ?`), hash, name)
	return expectOne(res, err, "user "+name)
}

// Disable stops a user signing in and revokes their tokens and sessions at once.
func (s *SQLStore) Disable(ctx context.Context, username string, now time.Time) error {
	name, err := normaliseName("username", username)
	if err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *database.Tx) error {
		_, u, err := s.user(ctx, tx, "username = ?", name)
		if err != nil {
			return err
		}
		at := database.NewTime(now)
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`UPDATE users SET disabled = TRUE WHERE id = ?`, []any{u.ID}},
			{`UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, []any{at, u.ID}},
			{`UPDATE sessions SET revoked_at = ? WHERE subject = ? AND revoked_at IS NULL`, []any{at, u.ID}},
		} {
			if _, err := tx.ExecContext(ctx, tx.Rebind(st.q), st.args...); err != nil {
				return fmt.Errorf("identity: unable to disable user: %w", err)
			}
		}
		return nil
	})
}

func expectOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("identity: unable to update %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("identity: unable to update %s: %w", what, err)
	}
	if n == 0 {
		return failure.Errorf(failure.NotFound, "no %s", what)
	}
	return nil
}

// errBadCredentials is the one answer to a wrong username, a wrong password, a disabled account
// and a locked one, so that the answer tells an attacker nothing.
var errBadCredentials = failure.Errorf(failure.Unauthenticated, "the username or password is not right, or the account is locked for a while after repeated failures")

// CheckPassword authenticates a local account by password, counting failures and locking the
// account for LockoutPeriod after MaxFailedSignIns in a row.
func (s *SQLStore) CheckPassword(ctx context.Context, username, password string, now time.Time) (User, error) {
	name := strings.ToLower(strings.TrimSpace(username))
	r, u, err := s.user(ctx, s.DB, "username = ?", name)
	if failure.CodeOf(err) == failure.NotFound {
		CheckPassword(dummyHash, password)
		return User{}, errBadCredentials
	}
	if err != nil {
		return User{}, err
	}
	if r.LockedUntil != nil && now.Before(r.LockedUntil.Time) {
		CheckPassword(dummyHash, password)
		return User{}, errBadCredentials
	}
	if r.Disabled || r.PasswordHash == "" || !CheckPassword(r.PasswordHash, password) {
		failed := r.Failed + 1
		var locked any
		if failed >= MaxFailedSignIns {
			locked, failed = database.NewTime(now.Add(LockoutPeriod)), 0
		}
		if _, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?`), failed, locked, r.ID); err != nil {
			return User{}, fmt.Errorf("identity: unable to count a failed sign-in: %w", err)
		}
		return User{}, errBadCredentials
	}
	if r.Failed > 0 || r.LockedUntil != nil {
		if _, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?`), r.ID); err != nil {
			return User{}, fmt.Errorf("identity: unable to reset failed sign-ins: %w", err)
		}
	}
	return u, nil
}

// MaxTokenLifetime bounds how long an API token may live; a system rotates its token at least
// once a year.
const MaxTokenLifetime = 366 * 24 * time.Hour

// CreateToken makes an API token for a user, returning the secret, which is shown once and
// stored only as a hash.
func (s *SQLStore) CreateToken(ctx context.Context, username, name string, expires, now time.Time) (string, Token, error) {
	u, err := s.User(ctx, username)
	if err != nil {
		return "", Token{}, err
	}
	if u.Disabled {
		return "", Token{}, failure.Errorf(failure.Invalid, "user %s is disabled", u.Username)
	}
	if !expires.After(now) {
		return "", Token{}, failure.Errorf(failure.Invalid, "expires: must be in the future")
	}
	if expires.Sub(now) > MaxTokenLifetime {
		return "", Token{}, failure.Errorf(failure.Invalid, "expires: at most 366 days ahead")
	}
	if strings.TrimSpace(name) == "" {
		name = "api"
	}
	secret, err := newSecret(TokenPrefix)
	if err != nil {
		return "", Token{}, err
	}
	t := Token{ID: uuid.Must(uuid.NewV7()).String(), User: u.Username, Name: name,
		CreatedAt: database.NewTime(now).Time, ExpiresAt: database.NewTime(expires).Time}
	_, err = s.DB.ExecContext(ctx, s.DB.Rebind(`INSERT INTO api_tokens (id, user_id, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
		t.ID, u.ID, name, hashSecret(secret), database.NewTime(now), database.NewTime(expires))
	if err != nil {
		return "", Token{}, fmt.Errorf("identity: unable to store token: %w", err)
	}
	return secret, t, nil
}

// putToken stores a token with a known secret; only the demo loader uses it.
func (s *SQLStore) putToken(ctx context.Context, userID, name, secret string, expires, now time.Time) error {
	_, err := s.DB.ExecContext(ctx, s.DB.Rebind(`INSERT INTO api_tokens (id, user_id, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
		uuid.Must(uuid.NewV7()).String(), userID, name, hashSecret(secret), database.NewTime(now), database.NewTime(expires))
	if err != nil {
		return fmt.Errorf("identity: unable to store token: %w", err)
	}
	return nil
}

type tokenRow struct {
	ID         string         `db:"id"`
	UserID     string         `db:"user_id"`
	Username   string         `db:"username"`
	Name       string         `db:"name"`
	CreatedAt  database.Time  `db:"created_at"`
	ExpiresAt  database.Time  `db:"expires_at"`
	RevokedAt  *database.Time `db:"revoked_at"`
	LastUsedAt *database.Time `db:"last_used_at"`
}

func (r tokenRow) token() Token {
	t := Token{ID: r.ID, User: r.Username, Name: r.Name, CreatedAt: r.CreatedAt.Time, ExpiresAt: r.ExpiresAt.Time}
	if r.RevokedAt != nil {
		t.RevokedAt = &r.RevokedAt.Time
	}
	if r.LastUsedAt != nil {
		t.LastUsedAt = &r.LastUsedAt.Time
	}
	return t
}

const tokenColumns = `t.id, t.user_id, u.username, t.name, t.created_at, t.expires_at, t.revoked_at, t.last_used_at`

// Tokens lists the API tokens, of one user when username is not empty.
func (s *SQLStore) Tokens(ctx context.Context, username string) ([]Token, error) {
	var rows []tokenRow
	q := `SELECT ` + tokenColumns + ` FROM api_tokens t JOIN users u ON u.id = t.user_id`
	args := []any{}
	if username != "" {
		q += ` WHERE u.username = ?`
		args = append(args, strings.ToLower(strings.TrimSpace(username)))
	}
	if err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(q+` ORDER BY t.created_at, t.id`), args...); err != nil {
		return nil, fmt.Errorf("identity: unable to list tokens: %w", err)
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// RevokeToken revokes an API token by id; it stops working on every replica within CacheTTL.
func (s *SQLStore) RevokeToken(ctx context.Context, id string, now time.Time) error {
	res, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), database.NewTime(now), id)
	return expectOne(res, err, "unrevoked token "+id)
}

// TokenPrincipal authenticates an API token, returning its user as a principal; it reads the
// database, so callers on a hot path go through an Authenticator's cache.
func (s *SQLStore) TokenPrincipal(ctx context.Context, secret string, now time.Time) (*Principal, time.Time, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 200 {
		return nil, time.Time{}, errBadToken
	}
	var r tokenRow
	err := s.DB.GetContext(ctx, &r, s.DB.Rebind(`SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`), hashSecret(secret))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, errBadToken
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("identity: unable to read token: %w", err)
	}
	if r.RevokedAt != nil || !now.Before(r.ExpiresAt.Time) {
		return nil, time.Time{}, errBadToken
	}
	_, u, err := s.user(ctx, s.DB, "id = ?", r.UserID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if u.Disabled {
		return nil, time.Time{}, errBadToken
	}
	p := u.Principal(MethodToken)
	p.TokenID = r.ID
	return p, r.ExpiresAt.Time, nil
}

// TouchToken records when a token was last used.
func (s *SQLStore) TouchToken(ctx context.Context, id string, now time.Time) error {
	_, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`), database.NewTime(now), id)
	if err != nil {
		return fmt.Errorf("identity: unable to record token use: %w", err)
	}
	return nil
}

var errBadToken = failure.Errorf(failure.Unauthenticated, "the bearer token is not valid: unknown, expired or revoked")

// Session is a signed-in browser's session.
type Session struct {
	Principal  *Principal
	CSRF       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// CreateSession stores a new session for p, returning its id (the cookie's value, stored only as
// a hash) and the session.
func (s *SQLStore) CreateSession(ctx context.Context, p *Principal, absolute time.Duration, now time.Time) (string, Session, error) {
	id, err := newSecret("")
	if err != nil {
		return "", Session{}, err
	}
	csrf, err := newSecret("")
	if err != nil {
		return "", Session{}, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return "", Session{}, fmt.Errorf("identity: unable to encode principal: %w", err)
	}
	sess := Session{Principal: p, CSRF: csrf, CreatedAt: database.NewTime(now).Time, LastSeenAt: database.NewTime(now).Time, ExpiresAt: database.NewTime(now.Add(absolute)).Time}
	_, err = s.DB.ExecContext(ctx, s.DB.Rebind(`INSERT INTO sessions (hash, subject, principal, csrf, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		hashSecret(id), p.Subject, string(raw), csrf, database.NewTime(now), database.NewTime(now), database.NewTime(sess.ExpiresAt))
	if err != nil {
		return "", Session{}, fmt.Errorf("identity: unable to store session: %w", err)
	}
	return id, sess, nil
}

// Session returns an unrevoked session by its id; expiry is for the caller to judge.
func (s *SQLStore) Session(ctx context.Context, id string) (Session, error) {
	var r struct {
		Principal  string        `db:"principal"`
		CSRF       string        `db:"csrf"`
		CreatedAt  database.Time `db:"created_at"`
		LastSeenAt database.Time `db:"last_seen_at"`
		ExpiresAt  database.Time `db:"expires_at"`
	}
	err := s.DB.GetContext(ctx, &r, s.DB.Rebind(`SELECT principal, csrf, created_at, last_seen_at, expires_at FROM sessions WHERE hash = ? AND revoked_at IS NULL`), hashSecret(id))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, errNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("identity: unable to read session: %w", err)
	}
	var p Principal
	if err := json.Unmarshal([]byte(r.Principal), &p); err != nil {
		return Session{}, fmt.Errorf("identity: unable to decode session: %w", err)
	}
	return Session{Principal: &p, CSRF: r.CSRF, CreatedAt: r.CreatedAt.Time, LastSeenAt: r.LastSeenAt.Time, ExpiresAt: r.ExpiresAt.Time}, nil
}

// TouchSession records activity on a session, which keeps it from idling out.
func (s *SQLStore) TouchSession(ctx context.Context, id string, now time.Time) error {
	_, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE sessions SET last_seen_at = ? WHERE hash = ?`), database.NewTime(now), hashSecret(id))
	if err != nil {
		return fmt.Errorf("identity: unable to record session activity: %w", err)
	}
	return nil
}

// RevokeSession ends a session, as signing out does.
func (s *SQLStore) RevokeSession(ctx context.Context, id string, now time.Time) error {
	_, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE sessions SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL`), database.NewTime(now), hashSecret(id))
	if err != nil {
		return fmt.Errorf("identity: unable to end session: %w", err)
	}
	return nil
}

var errNoSession = failure.Errorf(failure.Unauthenticated, "the session has ended: sign in again")
