package routing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Names of the change marker's counters (table routing_marker).
const (
	markerRoster = "roster"
	markerVisits = "visits"
)

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return database.NewTime(t)
}

// bumpMarker raises one counter of the change marker and returns its new value. On PostgreSQL the
// row stays locked until commit, so values are committed in the order they are handed out and a
// reader that sees value V has every change up to V.
func bumpMarker(ctx context.Context, ex database.Querier, name string) error {
	_, err := bumpMarkerValue(ctx, ex, name)
	return err
}

func bumpMarkerValue(ctx context.Context, ex database.Querier, name string) (int64, error) {
	var v int64
	const bump = `UPDATE routing_marker SET counter = counter + 1 WHERE name = ? RETURNING counter`
	var err error
	if tx, ok := ex.(*database.Tx); ok {
		err = tx.QueryRowPrepared(ctx, bump, name).Scan(&v)
	} else {
		err = ex.GetContext(ctx, &v, ex.Rebind(bump), name)
	}
	if err != nil {
		return 0, fmt.Errorf("routing: unable to mark a change of %s: %w", name, err)
	}
	return v, nil
}

// lockRows takes the route rows of practitioners in id order (so two transactions never wait on
// each other in a cycle), creating them when missing.
func lockRows(ctx context.Context, ex database.Querier, ids []string) error {
	q := ex.Rebind(`INSERT INTO route_changes (practitioner_id, seq) VALUES (?, 0)
		ON CONFLICT (practitioner_id) DO UPDATE SET seq = route_changes.seq`)
	for _, id := range ids {
		if _, err := ex.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("routing: unable to lock the route of %s: %w", id, err)
		}
	}
	return nil
}

// touch records that the visits of practitioners changed: their route rows are locked (in id
// order) and stamped with a new marker value, which is how caches learn what to re-read.
func touch(ctx context.Context, ex database.Querier, practitionerIDs ...string) error {
	ids := append([]string(nil), practitionerIDs...)
	sort.Strings(ids)
	ids = compactStrings(ids)
	if err := lockRows(ctx, ex, ids); err != nil {
		return err
	}
	next, args, err := nextRouteSeq(ctx, ex)
	if err != nil {
		return err
	}
	q := ex.Rebind(`UPDATE route_changes SET seq = ` + next + ` WHERE practitioner_id = ?`)
	for _, id := range ids {
		if _, err := ex.ExecContext(ctx, q, append(args, id)...); err != nil {
			return fmt.Errorf("routing: unable to mark the route of %s changed: %w", id, err)
		}
	}
	return nil
}

// nextRouteSeq is the SQL expression, and its arguments, of a new route version: on PostgreSQL
// the sequence's next value, which no transaction waits for; on SQLite, whose one writer at a
// time already orders everything, the visits counter raised in ex.
func nextRouteSeq(ctx context.Context, ex database.Querier) (string, []any, error) {
	if dialectOf(ex) == database.Postgres {
		return "nextval('route_seq')", nil, nil
	}
	seq, err := bumpMarkerValue(ctx, ex, markerVisits)
	if err != nil {
		return "", nil, err
	}
	return "?", []any{seq}, nil
}

func dialectOf(ex database.Querier) database.Dialect {
	switch q := ex.(type) {
	case *database.Tx:
		return q.Dialect
	case *database.DB:
		return q.Dialect
	}
	return database.SQLite
}

// ClaimRoute is how a booking planned on a cached route takes that route: in one statement it
// checks that the practitioner's route is still at version seen (0 for a route never changed),
// stamps a new version and holds the row until tx ends. ok is false when the route changed since
// (the caller re-reads it and plans again); claimed is the new version.
func (s *SQLStore) ClaimRoute(ctx context.Context, tx *database.Tx, practitionerID string, seen int64) (claimed int64, ok bool, err error) {
	next, args, err := nextRouteSeq(ctx, tx)
	if err != nil {
		return 0, false, err
	}
	args = append([]any{practitionerID}, args...)
	err = tx.QueryRowPrepared(ctx, `INSERT INTO route_changes (practitioner_id, seq) VALUES (?, `+next+`)
		ON CONFLICT (practitioner_id) DO UPDATE SET seq = excluded.seq WHERE route_changes.seq = ? RETURNING seq`,
		append(args, seen)...).Scan(&claimed)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, fmt.Errorf("routing: unable to claim the route of %s: %w", practitionerID, err)
	}
	return claimed, true, nil
}

