package outbox_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/outbox"
)

// writes counts the write transactions a database has run: committed ones on PostgreSQL, those
// through the writer (committed or not) on SQLite.
func writes(db *database.DB) int64 {
	if db.Dialect == database.SQLite {
		return db.GroupCommitStats().Jobs
	}
	return db.TxStats().Transactions
}

func TestABacklogOfSeveralFanOutBatchesIsSentCompletelyInOrderAfterOneNotify(t *testing.T) {
	for _, subscribed := range []bool{false, true} {
		t.Run(fmt.Sprintf("subscribed=%v", subscribed), func(t *testing.T) {
			databasetest.Each(t, func(t *testing.T, db *database.DB) {
				c := &clock{now: t0}
				rcv := newReceiver(t, c.Now)
				if subscribed {
					subscribe(t, db, "cms", rcv.URL, "")
				}
				const cases, perCase = 5, 11
				var want []outbox.Event
				for i := range perCase {
					for k := range cases {
						want = append(want, event(fmt.Sprintf("e-%02d-%02d", k, i), outbox.AppointmentMoved, fmt.Sprintf("case-%02d", k)))
					}
				}
				appendEvents(t, db, want...)
				// Seven events a fan-out and no poll within the test: only going on at once after a
				// full batch gets through all 55.
				d := deliverer(db, c, 1)
				d.BatchSize, d.Poll, d.Gather = 100, time.Hour, time.Millisecond
				outbox.SetFanOutBatch(d, 7)
				ctx, cancel := context.WithCancel(t.Context())
				var wg sync.WaitGroup
				wg.Go(func() { d.Run(ctx) })
				d.Notify()
				deadline := time.Now().Add(10 * time.Second)
				for count(t, db, `SELECT COUNT(*) FROM outbox_events e WHERE NOT (`+fannedOutSQL(db.Dialect)+`)`) > 0 ||
					subscribed && len(rcv.received()) < len(want) {
					if time.Now().After(deadline) {
						cancel()
						wg.Wait()
						t.Fatalf("after 10 s: %d events not fanned out, %d of %d received", count(t, db,
							`SELECT COUNT(*) FROM outbox_events e WHERE NOT (`+fannedOutSQL(db.Dialect)+`)`), len(rcv.received()), len(want))
					}
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
				wg.Wait()
				if !subscribed {
					if n := count(t, db, `SELECT COUNT(*) FROM outbox_deliveries`); n != 0 {
						t.Errorf("%d deliveries queued with no subscription", n)
					}
					return
				}
				got := rcv.received()
				if len(got) != len(want) {
					t.Fatalf("received %d messages, want %d", len(got), len(want))
				}
				next := map[string]int{}
				seen := map[string]bool{}
				for _, g := range got {
					var k, i int
					fmt.Sscanf(g.ID, "e-%02d-%02d", &k, &i)
					if i != next[g.Case] || seen[g.ID] {
						t.Errorf("case %s: got event %d (again: %v), want %d next", g.Case, i, seen[g.ID], next[g.Case])
					}
					seen[g.ID], next[g.Case] = true, i+1
				}
			})
		})
	}
}

// fannedOutSQL is the condition on outbox_events e that its deliveries have been queued.
func fannedOutSQL(dialect database.Dialect) string {
	if dialect == database.SQLite {
		return `e.seq <= (SELECT seq FROM outbox_fanout)`
	}
	return `e.fanned`
}

func TestARoundWithNothingToDoWritesNothing(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		c := &clock{now: t0}
		rcv := newReceiver(t, c.Now)
		subscribe(t, db, "cms", rcv.URL, "")
		d := deliverer(db, c, 1)
		d.Rand = func() float64 { return 0.5 } // the retry waits half a second
		idle := func(when string) {
			t.Helper()
			before, checks := writes(db), outbox.Checks(d)
			for range 5 {
				if n, err := d.DeliverOnce(t.Context()); n != 0 || err != nil {
					t.Fatalf("%s: DeliverOnce = %d, %v; want nothing to send", when, n, err)
				}
			}
			if w := writes(db) - before; w != 0 {
				t.Errorf("%s: 5 rounds ran %d write transactions, want none", when, w)
			}
			if n := outbox.Checks(d) - checks; n != 5 {
				t.Errorf("%s: 5 rounds made %d reads, want one each", when, n)
			}
		}
		idle("empty outbox")

		appendEvents(t, db, event("e-1", outbox.DecisionMade, "case-1"), event("e-2", outbox.DecisionMade, "case-1"))
		before := writes(db)
		if n, err := d.DeliverOnce(t.Context()); n != 1 || err != nil {
			t.Fatalf("DeliverOnce = %d, %v; want the case's head sent", n, err)
		}
		// One transaction fans out and claims, one records the outcome.
		if w := writes(db) - before; w != 2 {
			t.Errorf("a round with work ran %d write transactions, want 2", w)
		}
		if n, err := d.DeliverOnce(t.Context()); n != 1 || err != nil {
			t.Fatalf("DeliverOnce = %d, %v; want the second event sent", n, err)
		}
		idle("all delivered")

		// A delivery backing off is not due: waiting for it writes nothing either.
		rcv.fail.Store(1)
		appendEvents(t, db, event("e-3", outbox.DecisionMade, "case-2"))
		if n, err := d.DeliverOnce(t.Context()); n != 1 || err != nil {
			t.Fatalf("DeliverOnce = %d, %v; want one failed send", n, err)
		}
		idle("backing off")
		c.Add(time.Minute)
		if n, err := d.DeliverOnce(t.Context()); n != 1 || err != nil {
			t.Fatalf("after the backoff: DeliverOnce = %d, %v; want the retry", n, err)
		}
		var ids []string
		for _, g := range rcv.received() {
			ids = append(ids, g.ID)
		}
		if !slices.Equal(ids, []string{"e-1", "e-2", "e-3"}) {
			t.Errorf("received %v, want e-1, e-2, e-3", ids)
		}
	})
}

