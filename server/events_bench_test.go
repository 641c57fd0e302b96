package server_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/triage"
)

// BenchmarkOutboxCost measures what writing decision.made (the event and its delivery to one
// subscription) adds to a stored assessment: the engine with and without Publish, alternated in
// one loop on two fresh databases so that the drift of a shared machine falls on both alike.
// Run with -benchtime 200x so the roster's slots do not run out.
func BenchmarkOutboxCost(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			body := []byte(assessment)
			ctx := context.Background()
			plain := startEnv(b, databasetest.Open(b, dialect))
			published := startEnv(b, databasetest.Open(b, dialect))
			plain.asServed(b)
			published.asServed(b)
			published.api.Engine.Publish = (&outbox.Publisher{Now: testNow}).DecisionMade
			if _, err := outbox.AddSubscription(ctx, published.db, outbox.Subscription{ID: "cms", URL: "https://cms.example/hook",
				Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: testNow()}); err != nil {
				b.Fatal(err)
			}
			var tPlain, tPublished time.Duration
			submit := func(e *env) time.Duration {
				t0 := time.Now()
				if _, _, err := e.api.Engine.Submit(ctx, body, triage.Options{Team: "central"}); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			b.ReportAllocs()
			// The order alternates too, so neither side always runs second (after the other's commit).
			odd := false
			for b.Loop() {
				if odd {
					tPublished += submit(published)
					tPlain += submit(plain)
				} else {
					tPlain += submit(plain)
					tPublished += submit(published)
				}
				odd = !odd
			}
			b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N), "engine-ns/op")
			b.ReportMetric(float64(tPublished.Nanoseconds())/float64(b.N), "published-ns/op")
			b.ReportMetric(100*(float64(tPublished)/float64(tPlain)-1), "overhead-%")
		})
	}
}
