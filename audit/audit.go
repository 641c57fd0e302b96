// Package audit records who read or changed whose care record, and keeps that record and the
// rule-governance trail tamper-evident: both tables refuse UPDATE and DELETE in the database
// itself, and every row carries a SHA-256 hash over its own fields and the previous row's hash,
// so Verify can name the first row that was edited, removed or written around the chain.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Outcome says what became of an attempted access.
type Outcome string

// The outcomes of an access.
const (
	Allowed Outcome = "allowed" // the access went ahead
	Denied  Outcome = "denied"  // the policy refused it
	Failed  Outcome = "failed"  // it was allowed but did not complete
)

// The actions an access record names; callers may use others of the same form (noun.verb).
const (
	ActionDecisionCreate    = "decision.create"
	ActionDecisionRead      = "decision.read"
	ActionDecisionReassign  = "decision.reassign"
	ActionAppointmentCancel = "appointment.cancel"
	ActionAppointmentMove   = "appointment.move"
	ActionDayRead           = "day.read"
	ActionWhyNotRead        = "whynot.read"
	ActionReplayRun         = "replay.run"
	ActionExportRun         = "export.run"
	ActionImpactPreview     = "impact.preview"
	ActionRoutingVisits     = "routing.visits"
	ActionAuditSearch       = "audit.search"
)

// Access is one read or write of personal data: who, in which roles and team, when, doing what,
// to which records, why, and with what outcome.
type Access struct {
	// Seq is the record's place in the access chain, set when it is stored.
	Seq        int64     `json:"seq,omitempty"`
	Subject    string    `json:"subject"`
	Roles      []string  `json:"roles"`
	Team       string    `json:"team,omitempty"`
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	Records    []string  `json:"records"`
	Purpose    string    `json:"purpose,omitempty"` // the stated purpose, or the break-glass reason
	BreakGlass bool      `json:"break_glass"`
	Outcome    Outcome   `json:"outcome"`
	Client     string    `json:"client,omitempty"` // the client's network address
	RequestID  string    `json:"request_id,omitempty"`
	// Hash is the record's link in the chain, set when it is stored.
	Hash string `json:"hash,omitempty"`
}

// Log is the access audit stored in a database.
type Log struct {
	DB *database.DB
}

// Append stores one access record in its own transaction.
func (l *Log) Append(ctx context.Context, e Access) error {
	return l.DB.InTx(ctx, func(tx *database.Tx) error {
		return AppendTx(ctx, tx, e)
	})
}

