package routing_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

var storeNow = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func storedVisit(id, practitioner string, start time.Time) routing.StoredVisit {
	return routing.StoredVisit{Visit: routing.Visit{ID: id, CaseID: "case-" + id, PractitionerID: practitioner, ServiceID: "svc",
		Pathway: "discharge-pathway-1", Start: start, End: start.Add(45 * time.Minute), Loc: routing.Point{Lat: 52.95, Lon: -1.15},
		RequiredSkills: []string{"reablement"}}, SubjectRef: "s-" + id, CreatedAt: storeNow, UpdatedAt: storeNow}
}

func TestConcurrentBookingOfOneSlotHasOneWinner(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		store := routing.NewSQLStore(db)
		start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		const n = 24
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = store.Book(context.Background(), db, storedVisit(fmt.Sprintf("v%02d", i), "p1", start))
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !routing.IsSlotTaken(err) || failure.CodeOf(err) != failure.Conflict:
				t.Errorf("loser got %v, want a slot-taken conflict", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d bookings of one slot committed, want exactly 1", won)
		}
		booked, err := store.Booked(context.Background(), nil, start, start.Add(time.Minute))
		if err != nil || len(booked) != 1 {
			t.Fatalf("booked %d, %v", len(booked), err)
		}
		// Cancelling frees the slot; cancelling twice is a conflict.
		if _, err := store.Cancel(context.Background(), nil, booked[0].ID, storeNow); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Cancel(context.Background(), nil, booked[0].ID, storeNow); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("second cancel: %v", err)
		}
		if err := store.Book(context.Background(), db, storedVisit("again", "p1", start)); err != nil {
			t.Errorf("slot not freed by cancel: %v", err)
		}
	})
}

func TestMoveChecksGridHoursAndClashes(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := routing.NewSQLStore(db)
		ps, err := routing.ParsePractitioners([]byte(`[{"id":"p1","name":"P","skills":["reablement"],"service_ids":["svc"],
			"base":{"lat":52.9,"lon":-1.1},"max_visits_per_day":6,"working_hours":[{"day":"fri","start":"09:00","end":"17:00"}]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.PutPractitioners(ctx, ps, storeNow); err != nil {
			t.Fatal(err)
		}
		ten := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		for _, v := range []routing.StoredVisit{storedVisit("a", "p1", ten), storedVisit("b", "p1", ten.Add(time.Hour))} {
			if err := store.Book(ctx, db, v); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name  string
			start time.Time
			code  failure.Code
		}{
			{"off grid", ten.Add(-30 * time.Minute), failure.Invalid},
			{"outside hours", ten.Add(8 * time.Hour), failure.Invalid},
			{"in the past", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), failure.Invalid},
			{"taken", ten.Add(time.Hour), failure.Conflict},
		} {
			if _, err := store.Move(ctx, "a", tc.start, london, storeNow); failure.CodeOf(err) != tc.code {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
			}
		}
		moved, err := store.Move(ctx, "a", ten.Add(3*time.Hour), london, storeNow)
		if err != nil || !moved.Start.Equal(ten.Add(3*time.Hour)) || moved.End.Sub(moved.Start) != 45*time.Minute {
			t.Fatalf("move: %+v %v", moved, err)
		}
	})
}

func TestDayGeoJSONGolden(t *testing.T) {
	ps, err := routing.ParsePractitioners([]byte(`[{"id":"p1","name":"Alex","skills":["reablement"],"service_ids":["svc"],
		"base":{"lat":52.9,"lon":-1.1},"max_visits_per_day":6,"working_hours":[]},
		{"id":"p2","name":"Sam","skills":[],"service_ids":[],"base":{"lat":53,"lon":-1.2},"max_visits_per_day":1,"working_hours":[]}]`))
	if err != nil {
		t.Fatal(err)
	}
	ten := time.Date(2026, 6, 5, 9, 0, 0, 0, time.UTC) // summer time: 10:00 in London
	visits := []routing.StoredVisit{storedVisit("b", "p1", ten.Add(time.Hour)), storedVisit("a", "p1", ten)}
	visits[0].Pinned = true
	got, err := routing.DayGeoJSON(visits, ps, london)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "day.golden.geojson")
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("GeoJSON differs from %s:\n%s", path, got)
	}
}
