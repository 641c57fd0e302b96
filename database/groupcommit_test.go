package database_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

const createProbe = `CREATE TABLE gc_probe (k TEXT PRIMARY KEY)`

func insertProbe(ctx context.Context, tx *database.Tx, k string) error {
	_, err := tx.ExecPrepared(ctx, `INSERT INTO gc_probe (k) VALUES (?)`, k)
	return err
}

func probeExists(t *testing.T, db *database.DB, k string) bool {
	t.Helper()
	var n int
	if err := db.GetContext(t.Context(), &n, db.Rebind(`SELECT COUNT(*) FROM gc_probe WHERE k = ?`), k); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// waitQueued waits until n InTx calls wait on the writer, so that tests queue them in a known order.
func waitQueued(t *testing.T, db *database.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for database.QueuedWrites(db) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d InTx calls queued, want %d", database.QueuedWrites(db), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

type outcome int

const (
	commits outcome = iota
	fails
	panics
	cancelled // its context ends while it waits in the queue
)

var errJob = errors.New("job refused")

// TestGroupCommitIsolatesJobs queues jobs behind a leader that waits, so they share one
// transaction, and checks that each one's failure, panic or cancellation takes only its own
// writes with it.
func TestGroupCommitIsolatesJobs(t *testing.T) {
	tests := []struct {
		name string
		jobs []outcome // the first leads the batch
	}{
		{"all commit", []outcome{commits, commits, commits}},
		{"one in the middle fails", []outcome{commits, commits, fails, commits}},
		{"one in the middle panics", []outcome{commits, panics, commits}},
		{"the leader fails", []outcome{fails, commits, commits}},
		{"the leader panics", []outcome{panics, commits, fails, commits}},
		{"all fail", []outcome{fails, fails, panics}},
		{"one is cancelled while queued", []outcome{commits, cancelled, commits}},
		{"every outcome", []outcome{commits, fails, cancelled, panics, commits, fails, commits}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := databasetest.Open(t, database.SQLite)
			if _, err := db.ExecContext(t.Context(), createProbe); err != nil {
				t.Fatal(err)
			}
			database.SetBatchBounds(db, 64, time.Minute)
			before := db.GroupCommitStats()

			started, release := make(chan struct{}), make(chan struct{})
			type result struct {
				err      error
				panicked any
				ran      bool
			}
			results := make([]result, len(tt.jobs))
			cancels := make([]context.CancelFunc, len(tt.jobs))
			var wg sync.WaitGroup
			for i, o := range tt.jobs {
				ctx, cancel := context.WithCancel(t.Context())
				cancels[i] = cancel
				k := fmt.Sprint("job-", i)
				wg.Go(func() {
					defer func() { results[i].panicked = recover() }()
					results[i].err = db.InTx(ctx, func(tx *database.Tx) error {
						results[i].ran = true
						if i == 0 {
							close(started)
							<-release
						}
						if err := insertProbe(ctx, tx, k); err != nil {
							return err
						}
						switch o {
						case fails:
							return fmt.Errorf("%s: %w", k, errJob)
						case panics:
							panic(k)
						}
						return nil
					})
				})
				// The leader runs its own job; the others wait in the order started.
				if i == 0 {
					<-started
				}
				waitQueued(t, db, i)
			}
			for i, o := range tt.jobs {
				if o == cancelled {
					cancels[i]()
				}
			}
			close(release)
			wg.Wait()

			for i, o := range tt.jobs {
				k := fmt.Sprint("job-", i)
				r := results[i]
				switch o {
				case commits:
					if r.err != nil || r.panicked != nil {
						t.Errorf("%s: InTx = %v, panic %v, want nil", k, r.err, r.panicked)
					}
				case fails:
					if !errors.Is(r.err, errJob) || r.panicked != nil {
						t.Errorf("%s: InTx = %v, panic %v, want its own error", k, r.err, r.panicked)
					}
				case panics:
					if r.panicked != k {
						t.Errorf("%s: panic %v (InTx = %v), want its own panic %q", k, r.panicked, r.err, k)
					}
				case cancelled:
					if !errors.Is(r.err, context.Canceled) || r.ran {
						t.Errorf("%s: InTx = %v, fn ran %v; want context.Canceled without running", k, r.err, r.ran)
					}
				}
				if got, want := probeExists(t, db, k), o == commits; got != want {
					t.Errorf("%s: row stored = %v, want %v", k, got, want)
				}
			}
			after := db.GroupCommitStats()
			if jobs := after.Jobs - before.Jobs; jobs > int64(len(tt.jobs)) || after.Batches-before.Batches != 1 {
				t.Errorf("ran %d jobs in %d batches, want the %d jobs in one", jobs, after.Batches-before.Batches, len(tt.jobs))
			}
			// The writer still works: nothing was left half done.
			if err := db.InTx(t.Context(), func(tx *database.Tx) error { return insertProbe(t.Context(), tx, "after") }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGroupCommitFailedCommitFailsTheBatch makes COMMIT itself fail, through a deferred foreign key
// that one job breaks: every job of the batch must fail and none of their writes be stored.
func TestGroupCommitFailedCommitFailsTheBatch(t *testing.T) {
	db := databasetest.Open(t, database.SQLite)
	ctx := t.Context()
	for _, q := range []string{createProbe, `CREATE TABLE gc_parent (id TEXT PRIMARY KEY)`,
		`CREATE TABLE gc_child (id TEXT PRIMARY KEY, parent TEXT REFERENCES gc_parent (id) DEFERRABLE INITIALLY DEFERRED)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	database.SetBatchBounds(db, 64, time.Minute)
	started, release := make(chan struct{}), make(chan struct{})
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			errs[i] = db.InTx(ctx, func(tx *database.Tx) error {
				if i == 0 {
					close(started)
					<-release
				}
				if i == 1 {
					_, err := tx.ExecContext(ctx, `INSERT INTO gc_child (id, parent) VALUES ('c', 'missing')`)
					return err
				}
				return insertProbe(ctx, tx, fmt.Sprint("job-", i))
			})
		})
		if i == 0 {
			<-started
		}
		waitQueued(t, db, i)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("job %d: InTx = nil, want the failed COMMIT", i)
		}
		if probeExists(t, db, fmt.Sprint("job-", i)) {
			t.Errorf("job %d: row stored although COMMIT failed", i)
		}
	}
	// The connection must not be left inside the refused transaction.
	if err := db.InTx(ctx, func(tx *database.Tx) error { return insertProbe(ctx, tx, "after") }); err != nil {
		t.Fatalf("InTx after a failed COMMIT: %v", err)
	}
	if !probeExists(t, db, "after") {
		t.Error("row written after a failed COMMIT is missing")
	}
}

// TestInTxConcurrentWritersAcknowledgeCommitted runs 64 writers at once; each InTx that returns
// nil must have its row visible from another connection at that moment, and on SQLite the
// writes must have been committed in batches.
func TestInTxConcurrentWritersAcknowledgeCommitted(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		if _, err := db.ExecContext(ctx, createProbe); err != nil {
			t.Fatal(err)
		}
		const writers, each = 64, 20
		before := db.GroupCommitStats()
		began := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					k := fmt.Sprintf("w%d-%d", w, i)
					if err := db.InTx(ctx, func(tx *database.Tx) error { return insertProbe(ctx, tx, k) }); err != nil {
						errs <- err
						return
					}
					var n int
					if err := db.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM gc_probe WHERE k = ?`), k); err != nil {
						errs <- err
						return
					}
					if n != 1 {
						errs <- fmt.Errorf("%s: InTx returned nil but another connection does not see the row", k)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(began)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		var n int
		if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM gc_probe`); err != nil || n != writers*each {
			t.Fatalf("stored %d rows (%v), want %d", n, err, writers*each)
		}
		if db.Dialect != database.SQLite {
			return
		}
		s := db.GroupCommitStats()
		jobs, batches := s.Jobs-before.Jobs, s.Batches-before.Batches
		t.Logf("%d transactions in %d batches, the largest %d", jobs, batches, s.Largest)
		if jobs != writers*each || batches >= jobs || s.Largest < 2 {
			t.Errorf("%d transactions in %d batches, the largest %d: want them batched", jobs, batches, s.Largest)
		}
		// One writer runs one batch at a time, so its busy time fits in the wall time it ran in.
		if busy := s.Busy - before.Busy; busy <= 0 || busy > elapsed {
			t.Errorf("writer busy %v over %v of writing; want more than nothing and no more than the wall time", busy, elapsed)
		}
	})
}

// TestInTxCancelled: a context already done runs nothing, on either backend.
func TestInTxCancelled(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ran := false
		err := db.InTx(ctx, func(tx *database.Tx) error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Errorf("InTx = %v, fn ran %v; want context.Canceled without running", err, ran)
		}
	})
}

// TestGroupCommitCancelMidJob: a job whose context ends while it runs stops at its next
// statement and is rolled back alone; the job before it in the batch still commits.
func TestGroupCommitCancelMidJob(t *testing.T) {
	db := databasetest.Open(t, database.SQLite)
	if _, err := db.ExecContext(t.Context(), createProbe); err != nil {
		t.Fatal(err)
	}
	database.SetBatchBounds(db, 64, time.Minute)
	started, release := make(chan struct{}), make(chan struct{})
	var first, second error
	var wg sync.WaitGroup
	wg.Go(func() {
		first = db.InTx(t.Context(), func(tx *database.Tx) error {
			close(started)
			<-release
			return insertProbe(t.Context(), tx, "first")
		})
	})
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	wg.Go(func() {
		second = db.InTx(ctx, func(tx *database.Tx) error {
			if err := insertProbe(ctx, tx, "second"); err != nil {
				return err
			}
			cancel()
			return insertProbe(ctx, tx, "second-after-cancel")
		})
	})
	waitQueued(t, db, 1)
	close(release)
	wg.Wait()
	if first != nil {
		t.Errorf("first: InTx = %v, want nil", first)
	}
	if !errors.Is(second, context.Canceled) {
		t.Errorf("second: InTx = %v, want context.Canceled", second)
	}
	for k, want := range map[string]bool{"first": true, "second": false, "second-after-cancel": false} {
		if got := probeExists(t, db, k); got != want {
			t.Errorf("%s stored = %v, want %v", k, got, want)
		}
	}
}
