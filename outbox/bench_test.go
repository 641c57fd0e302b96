package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/outbox"
)

// BenchmarkDelivery measures delivery throughput from one replica to a loopback receiver that
// checks every signature: each iteration queues 2,000 events over 500 cases (untimed) and times
// sending them all with the serve defaults (batches of 100, 16 senders, 2 claim loops). On
// PostgreSQL it also reports the statements the deliverer's transactions ran per event, each a
// round trip.
func BenchmarkDelivery(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			benchmarkDelivery(b, databasetest.Open(b, dialect))
		})
	}
}

func benchmarkDelivery(b *testing.B, db *database.DB) {
	key, _ := outbox.ParseSecret(testSecret)
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := outbox.Verify(key, r.Header, body, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	subscribe(b, db, "bench", rcv.URL, "")
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	d := &outbox.Deliverer{DB: db, Client: &http.Client{Transport: transport, Timeout: 10 * time.Second}, Now: time.Now,
		Rand: rand.New(rand.NewPCG(1, 2)).Float64, BatchSize: 100, Senders: 16, MaxAttempts: 3, Lease: time.Minute}
	payload, _ := json.Marshal(map[string]any{"decision_id": "x", "pathway": "hospital-discharge-home", "priority": "urgent", "services": []string{"svc-1"}})
	const perIter, cases = 2000, 500
	var (
		sent       int64
		statements int64 // run by the deliverer's transactions, on PostgreSQL
	)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		events := make([]outbox.Event, perIter)
		for i := range events {
			n++
			events[i] = outbox.Event{ID: fmt.Sprintf("ev-%d", n), Type: outbox.DecisionMade, Case: fmt.Sprintf("case-%d", n%cases),
				Payload: payload, CreatedAt: time.Now()}
		}
		appendEvents(b, db, events...)
		want := got.Load() + perIter
		before := db.TxStats().Statements
		b.StartTimer()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for got.Load() < want {
					if k, err := d.DeliverOnce(context.Background()); err != nil {
						b.Error(err)
						return
					} else if k == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		sent += perIter
		statements += db.TxStats().Statements - before
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "events/s")
	if db.Dialect == database.Postgres {
		b.ReportMetric(float64(statements)/float64(sent), "statements/event")
	}
}