// TestAnEventCommittedLateBehindALaterOneIsStillFannedOut holds an event's transaction open while
// a later event commits and is fanned out: on PostgreSQL the held event has the lower seq, and
// must still be fanned out once it commits, not passed over.
func TestAnEventCommittedLateBehindALaterOneIsStillFannedOut(t *testing.T) {
	if os.Getenv(databasetest.PostgresEnv) == "" {
		t.Skip(databasetest.PostgresEnv + " is not set; SQLite commits in seq order")
	}
	db := databasetest.Open(t, database.Postgres)
	c := &clock{now: t0}
	rcv := newReceiver(t, c.Now)
	subscribe(t, db, "cms", rcv.URL, "")
	appended, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- db.InTx(t.Context(), func(tx *database.Tx) error {
			if err := outbox.AppendTx(t.Context(), tx, event("early", outbox.DecisionMade, "case-1")); err != nil {
				return err
			}
			close(appended)
			<-release
			return nil
		})
	}()
	<-appended
	appendEvents(t, db, event("late", outbox.DecisionMade, "case-2"))
	d := deliverer(db, c, 1)
	if n, err := d.DeliverOnce(t.Context()); n != 1 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v; want the committed event sent", n, err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if n, err := d.DeliverOnce(t.Context()); n != 1 || err != nil {
		t.Fatalf("after the held transaction committed: DeliverOnce = %d, %v; want its event sent", n, err)
	}
	var ids []string
	for _, g := range rcv.received() {
		ids = append(ids, g.ID)
	}
	if !slices.Equal(ids, []string{"late", "early"}) {
		t.Errorf("received %v, want late, then early", ids)
	}
	if seqs := count(t, db, `SELECT COUNT(*) FROM outbox_events WHERE id = 'early' AND seq < (SELECT seq FROM outbox_events WHERE id = 'late')`); seqs != 1 {
		t.Errorf("the held event did not take the lower seq; the test proves nothing")
	}
}
