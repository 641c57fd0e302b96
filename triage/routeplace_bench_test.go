package triage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// BenchmarkSubmitByRosterSize is a stored assessment with a booking on the demo roster and on one
// of 1,000 practitioners: with routes held in memory, its cost should not grow with the roster.
func BenchmarkSubmitByRosterSize(b *testing.B) {
	for _, size := range []int{40, 1000} {
		b.Run(fmt.Sprintf("practitioners=%d", size), func(b *testing.B) {
			db := databasetest.Open(b, database.SQLite)
			e := placedEngine(b, db)
			ctx := context.Background()
			var extra []routing.Practitioner
			for i := 40; i < size; i++ {
				extra = append(extra, routing.Practitioner{ID: fmt.Sprintf("x-%04d", i), Name: "Extra", Skills: []string{"social_worker"},
					ServiceIDs: []string{"svc-other"}, Base: routing.Point{Lat: 52.9 + float64(i%50)*0.002, Lon: -1.2 + float64(i%40)*0.003},
					MaxVisitsPerDay: 6, WorkingHours: []routing.Shift{{Day: time.Thursday, StartMinute: 540, EndMinute: 1020}}})
			}
			if len(extra) > 0 {
				if _, err := e.Placement.Routing.PutPractitioners(ctx, extra, placedNow); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			// A Thursday a week for every 40 visits, so the reablement team never fills.
			e.Now = func() time.Time { return placedNow.Add(time.Duration(i/40) * 7 * 24 * time.Hour) }
			b.ReportAllocs()
			for b.Loop() {
				body := example(b, "discharge", map[string]any{"ref": fmt.Sprintf("b-%d", i), "age": 80, "location": map[string]any{"lat": 52.94, "lon": -1.13}})
				d, _, err := e.Submit(ctx, body, triage.Options{})
				if err != nil || d.Assignment == nil {
					b.Fatalf("%v %+v", err, d.UnassignedReason)
				}
				i++
			}
		})
	}
}
