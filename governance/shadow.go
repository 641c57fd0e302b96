package governance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// ShadowRun is an approved version evaluated beside every live decision of its rule set.
type ShadowRun struct {
	ID        int64      `json:"id" db:"id"`
	RuleSet   string     `json:"ruleset" db:"ruleset_id"`
	Version   int        `json:"version" db:"version"`
	StartedBy string     `json:"started_by" db:"started_by"`
	StartedAt time.Time  `json:"started_at" db:"-"`
	StoppedBy *string    `json:"stopped_by,omitempty" db:"stopped_by"`
	StoppedAt *time.Time `json:"stopped_at,omitempty" db:"-"`
	Evaluated int        `json:"evaluated" db:"evaluated"`
	Failed    int        `json:"failed" db:"failed"`
}

// Flow counts decisions that move from one pathway to another, with example cases named by
// pseudonym (privacy.Pseudonymiser.Case), so a report can be shared with analysts.
type Flow struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	Count    int      `json:"count"`
	Examples []string `json:"examples"`
}

// ShadowReport is a shadow run's agreement with the live decisions.
type ShadowReport struct {
	Run           ShadowRun `json:"run"`
	Disagreements int       `json:"disagreements"`
	AgreementRate float64   `json:"agreement_rate"`
	Flows         []Flow    `json:"flows"`
}

// maxExamples is how many example cases a flow keeps.
const maxExamples = 5

// Shadow is a triage.Observer that evaluates each new decision under the versions in shadow for its
// rule set, off the response path: Observe only queues, and one goroutine does the work.
type Shadow struct {
	DB       *database.DB
	Registry *rules.Registry
	Now      func() time.Time
	Logger   *slog.Logger
	// Generation, when set, lets the worker remember each rule set's open runs until reference
	// data changes (see package refdata), instead of reading them for every decision.
	Generation rules.Generation

	runsMu  sync.Mutex
	runsGen uint64
	runs    map[string][]ShadowRun

	queue   chan *triage.Decided
	pending sync.WaitGroup
	done    chan struct{}
	mu      sync.Mutex
	dropped int
}

// NewShadow returns a Shadow with a queue of the given capacity; call Run to start its worker.
func NewShadow(db *database.DB, registry *rules.Registry, now func() time.Time, logger *slog.Logger, capacity int) *Shadow {
	return &Shadow{DB: db, Registry: registry, Now: now, Logger: logger, queue: make(chan *triage.Decided, capacity), done: make(chan struct{})}
}

var _ triage.Observer = (*Shadow)(nil)

// Observe queues a decision for shadow evaluation; when the queue is full the decision is dropped
// and counted, because a shadow run must never slow a live decision.
func (s *Shadow) Observe(_ context.Context, d *triage.Decided) {
	s.pending.Add(1)
	select {
	case s.queue <- d:
	default:
		s.pending.Done()
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
	}
}

// Dropped counts decisions not shadowed because the queue was full.
func (s *Shadow) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Run works through the queue until ctx ends; start it once in its own goroutine.
func (s *Shadow) Run(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.queue:
			if err := s.evaluate(ctx, d); err != nil && s.Logger != nil {
				s.Logger.Error("shadow evaluation failed", "decision", d.ID, "error", err)
			}
			s.pending.Done()
		}
	}
}

// Drain waits until every queued decision has been evaluated, for tests and graceful shutdown.
func (s *Shadow) Drain() { s.pending.Wait() }

