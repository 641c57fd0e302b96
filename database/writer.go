package database

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// Group commit bounds: a leader stops taking jobs into its transaction after this many, or
// once it has worked this long, so a job waits at most about two batches' work.
const (
	maxBatchJobs = 64
	maxBatchWork = 2 * time.Millisecond
)

// writer runs SQLite's transactions on its one write connection. Callers queue their
// transactions as jobs; the first to find no transaction running leads: it runs the jobs
// queued so far in one transaction, each in a savepoint, commits once, and hands the lead
// to the next job waiting. Waiting callers sleep on a channel instead of polling SQLite's
// busy handler, and a batch of n pays for one BEGIN and one COMMIT instead of n.
type writer struct {
	pool  *sqlx.DB // one connection
	stmts stmtCache

	mu      sync.Mutex
	queue   []*job
	leading bool // a leader is running; the queue is empty when none is

	// maxJobs and maxWork bound a batch (maxBatchJobs and maxBatchWork; tests change them).
	maxJobs int
	maxWork time.Duration

	batches atomic.Int64
	jobs    atomic.Int64
	largest atomic.Int64
	busy    atomic.Int64 // nanoseconds from a batch's first job taken to its COMMIT returned
}

// job is one caller's transaction waiting for, or in, a batch.
type job struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	wake chan struct{} // receives once: to lead, or with the job done

	// Set under writer.mu.
	lead  bool // the job's caller leads the next batch
	taken bool // a leader has taken the job off the queue

	// Set by the leader before wake.
	err      error
	panicked bool
	panicVal any
}

func newWriter(pool *sqlx.DB) *writer {
	return &writer{pool: pool, stmts: stmtCache{pool: pool}, maxJobs: maxBatchJobs, maxWork: maxBatchWork}
}

// GroupCommitStats counts SQLite's write batches, so operators and tests can see that
// transactions waiting together are committed together.
type GroupCommitStats struct {
	// Batches is how many transactions were committed (or rolled back) on the writer.
	Batches int64
	// Jobs is how many InTx calls ran in them.
	Jobs int64
	// Largest is the most InTx calls one batch held.
	Largest int64
	// Busy is the wall time the writer spent in batches, from the first job to COMMIT: over an
	// interval, its share of that interval is how near SQLite's one writer is to saturation.
	Busy time.Duration
}

// GroupCommitStats returns the writer's counters since Open; zero on PostgreSQL.
func (db *DB) GroupCommitStats() GroupCommitStats {
	if db.writer == nil {
		return GroupCommitStats{}
	}
	w := db.writer
	return GroupCommitStats{Batches: w.batches.Load(), Jobs: w.jobs.Load(), Largest: w.largest.Load(),
		Busy: time.Duration(w.busy.Load())}
}

func (w *writer) close() error {
	w.stmts.close()
	return w.pool.Close()
}

// do runs fn in the next batch and returns once that batch has committed.
func (w *writer) do(ctx context.Context, db *DB, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	w.mu.Lock()
	w.queue = append(w.queue, j)
	if !w.leading {
		w.leading = true
		j.lead = true
	}
	lead := j.lead
	w.mu.Unlock()
	if !lead {
		select {
		case <-j.wake:
		case <-ctx.Done():
			w.mu.Lock()
			if !j.lead && !j.taken {
				w.queue = slices.DeleteFunc(w.queue, func(q *job) bool { return q == j })
				w.mu.Unlock()
				return ctx.Err()
			}
			w.mu.Unlock()
			<-j.wake
		}
		w.mu.Lock()
		lead = j.lead
		w.mu.Unlock()
	}
	if lead {
		// The leader's own job is at the head of the queue, so this batch runs it.
		w.lead(db)
	}
	if j.panicked {
		panic(j.panicVal)
	}
	return j.err
}