// RouteSeq is the version of a practitioner's route (0 when it never changed).
func (s *SQLStore) RouteSeq(ctx context.Context, ex database.Querier, practitionerID string) (int64, error) {
	var seq int64
	err := ex.GetContext(ctx, &seq, ex.Rebind(`SELECT seq FROM route_changes WHERE practitioner_id = ?`), practitionerID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("routing: unable to read the route version of %s: %w", practitionerID, err)
	}
	return seq, nil
}

// RouteSeqs is the version of every route that ever changed, by practitioner.
func (s *SQLStore) RouteSeqs(ctx context.Context, ex database.Querier) (map[string]int64, error) {
	return s.changed(ctx, ex, -1)
}

// ChangedAfter is the version of every route changed after version seq, by practitioner.
func (s *SQLStore) ChangedAfter(ctx context.Context, ex database.Querier, seq int64) (map[string]int64, error) {
	return s.changed(ctx, ex, seq)
}

func (s *SQLStore) changed(ctx context.Context, ex database.Querier, after int64) (map[string]int64, error) {
	rows, err := ex.QueryContext(ctx, ex.Rebind(`SELECT practitioner_id, seq FROM route_changes WHERE seq > ?`), after)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to list changed routes: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("routing: unable to list changed routes: %w", err)
		}
		out[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("routing: unable to list changed routes: %w", err)
	}
	return out, nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if v != "" && (i == 0 || v != s[i-1]) {
			out = append(out, v)
		}
	}
	return out
}

// LockRoute serialises changes to one practitioner's visits: it holds the practitioner's route
// row (FOR UPDATE on PostgreSQL; SQLite's write transaction already excludes every other writer)
// until tx ends, so the caller can read the route and insert into it without a concurrent booking
// slipping in between.
func (s *SQLStore) LockRoute(ctx context.Context, tx *database.Tx, practitionerID string) error {
	return lockRows(ctx, tx, []string{practitionerID})
}

// Marker returns the change marker's counters: the roster's and the visits' (the last route
// version on SQLite; PostgreSQL takes route versions from its sequence and leaves it at 0).
func (s *SQLStore) Marker(ctx context.Context, ex database.Querier) (roster, visits int64, err error) {
	var rows []struct {
		Name    string `db:"name"`
		Counter int64  `db:"counter"`
	}
	if err := ex.SelectContext(ctx, &rows, `SELECT name, counter FROM routing_marker`); err != nil {
		return 0, 0, fmt.Errorf("routing: unable to read the change marker: %w", err)
	}
	for _, r := range rows {
		switch r.Name {
		case markerRoster:
			roster = r.Counter
		case markerVisits:
			visits = r.Counter
		}
	}
	return roster, visits, nil
}

// PractitionersOn returns every stored practitioner, on ex, sorted by id.
func (s *SQLStore) PractitionersOn(ctx context.Context, ex database.Querier) ([]Practitioner, error) {
	if ex == nil || ex == database.Querier(s.DB) {
		return s.Practitioners(ctx)
	}
	var rows []struct {
		ID         string `db:"id"`
		Definition string `db:"definition"`
	}
	if err := ex.SelectContext(ctx, &rows, `SELECT id, definition FROM practitioners ORDER BY id`); err != nil {
		return nil, fmt.Errorf("routing: unable to list practitioners: %w", err)
	}
	return decodePractitioners(rows)
}

func decodePractitioners(rows []struct {
	ID         string `db:"id"`
	Definition string `db:"definition"`
}) ([]Practitioner, error) {
	out := make([]Practitioner, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal([]byte(r.Definition), &out[i]); err != nil {
			return nil, fmt.Errorf("routing: stored practitioner %q does not decode: %w", r.ID, err)
		}
	}
	return out, nil
}