func (s *Shadow) evaluate(ctx context.Context, d *triage.Decided) error {
	runs, err := s.openRuns(ctx, d.RuleSet.ID)
	if err != nil {
		return err
	}
	for _, run := range runs {
		if run.Version == d.RuleSet.Version {
			continue
		}
		p, err := s.Registry.Program(ctx, run.RuleSet, run.Version, d.Assessment.Form.Schema())
		var shadow triage.Decision
		if err == nil {
			shadow, err = triage.Decide(&d.Assessment, p)
		}
		if err != nil {
			if _, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE shadow_runs SET evaluated = evaluated + 1, failed = failed + 1 WHERE id = ?`), run.ID); err != nil {
				return fmt.Errorf("governance: unable to count a shadow failure: %w", err)
			}
			continue
		}
		err = s.DB.InTx(ctx, func(tx *database.Tx) error {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE shadow_runs SET evaluated = evaluated + 1 WHERE id = ?`), run.ID); err != nil {
				return err
			}
			if shadow.Outcome.Pathway == d.Outcome.Pathway && shadow.Outcome.Priority == d.Outcome.Priority {
				return nil
			}
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO shadow_differences (run_id, decision_id, live_pathway, live_rule, shadow_pathway, shadow_rule, at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, decision_id) DO NOTHING`),
				run.ID, d.ID, d.Outcome.Pathway, d.Rule, shadow.Outcome.Pathway, shadow.Rule, database.NewTime(s.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("governance: unable to record shadow run %d: %w", run.ID, err)
		}
	}
	return nil
}

type shadowRow struct {
	ShadowRun
	Started database.Time  `db:"started_at"`
	Stopped *database.Time `db:"stopped_at"`
}

func (r shadowRow) run() ShadowRun {
	out := r.ShadowRun
	out.StartedAt = r.Started.Time
	if r.Stopped != nil {
		t := r.Stopped.Time
		out.StoppedAt = &t
	}
	return out
}

const shadowColumns = `id, ruleset_id, version, started_by, started_at, stopped_by, stopped_at, evaluated, failed`

func (s *Shadow) openRuns(ctx context.Context, id string) ([]ShadowRun, error) {
	if s.Generation == nil {
		return selectRuns(ctx, s.DB, `WHERE ruleset_id = ? AND stopped_at IS NULL`, id)
	}
	gen, err := s.Generation(ctx)
	if err != nil {
		return nil, err
	}
	s.runsMu.Lock()
	if s.runs == nil || s.runsGen != gen {
		s.runs, s.runsGen = map[string][]ShadowRun{}, gen
	}
	runs, ok := s.runs[id]
	s.runsMu.Unlock()
	if ok {
		return runs, nil
	}
	runs, err = selectRuns(ctx, s.DB, `WHERE ruleset_id = ? AND stopped_at IS NULL`, id)
	if err != nil {
		return nil, err
	}
	s.runsMu.Lock()
	if s.runsGen == gen {
		s.runs[id] = runs
	}
	s.runsMu.Unlock()
	return runs, nil
}

func selectRuns(ctx context.Context, db *database.DB, where string, args ...any) ([]ShadowRun, error) {
	var rows []shadowRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT `+shadowColumns+` FROM shadow_runs `+where+` ORDER BY id`), args...); err != nil {
		return nil, fmt.Errorf("governance: unable to read shadow runs: %w", err)
	}
	out := make([]ShadowRun, len(rows))
	for i, r := range rows {
		out[i] = r.run()
	}
	return out, nil
}

// StartShadow puts an approved version in shadow for its rule set; one run per rule set at a time.
func StartShadow(ctx context.Context, db *database.DB, id string, version int, actor string, now time.Time) (ShadowRun, error) {
	if actor == "" {
		return ShadowRun{}, failure.Errorf(failure.Invalid, "actor: name the person acting")
	}
	v, err := rules.NewSQLStore(db).Version(ctx, id, version)
	if err != nil {
		return ShadowRun{}, err
	}
	if v.Status != rules.StatusApproved {
		return ShadowRun{}, failure.Errorf(failure.Conflict, "rule set %s v%d is %s; only an approved version can run in shadow", id, version, v.Status)
	}
	var run ShadowRun
	err = db.InTx(ctx, func(tx *database.Tx) error {
		var open int
		if err := tx.GetContext(ctx, &open, tx.Rebind(`SELECT COUNT(*) FROM shadow_runs WHERE ruleset_id = ? AND stopped_at IS NULL`), id); err != nil {
			return err
		}
		if open > 0 {
			return failure.Errorf(failure.Conflict, "rule set %s already has a shadow run; stop it first", id)
		}
		err := tx.GetContext(ctx, &run.ID, tx.Rebind(`INSERT INTO shadow_runs (ruleset_id, version, started_by, started_at) VALUES (?, ?, ?, ?) RETURNING id`),
			id, version, actor, database.NewTime(now))
		if err != nil {
			return fmt.Errorf("governance: unable to start a shadow run of %s v%d: %w", id, version, err)
		}
		run.RuleSet, run.Version, run.StartedBy, run.StartedAt = id, version, actor, now.UTC()
		return nil
	})
	return run, err
}