// lead runs one batch and hands the lead on. Whatever happens in it, every job it took is
// given a result and woken, and the lead passes on, so no caller waits for ever.
func (w *writer) lead(db *DB) {
	var done []*job
	finished := false
	defer func() {
		if !finished {
			// A runtime.Goexit in fn (panics in fn are recovered per job) or a panic outside fn:
			// the transaction was rolled back by the deferred Rollback below.
			for _, j := range done {
				if j.err == nil && !j.panicked {
					j.err = errors.New("database: transaction rolled back: another transaction in its batch ended its goroutine")
				}
			}
		}
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.leading = false
		} else {
			next := w.queue[0]
			next.lead = true
			next.wake <- struct{}{}
		}
		w.mu.Unlock()
		for _, j := range done {
			j.wake <- struct{}{}
		}
	}()

	take := func(start time.Time) *job {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.queue) == 0 || len(done) >= w.maxJobs || len(done) > 0 && time.Since(start) >= w.maxWork {
			return nil
		}
		j := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		j.taken = true
		done = append(done, j)
		return j
	}

	start := time.Now()
	defer func() { w.busy.Add(int64(time.Since(start))) }()
	// The transaction belongs to no one caller: a caller's cancellation must not roll back the
	// others' work, so each job's context is checked by the job alone.
	var tx *sqlx.Tx
	defer func() {
		if !finished && tx != nil {
			_ = tx.Rollback()
		}
	}()
	var ran []*job // jobs whose writes are in the transaction
	var broken error
	for {
		j := take(start)
		if j == nil {
			break
		}
		if err := j.ctx.Err(); err != nil {
			j.err = err
			continue
		}
		if tx == nil {
			// The first job needs no savepoint: if it fails, the whole transaction is its own.
			var err error
			if tx, err = w.pool.BeginTxx(context.Background(), nil); err != nil {
				j.err = fmt.Errorf("database: unable to begin transaction: %w", err)
				break
			}
			j.err, j.panicked, j.panicVal = call(j.fn, &Tx{tx: tx, Dialect: db.Dialect, stmts: &w.stmts, shared: true})
			if j.err == nil && !j.panicked {
				ran = append(ran, j)
			} else {
				_ = tx.Rollback()
				tx = nil
			}
			continue
		}
		if _, err := tx.Exec("SAVEPOINT job"); err != nil {
			j.err = fmt.Errorf("database: unable to begin transaction: %w", err)
			broken = err
			break
		}
		j.err, j.panicked, j.panicVal = call(j.fn, &Tx{tx: tx, Dialect: db.Dialect, stmts: &w.stmts, shared: true})
		if j.err == nil && !j.panicked {
			if _, err := tx.Exec("RELEASE job"); err != nil {
				// SQLite rolled the transaction back itself (as it does on some I/O errors).
				j.err = fmt.Errorf("database: unable to commit transaction: %w", err)
				broken = err
				break
			}
			ran = append(ran, j)
			continue
		}
		if _, err := tx.Exec("ROLLBACK TO job"); err != nil {
			broken = err
			break
		}
		if _, err := tx.Exec("RELEASE job"); err != nil {
			broken = err
			break
		}
	}
	w.batches.Add(1)
	w.jobs.Add(int64(len(done)))
	for n := int64(len(done)); ; {
		l := w.largest.Load()
		if n <= l || w.largest.CompareAndSwap(l, n) {
			break
		}
	}
	if broken != nil {
		_ = tx.Rollback() // already rolled back by SQLite, or to be
		for _, j := range ran {
			j.err = fmt.Errorf("database: unable to commit transaction: rolled back with its batch: %w", broken)
		}
		finished = true
		return
	}
	if tx == nil {
		finished = true
		return
	}
	if err := tx.Commit(); err != nil {
		for _, j := range ran {
			j.err = fmt.Errorf("database: unable to commit transaction: %w", err)
		}
		// A COMMIT refused by a deferred constraint leaves SQLite's transaction open, yet
		// database/sql hands the connection back; the pool's one connection is that one.
		_, _ = w.pool.Exec("ROLLBACK")
	}
	finished = true
}

// call runs fn, turning a panic into a value to raise again in the caller's goroutine.
func call(fn func(tx *Tx) error, tx *Tx) (err error, panicked bool, panicVal any) {
	panicked = true
	defer func() {
		if panicked {
			panicVal = recover()
		}
	}()
	err = fn(tx)
	panicked = false
	return err, false, nil
}