// BookedOf returns one practitioner's booked visits starting in [from, to), by start then id.
func (s *SQLStore) BookedOf(ctx context.Context, ex database.Querier, practitionerID string, from, to time.Time) ([]StoredVisit, error) {
	return s.visits(ctx, ex, `WHERE practitioner_id = ? AND status = 'booked' AND start_at >= ? AND start_at < ? ORDER BY start_at, id`,
		practitionerID, database.NewTime(from), database.NewTime(to))
}

// Reschedule moves booked visits to new starts (keeping their lengths) and records each move with
// the decision that caused it, in the caller's transaction. Moves are applied latest first, so a
// visit moving later never meets the one after it on the unique slot index mid-way.
func (s *SQLStore) Reschedule(ctx context.Context, ex database.Querier, decisionID string, moved []Shifted, now time.Time) error {
	if len(moved) == 0 {
		return nil
	}
	ordered := append([]Shifted(nil), moved...)
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].From.After(ordered[j].From) })
	var practitioners []string
	for _, m := range ordered {
		v, err := s.visitOn(ctx, ex, m.VisitID)
		if err != nil {
			return err
		}
		if v.Status != StatusBooked || !v.Start.Equal(database.NewTime(m.From).Time) {
			return failure.Errorf(failure.Conflict, "routing: appointment %s changed while being moved: %w", m.VisitID, ErrSlotTaken)
		}
		end := m.To.Add(v.End.Sub(v.Start))
		_, err = ex.ExecContext(ctx, ex.Rebind(`UPDATE appointments SET start_at = ?, end_at = ?, updated_at = ? WHERE id = ?`),
			database.NewTime(m.To), database.NewTime(end), database.NewTime(now), m.VisitID)
		if database.IsUniqueViolation(err) {
			return failure.Errorf(failure.Conflict, "routing: unable to move appointment %s: %w", m.VisitID, ErrSlotTaken)
		} else if err != nil {
			return fmt.Errorf("routing: unable to move appointment %s: %w", m.VisitID, err)
		}
		if _, err := ex.ExecContext(ctx, ex.Rebind(`INSERT INTO visit_moves (visit_id, decision_id, from_start, to_start, moved_at) VALUES (?, ?, ?, ?, ?)`),
			m.VisitID, decisionID, database.NewTime(m.From), database.NewTime(m.To), database.NewTime(now)); err != nil {
			return fmt.Errorf("routing: unable to record the move of appointment %s: %w", m.VisitID, err)
		}
		practitioners = append(practitioners, v.PractitionerID)
	}
	return touch(ctx, ex, practitioners...)
}

