package rules_test

import (
	"context"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/rules"
)

func version(t *testing.T, id string, v int, form, body string) rules.Version {
	t.Helper()
	src := "id: " + id + "\nversion: " + string(rune('0'+v)) + "\nform: " + form + "\ndescription: d\nrules:\n  - id: z\n    then: {pathway: " + body + ", priority: routine, respond_within: P1D}\n    because: b\n"
	rs, err := rules.Parse("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rules.Version{ID: id, Version: v, Form: form, Source: src, SHA256: rs.SHA256(), Status: rules.StatusApproved, CreatedAt: time.Unix(1700000000, 0)}
}

func TestStoreVersionsAreImmutable(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := rules.NewSQLStore(db)
		v1 := version(t, "r", 1, "f", "a")
		if created, err := s.PutVersion(ctx, v1); err != nil || !created {
			t.Fatalf("put: %v %v", created, err)
		}
		if created, err := s.PutVersion(ctx, v1); err != nil || created {
			t.Fatalf("put again: created %v, err %v; want a no-op", created, err)
		}
		changed := version(t, "r", 1, "f", "b")
		if _, err := s.PutVersion(ctx, changed); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("other content under v1: %v, want Conflict", err)
		}
		if _, err := s.PutVersion(ctx, version(t, "other", 1, "f", "a")); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("second rule set for one form: %v, want Conflict", err)
		}
		got, err := s.Version(ctx, "r", 1)
		if err != nil || got.Source != v1.Source || got.SHA256 != v1.SHA256 || !got.CreatedAt.Equal(v1.CreatedAt) {
			t.Errorf("read back %+v, %v", got, err)
		}
		if _, err := s.Version(ctx, "r", 9); failure.CodeOf(err) != failure.NotFound {
			t.Errorf("missing version: %v", err)
		}
		if id, err := s.RuleSetFor(ctx, "f"); err != nil || id != "r" {
			t.Errorf("rule set for f: %q %v", id, err)
		}
	})
}

func TestStoreActiveAt(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := rules.NewSQLStore(db)
		for v := 1; v <= 3; v++ {
			if _, err := s.PutVersion(ctx, version(t, "r", v, "f", "a"+string(rune('0'+v)))); err != nil {
				t.Fatal(err)
			}
		}
		day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
		for _, a := range []rules.Activation{
			{RuleSet: "r", Version: 1, EffectiveFrom: day(1), CreatedAt: day(1)},
			{RuleSet: "r", Version: 2, EffectiveFrom: day(10), CreatedAt: day(2)},  // scheduled ahead
			{RuleSet: "r", Version: 3, EffectiveFrom: day(20), CreatedAt: day(3)},  // later still
			{RuleSet: "r", Version: 1, EffectiveFrom: day(20), CreatedAt: day(15)}, // rollback at the same instant wins: made last
		} {
			if err := s.Activate(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			at   time.Time
			want int
		}{{day(1), 1}, {day(10).Add(-time.Microsecond), 1}, {day(10), 2}, {day(19), 2}, {day(20), 1}, {day(30), 1}} {
			got, err := s.ActiveAt(ctx, "r", tt.at)
			if err != nil || got != tt.want {
				t.Errorf("at %s: v%d %v, want v%d", tt.at, got, err, tt.want)
			}
		}
		if _, err := s.ActiveAt(ctx, "r", day(1).Add(-time.Hour)); failure.CodeOf(err) != failure.Unavailable {
			t.Errorf("before any activation: %v", err)
		}
		if err := s.Activate(ctx, rules.Activation{RuleSet: "r", Version: 7, EffectiveFrom: day(1)}); failure.CodeOf(err) != failure.NotFound {
			t.Errorf("activating a missing version: %v", err)
		}
		acts, err := s.Activations(ctx, "r")
		if err != nil || len(acts) != 4 || acts[3].Version != 1 {
			t.Errorf("activations %+v %v", acts, err)
		}
	})
}
