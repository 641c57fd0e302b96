package rules_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/rules"
)

// TestCachedActiveAtAgreesWithTheDatabase: the version found in cached activations is the one the
// SQL store finds, at times before, between, on and after activations with tied effective times.
func TestCachedActiveAtAgreesWithTheDatabase(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := rules.NewSQLStore(db)
		for v := 1; v <= 4; v++ {
			if _, err := s.PutVersion(ctx, version(t, "r", v, "f", "a")); err != nil {
				t.Fatal(err)
			}
		}
		var gen atomic.Uint64
		cached := rules.NewCachedStore(s, func(context.Context) (uint64, error) { return gen.Load(), nil })
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		rng := rand.New(rand.NewPCG(13, 21))
		for round := range 12 {
			// Few distinct times, so that ties are common.
			from := base.Add(time.Duration(rng.IntN(5)) * time.Hour)
			if err := s.Activate(ctx, rules.Activation{RuleSet: "r", Version: 1 + rng.IntN(4), EffectiveFrom: from, CreatedAt: base}); err != nil {
				t.Fatal(err)
			}
			gen.Add(1)
			for step := -1; step <= 6; step++ {
				at := base.Add(time.Duration(step)*time.Hour + time.Duration(rng.IntN(3)-1)*time.Nanosecond*1000)
				want, werr := s.ActiveAt(ctx, "r", at)
				got, gerr := cached.ActiveAt(ctx, "r", at)
				if got != want || failure.CodeOf(gerr) != failure.CodeOf(werr) || (gerr == nil) != (werr == nil) {
					t.Fatalf("round %d at %v: cached %d %v, database %d %v", round, at, got, gerr, want, werr)
				}
			}
		}
	})
}

// TestCachedStoreFollowsTheGeneration: while the generation stands the cache answers from memory
// (a rollback made meanwhile is not yet seen); once it moves, the rolled-back version is never
// answered again.
func TestCachedStoreFollowsTheGeneration(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := rules.NewSQLStore(db)
		for v := 1; v <= 2; v++ {
			if _, err := s.PutVersion(ctx, version(t, "r", v, "f", "a")); err != nil {
				t.Fatal(err)
			}
		}
		var gen atomic.Uint64
		var checks atomic.Int64
		cached := rules.NewCachedStore(s, func(context.Context) (uint64, error) { checks.Add(1); return gen.Load(), nil })
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := t0.Add(time.Hour)
		if err := s.Activate(ctx, rules.Activation{RuleSet: "r", Version: 2, EffectiveFrom: t0, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutPathways(ctx, []rules.Pathway{{ID: "a", Name: "A"}}, t0); err != nil {
			t.Fatal(err)
		}
		if id, err := cached.RuleSetFor(ctx, "f"); err != nil || id != "r" {
			t.Fatalf("rule set of f: %q %v", id, err)
		}
		if _, err := cached.RuleSetFor(ctx, "g"); failure.CodeOf(err) != failure.Unavailable {
			t.Fatalf("rule set of g: %v, want Unavailable", err)
		}
		if v, err := cached.ActiveAt(ctx, "r", now); err != nil || v != 2 {
			t.Fatalf("active: %d %v", v, err)
		}
		if ps, err := cached.Pathways(ctx); err != nil || len(ps) != 1 {
			t.Fatalf("pathways: %v %v", ps, err)
		}
		// Roll back to version 1 and add a pathway, without the generation moving.
		if err := s.Activate(ctx, rules.Activation{RuleSet: "r", Version: 1, EffectiveFrom: t0.Add(time.Minute), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutPathways(ctx, []rules.Pathway{{ID: "b", Name: "B"}}, t0); err != nil {
			t.Fatal(err)
		}
		if v, _ := cached.ActiveAt(ctx, "r", now); v != 2 {
			t.Errorf("before the generation moved: %d, want the cached 2", v)
		}
		if ps, _ := cached.Pathways(ctx); len(ps) != 1 {
			t.Errorf("before the generation moved: %d pathways, want the cached 1", len(ps))
		}
		gen.Add(1)
		if v, err := cached.ActiveAt(ctx, "r", now); err != nil || v != 1 {
			t.Errorf("after the generation moved: %d %v, want the rollback to 1", v, err)
		}
		if ps, _ := cached.Pathways(ctx); len(ps) != 2 {
			t.Errorf("after the generation moved: %d pathways, want 2", len(ps))
		}
		// Without a generation, every read goes to the database.
		through := rules.NewCachedStore(s, nil)
		if err := s.Activate(ctx, rules.Activation{RuleSet: "r", Version: 2, EffectiveFrom: t0.Add(2 * time.Minute), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if v, err := through.ActiveAt(ctx, "r", now); err != nil || v != 2 {
			t.Errorf("read through: %d %v, want 2", v, err)
		}
		if checks.Load() == 0 {
			t.Error("the generation was never checked")
		}
	})
}
