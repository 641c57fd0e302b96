package replay

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Resolver gives one side of a comparison (baseline or candidate) the program to evaluate a case with.
//
// An error with failure code Invalid, NotFound or Unavailable, or a *rules.CompileError, makes the
// case not replayable with the error as reason; any other error stops the replay.
type Resolver interface {
	Program(ctx context.Context, c *triage.StoredCase, form *triage.Form) (*rules.Program, error)
	// PerCase reports whether the program depends on the case's recorded rule set, not only on its form.
	PerCase() bool
	// Name describes the side in reports, such as "v2" or "recorded".
	Name() string
}

// Version is a stored rule-set version.
type Version struct {
	Registry *rules.Registry
	ID       string
	Version  int
}

// Program implements Resolver.
func (v *Version) Program(ctx context.Context, _ *triage.StoredCase, form *triage.Form) (*rules.Program, error) {
	return v.Registry.Program(ctx, v.ID, v.Version, form.Schema())
}

// PerCase implements Resolver.
func (v *Version) PerCase() bool { return false }

// Name implements Resolver.
func (v *Version) Name() string { return "v" + strconv.Itoa(v.Version) }

// Draft is a rule set that is not stored, such as a file on disk, compiled per form version on first use.
type Draft struct {
	RuleSet      *rules.RuleSet
	KnownPathway func(id string) bool
	Label        string // how reports name it; "draft vN" when empty

	mu       sync.Mutex
	programs map[int]draftProgram
}

type draftProgram struct {
	p   *rules.Program
	err error
}

// Program implements Resolver.
func (d *Draft) Program(_ context.Context, _ *triage.StoredCase, form *triage.Form) (*rules.Program, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if dp, ok := d.programs[form.Version]; ok {
		return dp.p, dp.err
	}
	if d.programs == nil {
		d.programs = map[int]draftProgram{}
	}
	p, err := rules.Compile(d.RuleSet, form.Schema(), d.KnownPathway)
	if err != nil {
		err = failure.Errorf(failure.Unavailable, "rule set %s v%d does not accept form %s v%d: %w", d.RuleSet.ID, d.RuleSet.Version, form.ID, form.Version, err)
	}
	d.programs[form.Version] = draftProgram{p, err}
	return p, err
}

// PerCase implements Resolver.
func (d *Draft) PerCase() bool { return false }

// Name implements Resolver.
func (d *Draft) Name() string {
	if d.Label != "" {
		return d.Label
	}
	return fmt.Sprintf("draft v%d", d.RuleSet.Version)
}

// Recorded is the version each case recorded, checked against its recorded content hash; replaying
// under it is the reproducibility check.
type Recorded struct {
	Registry *rules.Registry
}

// Program implements Resolver.
func (r *Recorded) Program(ctx context.Context, c *triage.StoredCase, form *triage.Form) (*rules.Program, error) {
	p, err := r.Registry.Program(ctx, c.RuleSet.ID, c.RuleSet.Version, form.Schema())
	if err != nil {
		return nil, err
	}
	if p.SHA256 != c.RuleSet.SHA256 {
		return nil, failure.Errorf(failure.Unavailable, "rule set %s v%d content is %s, recorded %s", c.RuleSet.ID, c.RuleSet.Version, p.SHA256, c.RuleSet.SHA256)
	}
	return p, nil
}

// PerCase implements Resolver.
func (r *Recorded) PerCase() bool { return true }

// Name implements Resolver.
func (r *Recorded) Name() string { return "recorded version" }
