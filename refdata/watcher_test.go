package refdata_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/refdata"
	"github.com/carepath/carepath/rules"
)

var day = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func counter(t *testing.T, db *database.DB) int64 {
	t.Helper()
	var c int64
	if err := db.Get(&c, `SELECT counter FROM reference_marker`); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReferenceTablesMoveTheMarker: every reference table raises the counter on each kind of
// change, and a shadow run's per-decision counts do not.
func TestReferenceTablesMoveTheMarker(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		at := database.NewTime(day)
		steps := []struct {
			name  string
			query string
			args  []any
			moves bool
		}{
			{"form", `INSERT INTO forms (id, version, definition, sha256, created_at) VALUES ('f', 1, '{}', 'x', ?)`, []any{at}, true},
			{"pathway", `INSERT INTO pathways (id, name, description, definition, updated_at) VALUES ('p', 'P', '', '{}', ?)`, []any{at}, true},
			{"pathway update", `UPDATE pathways SET name = 'Q' WHERE id = 'p'`, nil, true},
			{"rule set", `INSERT INTO rulesets (id, version, form_id, source, sha256, status, created_at) VALUES ('r', 1, 'f', '', 'x', 'approved', ?)`, []any{at}, true},
			{"rule set status", `UPDATE rulesets SET status = 'retired' WHERE id = 'r'`, nil, true},
			{"activation", `INSERT INTO ruleset_activations (ruleset_id, version, effective_from, created_at) VALUES ('r', 1, ?, ?)`, []any{at, at}, true},
			{"shadow run", `INSERT INTO shadow_runs (ruleset_id, version, started_by, started_at) VALUES ('r', 1, 'a', ?)`, []any{at}, true},
			{"shadow counts", `UPDATE shadow_runs SET evaluated = evaluated + 1 WHERE ruleset_id = 'r'`, nil, false},
			{"shadow stop", `UPDATE shadow_runs SET stopped_at = ? WHERE ruleset_id = 'r'`, []any{at}, true},
			{"service", `INSERT INTO services (id, document, revision, updated_at) VALUES ('s', '{}', 1, ?)`, []any{at}, true},
			{"practitioner", `INSERT INTO practitioners (id, definition, updated_at) VALUES ('x', '{}', ?)`, []any{at}, true},
			{"practitioner delete", `DELETE FROM practitioners WHERE id = 'x'`, nil, true},
			{"on call", `INSERT INTO oncall (id, service_id, practitioner_id, starts_at, ends_at, created_at) VALUES ('o', 's', 'x', ?, ?, ?)`, []any{at, at, at}, true},
			{"service delete", `DELETE FROM services WHERE id = 's'`, nil, true},
		}
		for _, s := range steps {
			before := counter(t, db)
			if _, err := db.Exec(db.Rebind(s.query), s.args...); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if moved := counter(t, db) > before; moved != s.moves {
				t.Errorf("%s: marker moved %v, want %v", s.name, moved, s.moves)
			}
		}
	})
}

// TestWatcherReadsThroughWithoutRun: a Watcher nobody runs reads the counter on every check, so
// command-line runs and tests are never stale.
func TestWatcherReadsThroughWithoutRun(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		w := &refdata.Watcher{DB: db}
		g0, err := w.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rules.NewSQLStore(db).PutPathways(ctx, []rules.Pathway{{ID: "p", Name: "P"}}, day); err != nil {
			t.Fatal(err)
		}
		g1, err := w.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g1 == g0 || w.Reads() != 2 {
			t.Errorf("generations %d then %d after %d reads; want a change seen at once, one read per check", g0, g1, w.Reads())
		}
	})
}

// TestWatcherRunning: while Run keeps the counter, checks read nothing; a change through another
// connection is seen within the bound (on PostgreSQL by notification, well within it).
func TestWatcherRunning(t *testing.T) {
	for _, dialect := range databasetest.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			dsn := databasetest.DSN(t, dialect)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			open := func() *database.DB {
				db, err := database.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			db, other := open(), open()
			bound := 300 * time.Millisecond
			w := &refdata.Watcher{DB: db, DSN: dsn, Bound: bound}
			done := make(chan struct{})
			go func() { defer close(done); w.Run(ctx) }()
			defer func() { cancel(); <-done }()
			// Wait for the first poll.
			deadline := time.Now().Add(5 * time.Second)
			for w.Reads() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // the listener connects
			g0, err := w.Generation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			reads := w.Reads()
			for range 1000 {
				if _, err := w.Generation(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := w.Reads() - reads; n > 1 {
				t.Errorf("1000 checks while running made %d reads; want at most the one poll that may fall in between", n)
			}
			changed := w.Changed()
			start := time.Now()
			if err := rules.NewSQLStore(other).PutPathways(ctx, []rules.Pathway{{ID: "p", Name: "P"}}, day); err != nil {
				t.Fatal(err)
			}
			select {
			case <-changed:
			case <-time.After(3 * bound):
				t.Fatalf("change not seen within %v", 3*bound)
			}
			seen := time.Since(start)
			g1, err := w.Generation(ctx)
			if err != nil || g1 == g0 {
				t.Fatalf("generation %d after change from %d: %v", g1, g0, err)
			}
			limit := bound + 100*time.Millisecond
			if dialect == database.Postgres {
				limit = 100 * time.Millisecond // notified, not polled
			}
			if seen > limit {
				t.Errorf("change seen after %v, want within %v", seen, limit)
			}
			t.Logf("%s: change seen after %v (bound %v)", dialect, seen, bound)
		})
	}
}

// TestWatcherDistrustsAStalledLoop: when Run has not confirmed the counter for three bounds,
// checks read it themselves rather than trust memory.
func TestWatcherDistrustsAStalledLoop(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		var now atomic.Int64
		now.Store(day.UnixNano())
		ctx, cancel := context.WithCancel(context.Background())
		w := &refdata.Watcher{DB: db, Bound: time.Hour, Now: func() time.Time { return time.Unix(0, now.Load()) }}
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		defer func() { cancel(); <-done }()
		for w.Reads() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		reads := w.Reads()
		if _, err := w.Generation(ctx); err != nil || w.Reads() != reads {
			t.Fatalf("fresh loop: %v, %d reads, want %d", err, w.Reads(), reads)
		}
		now.Add(int64(3*time.Hour + time.Second))
		if _, err := w.Generation(ctx); err != nil || w.Reads() != reads+1 {
			t.Errorf("stalled loop: %v, %d reads, want %d", err, w.Reads(), reads+1)
		}
	})
}