// VisitMove is one recorded move of a visit, made to fit another decision's urgent visit.
type VisitMove struct {
	VisitID    string    `json:"visit_id" db:"visit_id"`
	DecisionID string    `json:"decision_id" db:"decision_id"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	MovedAt    time.Time `json:"moved_at"`
}

// MovesOf lists the moves a decision caused, by visit id.
func (s *SQLStore) MovesOf(ctx context.Context, ex database.Querier, decisionID string) ([]VisitMove, error) {
	if ex == nil {
		ex = s.DB
	}
	var rows []struct {
		VisitID    string        `db:"visit_id"`
		DecisionID string        `db:"decision_id"`
		From       database.Time `db:"from_start"`
		To         database.Time `db:"to_start"`
		MovedAt    database.Time `db:"moved_at"`
	}
	if err := ex.SelectContext(ctx, &rows, ex.Rebind(`SELECT visit_id, decision_id, from_start, to_start, moved_at FROM visit_moves
		WHERE decision_id = ? ORDER BY visit_id`), decisionID); err != nil {
		return nil, fmt.Errorf("routing: unable to list moves of decision %s: %w", decisionID, err)
	}
	out := make([]VisitMove, len(rows))
	for i, r := range rows {
		out[i] = VisitMove{VisitID: r.VisitID, DecisionID: r.DecisionID, From: r.From.Time, To: r.To.Time, MovedAt: r.MovedAt.Time}
	}
	return out, nil
}

// Escalation is a case nobody could be booked for before its deadline, not even on call: it
// heads the coordinator's worklist until someone resolves it.
type Escalation struct {
	DecisionID string     `json:"decision_id"`
	Team       string     `json:"team"`
	Pathway    string     `json:"pathway"`
	Priority   string     `json:"priority"`
	Reason     string     `json:"reason"`
	Deadline   time.Time  `json:"deadline"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// Escalate records an escalated case in the caller's transaction (the decision's own).
func (s *SQLStore) Escalate(ctx context.Context, ex database.Querier, e Escalation) error {
	const q = `INSERT INTO escalations (decision_id, team_id, pathway, priority, reason, deadline_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (decision_id) DO UPDATE SET reason = excluded.reason, deadline_at = excluded.deadline_at,
		created_at = excluded.created_at, resolved_at = NULL`
	args := []any{e.DecisionID, e.Team, e.Pathway, e.Priority, e.Reason, database.NewTime(e.Deadline), database.NewTime(e.CreatedAt)}
	var err error
	if tx, ok := ex.(*database.Tx); ok {
		// With a decision, it goes with the decision's own statement.
		err = tx.Defer(ctx, q, args...)
	} else {
		_, err = ex.ExecContext(ctx, ex.Rebind(q), args...)
	}
	if err != nil {
		return fmt.Errorf("routing: unable to escalate decision %s: %w", e.DecisionID, err)
	}
	return nil
}

// Escalations lists a team's unresolved escalations, the most pressing deadline first; an empty
// team lists every team's.
func (s *SQLStore) Escalations(ctx context.Context, team string) ([]Escalation, error) {
	var rows []escalationRow
	q := `SELECT decision_id, team_id, pathway, priority, reason, deadline_at, created_at, resolved_at FROM escalations WHERE resolved_at IS NULL`
	var args []any
	if team != "" {
		q += ` AND team_id = ?`
		args = append(args, team)
	}
	q += ` ORDER BY deadline_at, decision_id`
	if err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("routing: unable to list escalations: %w", err)
	}
	out := make([]Escalation, len(rows))
	for i, r := range rows {
		out[i] = r.escalation()
	}
	return out, nil
}

// ResolveEscalation marks an escalation handled; a second resolution is a Conflict.
func (s *SQLStore) ResolveEscalation(ctx context.Context, decisionID string, now time.Time) error {
	_, err := s.ResolveEscalationTx(ctx, s.DB, decisionID, now)
	return err
}

// MaxResolutionNote bounds the note a coordinator gives on resolving an escalation, in
// characters: a short reason, not a case record.
const MaxResolutionNote = 500

// ResolutionNote returns the note given for resolving an escalation, trimmed, or an invalid
// error naming the field "note" and what is wrong with it.
func ResolutionNote(note string) (string, error) {
	note = strings.TrimSpace(note)
	switch {
	case !utf8.ValidString(note):
		return "", failure.Errorf(failure.Invalid, "note: is not valid UTF-8 text")
	case note == "":
		return "", failure.Errorf(failure.Invalid, "note: is missing; say briefly how the escalation was handled")
	case utf8.RuneCountInString(note) > MaxResolutionNote:
		return "", failure.Errorf(failure.Invalid, "note: at most %d characters; this one has %d", MaxResolutionNote, utf8.RuneCountInString(note))
	case strings.ContainsFunc(note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }):
		return "", failure.Errorf(failure.Invalid, "note: plain text only, without control characters")
	}
	return note, nil
}

// escalationRow is an escalations row as read.
type escalationRow struct {
	DecisionID string         `db:"decision_id"`
	Team       string         `db:"team_id"`
	Pathway    string         `db:"pathway"`
	Priority   string         `db:"priority"`
	Reason     string         `db:"reason"`
	Deadline   database.Time  `db:"deadline_at"`
	CreatedAt  database.Time  `db:"created_at"`
	ResolvedAt *database.Time `db:"resolved_at"`
}

