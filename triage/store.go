package triage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
)

// Store keeps published form versions and decision records.
type Store interface {
	PutForm(ctx context.Context, f *Form, now time.Time) (created bool, err error)
	Form(ctx context.Context, id string, version int) (*Form, error)
	Forms(ctx context.Context) ([]*Form, error)
	// SaveDecision stores d; book, when not nil, runs first in the same transaction (it may fill
	// d's services and assignment), so a booking commits with its decision or not at all.
	SaveDecision(ctx context.Context, d *Decision, key Idempotency, book Booking) (stored *Decision, created bool, err error)
	Decision(ctx context.Context, id string) (*Decision, error)
	// UpdatePlacement rewrites a stored decision's services and assignment, on the caller's
	// transaction, when a case is reassigned.
	UpdatePlacement(ctx context.Context, ex database.Querier, d *Decision) error
}

// Booking matches and books inside the transaction that stores a decision.
type Booking func(ctx context.Context, tx *database.Tx, d *Decision) error

// errReplayed rolls back a booking made for a submission whose idempotency key was already used.
var errReplayed = errors.New("triage: idempotency key already used")

// Idempotency identifies a submission that a client may retry: the key it chose and a hash of the
// request body, so that the same key with another body is refused rather than answered wrongly.
type Idempotency struct {
	Key           string
	RequestSHA256 string
}

// SQLStore is the Store on SQLite or PostgreSQL; parsed forms are cached since versions never change.
type SQLStore struct {
	DB *database.DB
	// Generation, when set, lets the store also remember which version of each form is the
	// latest, and the list of versions, until reference data changes (see package refdata).
	Generation rules.Generation

	mu    sync.Mutex
	forms map[formKey]*Form
	// gen is the generation latest and keys were filled at.
	gen    uint64
	latest map[string]latestForm
	keys   []formKey
}

// latestForm is the latest version of a form id.
type latestForm struct {
	form *Form
}

type formKey struct {
	id      string
	version int
}

// NewSQLStore returns a Store over db.
func NewSQLStore(db *database.DB) *SQLStore {
	return &SQLStore{DB: db, forms: map[formKey]*Form{}}
}