// AppendTx stores one access record inside the caller's transaction, so that the access and the
// change it records commit or roll back together. It locks the access chain's head until the
// transaction ends, serialising every audited transaction across server replicas: call it as
// late in the transaction as possible. SQLite's write lock is held from BEGIN anyway, so there
// it reads the head, writes the row and moves the head in four prepared statements (the record index is the fourth).
func AppendTx(ctx context.Context, tx *database.Tx, e Access) error {
	records, err := e.check()
	if err != nil {
		return err
	}
	recordsJSON, err := json.Marshal(records)
	if err != nil {
		return fmt.Errorf("audit: unable to encode the records of %s: %w", e.Action, err)
	}
	at := database.NewTime(e.At)
	roles := strings.Join(e.Roles, ",")
	fields := []string{at.String(), e.Subject, roles, e.Team, e.Action,
		string(recordsJSON), e.Purpose, boolText(e.BreakGlass), string(e.Outcome), e.Client, e.RequestID}

	if tx.Dialect == database.Postgres {
		// One round trip, which on PostgreSQL is most of an append's cost: the statement locks the
		// head, hashes the row in the database from the head and the fields Go encoded, and moves
		// the head, so the transaction never waits on the network while it holds the lock.
		res, err := tx.ExecPrepared(ctx, appendAccessPostgres, at, e.Subject, roles, e.Team, e.Action, string(recordsJSON),
			e.Purpose, e.BreakGlass, string(e.Outcome), e.Client, e.RequestID, encodeFields(nil, fields...))
		if err != nil {
			return fmt.Errorf("audit: unable to record %s by %s: %w", e.Action, e.Subject, err)
		}
		if n, err := res.RowsAffected(); err == nil && n != 1 {
			return fmt.Errorf("audit: the %s chain has no head: the database needs `carepath migrate`", ChainAccess)
		}
		return nil
	}

	h, err := lockHead(ctx, tx, ChainAccess)
	if err != nil {
		return err
	}
	seq := h.Seq + 1
	hash := hashRow(ChainAccess, seq, h.Hash, fields...)
	args := []any{seq, at, e.Subject, roles, e.Team, e.Action, string(recordsJSON), e.Purpose, e.BreakGlass,
		string(e.Outcome), e.Client, e.RequestID, h.Hash, hash}
	if _, err = tx.ExecPrepared(ctx, `INSERT INTO access_audit (seq, at, subject, roles, team, action, records, purpose, break_glass, outcome, client, request_id, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return fmt.Errorf("audit: unable to record %s by %s: %w", e.Action, e.Subject, err)
	}
	if len(records) > 0 {
		if _, err = tx.ExecPrepared(ctx, `INSERT INTO access_audit_records (seq, record_id) SELECT ?, value FROM json_each(?)`,
			seq, string(recordsJSON)); err != nil {
			return fmt.Errorf("audit: unable to index the records of %s by %s: %w", e.Action, e.Subject, err)
		}
	}
	return moveHead(ctx, tx, ChainAccess, seq, hash)
}

// appendAccessPostgres appends one access row on PostgreSQL in a single statement. Its hash is
// hashRow's: SHA-256 over the chain and seq fields, the row's fields as encodeFields wrote them
// ($12), and the previous hash, each length-prefixed; seq and the hashes are ASCII, so their
// length in characters is their length in bytes.
var appendAccessPostgres = `WITH h AS (
		SELECT seq + 1 AS seq, hash AS prev FROM audit_chains WHERE chain = 'access' FOR UPDATE
	), n AS (
		SELECT seq, prev, encode(sha256(
			convert_to('` + string(appendField(nil, ChainAccess)) + `' || length(seq::text) || ':' || seq::text || ',', 'UTF8')
			|| $12::bytea
			|| convert_to(length(prev) || ':' || prev || ',', 'UTF8')), 'hex') AS hash
		FROM h
	), row AS (
		INSERT INTO access_audit (seq, at, subject, roles, team, action, records, purpose, break_glass, outcome, client, request_id, prev_hash, hash)
		SELECT n.seq, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, n.prev, n.hash FROM n
	), recs AS (
		INSERT INTO access_audit_records (seq, record_id)
		SELECT n.seq, r FROM n, jsonb_array_elements_text($6::text::jsonb) AS r
	)
	UPDATE audit_chains c SET seq = n.seq, hash = n.hash FROM n WHERE c.chain = 'access'`

// check validates an access record and returns its record ids without repeats, in the order
// given, since the record index holds each id once per access.
func (e *Access) check() ([]string, error) {
	switch {
	case strings.TrimSpace(e.Subject) == "":
		return nil, failure.Errorf(failure.Invalid, "access record: subject is empty: every access belongs to someone")
	case strings.TrimSpace(e.Action) == "":
		return nil, failure.Errorf(failure.Invalid, "access record by %s: action is empty", e.Subject)
	case e.At.IsZero():
		return nil, failure.Errorf(failure.Invalid, "access record %s by %s: at is not set", e.Action, e.Subject)
	case e.Outcome != Allowed && e.Outcome != Denied && e.Outcome != Failed:
		return nil, failure.Errorf(failure.Invalid, "access record %s by %s: outcome %q: want allowed, denied or failed", e.Action, e.Subject, e.Outcome)
	case e.BreakGlass && strings.TrimSpace(e.Purpose) == "":
		return nil, failure.Errorf(failure.Invalid, "access record %s by %s: breaking the glass needs a reason in purpose", e.Action, e.Subject)
	}
	for _, r := range e.Roles {
		if r == "" || strings.Contains(r, ",") {
			return nil, failure.Errorf(failure.Invalid, "access record %s by %s: role %q: want a non-empty name without commas", e.Action, e.Subject, r)
		}
	}
	records := make([]string, 0, len(e.Records))
	for _, r := range e.Records {
		if r == "" {
			return nil, failure.Errorf(failure.Invalid, "access record %s by %s: a record id is empty", e.Action, e.Subject)
		}
		if !slices.Contains(records, r) {
			records = append(records, r)
		}
	}
	return records, nil
}

// Filter selects access records; zero fields select everything.
type Filter struct {
	Subject        string    // who acted
	Record         string    // a record id the access touched, such as a decision id
	Since          time.Time // at or after
	Until          time.Time // before
	BreakGlassOnly bool      // only accesses that broke the glass
	Limit          int       // at most this many (default DefaultLimit, at most MaxLimit)
}

// Limits on how many records one search returns.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Search returns the access records the filter selects, newest first.
func (l *Log) Search(ctx context.Context, f Filter) ([]Access, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return nil, failure.Errorf(failure.Invalid, "limit %d: want 1 to %d", f.Limit, MaxLimit)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, failure.Errorf(failure.Invalid, "until %s is not after since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	var where []string
	var args []any
	if f.Subject != "" {
		where = append(where, "subject = ?")
		args = append(args, f.Subject)
	}
	if f.Record != "" {
		where = append(where, "seq IN (SELECT seq FROM access_audit_records WHERE record_id = ?)")
		args = append(args, f.Record)
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, database.NewTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, database.NewTime(f.Until))
	}
	if f.BreakGlassOnly {
		// Each dialect's spelling of the partial index's predicate, so the planner uses it.
		if l.DB.Dialect == database.Postgres {
			where = append(where, "break_glass")
		} else {
			where = append(where, "break_glass = 1")
		}
	}
	q := `SELECT seq, at, subject, roles, team, action, records, purpose, break_glass, outcome, client, request_id, hash FROM access_audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	args = append(args, limit)

	rows, err := l.DB.QueryContext(ctx, l.DB.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: unable to search the access audit: %w", err)
	}
	defer rows.Close()
	out := []Access{}
	for rows.Next() {
		var (
			a              Access
			at             database.Time
			roles, records string
			outcome        string
		)
		if err := rows.Scan(&a.Seq, &at, &a.Subject, &roles, &a.Team, &a.Action, &records, &a.Purpose, &a.BreakGlass,
			&outcome, &a.Client, &a.RequestID, &a.Hash); err != nil {
			return nil, fmt.Errorf("audit: unable to read the access audit: %w", err)
		}
		a.At, a.Outcome = at.Time, Outcome(outcome)
		a.Roles = splitRoles(roles)
		if err := json.Unmarshal([]byte(records), &a.Records); err != nil {
			return nil, fmt.Errorf("audit: unable to read the records of access %d: %w", a.Seq, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: unable to read the access audit: %w", err)
	}
	return out, nil
}

func splitRoles(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
