package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/outbox"
)

// TestDeliveryCostPerEvent runs the delivery workers as a server does while events are committed
// at a steady rate, each followed by Notify, and counts the statements the workers' transactions
// run per event on PostgreSQL, where each is a round trip. The events are appended through a
// second pool so that only the workers' statements are counted.
func TestDeliveryCostPerEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("commits events at a steady rate for a few seconds")
	}
	for _, subscribers := range []int{0, 1} {
		t.Run(fmt.Sprintf("subscribers=%d", subscribers), func(t *testing.T) {
			for _, dialect := range databasetest.Dialects() {
				t.Run(string(dialect), func(t *testing.T) {
					dsn := databasetest.DSN(t, dialect)
					open := func() *database.DB {
						db, err := database.Open(context.Background(), dsn)
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { db.Close() })
						return db
					}
					writes, db := open(), open()
					deliveryCost(t, writes, db, subscribers)
				})
			}
		})
	}
}

func deliveryCost(t *testing.T, writes, db *database.DB, subscribers int) {
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	for i := range subscribers {
		subscribe(t, writes, fmt.Sprintf("sub-%d", i), rcv.URL, "")
	}
	d := &outbox.Deliverer{DB: db, Now: time.Now, Rand: rand.New(rand.NewPCG(1, 2)).Float64, BatchSize: 100, Senders: 16, Poll: time.Second}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx) })
	before, jobs := db.TxStats(), db.GroupCommitStats().Jobs
	const events, rate = 500, 500
	start := time.Now()
	for i := range events {
		appendEvents(t, writes, event(fmt.Sprintf("e-%d", i), outbox.DecisionMade, fmt.Sprintf("case-%d", i%50)))
		d.Notify()
		if ahead := time.Duration(i+1)*time.Second/rate - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fanned := count(t, writes, `SELECT COUNT(*) FROM outbox_events e WHERE `+map[database.Dialect]string{
			database.SQLite: `e.seq <= (SELECT seq FROM outbox_fanout)`, database.Postgres: `e.fanned`}[writes.Dialect])
		if fanned == events && got.Load() == int64(events*subscribers) &&
			count(t, writes, `SELECT COUNT(*) FROM outbox_deliveries WHERE status = 'delivered'`) == events*subscribers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d of %d events fanned out, %d of %d delivered", fanned, events, got.Load(), events*subscribers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// An idle second, which should cost nothing but reads.
	idle, busyJobs := db.TxStats(), db.GroupCommitStats().Jobs-jobs
	time.Sleep(time.Second)
	after, idleJobs := db.TxStats(), db.GroupCommitStats().Jobs-jobs-busyJobs
	checks := outbox.Checks(d)
	cancel()
	wg.Wait()
	busy := after.Statements - before.Statements - (after.Statements - idle.Statements)
	if idleJobs != 0 || after.Transactions != idle.Transactions {
		t.Errorf("an idle second ran %d write transactions, want none", idleJobs+after.Transactions-idle.Transactions)
	}
	if db.Dialect == database.SQLite {
		t.Logf("sqlite, %d subscribers: %d write transactions and %d reads for %d events", subscribers, busyJobs, checks, events)
		return
	}
	t.Logf("postgres, %d subscribers: %d transactions of %d statements, and %d reads, for %d events (%.2f statements/event in transactions, %.2f with the reads)",
		subscribers, idle.Transactions-before.Transactions, busy, checks, events, float64(busy)/events, float64(busy+checks)/events)
}
