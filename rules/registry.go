package rules

import (
	"context"
	"sync"
	"time"

	"github.com/carepath/carepath/failure"
)

// Registry finds the rule-set version in force for a form at a time and keeps each compiled
// program, so a version is compiled once per form version however many decisions use it.
type Registry struct {
	store Store

	mu       sync.Mutex
	programs map[programKey]*Program
}

type programKey struct {
	id          string
	version     int
	form        string
	formVersion int
}

// NewRegistry returns a Registry reading versions from store.
func NewRegistry(store Store) *Registry {
	return &Registry{store: store, programs: map[programKey]*Program{}}
}

// Program returns the compiled program of a stored version for a form version.
func (r *Registry) Program(ctx context.Context, id string, version int, schema Schema) (*Program, error) {
	key := programKey{id, version, schema.Form, schema.Version}
	r.mu.Lock()
	p, ok := r.programs[key]
	r.mu.Unlock()
	if ok {
		return p, nil
	}
	v, err := r.store.Version(ctx, id, version)
	if err != nil {
		return nil, err
	}
	p, err = r.compile(ctx, v, schema)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Versions never change, so a program compiled concurrently is equal; keep the first.
	if prev, ok := r.programs[key]; ok {
		return prev, nil
	}
	r.programs[key] = p
	return p, nil
}

func (r *Registry) compile(ctx context.Context, v Version, schema Schema) (*Program, error) {
	rs, err := v.Parse()
	if err != nil {
		return nil, failure.Errorf(failure.Unavailable, "stored rule set %s v%d does not parse: %w", v.ID, v.Version, err)
	}
	known, err := r.pathwaySet(ctx)
	if err != nil {
		return nil, err
	}
	p, err := Compile(rs, schema, known)
	if err != nil {
		return nil, failure.Errorf(failure.Unavailable, "rule set %s v%d does not accept form %s v%d: %w", v.ID, v.Version, schema.Form, schema.Version, err)
	}
	return p, nil
}

func (r *Registry) pathwaySet(ctx context.Context) (func(string) bool, error) {
	ps, err := r.store.Pathways(ctx)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ps))
	for _, p := range ps {
		set[p.ID] = true
	}
	return func(id string) bool { return set[id] }, nil
}

// Active returns the program of the version of the form's rule set that is in force at a time.
func (r *Registry) Active(ctx context.Context, schema Schema, at time.Time) (*Program, error) {
	id, err := r.store.RuleSetFor(ctx, schema.Form)
	if err != nil {
		return nil, err
	}
	version, err := r.store.ActiveAt(ctx, id, at)
	if err != nil {
		return nil, err
	}
	return r.Program(ctx, id, version, schema)
}