func (r escalationRow) escalation() Escalation {
	e := Escalation{DecisionID: r.DecisionID, Team: r.Team, Pathway: r.Pathway, Priority: r.Priority, Reason: r.Reason,
		Deadline: r.Deadline.Time, CreatedAt: r.CreatedAt.Time}
	if r.ResolvedAt != nil {
		t := r.ResolvedAt.Time
		e.ResolvedAt = &t
	}
	return e
}

// ResolveEscalationTx marks a decision's open escalation handled at now in ex (the caller's
// transaction, so whatever records the resolution commits with it) and returns it resolved. A
// decision never escalated, or whose escalation is already resolved, is a Conflict saying which.
func (s *SQLStore) ResolveEscalationTx(ctx context.Context, ex database.Querier, decisionID string, now time.Time) (Escalation, error) {
	var r escalationRow
	err := ex.GetContext(ctx, &r, ex.Rebind(`SELECT decision_id, team_id, pathway, priority, reason, deadline_at, created_at, resolved_at
		FROM escalations WHERE decision_id = ?`), decisionID)
	if errors.Is(err, sql.ErrNoRows) {
		return Escalation{}, failure.Errorf(failure.Conflict, "decision %s was never escalated, so there is nothing to resolve", decisionID)
	} else if err != nil {
		return Escalation{}, fmt.Errorf("routing: unable to read the escalation of decision %s: %w", decisionID, err)
	}
	if r.ResolvedAt != nil {
		return Escalation{}, failure.Errorf(failure.Conflict, "the escalation of decision %s was already resolved at %s",
			decisionID, r.ResolvedAt.Time.UTC().Format(time.RFC3339))
	}
	open, err := s.CloseEscalation(ctx, ex, decisionID, now)
	if err != nil {
		return Escalation{}, err
	}
	if !open {
		// Resolved by someone else between the read and the update.
		return Escalation{}, failure.Errorf(failure.Conflict, "the escalation of decision %s was resolved by someone else meanwhile", decisionID)
	}
	e := r.escalation()
	at := database.NewTime(now).Time
	e.ResolvedAt = &at
	return e, nil
}

