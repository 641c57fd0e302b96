package rules

import (
	"context"
	"strconv"
	"strings"
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
	if !rs.AcceptsFormVersion(schema.Version) {
		// A form version the rule set does not declare is the submitter's to change, not an outage.
		return nil, failure.Errorf(failure.Invalid, "form_version: rule set %s v%d decides form %s %s, not version %d; submit the form's current version",
			v.ID, v.Version, schema.Form, versionList(rs.FormVersions), schema.Version)
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

// versionList names form versions for messages: "version 2", "versions 2 and 3", "versions 1, 2 and 3".
func versionList(vs []int) string {
	if len(vs) == 1 {
		return "version " + strconv.Itoa(vs[0])
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.Itoa(v)
	}
	return "versions " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
