package rules

import (
	"context"
	"sync"
	"time"

	"github.com/carepath/carepath/failure"
)

// Generation reports a counter that changes whenever stored reference data changes (see package
// refdata); caches keyed by it need no query of their own while it stands still.
type Generation func(ctx context.Context) (uint64, error)

// CachedStore is a Store that keeps, per process, what every decision reads (the pathway
// catalogue, the rule set of each form and each rule set's activations) and reads them again only
// when the generation moves; versions in force are then found in memory. Writes and the rest
// pass through to the underlying store.
type CachedStore struct {
	Store
	Generation Generation

	mu  sync.Mutex
	ref *reference
}

// reference is what CachedStore holds for one generation, filled as it is asked for.
type reference struct {
	gen         uint64
	pathways    []Pathway
	hasPathways bool
	ruleSetOf   map[string]cachedRuleSet
	activations map[string][]Activation
}

type cachedRuleSet struct {
	id  string
	err error
}

// NewCachedStore returns store cached by gen; with gen nil every read goes to store.
func NewCachedStore(store Store, gen Generation) *CachedStore {
	return &CachedStore{Store: store, Generation: gen}
}

// current returns the holding for the generation now in force, or nil to read through.
func (c *CachedStore) current(ctx context.Context) (*reference, error) {
	if c.Generation == nil {
		return nil, nil
	}
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ref == nil || c.ref.gen != gen {
		// Data read after the generation is at least as new as it, so what is filled in below is
		// never older than gen; a newer read only costs a spare refill at the next change.
		c.ref = &reference{gen: gen, ruleSetOf: map[string]cachedRuleSet{}, activations: map[string][]Activation{}}
	}
	return c.ref, nil
}

// Pathways returns the catalogue ordered by id, from memory while the generation stands.
func (c *CachedStore) Pathways(ctx context.Context) ([]Pathway, error) {
	ref, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return c.Store.Pathways(ctx)
	}
	c.mu.Lock()
	ps, ok := ref.pathways, ref.hasPathways
	c.mu.Unlock()
	if ok {
		return ps, nil
	}
	ps, err = c.Store.Pathways(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	ref.pathways, ref.hasPathways = ps, true
	c.mu.Unlock()
	return ps, nil
}

// RuleSetFor returns the id of the rule set that decides a form; that none does is remembered
// too, until the generation moves.
func (c *CachedStore) RuleSetFor(ctx context.Context, form string) (string, error) {
	ref, err := c.current(ctx)
	if err != nil {
		return "", err
	}
	if ref == nil {
		return c.Store.RuleSetFor(ctx, form)
	}
	c.mu.Lock()
	e, ok := ref.ruleSetOf[form]
	c.mu.Unlock()
	if ok {
		return e.id, e.err
	}
	id, err := c.Store.RuleSetFor(ctx, form)
	if err != nil && failure.CodeOf(err) != failure.Unavailable {
		return "", err
	}
	c.mu.Lock()
	ref.ruleSetOf[form] = cachedRuleSet{id, err}
	c.mu.Unlock()
	return id, err
}

// Activations returns a rule set's activations in the order they were made.
func (c *CachedStore) Activations(ctx context.Context, id string) ([]Activation, error) {
	ref, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return c.Store.Activations(ctx, id)
	}
	return c.activations(ctx, ref, id)
}

func (c *CachedStore) activations(ctx context.Context, ref *reference, id string) ([]Activation, error) {
	c.mu.Lock()
	as, ok := ref.activations[id]
	c.mu.Unlock()
	if ok {
		return as, nil
	}
	as, err := c.Store.Activations(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	ref.activations[id] = as
	c.mu.Unlock()
	return as, nil
}

// ActiveAt returns the version in force at a time, found in the cached activations as the SQL
// store finds it: of those effective by then, the latest effective, and of those the last made.
func (c *CachedStore) ActiveAt(ctx context.Context, id string, at time.Time) (int, error) {
	ref, err := c.current(ctx)
	if err != nil {
		return 0, err
	}
	if ref == nil {
		return c.Store.ActiveAt(ctx, id, at)
	}
	as, err := c.activations(ctx, ref, id)
	if err != nil {
		return 0, err
	}
	if v, ok := ActiveIn(as, at); ok {
		return v, nil
	}
	return 0, failure.Errorf(failure.Unavailable, "rule set %s has no version active at %s", id, at.UTC().Format(time.RFC3339))
}

// ActiveIn returns the version in force at a time among activations listed in the order they
// were made: of those effective by then, the one with the latest effective time, and of those
// the one made last.
func ActiveIn(as []Activation, at time.Time) (int, bool) {
	best := -1
	for i, a := range as {
		if a.EffectiveFrom.After(at) {
			continue
		}
		if best < 0 || !a.EffectiveFrom.Before(as[best].EffectiveFrom) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	return as[best].Version, true
}