// CloseEscalation marks a decision's escalation handled at now in ex when it is open, reporting
// whether it was; a coordinator's resolution closes it so, in the transaction that records why.
func (s *SQLStore) CloseEscalation(ctx context.Context, ex database.Querier, decisionID string, now time.Time) (bool, error) {
	res, err := ex.ExecContext(ctx, ex.Rebind(`UPDATE escalations SET resolved_at = ? WHERE decision_id = ? AND resolved_at IS NULL`),
		database.NewTime(now), decisionID)
	if err != nil {
		return false, fmt.Errorf("routing: unable to resolve escalation %s: %w", decisionID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("routing: unable to resolve escalation %s: %w", decisionID, err)
	}
	return n == 1, nil
}

// ClearEscalation closes a decision's escalation at now in ex when it is open, as CloseEscalation
// does in one statement, and returns it as closed, so that the reassignment that cleared it can
// record who and why in the same transaction; ok is false when there was no open escalation.
func (s *SQLStore) ClearEscalation(ctx context.Context, ex database.Querier, decisionID string, now time.Time) (e Escalation, ok bool, err error) {
	var r escalationRow
	err = ex.GetContext(ctx, &r, ex.Rebind(`UPDATE escalations SET resolved_at = ? WHERE decision_id = ? AND resolved_at IS NULL
		RETURNING decision_id, team_id, pathway, priority, reason, deadline_at, created_at, resolved_at`), database.NewTime(now), decisionID)
	if errors.Is(err, sql.ErrNoRows) {
		return Escalation{}, false, nil
	} else if err != nil {
		return Escalation{}, false, fmt.Errorf("routing: unable to resolve escalation %s: %w", decisionID, err)
	}
	return r.escalation(), true, nil
}

// OnCall is one entry of the on-call rota: who answers for a service in a span of time.
type OnCall struct {
	ID             string    `json:"id"`
	ServiceID      string    `json:"service_id"`
	PractitionerID string    `json:"practitioner_id"`
	Starts         time.Time `json:"starts"`
	Ends           time.Time `json:"ends"`
	Note           string    `json:"note,omitempty"`
}

// Check names the first problem with an entry.
func (o OnCall) Check() error {
	switch {
	case strings.TrimSpace(o.ID) == "":
		return failure.Errorf(failure.Invalid, "id: missing")
	case strings.TrimSpace(o.ServiceID) == "":
		return failure.Errorf(failure.Invalid, "service_id: missing")
	case strings.TrimSpace(o.PractitionerID) == "":
		return failure.Errorf(failure.Invalid, "practitioner_id: missing")
	case o.Starts.IsZero() || o.Ends.IsZero():
		return failure.Errorf(failure.Invalid, "starts/ends: missing")
	case !o.Ends.After(o.Starts):
		return failure.Errorf(failure.Invalid, "ends: %s is not after starts %s", o.Ends.Format(time.RFC3339), o.Starts.Format(time.RFC3339))
	case o.Ends.Sub(o.Starts) > 7*24*time.Hour:
		return failure.Errorf(failure.Invalid, "ends: an on-call span is at most 7 days, this one is %s", o.Ends.Sub(o.Starts))
	}
	return nil
}

// PutOnCall adds or replaces rota entries in one transaction; the practitioner must exist. The
// roster marker moves, so route caches see the rota change.
func (s *SQLStore) PutOnCall(ctx context.Context, entries []OnCall, now time.Time) error {
	return s.DB.InTx(ctx, func(tx *database.Tx) error {
		for _, o := range entries {
			if err := o.Check(); err != nil {
				return failure.Errorf(failure.CodeOf(err), "on-call entry %q: %w", o.ID, err)
			}
			if _, err := s.practitionerOn(ctx, tx, o.PractitionerID); err != nil {
				return failure.Errorf(failure.Invalid, "on-call entry %q: practitioner_id: %w", o.ID, err)
			}
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO oncall (id, service_id, practitioner_id, starts_at, ends_at, note, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET service_id = excluded.service_id,
				practitioner_id = excluded.practitioner_id, starts_at = excluded.starts_at, ends_at = excluded.ends_at, note = excluded.note`),
				o.ID, o.ServiceID, o.PractitionerID, database.NewTime(o.Starts), database.NewTime(o.Ends), o.Note, database.NewTime(now))
			if err != nil {
				return fmt.Errorf("routing: unable to store on-call entry %s: %w", o.ID, err)
			}
		}
		return bumpMarker(ctx, tx, markerRoster)
	})
}

// OnCallBetween lists the rota entries overlapping [from, to), of the given services (all when
// none), by start then id.
func (s *SQLStore) OnCallBetween(ctx context.Context, ex database.Querier, from, to time.Time, serviceIDs ...string) ([]OnCall, error) {
	if ex == nil {
		ex = s.DB
	}
	const q = `SELECT id, service_id, practitioner_id, starts_at, ends_at, note FROM oncall
		WHERE starts_at < ? AND ends_at > ? ORDER BY starts_at, id`
	var rows *sql.Rows
	var err error
	// Every escalation asks this, so it runs prepared where the caller's querier can.
	if pq, ok := ex.(database.PreparedQuerier); ok {
		rows, err = pq.QueryPrepared(ctx, q, database.NewTime(to), database.NewTime(from))
	} else {
		rows, err = ex.QueryContext(ctx, ex.Rebind(q), database.NewTime(to), database.NewTime(from))
	}
	if err != nil {
		return nil, fmt.Errorf("routing: unable to list the on-call rota: %w", err)
	}
	defer rows.Close()
	out := []OnCall{}
	for rows.Next() {
		var e OnCall
		var starts, ends database.Time
		if err := rows.Scan(&e.ID, &e.ServiceID, &e.PractitionerID, &starts, &ends, &e.Note); err != nil {
			return nil, fmt.Errorf("routing: unable to read the on-call rota: %w", err)
		}
		if len(serviceIDs) > 0 && !has(serviceIDs, e.ServiceID) {
			continue
		}
		e.Starts, e.Ends = starts.Time, ends.Time
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("routing: unable to read the on-call rota: %w", err)
	}
	return out, nil
}
