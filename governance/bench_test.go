package governance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/internal/benchsize"
	"github.com/carepath/carepath/triage"
)

// BenchmarkPreviewImpact previews mh-triage v2 against CAREPATH_BENCH_DECISIONS stored decisions
// on SQLite, tests included. Seeding the decisions (decided in process under v1, stored with the
// bulk insert) is set-up and not timed.
func BenchmarkPreviewImpact(b *testing.B) {
	n := benchsize.FromEnv(b, "CAREPATH_BENCH_DECISIONS", 2000) // 2,000 keeps `go test ./...` fast; the target is at 100,000
	db := databasetest.Open(b, database.SQLite)
	h := setup(b, db)
	ctx := context.Background()
	form, err := h.engine.Store.Form(ctx, "mental-health", 1)
	if err != nil {
		b.Fatal(err)
	}
	v1, _, err := h.svc.StoredProgram(ctx, "mh-triage", 1)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]bulkimport.Keyed, 0, 5000)
	moved := 0
	for i := range n {
		total := i % 28
		if total == 9 {
			moved++
		}
		sub, err := triage.ParseSubmission(phq9(total, h.clock.t.Add(-time.Duration(n-i)*time.Second)))
		if err != nil {
			b.Fatal(err)
		}
		a, err := triage.Assess(form, sub, h.clock.t)
		if err != nil {
			b.Fatal(err)
		}
		d, err := triage.Decide(&a, v1)
		if err != nil {
			b.Fatal(err)
		}
		if err := triage.Record(&d, &a, fmt.Sprintf("bench-%07d", i), h.clock.t); err != nil {
			b.Fatal(err)
		}
		batch = append(batch, bulkimport.Keyed{Decision: &d})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := bulkimport.SaveDecisions(ctx, db, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	v2, m, err := h.svc.StoredProgram(ctx, "mh-triage", 2)
	if err != nil {
		b.Fatal(err)
	}
	since := h.clock.t.AddDate(0, 0, -90)
	b.ReportAllocs()
	for b.Loop() {
		imp, err := h.svc.PreviewImpact(ctx, v2, m, since, 0)
		if err != nil {
			b.Fatal(err)
		}
		if imp.Evaluated != n || imp.Changed != moved || imp.Failed != 0 || imp.Tests.Failed != 0 {
			b.Fatalf("impact = %+v, want %d evaluated and %d changed", imp, n, moved)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
