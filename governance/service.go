package governance

import (
	"context"
	"fmt"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Service gathers what rule governance needs: stored versions and their lifecycle, the forms
// rule sets are checked against, and the registry of compiled programs.
type Service struct {
	DB        *database.DB
	Rules     *rules.SQLStore
	Forms     triage.Store
	Registry  *rules.Registry
	Lifecycle *rules.Lifecycle
	Now       func() time.Time
	Lint      rules.LintOptions
	// Pseudonymiser names the cases of impact previews and shadow reports, which analysts read:
	// they carry pseudonyms, never decision ids. Previews and reports fail without it.
	Pseudonymiser *privacy.Pseudonymiser
}

// NewService wires a Service over one database; now is its only clock.
func NewService(db *database.DB, forms triage.Store, registry *rules.Registry, now func() time.Time) *Service {
	s := &Service{DB: db, Rules: rules.NewSQLStore(db), Forms: forms, Registry: registry, Now: now, Lint: rules.DefaultLintOptions}
	s.Lifecycle = &rules.Lifecycle{Store: s.Rules, Now: now, Gate: s.Gate}
	return s
}

// Compile compiles a rule set against the latest version of its form and the stored pathway
// catalogue, and returns the form model tests and static checks use.
func (s *Service) Compile(ctx context.Context, rs *rules.RuleSet) (*rules.Program, FormModel, error) {
	form, err := s.Forms.Form(ctx, rs.Form, 0)
	if failure.CodeOf(err) == failure.NotFound {
		return nil, FormModel{}, &rules.CompileError{Problems: []rules.Problem{{File: rs.File, Msg: fmt.Sprintf("form: %v", err)}}}
	} else if err != nil {
		return nil, FormModel{}, err
	}
	ps, err := s.Rules.Pathways(ctx)
	if err != nil {
		return nil, FormModel{}, err
	}
	known := make(map[string]bool, len(ps))
	for _, p := range ps {
		known[p.ID] = true
	}
	p, err := rules.Compile(rs, form.Schema(), func(id string) bool { return known[id] })
	return p, FormModel{Form: form}, err
}

// Gate compiles a rule set, runs the static checks and its tests: what submitting for review requires.
func (s *Service) Gate(ctx context.Context, rs *rules.RuleSet) (*rules.GateReport, error) {
	p, m, err := s.Compile(ctx, rs)
	if err != nil {
		return nil, err
	}
	return &rules.GateReport{Lint: rules.Lint(p, m, s.Lint), Tests: rules.RunTests(p, m)}, nil
}

// StoredProgram parses and compiles a stored version.
func (s *Service) StoredProgram(ctx context.Context, id string, version int) (*rules.Program, FormModel, error) {
	v, err := s.Rules.Version(ctx, id, version)
	if err != nil {
		return nil, FormModel{}, err
	}
	rs, err := v.Parse()
	if err != nil {
		return nil, FormModel{}, failure.Errorf(failure.Unavailable, "stored rule set %s v%d does not parse: %w", id, version, err)
	}
	return s.Compile(ctx, rs)
}

// WhyNot explains why a stored decision did not reach a pathway, under the version that decided it.
func (s *Service) WhyNot(ctx context.Context, decisionID, pathway string) (*rules.WhyNot, error) {
	d, err := s.Forms.Decision(ctx, decisionID)
	if err != nil {
		return nil, err
	}
	sub, err := triage.ParseSubmission(d.Input)
	if err != nil {
		return nil, fmt.Errorf("governance: decision %s: stored input does not parse: %w", d.ID, err)
	}
	form, err := s.Forms.Form(ctx, d.Form, d.FormVersion)
	if err != nil {
		return nil, err
	}
	a, err := triage.Assess(form, sub, d.Authored)
	if err != nil {
		return nil, fmt.Errorf("governance: decision %s: stored input no longer validates: %w", d.ID, err)
	}
	p, err := s.Registry.Program(ctx, d.RuleSet.ID, d.RuleSet.Version, form.Schema())
	if err != nil {
		return nil, err
	}
	return p.WhyNot(a.Input(), pathway)
}