// StopShadow ends a rule set's shadow run; its record and differences are kept.
func StopShadow(ctx context.Context, db *database.DB, id, actor string, now time.Time) (ShadowRun, error) {
	if actor == "" {
		return ShadowRun{}, failure.Errorf(failure.Invalid, "actor: name the person acting")
	}
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE shadow_runs SET stopped_by = ?, stopped_at = ? WHERE ruleset_id = ? AND stopped_at IS NULL`),
		actor, database.NewTime(now), id)
	if err != nil {
		return ShadowRun{}, fmt.Errorf("governance: unable to stop the shadow run of %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ShadowRun{}, failure.Errorf(failure.NotFound, "rule set %s has no shadow run in progress", id)
	}
	runs, err := selectRuns(ctx, db, `WHERE ruleset_id = ? AND stopped_at IS NOT NULL`, id)
	if err != nil {
		return ShadowRun{}, err
	}
	return runs[len(runs)-1], nil
}

// ShadowRuns lists a rule set's shadow runs, the open one last.
func ShadowRuns(ctx context.Context, db *database.DB, id string) ([]ShadowRun, error) {
	return selectRuns(ctx, db, `WHERE ruleset_id = ?`, id)
}

// ShadowReportOf reports a shadow run's agreement rate and its disagreements by from -> to, with
// example cases named by p.
func ShadowReportOf(ctx context.Context, db *database.DB, p *privacy.Pseudonymiser, runID int64) (*ShadowReport, error) {
	if p == nil {
		return nil, errNoPseudonymiser
	}
	runs, err := selectRuns(ctx, db, `WHERE id = ?`, runID)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, failure.Errorf(failure.NotFound, "shadow run %d does not exist", runID)
	}
	var diffs []struct {
		Decision string `db:"decision_id"`
		From     string `db:"live_pathway"`
		To       string `db:"shadow_pathway"`
	}
	err = db.SelectContext(ctx, &diffs, db.Rebind(`SELECT decision_id, live_pathway, shadow_pathway FROM shadow_differences WHERE run_id = ? ORDER BY seq`), runID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("governance: unable to read shadow differences: %w", err)
	}
	rep := &ShadowReport{Run: runs[0], Disagreements: len(diffs), AgreementRate: 1}
	flows := newFlows()
	for _, d := range diffs {
		flows.add(d.From, d.To, p.Case(d.Decision))
	}
	rep.Flows = flows.list()
	if n := rep.Run.Evaluated - rep.Run.Failed; n > 0 {
		rep.AgreementRate = float64(n-len(diffs)) / float64(n)
	}
	return rep, nil
}

// flowTable accumulates from -> to counts.
type flowTable map[[2]string]*Flow

func newFlows() flowTable { return flowTable{} }

func (t flowTable) add(from, to, example string) {
	k := [2]string{from, to}
	f, ok := t[k]
	if !ok {
		f = &Flow{From: from, To: to, Examples: []string{}}
		t[k] = f
	}
	f.Count++
	if len(f.Examples) < maxExamples {
		f.Examples = append(f.Examples, example)
	}
}

// list orders flows by count, most first, then by from and to, so reports are deterministic.
func (t flowTable) list() []Flow {
	out := make([]Flow, 0, len(t))
	for _, f := range t {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.From < b.From || a.From == b.From && a.To < b.To
	})
	return out
}