// PutForm publishes a form version. The same content again is a no-op; other content under a
// published version is a Conflict, because published forms never change.
func (s *SQLStore) PutForm(ctx context.Context, f *Form, now time.Time) (bool, error) {
	def, err := json.Marshal(f)
	if err != nil {
		return false, fmt.Errorf("triage: unable to encode form %s: %w", f.ID, err)
	}
	sum := sha256.Sum256(def)
	hash := hex.EncodeToString(sum[:])
	created := false
	err = s.DB.InTx(ctx, func(tx *database.Tx) error {
		var stored string
		err := tx.GetContext(ctx, &stored, tx.Rebind(`SELECT sha256 FROM forms WHERE id = ? AND version = ?`), f.ID, f.Version)
		switch {
		case err == nil && stored == hash:
			return nil
		case err == nil:
			return failure.Errorf(failure.Conflict, "form %s version %d is already published with other content; publish a new version", f.ID, f.Version)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("triage: unable to read form %s v%d: %w", f.ID, f.Version, err)
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO forms (id, version, definition, sha256, created_at) VALUES (?, ?, ?, ?, ?)`),
			f.ID, f.Version, string(def), hash, database.NewTime(now))
		if err != nil {
			return fmt.Errorf("triage: unable to store form %s v%d: %w", f.ID, f.Version, err)
		}
		created = true
		return nil
	})
	return created, err
}

// Form returns a published form version; version 0 means the latest.
func (s *SQLStore) Form(ctx context.Context, id string, version int) (*Form, error) {
	// Neither can be stored (versions are 32-bit, ids are UTF-8 text), and PostgreSQL would refuse
	// to look them up rather than find nothing.
	if !storableText(id) {
		return nil, failure.Errorf(failure.NotFound, "form %s is not published", strconv.QuoteToASCII(id))
	}
	if version > MaxFormVersion {
		return nil, failure.Errorf(failure.NotFound, "form %s version %d is not published", id, version)
	}
	if version > 0 {
		s.mu.Lock()
		f, ok := s.forms[formKey{id, version}]
		s.mu.Unlock()
		if ok {
			return f, nil
		}
		return s.readForm(ctx, id, version)
	}
	gen, cached, err := s.generation(ctx)
	if err != nil {
		return nil, err
	}
	if cached {
		s.mu.Lock()
		l, ok := s.latest[id]
		s.mu.Unlock()
		if ok {
			return l.form, nil
		}
	}
	f, err := s.readForm(ctx, id, 0)
	// Only forms that exist are remembered: names nobody published would grow the map unbounded.
	if cached && err == nil {
		s.mu.Lock()
		if s.gen == gen {
			s.latest[id] = latestForm{f}
		}
		s.mu.Unlock()
	}
	return f, err
}

// generation returns the reference generation and whether the latest-version cache may be used,
// emptying it when the generation has moved.
func (s *SQLStore) generation(ctx context.Context) (uint64, bool, error) {
	if s.Generation == nil {
		return 0, false, nil
	}
	gen, err := s.Generation(ctx)
	if err != nil {
		return 0, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest == nil || s.gen != gen {
		s.gen, s.latest, s.keys = gen, map[string]latestForm{}, nil
	}
	return gen, true, nil
}

// readForm reads and parses a form version (the latest when version is 0) from the database.
func (s *SQLStore) readForm(ctx context.Context, id string, version int) (*Form, error) {
	var row struct {
		Version    int    `db:"version"`
		Definition string `db:"definition"`
	}
	var err error
	if version > 0 {
		err = s.DB.GetContext(ctx, &row, s.DB.Rebind(`SELECT version, definition FROM forms WHERE id = ? AND version = ?`), id, version)
	} else {
		err = s.DB.GetContext(ctx, &row, s.DB.Rebind(`SELECT version, definition FROM forms WHERE id = ? ORDER BY version DESC LIMIT 1`), id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		if version > 0 {
			return nil, failure.Errorf(failure.NotFound, "form %s version %d is not published", id, version)
		}
		return nil, failure.Errorf(failure.NotFound, "form %s is not published", id)
	} else if err != nil {
		return nil, fmt.Errorf("triage: unable to read form %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.forms[formKey{id, row.Version}]; ok {
		return f, nil
	}
	f, err := ParseForm([]byte(row.Definition))
	if err != nil {
		return nil, fmt.Errorf("triage: stored form %s v%d does not parse: %w", id, row.Version, err)
	}
	s.forms[formKey{id, row.Version}] = f
	return f, nil
}

// Forms returns every published form version, ordered by id and version.
func (s *SQLStore) Forms(ctx context.Context) ([]*Form, error) {
	var keys []struct {
		ID      string `db:"id"`
		Version int    `db:"version"`
	}
	gen, cached, err := s.generation(ctx)
	if err != nil {
		return nil, err
	}
	var list []formKey
	if cached {
		s.mu.Lock()
		list = s.keys
		s.mu.Unlock()
	}
	if list == nil {
		if err := s.DB.SelectContext(ctx, &keys, `SELECT id, version FROM forms ORDER BY id, version`); err != nil {
			return nil, fmt.Errorf("triage: unable to list forms: %w", err)
		}
		list = make([]formKey, len(keys))
		for i, k := range keys {
			list[i] = formKey{k.ID, k.Version}
		}
		if cached {
			s.mu.Lock()
			if s.gen == gen {
				s.keys = list
			}
			s.mu.Unlock()
		}
	}
	out := make([]*Form, 0, len(list))
	for _, k := range list {
		f, err := s.Form(ctx, k.id, k.version)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

const decisionColumns = `id, request_sha256, input, input_sha256, form_id, form_version, subject_ref, scores,
	ruleset_id, ruleset_version, ruleset_sha256, pathway, priority, respond_within, flags, rule_id, explanation,
	authored_at, decided_at, engine_version, services, assignment, unassigned_reason, team_id, submitted_by`

type decisionRow struct {
	ID             string        `db:"id"`
	RequestSHA256  string        `db:"request_sha256"`
	Input          string        `db:"input"`
	InputSHA256    string        `db:"input_sha256"`
	FormID         string        `db:"form_id"`
	FormVersion    int           `db:"form_version"`
	SubjectRef     string        `db:"subject_ref"`
	Scores         string        `db:"scores"`
	RuleSetID      string        `db:"ruleset_id"`
	RuleSetVersion int           `db:"ruleset_version"`
	RuleSetSHA256  string        `db:"ruleset_sha256"`
	Pathway        string        `db:"pathway"`
	Priority       string        `db:"priority"`
	RespondWithin  string        `db:"respond_within"`
	Flags          string        `db:"flags"`
	RuleID         string        `db:"rule_id"`
	Explanation    string        `db:"explanation"`
	AuthoredAt     database.Time `db:"authored_at"`
	DecidedAt      database.Time `db:"decided_at"`
	EngineVersion  string        `db:"engine_version"`
	Services       string        `db:"services"`
	Assignment     string        `db:"assignment"`
	Unassigned     string        `db:"unassigned_reason"`
	Team           string        `db:"team_id"`
	SubmittedBy    string        `db:"submitted_by"`
}

// storedServices is the services column: the candidates alone, or with the rejected services when
// the submission asked for them.
type storedServices struct {
	Candidates []directory.Candidate `json:"candidates"`
	Rejected   []directory.Rejection `json:"rejected"`
}

func encodePlacement(d *Decision) (services, assignment string, err error) {
	cands := d.Services
	if cands == nil {
		cands = []directory.Candidate{}
	}
	var sv any = cands
	if len(d.RejectedServices) > 0 {
		sv = storedServices{Candidates: cands, Rejected: d.RejectedServices}
	}
	sb, err := json.Marshal(sv)
	if err != nil {
		return "", "", fmt.Errorf("triage: unable to encode services: %w", err)
	}
	ab, err := json.Marshal(d.Assignment)
	if err != nil {
		return "", "", fmt.Errorf("triage: unable to encode assignment: %w", err)
	}
	return string(sb), string(ab), nil
}

func (r *decisionRow) placement(d *Decision) error {
	d.Services = []directory.Candidate{}
	if len(r.Services) > 0 && r.Services[0] == '{' {
		var sv storedServices
		if err := json.Unmarshal([]byte(r.Services), &sv); err != nil {
			return fmt.Errorf("triage: decision %s: stored services do not decode: %w", r.ID, err)
		}
		if sv.Candidates != nil {
			d.Services = sv.Candidates
		}
		d.RejectedServices = sv.Rejected
	} else if err := json.Unmarshal([]byte(r.Services), &d.Services); err != nil {
		return fmt.Errorf("triage: decision %s: stored services do not decode: %w", r.ID, err)
	}
	if d.Services == nil {
		d.Services = []directory.Candidate{}
	}
	if err := json.Unmarshal([]byte(r.Assignment), &d.Assignment); err != nil {
		return fmt.Errorf("triage: decision %s: stored assignment does not decode: %w", r.ID, err)
	}
	d.UnassignedReason = r.Unassigned
	d.ManualAllocation = r.Unassigned != ""
	return nil
}

func (r *decisionRow) decision() (*Decision, error) {
	d := &Decision{
		ID: r.ID, Form: r.FormID, FormVersion: r.FormVersion, SubjectRef: r.SubjectRef,
		RuleSet: RuleSetRef{ID: r.RuleSetID, Version: r.RuleSetVersion, SHA256: r.RuleSetSHA256},
		Rule:    r.RuleID, Authored: r.AuthoredAt.Time, Decided: r.DecidedAt.Time, EngineVersion: r.EngineVersion,
		Input: json.RawMessage(r.Input), InputSHA256: r.InputSHA256, Team: r.Team, SubmittedBy: r.SubmittedBy,
	}
	d.Outcome.Pathway = r.Pathway
	d.Outcome.Priority = rules.Priority(r.Priority)
	d.Outcome.RespondWithin = r.RespondWithin
	for _, part := range []struct {
		name string
		src  string
		dst  any
	}{{"scores", r.Scores, &d.Scores}, {"flags", r.Flags, &d.Outcome.Flags}, {"explanation", r.Explanation, &d.Explanation}} {
		if err := json.Unmarshal([]byte(part.src), part.dst); err != nil {
			return nil, fmt.Errorf("triage: decision %s: stored %s does not decode: %w", r.ID, part.name, err)
		}
	}
	if err := r.placement(d); err != nil {
		return nil, err
	}
	return d, nil
}

// SaveDecision stores a decision and returns it once committed, after running book in the same
// transaction. With an idempotency key already used for the same request it stores nothing, rolls
// back whatever book did, and returns the first decision (created false), also when the two
// requests race; the same key with a different request is a Conflict.
func (s *SQLStore) SaveDecision(ctx context.Context, d *Decision, key Idempotency, book Booking) (*Decision, bool, error) {
	cols, err := encodeDecisionColumns(d)
	if err != nil {
		return nil, false, err
	}
	var idemKey any // NULL when the client gave none, so keyless submissions never collide
	if key.Key != "" {
		idemKey = key.Key
	}
	err = s.DB.InTx(ctx, func(tx *database.Tx) error {
		// The booking's, the events' and the access record's writes go with the decision's INSERT.
		tx.Gather()
		if book != nil {
			if err := book(ctx, tx, d); err != nil {
				return err
			}
		}
		services, assignment, err := encodePlacement(d)
		if err != nil {
			return err
		}
		res, err := tx.ExecGathered(ctx, `INSERT INTO decisions (id, idempotency_key, request_sha256, input, input_sha256,
		form_id, form_version, subject_ref, scores, ruleset_id, ruleset_version, ruleset_sha256, pathway, priority,
		respond_within, flags, rule_id, explanation, authored_at, decided_at, engine_version,
		services, assignment, unassigned_reason, team_id, submitted_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (idempotency_key) DO NOTHING`,
			d.ID, idemKey, key.RequestSHA256, string(d.Input), d.InputSHA256, d.Form, d.FormVersion, d.SubjectRef, cols.scores,
			d.RuleSet.ID, d.RuleSet.Version, d.RuleSet.SHA256, d.Outcome.Pathway, string(d.Outcome.Priority),
			d.Outcome.RespondWithin, cols.flags, d.Rule, cols.explanation,
			database.NewTime(d.Authored), database.NewTime(d.Decided), d.EngineVersion,
			services, assignment, d.UnassignedReason, d.Team, d.SubmittedBy)
		if database.IsUniqueViolation(err) && strings.Contains(err.Error(), "appointments_booked_slot") {
			// The booking's INSERT went with this statement: its slot was taken meanwhile.
			return failure.Errorf(failure.Conflict, "triage: unable to store decision: its appointment's slot was taken meanwhile: %w", routing.ErrSlotTaken)
		} else if err != nil {
			return fmt.Errorf("triage: unable to store decision: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("triage: unable to store decision: %w", err)
		} else if n == 0 {
			return errReplayed
		}
		return nil
	})
	if err == nil {
		return d, true, nil
	}
	if !errors.Is(err, errReplayed) {
		return nil, false, err
	}
	var row decisionRow
	err = s.DB.GetContext(ctx, &row, s.DB.Rebind(`SELECT `+decisionColumns+` FROM decisions WHERE idempotency_key = ?`), key.Key)
	if err != nil {
		return nil, false, fmt.Errorf("triage: unable to read the decision for idempotency key %q: %w", key.Key, err)
	}
	if row.RequestSHA256 != key.RequestSHA256 {
		return nil, false, failure.Errorf(failure.Conflict, "idempotency key %q was already used for a different request", key.Key)
	}
	first, err := row.decision()
	return first, false, err
}

// UpdatePlacement rewrites a stored decision's services, assignment and unassigned reason.
func (s *SQLStore) UpdatePlacement(ctx context.Context, ex database.Querier, d *Decision) error {
	services, assignment, err := encodePlacement(d)
	if err != nil {
		return err
	}
	res, err := ex.ExecContext(ctx, ex.Rebind(`UPDATE decisions SET services = ?, assignment = ?, unassigned_reason = ? WHERE id = ?`),
		services, assignment, d.UnassignedReason, d.ID)
	if err != nil {
		return fmt.Errorf("triage: unable to update decision %s: %w", d.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("triage: unable to update decision %s: %w", d.ID, err)
	} else if n != 1 {
		return failure.Errorf(failure.NotFound, "decision %s does not exist", d.ID)
	}
	return nil
}

// Decision returns a stored decision, or a NotFound error.
func (s *SQLStore) Decision(ctx context.Context, id string) (*Decision, error) {
	if !storableText(id) {
		return nil, failure.Errorf(failure.NotFound, "decision %s does not exist", strconv.QuoteToASCII(id))
	}
	var row decisionRow
	err := s.DB.GetContext(ctx, &row, s.DB.Rebind(`SELECT `+decisionColumns+` FROM decisions WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, failure.Errorf(failure.NotFound, "decision %s does not exist", id)
	} else if err != nil {
		return nil, fmt.Errorf("triage: unable to read decision %s: %w", id, err)
	}
	return row.decision()
}
