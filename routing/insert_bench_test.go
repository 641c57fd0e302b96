package routing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// dayRequest is one decision for Monday among n practitioners (the demo's size is 40), whose
// day routes hold the given number of one-hour visits from 09:00 with ten minutes between them,
// around a lunch break, so that six leave no room for a 45-minute visit before 17:00.
func dayRequest(tb testing.TB, n, visits, maxVisits int, mayMove bool) RouteRequest {
	loc := londonLoc(tb)
	rng := rand.New(rand.NewPCG(7, 8))
	ps := make([]Practitioner, 0, n)
	routes := fixedRoutes{}
	for i := range n {
		base := at(rng.Float64()*30-15, rng.Float64()*30-15)
		p := prac(fmt.Sprintf("p%03d", i), base)
		p.MaxVisitsPerDay = maxVisits
		p.Breaks = []Shift{{Day: time.Monday, StartMinute: 12*60 + 30, EndMinute: 13 * 60}}
		ps = append(ps, p)
	}
	for i := range ps {
		p := &ps[i]
		r, _ := BuildRoute(p, loc, 2026, 3, 2, nil)
		st := monday(loc, 9, 0)
		for k := range visits {
			if st.Before(monday(loc, 13, 0)) && st.Add(time.Hour).After(monday(loc, 12, 30)) {
				st = monday(loc, 13, 0)
			}
			r.Stops = append(r.Stops, Stop{VisitID: fmt.Sprintf("v%d-%d", i, k), Loc: at(rng.Float64()*30-15, rng.Float64()*30-15),
				Start: st, Duration: time.Hour, Earliest: st, Latest: st.Add(2 * time.Hour), Pinned: k%3 == 0})
			st = st.Add(70 * time.Minute)
		}
		r.Legs(GreatCircle{}.Between)
		routes[p.ID] = r
	}
	return RouteRequest{CaseID: "c", CandidateServiceIDs: []string{"svc-a"}, RequiredSkills: []string{"nurse"}, Duration: 45 * time.Minute,
		Earliest: monday(loc, 8, 0), Latest: monday(loc, 18, 0), Now: monday(loc, 8, 0), Subject: at(1, 2), MaxTravelMinutes: 60,
		Practitioners: ps, Routes: routes, Travel: GreatCircle{}, Loc: loc, MayMove: mayMove}
}

// BenchmarkInsertVisitDay places one visit among 40 practitioners whose days are empty, or full
// in time though below their visit count (every route is tried at every position and fails, as
// for a decision that is escalated), or at their visit count.
func BenchmarkInsertVisitDay(b *testing.B) {
	for _, bc := range []struct {
		name              string
		visits, maxVisits int
		mayMove, placed   bool
	}{
		{"empty", 0, 8, false, true},
		{"full", 6, 8, false, false},
		{"full-urgent", 6, 8, true, false},
		{"at-max", 6, 6, false, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := dayRequest(b, 40, bc.visits, bc.maxVisits, bc.mayMove)
			ctx := context.Background()
			ins, err := InsertVisit(ctx, req)
			if err != nil || (ins.Appointment != nil) != bc.placed {
				b.Fatalf("setup: %v, placed %v: %s", err, ins.Appointment != nil, ins.UnassignedReason)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := InsertVisit(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The previous algorithm on the same request, for a comparison within one run.
		b.Run(bc.name+"-reference", func(b *testing.B) {
			req := dayRequest(b, 40, bc.visits, bc.maxVisits, bc.mayMove)
			req.Travel = refGreatCircle{}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := insertVisitRef(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
