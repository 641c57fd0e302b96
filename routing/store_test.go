package routing_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
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

func TestMoveChecksTheRoute(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := routing.NewSQLStore(db)
		ps, err := routing.ParsePractitioners([]byte(`[{"id":"p1","name":"P","skills":["reablement"],"service_ids":["svc"],
			"base":{"lat":52.9,"lon":-1.1},"max_visits_per_day":6,"working_hours":[{"day":"fri","start":"09:00","end":"17:00"}],
			"breaks":[{"day":"fri","start":"12:30","end":"13:00"}]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.PutPractitioners(ctx, ps, storeNow); err != nil {
			t.Fatal(err)
		}
		// Friday 27 November 2026: London is on UTC.
		at := func(hh, mm int) time.Time { return time.Date(2026, 11, 27, hh, mm, 0, 0, time.UTC) }
		far := routing.Point{Lat: 53.05, Lon: -1.35}
		a, b, c := storedVisit("a", "p1", at(10, 0)), storedVisit("b", "p1", at(11, 0)), storedVisit("c", "p1", at(14, 45))
		a.Earliest, a.Latest = at(9, 30), at(16, 0)
		c.Loc = far
		for _, v := range []routing.StoredVisit{a, b, c} {
			if err := store.Book(ctx, db, v); err != nil {
				t.Fatal(err)
			}
		}
		toFar, err := routing.Minutes(ctx, routing.GreatCircle{}, a.Loc, far)
		if err != nil || toFar < 10 || toFar > 60 {
			t.Fatalf("travel to the far visit: %.1f min, %v", toFar, err)
		}
		travel := time.Duration(math.Ceil(toFar)) * time.Minute
		spans := []routing.Interval{{From: at(13, 30), To: at(17, 0)}}
		for _, tc := range []struct {
			name     string
			start    time.Time
			override bool
			open     []routing.Interval
			code     failure.Code
			reason   string
		}{
			{"overlaps the next visit", at(10, 30), false, nil, failure.Conflict, "visit b"},
			{"no time to travel to the next visit", c.Start.Add(-45*time.Minute - travel + time.Minute), false, nil, failure.Conflict, "visit c"},
			{"no time to travel from the previous visit", c.Start.Add(45*time.Minute + travel - time.Minute), false, nil, failure.Conflict, "visit c"},
			{"in a break", at(12, 20), false, nil, failure.Invalid, "break"},
			{"after working hours", at(16, 30), false, nil, failure.Invalid, "working hours"},
			{"before working hours", at(8, 30), false, nil, failure.Invalid, "working hours"},
			{"no time to travel from the base", at(9, 0), false, nil, failure.Invalid, "start of their day"},
			{"outside its window", at(9, 20), false, nil, failure.Invalid, "window"},
			{"service closed", at(13, 5), false, spans, failure.Invalid, "not open"},
			{"not a working day", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), false, nil, failure.Invalid, "does not work"},
			{"in the past", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), false, nil, failure.Invalid, "future"},
		} {
			_, err := store.Move(ctx, nil, routing.MoveRequest{VisitID: "a", Start: tc.start, Now: storeNow, Loc: london, OverrideWindow: tc.override, Open: tc.open})
			if failure.CodeOf(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("%s: %v, want %s naming %q", tc.name, err, tc.code, tc.reason)
			}
		}
		if v, err := store.Visit(ctx, "a"); err != nil || !v.Start.Equal(at(10, 0)) {
			t.Fatalf("refused moves changed the visit: %+v %v", v.Start, err)
		}
		va, _ := store.Visit(ctx, "a")
		before, _ := store.RouteSeq(ctx, db, va.PractitionerID)
		// Any minute will do: 13:03 is off every grid, after the break, in time to reach c.
		moved, err := store.Move(ctx, nil, routing.MoveRequest{VisitID: "a", Start: at(13, 3), Now: storeNow, Loc: london})
		if err != nil || !moved.Start.Equal(at(13, 3)) || moved.End.Sub(moved.Start) != 45*time.Minute {
			t.Fatalf("move: %+v %v", moved, err)
		}
		if after, _ := store.RouteSeq(ctx, db, va.PractitionerID); after <= before {
			t.Errorf("route version %d -> %d, want it moved", before, after)
		}
		// Outside the window only when the coordinator overrides it, and the override is recorded.
		if _, err := store.Move(ctx, nil, routing.MoveRequest{VisitID: "a", Start: at(13, 13), Now: storeNow.Add(time.Minute), Loc: london}); err != nil {
			t.Fatalf("move inside the window: %v", err)
		}
		late := at(9, 20) // before the window opens at 09:30, though the route has room
		if _, err := store.Move(ctx, nil, routing.MoveRequest{VisitID: "a", Start: late, Now: storeNow.Add(2 * time.Minute), Loc: london}); failure.CodeOf(err) != failure.Invalid {
			t.Fatalf("move after the window without override: %v", err)
		}
		if _, err := store.Move(ctx, nil, routing.MoveRequest{VisitID: "a", Start: late, Now: storeNow.Add(3 * time.Minute), Loc: london, OverrideWindow: true}); err != nil {
			t.Fatalf("override: %v", err)
		}
		moves, err := store.MovesOfVisit(ctx, nil, "a")
		if err != nil || len(moves) != 3 || !strings.HasPrefix(moves[0].DecisionID, routing.MoveCauseCoordinator) ||
			!strings.HasPrefix(moves[1].DecisionID, routing.MoveCauseCoordinator) || !strings.HasPrefix(moves[2].DecisionID, routing.MoveCauseOverride) ||
			!moves[2].To.Equal(late) {
			t.Errorf("recorded moves: %+v %v", moves, err)
		}
		if _, err := store.Cancel(ctx, nil, "b", storeNow); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Move(ctx, nil, routing.MoveRequest{VisitID: "b", Start: at(11, 0), Now: storeNow, Loc: london}); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("moving a cancelled visit: %v", err)
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
