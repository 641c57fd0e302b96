package routing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// bookView is a RouteView over roster with some visits already on the days of [from, to), as
// RouteBook.View would hand out.
func bookView(tb testing.TB, loc *time.Location, roster []Practitioner, stops map[int]map[string][]Stop) *RouteView {
	tb.Helper()
	b := &RouteBook{Loc: loc, Travel: GreatCircle{}, roster: roster, primed: true}
	b.reset()
	b.days = stops
	b.served = newServedIndex(roster)
	return &RouteView{book: b, ctx: context.Background(), Roster: roster, served: b.served, seqs: map[string]int64{}}
}

// TestInsertVisitServedIndexChoosesAlike: on random rosters and requests, InsertVisit through
// the book's service index makes the same insertion, with the same counts and explanation, as
// the plain pass over every practitioner (the same routes, given through a roster the index does
// not cover).
func TestInsertVisitServedIndexChoosesAlike(t *testing.T) {
	loc := londonLoc(t)
	booked := 0
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 99))
		nServices := 2 + rng.IntN(12)
		c := genCounty(t, seed, 20+rng.IntN(200), 0, nServices)
		for i := range c.pracs {
			// Some practitioners list a service twice, or none at all.
			switch rng.IntN(20) {
			case 0:
				c.pracs[i].ServiceIDs = append(c.pracs[i].ServiceIDs, c.pracs[i].ServiceIDs[0])
			case 1:
				c.pracs[i].ServiceIDs = nil
			}
		}
		stops := map[int]map[string][]Stop{}
		for _, d := range windowDays(grid{loc: loc, slotMin: 60}, monday(loc, 0, 0), monday(loc, 0, 0).Add(4*24*time.Hour)) {
			m := map[string][]Stop{}
			for _, p := range c.pracs {
				for k := range rng.IntN(3) {
					start := time.Date(d.y, d.m, d.d, 9+3*k+rng.IntN(2), 0, 0, 0, loc)
					m[p.ID] = append(m[p.ID], Stop{VisitID: fmt.Sprintf("%s-%d-%d", p.ID, d.key, k), Loc: at(rng.Float64()*50-25, rng.Float64()*50-25),
						Start: start, Duration: 45 * time.Minute, Earliest: start, Latest: start.Add(45 * time.Minute)})
				}
			}
			stops[d.key] = m
		}
		view := bookView(t, loc, c.pracs, stops)
		for q := range 10 {
			var svcs []string
			for range 1 + rng.IntN(3) {
				svcs = append(svcs, fmt.Sprintf("svc-%d", rng.IntN(nServices+1)))
			}
			var skills []string
			if rng.IntN(2) == 0 {
				skills = []string{skillNames[rng.IntN(len(skillNames))]}
			}
			earliest := monday(loc, 8+rng.IntN(8), 0)
			req := RouteRequest{CaseID: fmt.Sprintf("case-%d-%d", seed, q), CandidateServiceIDs: svcs, RequiredSkills: skills,
				Duration: 45 * time.Minute, Earliest: earliest, Latest: earliest.Add(time.Duration(4+rng.IntN(72)) * time.Hour), Now: earliest,
				Subject: at(rng.Float64()*50-25, rng.Float64()*50-25), MaxTravelMinutes: float64(rng.IntN(2) * 40), MayMove: rng.IntN(2) == 0,
				Practitioners: view.Roster, Routes: view, Travel: GreatCircle{}, Loc: loc}
			if rng.IntN(3) == 0 {
				req.LastPractitionerID = c.pracs[rng.IntN(len(c.pracs))].ID
			}
			if _, ok := servedIndexOf(req); !ok {
				t.Fatal("the view's own roster is not indexed")
			}
			indexed, err := InsertVisit(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			plain := req
			plain.Practitioners = append([]Practitioner(nil), req.Practitioners...)
			if _, ok := servedIndexOf(plain); ok {
				t.Fatal("a copied roster is taken for the indexed one")
			}
			want, err := InsertVisit(context.Background(), plain)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(indexed.Assignment, want.Assignment) || !reflect.DeepEqual(indexed.Placed, want.Placed) {
				t.Fatalf("seed %d request %d: indexed\n%+v\nplain\n%+v", seed, q, indexed.Assignment, want.Assignment)
			}
			if want.Appointment != nil {
				booked++
			}
		}
	}
	// Both outcomes must be compared often: a booking and a refusal.
	if booked < 100 || booked > 580 {
		t.Fatalf("%d of 600 requests booked: the draw does not test both outcomes", booked)
	}
}

// BenchmarkInsertVisitRoster measures one insertion into the book's routes among 10,000
// practitioners of 2,000 services, through the service index and without it.
func BenchmarkInsertVisitRoster(b *testing.B) {
	loc := londonLoc(b)
	c := genCounty(b, 7, 10000, 0, 2000)
	view := bookView(b, loc, c.pracs, map[int]map[string][]Stop{})
	req := RouteRequest{CaseID: "case", CandidateServiceIDs: []string{"svc-3", "svc-7"}, RequiredSkills: []string{"nurse"},
		Duration: 45 * time.Minute, Earliest: monday(loc, 9, 0), Latest: monday(loc, 9, 0).Add(72 * time.Hour), Now: monday(loc, 9, 0),
		Subject: at(0, 0), MaxTravelMinutes: 60, Practitioners: view.Roster, Routes: view, Travel: GreatCircle{}, Loc: loc}
	for _, v := range []struct {
		name   string
		roster []Practitioner
	}{{"indexed", view.Roster}, {"plain", append([]Practitioner(nil), view.Roster...)}} {
		b.Run(v.name, func(b *testing.B) {
			req := req
			req.Practitioners = v.roster
			b.ReportAllocs()
			for b.Loop() {
				if _, err := InsertVisit(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
