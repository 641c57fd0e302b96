package triage_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/triage"
)

// TestSlotsBoundSubmissionsInFlight holds stored submissions to the engine's slots, lets every
// waiting one through in turn, and gives up a wait, storing nothing, when its caller has gone.
func TestSlotsBoundSubmissionsInFlight(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e, _, _, _ := newEngine(t, db)
		e.Slots = make(chan struct{}, 2)
		var inside, most atomic.Int64
		hold := make(chan struct{})
		opts := triage.Options{InTx: func(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
			n := inside.Add(1)
			defer inside.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-hold
			return nil
		}}
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, _, err := e.Submit(context.Background(), body(t, mh{phq9: 12, gad7: 8}.submission()), opts)
				errs <- err
			})
		}
		// Two are inside; a caller that gives up while waiting leaves without storing anything.
		for len(e.Slots) < 2 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, _, err := e.Submit(ctx, body(t, mh{phq9: 3, gad7: 2}.submission()), triage.Options{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a submission that waited past its deadline: %v, want the deadline", err)
		}
		close(hold)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// SQLite's one writer runs one transaction at a time anyway; PostgreSQL uses both slots.
		want := int64(2)
		if db.Dialect == database.SQLite {
			want = 1
		}
		if m := most.Load(); m != want {
			t.Errorf("%d submissions storing at once, want %d and never more than the 2 slots", m, want)
		}
		if got := countDecisions(t, db); got != n {
			t.Errorf("%d decisions stored, want the %d that waited their turn", got, n)
		}
	})
}
