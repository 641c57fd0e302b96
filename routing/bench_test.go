package routing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkAssign10k measures one decision among 10,000 practitioners with great-circle travel
// and a week of existing bookings.
func BenchmarkAssign10k(b *testing.B) {
	c := genCounty(b, 1, 10000, 1, 20)
	rng := rand.New(rand.NewPCG(3, 4))
	var visits []Visit
	for i, p := range c.pracs {
		for k := 0; k < 3; k++ {
			start := time.Date(2026, 3, 2+rng.IntN(5), 9+rng.IntN(8), 0, 0, 0, c.loc)
			visits = append(visits, Visit{ID: fmt.Sprintf("b%d-%d", i, k), PractitionerID: p.ID, Start: start, End: start.Add(45 * time.Minute)})
		}
	}
	// Drop accidental double bookings from the random draw.
	var clean []Visit
	seen := map[string]bool{}
	for _, v := range visits {
		k := v.PractitionerID + v.Start.String()
		if !seen[k] {
			seen[k] = true
			clean = append(clean, v)
		}
	}
	booked, err := NewBookings(c.loc, 0, clean)
	if err != nil {
		b.Fatal(err)
	}
	req := c.requests[0]
	req.CandidateServiceIDs = []string{"svc-3", "svc-7"}
	req.RequiredSkills = []string{"nurse"}
	req.Earliest = monday(c.loc, 9, 10)
	req.RespondWithin = 7 * 24 * time.Hour
	req.Booked = booked
	ctx := context.Background()
	a, err := Assign(ctx, req)
	if err != nil || a.Appointment == nil {
		b.Fatalf("setup: %v %+v", err, a)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Assign(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(a.Qualified), "qualified")
}

// BenchmarkOptimise2000x500 re-optimises a day of 2,000 visit requests over 500 practitioners,
// first booked one at a time by Assign in arrival order (travel-only weights), and reports both
// totals so the gain of batch optimisation is visible.
func BenchmarkOptimise2000x500(b *testing.B) {
	c := genCounty(b, 2, 500, 2000, 5)
	visits, greedyTravel := greedy(b, c, Weights{TravelPerMinute: 1})
	for i := range visits {
		if i%20 == 0 {
			visits[i].Pinned = true
		}
	}
	day := Day{Date: monday(c.loc, 12, 0), Now: monday(c.loc, 7, 0), Loc: c.loc, MaxTravelMinutes: 60,
		Practitioners: c.pracs, Visits: visits, Travel: GreatCircle{}}
	ctx := context.Background()
	var plan Plan
	b.ReportAllocs()
	for b.Loop() {
		var err error
		plan, err = Optimise(ctx, day)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(visits)), "visits")
	b.ReportMetric(greedyTravel, "greedy-min")
	b.ReportMetric(plan.TravelBefore, "before-min")
	b.ReportMetric(plan.TravelAfter, "optimised-min")
	// Pinned visits keep their travel, so the day's optimised total is the greedy total less the
	// movable visits' saving.
	b.ReportMetric(greedyTravel-plan.TravelBefore+plan.TravelAfter, "optimised-total-min")
	b.ReportMetric(float64(len(plan.Moves)), "moves")
	b.ReportMetric(float64(plan.Rounds), "rounds")
}
