// Package refdata tells each replica when the reference data it holds in memory (forms, pathways,
// rule sets and activations, shadow runs, the services directory, practitioners and the on-call
// rota) has changed in the database, so that a decision reads none of it from the database.
//
// The database keeps one counter, reference_marker, raised by triggers whenever any reference
// table changes. A Watcher remembers the last counter it read; caches compare it with the counter
// they were filled at. While Run is going, the counter is re-read in the background: on every
// notification on PostgreSQL's channel carepath_reference (typically within milliseconds of the
// commit) and at least every Bound, so a change made through any replica, or by a command line
// run, is in force on every replica within Bound. Without Run (command-line runs, tests), each
// check reads the counter itself: always current, one small query.
package refdata

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/carepath/carepath/database"
)

// DefaultBound is how often a running Watcher re-reads the counter when it hears nothing: the
// longest a replica decides with reference data another replica has replaced.
const DefaultBound = time.Second

// Channel is the PostgreSQL notification channel the reference triggers announce changes on.
const Channel = "carepath_reference"

// Watcher holds the last reference counter seen by this process.
type Watcher struct {
	DB *database.DB
	// DSN is the PostgreSQL URL to listen on; empty means polling only (always so on SQLite).
	DSN string
	// Bound is the polling interval of Run; DefaultBound when zero.
	Bound  time.Duration
	Now    func() time.Time
	Logger *slog.Logger

	counter atomic.Int64
	// fresh is the Now of the last successful read, in Unix nanoseconds, while Run is going; zero
	// when it is not, so that Generation reads through.
	fresh atomic.Int64
	reads atomic.Int64

	mu       sync.Mutex
	changed  chan struct{}
	watching bool
}

// Generation returns the reference counter: from memory while Run keeps it current, else read now.
// A counter Run has not confirmed for three bounds (the database unreachable, the loop stuck) is
// not trusted: the caller reads it, so a replica never decides on stale data for long unnoticed.
func (w *Watcher) Generation(ctx context.Context) (uint64, error) {
	if f := w.fresh.Load(); f != 0 && w.now().UnixNano()-f <= int64(3*w.bound()) {
		return uint64(w.counter.Load()), nil
	}
	return w.read(ctx)
}

// Reads counts the counter reads this Watcher has made, for tests and metrics.
func (w *Watcher) Reads() int64 { return w.reads.Load() }

// Changed returns a channel closed at the next change of the counter seen by Run.
func (w *Watcher) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed == nil {
		w.changed = make(chan struct{})
	}
	return w.changed
}

func (w *Watcher) bound() time.Duration {
	if w.Bound > 0 {
		return w.Bound
	}
	return DefaultBound
}

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watcher) read(ctx context.Context) (uint64, error) {
	var c int64
	w.reads.Add(1)
	if err := w.DB.QueryRowContext(ctx, `SELECT counter FROM reference_marker WHERE id = 1`).Scan(&c); err != nil {
		return 0, fmt.Errorf("refdata: unable to read the reference marker: %w", err)
	}
	if old := w.counter.Swap(c); old != c {
		w.mu.Lock()
		if w.changed != nil {
			close(w.changed)
			w.changed = nil
		}
		w.mu.Unlock()
	}
	return uint64(c), nil
}

// Run keeps the counter current until ctx ends: it listens for notifications on PostgreSQL when
// DSN is set, and polls every Bound. Start it once, in its own goroutine, beside the server.
func (w *Watcher) Run(ctx context.Context) {
	w.mu.Lock()
	if w.watching {
		w.mu.Unlock()
		return
	}
	w.watching = true
	w.mu.Unlock()
	defer w.fresh.Store(0)
	var notified <-chan *pq.Notification
	if w.DSN != "" && w.DB.Dialect == database.Postgres {
		l := pq.NewListener(w.DSN, 10*time.Millisecond, w.bound(), func(ev pq.ListenerEventType, err error) {
			if err != nil && w.Logger != nil {
				w.Logger.Warn("reference change listener", "event", int(ev), "error", err)
			}
		})
		defer l.Close()
		if err := l.Listen(Channel); err != nil && w.Logger != nil {
			w.Logger.Warn("reference changes: listening failed, polling only", "error", err)
		}
		notified = l.NotificationChannel()
	}
	tick := time.NewTicker(w.bound())
	defer tick.Stop()
	w.poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-notified:
			// A nil notification means the listener reconnected and may have missed some.
			w.poll(ctx)
		case <-tick.C:
			w.poll(ctx)
		}
	}
}

func (w *Watcher) poll(ctx context.Context) {
	started := w.now()
	if _, err := w.read(ctx); err != nil {
		if ctx.Err() == nil && w.Logger != nil {
			w.Logger.Warn("reference changes: unable to read the marker", "error", err)
		}
		return
	}
	// Fresh as of the moment the read began: a commit after that is the next read's.
	w.fresh.Store(started.UnixNano())
}
