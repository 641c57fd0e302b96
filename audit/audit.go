// Package audit records who read or changed whose care record, and keeps that record and the
// rule-governance trail tamper-evident: the tables refuse UPDATE and DELETE in the database
// itself, and every row is linked into a hash chain, a SHA-256 over its own fields and the
// previous link's hash, so Verify can name the first row that was edited, removed or written
// around the chain.
//
// The two chains are linked differently because they are written differently. Rule-set rows are
// few, and each is chained in its own transaction. Access rows are written by nearly every
// request, so a request writes its row with one statement and no lock, and the Sealer links
// committed rows into the chain a moment later, in batches: requests never queue behind one
// another for the chain head, on one server or across replicas. Until it is sealed, a row is
// protected by the append-only triggers alone.
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
	"github.com/carepath/carepath/internal/jsonappend"
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
	// Seq is the record's number, set by the database when it is stored; numbers rise with time
	// but may skip, where a transaction rolled back.
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
	// Hash is the record's link in the hash chain, set when the Sealer has linked it.
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
// change it records commit or roll back together. It takes no lock and writes one row, with one
// statement: the row gets its seq from the database, and its place in the hash chain and in the
// record and subject indexes from the Sealer once it has committed, so audited requests never
// wait on each other and pay for no index but the row's own key.
func AppendTx(ctx context.Context, tx *database.Tx, e Access) error {
	records, err := e.check()
	if err != nil {
		return err
	}
	// Written by hand, as json.Marshal writes it, because nearly every request stores one.
	var buf [256]byte
	recordsJSON := string(jsonappend.Strings(buf[:0], records))
	if err := tx.Defer(ctx, appendAccess, database.NewTime(e.At), e.Subject, strings.Join(e.Roles, ","), e.Team, e.Action,
		recordsJSON, e.Purpose, e.BreakGlass, string(e.Outcome), e.Client, e.RequestID); err != nil {
		return fmt.Errorf("audit: unable to record %s by %s: %w", e.Action, e.Subject, err)
	}
	return nil
}

const appendAccess = `INSERT INTO access_audit (at, subject, roles, team, action, records, purpose, break_glass, outcome, client, request_id, prev_hash, hash)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '')`

// accessFields is the row's fields in the order its hash covers them.
func accessFields(at database.Time, subject, roles, team, action, records, purpose string, breakGlass bool, outcome, client, requestID string) []string {
	return []string{at.String(), subject, roles, team, action, records, purpose, boolText(breakGlass), outcome, client, requestID}
}

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
	for i, r := range e.Records {
		if r == "" {
			return nil, failure.Errorf(failure.Invalid, "access record %s by %s: a record id is empty", e.Action, e.Subject)
		}
		if slices.Contains(e.Records[:i], r) {
			return dedupe(e.Records), nil
		}
	}
	if e.Records == nil {
		return []string{}, nil
	}
	// Without repeats the caller's slice is the answer; it is only read.
	return e.Records, nil
}

// dedupe returns records without repeats, in the order given.
func dedupe(records []string) []string {
	out := make([]string, 0, len(records))
	for _, r := range records {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
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
	// Sealed rows are found through the indexes the sealer files them in; rows above the seal
	// mark, a second's worth, are read directly.
	const tail = "t.seq > (SELECT sealed_to FROM audit_chains WHERE chain = 'access')"
	if f.Subject != "" {
		where = append(where, "a.seq IN (SELECT seq FROM access_audit_subjects WHERE subject = ? UNION ALL SELECT t.seq FROM access_audit t WHERE "+
			tail+" AND t.subject = ?)")
		args = append(args, f.Subject, f.Subject)
	}
	if f.Record != "" {
		contains := "EXISTS (SELECT 1 FROM json_each(t.records) WHERE value = ?)"
		if l.DB.Dialect == database.Postgres {
			contains = "t.records::jsonb @> jsonb_build_array(?::text)"
		}
		where = append(where, "a.seq IN (SELECT seq FROM access_audit_records WHERE record_id = ? UNION ALL SELECT t.seq FROM access_audit t WHERE "+
			tail+" AND "+contains+")")
		args = append(args, f.Record, f.Record)
	}
	if !f.Since.IsZero() {
		where = append(where, "a.at >= ?")
		args = append(args, database.NewTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "a.at < ?")
		args = append(args, database.NewTime(f.Until))
	}
	if f.BreakGlassOnly {
		// Each dialect's spelling of the partial index's predicate, so the planner uses it.
		if l.DB.Dialect == database.Postgres {
			where = append(where, "a.break_glass")
		} else {
			where = append(where, "a.break_glass = 1")
		}
	}
	// Hash is the row's link in the chain, empty until the sealer has linked it.
	q := `SELECT a.seq, a.at, a.subject, a.roles, a.team, a.action, a.records, a.purpose, a.break_glass, a.outcome, a.client, a.request_id,
		COALESCE(l.hash, '') FROM access_audit a LEFT JOIN access_audit_links l ON l.row_seq = a.seq`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY a.seq DESC LIMIT ?"
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
