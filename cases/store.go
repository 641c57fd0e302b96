package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// FollowUpDays is when a discharge case's outcome is read: where the person is 91 days after
// discharge, as the discharge guidance reports it.
const FollowUpDays = 91

// Store keeps cases and their step history on SQLite or PostgreSQL.
type Store struct {
	DB *database.DB
	// DischargeForms are the forms whose cases record, as their outcome, whether the person is
	// still at home FollowUpDays after discharge; nil means the form "discharge".
	DischargeForms []string
	// Publish, when set, runs in the transaction of every recorded step, with the case as it now
	// is and the step's history entry, so that the step's event commits with the step itself.
	Publish func(ctx context.Context, tx *database.Tx, c *Case, step StepRecord) error
}

func (s *Store) discharge(form string) bool {
	if s == nil || s.DischargeForms == nil {
		return form == "discharge"
	}
	for _, f := range s.DischargeForms {
		if f == form {
			return true
		}
	}
	return false
}

// Then runs hooks one after another in the transaction that stores a decision, skipping nil ones;
// it lets the server and the command line add the case to whatever else they write there.
func Then(hooks ...triage.Booking) triage.Booking {
	return func(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
		for _, h := range hooks {
			if h == nil {
				continue
			}
			if err := h(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	}
}

// OpenInTx opens the case for a decision being stored on tx, or, when the same subject already has
// a case on the same form that is neither closed nor declined, links the decision to that case as
// its follow-up assessment. Use it as (part of) triage.Options.InTx.
func OpenInTx(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
	scores, err := triage.EncodeScores(d.Scores)
	if err != nil {
		return fmt.Errorf("cases: unable to encode the scores of %s: %w", d.ID, err)
	}
	actor := d.SubmittedBy
	if actor == "" {
		actor = "system:carepath"
	}
	if tx.Gathering() && d.SubjectRef != "" {
		return openGathered(ctx, tx, d, actor, string(scores))
	}
	if d.SubjectRef != "" {
		var open struct {
			ID     string `db:"id"`
			Status string `db:"status"`
		}
		err := tx.QueryRowPrepared(ctx, `SELECT id, status FROM cases WHERE form_id = ? AND subject_ref = ?
			AND status NOT IN ('closed', 'declined') AND id <> ? ORDER BY seq DESC LIMIT 1`, d.Form, d.SubjectRef, d.ID).Scan(&open.ID, &open.Status)
		switch {
		case err == nil:
			if _, err := tx.ExecPrepared(ctx, `UPDATE cases SET followup_id = ?, end_scores = ?, updated_at = ?, revision = revision + 1 WHERE id = ?`,
				d.ID, string(scores), database.NewTime(d.Decided), open.ID); err != nil {
				return fmt.Errorf("cases: unable to link follow-up %s to case %s: %w", d.ID, open.ID, err)
			}
			detail, _ := json.Marshal(map[string]string{"decision_id": d.ID})
			return appendStep(ctx, tx, open.ID, FollowUp, Status(open.Status), Status(open.Status), actor, d.Decided, detail)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("cases: unable to look for an open case of %s: %w", d.ID, err)
		}
	}
	err = tx.Defer(ctx, `INSERT INTO cases `+openColumns+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		newCaseArgs(d, string(scores))...)
	if err != nil {
		return fmt.Errorf("cases: unable to open the case of %s: %w", d.ID, err)
	}
	return appendStep(ctx, tx, d.ID, Refer, "", Referred, actor, d.Decided, referDetail(d))
}

const openColumns = `(id, form_id, subject_ref, team_id, pathway, priority, ruleset_id,
		ruleset_version, rule_id, service_id, appointment_id, practitioner_id, manual_allocation, status, respond_by, opened_at,
		updated_at, start_scores)`

// newCaseArgs is the row of the case a decision opens, in openColumns' order.
func newCaseArgs(d *triage.Decision, scores string) []any {
	var respondBy any
	if w := d.Outcome.RespondWithin; w != "" {
		if dur, err := rules.ParseDuration(w); err == nil {
			respondBy = database.NewTime(d.Decided.Add(dur))
		}
	}
	var service, appointment, practitioner string
	if len(d.Services) > 0 {
		service = d.Services[0].ServiceID
	}
	if a := d.Assignment; a != nil {
		service, appointment, practitioner = a.ServiceID, a.Appointment.ID, a.PractitionerID
	}
	return []any{d.ID, d.Form, d.SubjectRef, d.Team, d.Outcome.Pathway, string(d.Outcome.Priority), d.RuleSet.ID, d.RuleSet.Version, d.Rule,
		service, appointment, practitioner, d.ManualAllocation, string(Referred), respondBy, database.NewTime(d.Decided),
		database.NewTime(d.Decided), scores}
}

func referDetail(d *triage.Decision) []byte {
	detail, _ := json.Marshal(map[string]any{"pathway": d.Outcome.Pathway, "manual_allocation": d.ManualAllocation})
	return detail
}

// openGathered is OpenInTx for a transaction that gathers its writes into one statement: the
// open case is found, linked or a new one opened, and the step recorded, all as deferred writes
// that choose between the two branches by whether the lookup found a case.
func openGathered(ctx context.Context, tx *database.Tx, d *triage.Decision, actor, scores string) error {
	at := database.NewTime(d.Decided)
	follow, _ := json.Marshal(map[string]string{"decision_id": d.ID})
	writes := []struct {
		name, query string
		args        []any
	}{
		// The lookup is the UPDATE itself, so the writes after it see whether it found a case.
		{"open_case", `UPDATE cases SET followup_id = ?, end_scores = ?, updated_at = ?, revision = revision + 1
			WHERE id = (SELECT id FROM cases WHERE form_id = ? AND subject_ref = ? AND status NOT IN ('closed', 'declined') AND id <> ?
			ORDER BY seq DESC LIMIT 1) RETURNING id, status`, []any{d.ID, scores, at, d.Form, d.SubjectRef, d.ID}},
		{"", `INSERT INTO case_steps (case_id, step, from_status, to_status, actor, at, detail)
			SELECT id, ?, status, status, ?, ?::timestamptz, ? FROM open_case`, []any{string(FollowUp), actor, at, string(follow)}},
		// Parameters in a SELECT list have no column to take their type from, hence the casts.
		{"", `INSERT INTO cases ` + openColumns + ` SELECT ?, ?, ?, ?, ?, ?, ?, ?::integer, ?, ?, ?, ?, ?::boolean, ?,
			?::timestamptz, ?::timestamptz, ?::timestamptz, ? WHERE NOT EXISTS (SELECT 1 FROM open_case)`, newCaseArgs(d, scores)},
		{"", `INSERT INTO case_steps (case_id, step, from_status, to_status, actor, at, detail)
			SELECT ?, ?, '', ?, ?, ?::timestamptz, ? WHERE NOT EXISTS (SELECT 1 FROM open_case)`,
			[]any{d.ID, string(Refer), string(Referred), actor, at, string(referDetail(d))}},
	}
	for _, w := range writes {
		if err := tx.DeferAs(ctx, w.name, w.query, w.args...); err != nil {
			return fmt.Errorf("cases: unable to open or follow up the case of %s: %w", d.ID, err)
		}
	}
	return nil
}

func appendStep(ctx context.Context, tx *database.Tx, id string, step Step, from, to Status, actor string, at time.Time, detail []byte) error {
	err := tx.Defer(ctx, `INSERT INTO case_steps (case_id, step, from_status, to_status, actor, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, string(step), string(from), string(to), actor, database.NewTime(at), string(detail))
	if err != nil {
		return fmt.Errorf("cases: unable to record step %s of case %s: %w", step, id, err)
	}
	return nil
}

// Backfill opens a case, as referred at its decision time, for every stored decision that has
// none, such as those of a bulk import of historic cases; it returns how many it opened.
func (s *Store) Backfill(ctx context.Context) (int64, error) {
	manual := `CASE WHEN d.unassigned_reason <> '' THEN 1 ELSE 0 END`
	if s.DB.Dialect == database.Postgres {
		manual = `d.unassigned_reason <> ''`
	}
	var n int64
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO cases (id, form_id, subject_ref, team_id, pathway, priority, ruleset_id, ruleset_version,
			rule_id, service_id, appointment_id, practitioner_id, manual_allocation, status, opened_at, updated_at, start_scores)
			SELECT d.id, d.form_id, d.subject_ref, d.team_id, d.pathway, d.priority, d.ruleset_id, d.ruleset_version, d.rule_id, '', '', '',
			`+manual+`, 'referred', d.decided_at, d.decided_at, d.scores
			FROM decisions d WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = d.id) ORDER BY d.seq`)
		if err != nil {
			return fmt.Errorf("cases: unable to open cases for stored decisions: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// caseRow is a cases row as stored.
type caseRow struct {
	Seq            int64          `db:"seq"`
	ID             string         `db:"id"`
	Form           string         `db:"form_id"`
	SubjectRef     string         `db:"subject_ref"`
	Team           string         `db:"team_id"`
	Pathway        string         `db:"pathway"`
	Priority       string         `db:"priority"`
	RuleSet        string         `db:"ruleset_id"`
	RuleSetVersion int            `db:"ruleset_version"`
	Rule           string         `db:"rule_id"`
	Service        string         `db:"service_id"`
	Appointment    string         `db:"appointment_id"`
	Practitioner   string         `db:"practitioner_id"`
	Manual         bool           `db:"manual_allocation"`
	Status         string         `db:"status"`
	RespondBy      *database.Time `db:"respond_by"`
	Opened         database.Time  `db:"opened_at"`
	Updated        database.Time  `db:"updated_at"`
	StartScores    string         `db:"start_scores"`
	FollowUp       string         `db:"followup_id"`
	EndScores      string         `db:"end_scores"`
	AtHome         *bool          `db:"at_home"`
	Revision       int            `db:"revision"`
}

const caseColumns = `seq, id, form_id, subject_ref, team_id, pathway, priority, ruleset_id, ruleset_version, rule_id, service_id,
	appointment_id, practitioner_id, manual_allocation, status, respond_by, opened_at, updated_at, start_scores, followup_id,
	end_scores, at_home, revision`

func (r *caseRow) toCase() (*Case, error) {
	c := &Case{ID: r.ID, Form: r.Form, SubjectRef: r.SubjectRef, Team: r.Team, Pathway: r.Pathway, Priority: r.Priority,
		RuleSet: r.RuleSet, RuleSetVersion: r.RuleSetVersion, Rule: r.Rule, ServiceID: r.Service, AppointmentID: r.Appointment,
		PractitionerID: r.Practitioner, ManualAllocation: r.Manual, Status: Status(r.Status), Opened: r.Opened.Time,
		Updated: r.Updated.Time, FollowUp: r.FollowUp, AtHome: r.AtHome, Revision: r.Revision, NextSteps: NextSteps(Status(r.Status))}
	if c.NextSteps == nil {
		c.NextSteps = []Step{}
	}
	if r.RespondBy != nil {
		t := r.RespondBy.Time
		c.RespondBy = &t
	}
	if err := json.Unmarshal([]byte(r.StartScores), &c.StartScores); err != nil {
		return nil, fmt.Errorf("cases: case %s: stored scores do not parse: %w", r.ID, err)
	}
	if r.EndScores != "" {
		if err := json.Unmarshal([]byte(r.EndScores), &c.EndScores); err != nil {
			return nil, fmt.Errorf("cases: case %s: stored follow-up scores do not parse: %w", r.ID, err)
		}
	}
	return c, nil
}

// Case returns one case with its step history.
func (s *Store) Case(ctx context.Context, id string) (*Case, error) {
	return s.read(ctx, s.DB, id, true)
}

func (s *Store) read(ctx context.Context, q database.Querier, id string, steps bool) (*Case, error) {
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) || len(id) > 200 {
		return nil, failure.Errorf(failure.NotFound, "case %s does not exist", strconv.QuoteToASCII(id))
	}
	var r caseRow
	err := q.GetContext(ctx, &r, s.DB.Rebind(`SELECT `+caseColumns+` FROM cases WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, failure.Errorf(failure.NotFound, "case %s does not exist", id)
	} else if err != nil {
		return nil, fmt.Errorf("cases: unable to read case %s: %w", id, err)
	}
	c, err := r.toCase()
	if err != nil || !steps {
		return c, err
	}
	var rows []struct {
		Seq    int64         `db:"seq"`
		Step   string        `db:"step"`
		From   string        `db:"from_status"`
		To     string        `db:"to_status"`
		Actor  string        `db:"actor"`
		At     database.Time `db:"at"`
		Detail string        `db:"detail"`
	}
	if err := q.SelectContext(ctx, &rows, s.DB.Rebind(`SELECT seq, step, from_status, to_status, actor, at, detail FROM case_steps WHERE case_id = ? ORDER BY seq`), id); err != nil {
		return nil, fmt.Errorf("cases: unable to read the steps of case %s: %w", id, err)
	}
	c.Steps = make([]StepRecord, len(rows))
	for i, r := range rows {
		c.Steps[i] = StepRecord{Seq: r.Seq, Step: Step(r.Step), From: Status(r.From), To: Status(r.To), Actor: r.Actor, At: r.At.Time, Detail: json.RawMessage(r.Detail)}
	}
	return c, nil
}

// Record takes one step on a case in its own transaction and returns the case as it now is.
func (s *Store) Record(ctx context.Context, id string, ch Change) (*Case, error) {
	var out *Case
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		var err error
		out, err = s.RecordTx(ctx, tx, id, ch)
		return err
	})
	return out, err
}

// RecordTx takes one step on a case inside the caller's transaction. A step the case's status does
// not allow is refused as invalid, naming the current status and the one wanted; a concurrent
// change in between is a conflict. Nothing is written when it is refused.
func (s *Store) RecordTx(ctx context.Context, tx *database.Tx, id string, ch Change) (*Case, error) {
	if ch.Actor == "" {
		return nil, fmt.Errorf("cases: a step on case %s needs the subject of who records it", id)
	}
	if ch.At.IsZero() {
		return nil, failure.Errorf(failure.Invalid, "at: is missing; say when the step happened")
	}
	for field, v := range map[string]string{"reason": ch.Reason, "appointment_id": ch.AppointmentID, "source": ch.Source, "external_ref": ch.ExternalRef} {
		if utf8.RuneCountInString(v) > maxText || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return nil, failure.Errorf(failure.Invalid, "%s: at most %d characters of text", field, maxText)
		}
	}
	c, err := s.read(ctx, tx, id, false)
	if err != nil {
		return nil, err
	}
	to, err := transition(id, c.Status, ch.Step)
	if err != nil {
		return nil, err
	}
	if ch.At.Before(c.Opened) {
		return nil, failure.Errorf(failure.Invalid, "at %s: is before case %s was opened (%s)", ch.At.UTC().Format(time.RFC3339), id, c.Opened.UTC().Format(time.RFC3339))
	}
	switch {
	case ch.Step == Decline && strings.TrimSpace(ch.Reason) == "":
		return nil, failure.Errorf(failure.Invalid, "reason: is missing; say why the service declines the referral")
	case ch.AtHome != nil && ch.Step != Outcome:
		return nil, failure.Errorf(failure.Invalid, "at_home: is only recorded with the outcome step")
	case ch.AppointmentID != "" && ch.Step != Book:
		return nil, failure.Errorf(failure.Invalid, "appointment_id: is only recorded with the book step")
	case ch.Step == Outcome && s.discharge(c.Form):
		if ch.AtHome == nil {
			return nil, failure.Errorf(failure.Invalid, "at_home: is missing; a discharge case's outcome says whether the person is still at home %d days after discharge", FollowUpDays)
		}
		if due := c.Opened.AddDate(0, 0, FollowUpDays); ch.At.Before(due) {
			return nil, failure.Errorf(failure.Invalid, "at %s: a discharge case's outcome is where the person is %d days after discharge, on or after %s",
				ch.At.UTC().Format(time.DateOnly), FollowUpDays, due.UTC().Format(time.DateOnly))
		}
	case ch.Step == Outcome && ch.AtHome != nil:
		return nil, failure.Errorf(failure.Invalid, "at_home: is recorded only for discharge cases; case %s is on form %s", id, c.Form)
	}
	set := `status = ?, updated_at = ?, revision = revision + 1`
	args := []any{string(to), database.NewTime(ch.At)}
	if ch.Step == Book && ch.AppointmentID != "" {
		set += `, appointment_id = ?`
		args = append(args, ch.AppointmentID)
	}
	if ch.AtHome != nil {
		set += `, at_home = ?`
		args = append(args, *ch.AtHome)
	}
	args = append(args, id, c.Revision)
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET `+set+` WHERE id = ? AND revision = ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("cases: unable to record step %s of case %s: %w", ch.Step, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("cases: unable to record step %s of case %s: %w", ch.Step, id, err)
	} else if n != 1 {
		return nil, failure.Errorf(failure.Conflict, "case %s changed while step %s was recorded; read it again and retry", id, ch.Step)
	}
	detail, err := json.Marshal(ch)
	if err != nil {
		return nil, fmt.Errorf("cases: unable to encode step %s of case %s: %w", ch.Step, id, err)
	}
	if err := appendStep(ctx, tx, id, ch.Step, c.Status, to, ch.Actor, ch.At, detail); err != nil {
		return nil, err
	}
	out, err := s.read(ctx, tx, id, true)
	if err != nil || s.Publish == nil {
		return out, err
	}
	if len(out.Steps) == 0 {
		return nil, fmt.Errorf("cases: step %s of case %s is missing from its history", ch.Step, id)
	}
	if err := s.Publish(ctx, tx, out, out.Steps[len(out.Steps)-1]); err != nil {
		return nil, err
	}
	return out, nil
}

// Filter selects cases for a worklist.
type Filter struct {
	// Teams limits cases to those filed under one of these teams; Practitioner, when set, also
	// admits cases assigned to that practitioner. Both empty with Everyone false match nothing.
	Teams        []string
	Practitioner string
	Everyone     bool // no limit by team or practitioner (the command line on its own database)
	Status       Status
	Pathway      string
	// Overdue keeps cases whose respond-by time has passed at Now while nobody has seen the person.
	Overdue bool
	Now     time.Time
	// Manual keeps cases that need manual allocation of a service or practitioner.
	Manual bool
	// After is the cursor: the position of the last case of the previous page; Limit bounds a page.
	After int64
	Limit int
}

// MaxPage is the most cases one page holds; DefaultPage is the size when none is asked for.
const (
	MaxPage     = 500
	DefaultPage = 50
)

// Page is one page of a worklist, with the cursor of the next page ("" at the end).
type Page struct {
	Cases []*Case `json:"cases"`
	Next  string  `json:"next,omitempty"`
}

// ParseCursor reads a cursor given by an earlier page.
func ParseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, failure.Errorf(failure.Invalid, "cursor %q: give the next value of an earlier page", s)
	}
	return n, nil
}

// List returns one page of the cases f selects, oldest first.
func (s *Store) List(ctx context.Context, f Filter) (*Page, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultPage
	}
	if limit < 1 || limit > MaxPage {
		return nil, failure.Errorf(failure.Invalid, "size %d: want 1 to %d", limit, MaxPage)
	}
	var where []string
	var args []any
	if !f.Everyone {
		var who []string
		if len(f.Teams) > 0 {
			who = append(who, `team_id IN (?`+strings.Repeat(", ?", len(f.Teams)-1)+`)`)
			for _, t := range f.Teams {
				args = append(args, t)
			}
		}
		if f.Practitioner != "" {
			who = append(who, `practitioner_id = ?`)
			args = append(args, f.Practitioner)
		}
		if len(who) == 0 {
			return &Page{Cases: []*Case{}}, nil
		}
		where = append(where, "("+strings.Join(who, " OR ")+")")
	}
	if f.Status != "" {
		where, args = append(where, `status = ?`), append(args, string(f.Status))
	}
	if f.Pathway != "" {
		where, args = append(where, `pathway = ?`), append(args, f.Pathway)
	}
	if f.Overdue {
		where = append(where, `status IN ('referred', 'accepted', 'visit_missed') AND respond_by IS NOT NULL AND respond_by <= ?`)
		args = append(args, database.NewTime(f.Now))
	}
	if f.Manual {
		where, args = append(where, `manual_allocation = ?`), append(args, true)
	}
	where, args = append(where, `seq > ?`), append(args, f.After)
	var rows []caseRow
	q := `SELECT ` + caseColumns + ` FROM cases WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq LIMIT ` + strconv.Itoa(limit+1)
	if err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("cases: unable to list cases: %w", err)
	}
	p := &Page{Cases: make([]*Case, 0, min(len(rows), limit))}
	for i := range rows {
		if i == limit {
			p.Next = strconv.FormatInt(rows[i-1].Seq, 10)
			break
		}
		c, err := rows[i].toCase()
		if err != nil {
			return nil, err
		}
		p.Cases = append(p.Cases, c)
	}
	return p, nil
}

// OutcomeFilter selects the cases an outcome report reads; zero fields select everything.
type OutcomeFilter struct {
	RuleSet, Form, Team, Pathway string
	Since, Until                 time.Time // cases opened at or after Since and before Until
}

// Grouping columns of the outcome report; the rule-set version groups by rule set and version.
var groupColumns = map[string]string{"pathway": "pathway", "rule": "rule_id", "team": "team_id", "ruleset-version": "ruleset_id"}

// OutcomeCount is how many cases of one group, form, status and at-home answer there are.
type OutcomeCount struct {
	Key     string       `db:"k"`
	Version int          `db:"v"`
	Form    string       `db:"form_id"`
	Status  string       `db:"status"`
	AtHome  sql.NullBool `db:"at_home"`
	N       int64        `db:"n"`
}

func (f OutcomeFilter) where() (string, []any) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"ruleset_id", f.RuleSet}, {"form_id", f.Form}, {"team_id", f.Team}, {"pathway", f.Pathway}} {
		if c.v != "" {
			where, args = append(where, c.col+` = ?`), append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, `opened_at >= ?`), append(args, database.NewTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, `opened_at < ?`), append(args, database.NewTime(f.Until))
	}
	if len(where) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(where, " AND "), args
}

func groupColumn(by string) (key, version string, err error) {
	col, ok := groupColumns[by]
	if !ok {
		return "", "", fmt.Errorf("cases: unknown grouping %q", by)
	}
	version = "0"
	if by == "ruleset-version" {
		version = "ruleset_version"
	}
	return col, version, nil
}

// OutcomeCounts counts the cases f selects by group (by: pathway, rule, ruleset-version, team),
// form, status and at-home answer, in the database.
func (s *Store) OutcomeCounts(ctx context.Context, f OutcomeFilter, by string) ([]OutcomeCount, error) {
	key, version, err := groupColumn(by)
	if err != nil {
		return nil, err
	}
	where, args := f.where()
	var out []OutcomeCount
	q := `SELECT ` + key + ` AS k, ` + version + ` AS v, form_id, status, at_home, COUNT(*) AS n FROM cases` + where +
		` GROUP BY k, v, form_id, status, at_home`
	if err := s.DB.SelectContext(ctx, &out, s.DB.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("cases: unable to count cases for outcomes: %w", err)
	}
	return out, nil
}

// OutcomePairs streams, in the order the cases were opened, each selected case with a follow-up
// assessment: its group, id, form and first and last scores (JSON objects as stored). The byte
// slices are valid only during the call.
func (s *Store) OutcomePairs(ctx context.Context, f OutcomeFilter, by string, fn func(key []byte, version int, id, form, start, end []byte) error) error {
	key, version, err := groupColumn(by)
	if err != nil {
		return err
	}
	where, args := f.where()
	if where == "" {
		where = ` WHERE followup_id <> ''`
	} else {
		where += ` AND followup_id <> ''`
	}
	rows, err := s.DB.QueryContext(ctx, s.DB.Rebind(`SELECT `+key+`, `+version+`, id, form_id, start_scores, end_scores FROM cases`+where+` ORDER BY seq`), args...)
	if err != nil {
		return fmt.Errorf("cases: unable to read cases for outcomes: %w", err)
	}
	defer rows.Close()
	var v int
	var k, id, form, start, end sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&k, &v, &id, &form, &start, &end); err != nil {
			return fmt.Errorf("cases: unable to read cases for outcomes: %w", err)
		}
		if err := fn(k, v, id, form, start, end); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cases: unable to read cases for outcomes: %w", err)
	}
	return nil
}
