package routing

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// checkRoute is the feasibility checker, written apart from Insert: it knows nothing of positions
// or pushing, only what a finished day must satisfy. before is the route's stops before the
// change, whose pinned ones must not have moved; skills are the practitioner's.
func checkRoute(r *DayRoute, stops, before []Stop, skills []string, tr func(a, b Point) float64) error {
	if r.MaxVisits > 0 && len(stops) > r.MaxVisits {
		return fmt.Errorf("%d visits, at most %d", len(stops), r.MaxVisits)
	}
	pinned := map[string]time.Time{}
	for _, s := range before {
		if s.Pinned {
			pinned[s.VisitID] = s.Start
		}
	}
	prevEnd, prevLoc := r.From, r.StartPoint
	for i, s := range stops {
		end := s.Start.Add(s.Duration)
		switch {
		case s.Start.Before(s.Earliest):
			return fmt.Errorf("stop %d (%s) starts %s before its window %s", i, s.VisitID, s.Start, s.Earliest)
		case !s.Latest.IsZero() && end.After(s.Latest):
			return fmt.Errorf("stop %d (%s) ends %s after its window %s", i, s.VisitID, end, s.Latest)
		case s.Start.Before(r.From) || end.After(r.To):
			return fmt.Errorf("stop %d (%s) outside working hours", i, s.VisitID)
		case s.Start.Sub(prevEnd).Minutes() < tr(prevLoc, s.Loc)-1e-9:
			return fmt.Errorf("stop %d (%s) at %s: %g min after the previous, travel needs %g", i, s.VisitID, s.Start,
				s.Start.Sub(prevEnd).Minutes(), tr(prevLoc, s.Loc))
		}
		for _, b := range r.Breaks {
			if s.Start.Before(b.To) && end.After(b.From) {
				return fmt.Errorf("stop %d (%s) overlaps a break", i, s.VisitID)
			}
		}
		for _, sk := range s.Skills {
			if !has(skills, sk) {
				return fmt.Errorf("stop %d (%s) needs skill %s", i, s.VisitID, sk)
			}
		}
		if t, ok := pinned[s.VisitID]; ok && !t.Equal(s.Start) {
			return fmt.Errorf("pinned stop %s moved from %s to %s", s.VisitID, t, s.Start)
		}
		prevEnd, prevLoc = end, s.Loc
	}
	if r.To.Sub(prevEnd).Minutes() < tr(prevLoc, r.EndPoint)-1e-9 {
		return fmt.Errorf("cannot return to the end point by %s", r.To)
	}
	return nil
}

func testRoute(loc *time.Location, rng *rand.Rand) *DayRoute {
	base := Point{Lat: 52.95, Lon: -1.15}
	r := &DayRoute{PractitionerID: "p", From: monday(loc, 8, 0), To: monday(loc, 17, 0), StartPoint: base, EndPoint: base, MaxVisits: 8,
		Breaks: []Interval{{From: monday(loc, 12, 0), To: monday(loc, 12, 30)}}}
	if rng.IntN(3) == 0 {
		r.EndPoint = Point{Lat: 52.9 + rng.Float64()*0.1, Lon: -1.2 + rng.Float64()*0.1}
	}
	return r
}

func randomCandidate(loc *time.Location, rng *rand.Rand, r *DayRoute) (Candidate, Stop) {
	p := Point{Lat: 52.88 + rng.Float64()*0.14, Lon: -1.25 + rng.Float64()*0.2}
	dur := time.Duration(30+15*rng.IntN(3)) * time.Minute
	e := monday(loc, 8+rng.IntN(8), 0)
	l := e.Add(time.Duration(1+rng.IntN(6)) * time.Hour)
	if rng.IntN(4) == 0 {
		l = time.Time{}
	}
	return Candidate{Loc: p, Duration: dur, Earliest: e, Latest: l},
		Stop{Loc: p, Duration: dur, Earliest: e, Latest: l, Pinned: rng.IntN(5) == 0, Skills: []string{"nurse"}}
}

func travelTo(r *DayRoute, c Point, tr func(a, b Point) float64) (to, from []float64) {
	for _, p := range r.Points() {
		to = append(to, tr(p, c))
		from = append(from, tr(c, p))
	}
	return to, from
}

// TestInsertKeepsEveryRouteFeasible inserts random visits one after another, moving routine
// visits half the time, and checks every resulting day with the independent checker.
func TestInsertKeepsEveryRouteFeasible(t *testing.T) {
	loc := londonLoc(t)
	tr := GreatCircle{}.Between
	rng := rand.New(rand.NewPCG(11, 12))
	placed, refused, moved := 0, 0, 0
	for inst := 0; inst < 300; inst++ {
		r := testRoute(loc, rng)
		now := r.From.Add(-time.Hour)
		if rng.IntN(4) == 0 {
			now = monday(loc, 10, 17)
		}
		for k := 0; k < 10; k++ {
			r.Legs(tr)
			c, s := randomCandidate(loc, rng, r)
			if c.Earliest.Before(now) {
				c.Earliest, s.Earliest = now, now
			}
			if !c.Latest.IsZero() && !c.Latest.After(c.Earliest) {
				continue
			}
			to, from := travelTo(r, c.Loc, tr)
			p, ok := r.Insert(c, to, from, now, rng.IntN(2) == 0)
			if !ok {
				refused++
				continue
			}
			s.VisitID = fmt.Sprintf("v%d-%d", inst, k)
			next := r.Apply(p, s)
			if err := checkRoute(r, next, r.Stops, []string{"nurse"}, tr); err != nil {
				t.Fatalf("instance %d insertion %d: %v\nplaced %+v", inst, k, err, p)
			}
			if d := r.Stops; len(p.Moved) > 0 {
				moved++
				for _, m := range p.Moved {
					if !m.To.After(m.From) {
						t.Fatalf("visit %s moved earlier or not at all: %s → %s (%d stops)", m.VisitID, m.From, m.To, len(d))
					}
				}
			}
			r.Stops = next
			placed++
		}
	}
	if placed < 500 || refused == 0 || moved == 0 {
		t.Errorf("instances too easy or too hard: %d placed, %d refused, %d with moves", placed, refused, moved)
	}
}

// TestInsertMatchesBruteForce compares the cheapest insertion with every position and every
// whole-minute start tried by the checker, on small routes whose visits keep their times.
func TestInsertMatchesBruteForce(t *testing.T) {
	loc := londonLoc(t)
	tr := GreatCircle{}.Between
	rng := rand.New(rand.NewPCG(21, 22))
	compared := 0
	for inst := 0; inst < 60; inst++ {
		r := testRoute(loc, rng)
		now := r.From
		for k := 0; k < 4; k++ {
			r.Legs(tr)
			c, s := randomCandidate(loc, rng, r)
			s.Pinned = false
			s.VisitID = fmt.Sprintf("v%d", k)
			to, from := travelTo(r, c.Loc, tr)
			p, ok := r.Insert(c, to, from, now, false)

			bestDetour, bestStart, found := math.Inf(1), time.Time{}, false
			for i := 0; i <= len(r.Stops); i++ {
				for st := r.From; !st.After(r.To); st = st.Add(time.Minute) {
					try := s
					try.Start = st
					seq := append(append(append([]Stop{}, r.Stops[:i]...), try), r.Stops[i:]...)
					if checkRoute(r, seq, r.Stops, []string{"nurse"}, tr) != nil {
						continue
					}
					pts := r.Points()
					detour := tr(pts[i], c.Loc) + tr(c.Loc, pts[i+1]) - tr(pts[i], pts[i+1])
					if detour < bestDetour-1e-9 {
						bestDetour, bestStart, found = detour, st, true
					}
					break // the first feasible minute at this position
				}
			}
			if ok != found {
				t.Fatalf("instance %d visit %d: insert found %v, brute force %v (%+v)", inst, k, ok, found, p)
			}
			if !ok {
				continue
			}
			compared++
			if math.Abs(p.Detour-bestDetour) > 1e-6 || !p.Start.Equal(bestStart) {
				t.Fatalf("instance %d visit %d: insert detour %.4f at %s, brute force %.4f at %s", inst, k, p.Detour, p.Start, bestDetour, bestStart)
			}
			r.Stops = r.Apply(p, s)
		}
	}
	if compared < 60 {
		t.Errorf("only %d insertions compared", compared)
	}
}

func TestInsertRespectsPinnedAndStarted(t *testing.T) {
	loc := londonLoc(t)
	tr := GreatCircle{}.Between
	base := Point{Lat: 52.95, Lon: -1.15}
	for _, tc := range []struct {
		name   string
		pinned bool
		now    time.Time
		want   bool
	}{
		{"routine visit moves later", false, monday(loc, 8, 0), true},
		{"pinned visit stays", true, monday(loc, 8, 0), false},
		{"started visit stays", false, monday(loc, 9, 5), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &DayRoute{From: monday(loc, 9, 0), To: monday(loc, 11, 0), StartPoint: base, EndPoint: base,
				Stops: []Stop{{VisitID: "r", Loc: base, Start: monday(loc, 9, 0), Duration: time.Hour, Earliest: monday(loc, 9, 0),
					Latest: monday(loc, 11, 0), Pinned: tc.pinned}}}
			r.Legs(tr)
			c := Candidate{Loc: base, Duration: 50 * time.Minute, Earliest: tc.now, Latest: monday(loc, 10, 0)}
			to, from := travelTo(r, c.Loc, tr)
			p, ok := r.Insert(c, to, from, tc.now, true)
			if ok != tc.want {
				t.Fatalf("ok %v, want %v (%+v)", ok, tc.want, p)
			}
			if ok && (len(p.Moved) != 1 || !p.Moved[0].To.Equal(monday(loc, 9, 50))) {
				t.Errorf("moved %+v", p.Moved)
			}
		})
	}
}

// BenchmarkInsertVisit500 is one decision placed among 500 practitioners' day routes of six visits.
func BenchmarkInsertVisit500(b *testing.B) {
	loc := londonLoc(b)
	rng := rand.New(rand.NewPCG(5, 6))
	var ps []Practitioner
	routes := fixedRoutes{}
	for i := range 500 {
		base := Point{Lat: 52.8 + rng.Float64()*0.3, Lon: -1.4 + rng.Float64()*0.5}
		p := prac(fmt.Sprintf("p%03d", i), base)
		p.MaxVisitsPerDay = 8
		ps = append(ps, p)
		r, _ := BuildRoute(&p, loc, 2026, 3, 2, nil)
		for k := range 6 {
			st := monday(loc, 9, 0).Add(time.Duration(k*75) * time.Minute)
			r.Stops = append(r.Stops, Stop{VisitID: fmt.Sprintf("v%d-%d", i, k), Loc: Point{Lat: base.Lat + rng.Float64()*0.05, Lon: base.Lon + rng.Float64()*0.05},
				Start: st, Duration: 45 * time.Minute, Earliest: st, Latest: st.Add(3 * time.Hour)})
		}
		r.Legs(GreatCircle{}.Between)
		routes[p.ID] = r
	}
	req := RouteRequest{CaseID: "c", CandidateServiceIDs: []string{"svc-a"}, RequiredSkills: []string{"nurse"}, Duration: 45 * time.Minute,
		Earliest: monday(loc, 8, 0), Latest: monday(loc, 17, 0), Now: monday(loc, 8, 0), Subject: Point{Lat: 52.95, Lon: -1.15},
		Practitioners: ps, Routes: routes, Travel: GreatCircle{}, Loc: loc, MayMove: true}
	b.ReportAllocs()
	for b.Loop() {
		ins, err := InsertVisit(context.Background(), req)
		if err != nil || ins.Appointment == nil {
			b.Fatal(err, ins.UnassignedReason)
		}
	}
}

type fixedRoutes map[string]*DayRoute

func (f fixedRoutes) Route(p *Practitioner, y int, m time.Month, d int) (*DayRoute, bool) {
	r, ok := f[p.ID]
	return r, ok
}

// TestInsertKeepsInsideOpeningHours places a visit only inside one of its service's openings,
// start and end, and nowhere when the service never opens in its window.
func TestInsertKeepsInsideOpeningHours(t *testing.T) {
	loc := londonLoc(t)
	tr := GreatCircle{}.Between
	base := Point{Lat: 52.95, Lon: -1.15}
	near := Point{Lat: 52.96, Lon: -1.16}
	for _, tc := range []struct {
		name      string
		open      []Interval
		wantStart time.Time
		ok        bool
	}{
		{"always open", nil, time.Time{}, true},
		{"opens at one", []Interval{{monday(loc, 13, 0), monday(loc, 17, 0)}}, monday(loc, 13, 0), true},
		{"first opening too short for the visit", []Interval{{monday(loc, 9, 0), monday(loc, 9, 30)}, {monday(loc, 14, 0), monday(loc, 15, 0)}}, monday(loc, 14, 0), true},
		{"opening ends inside a break", []Interval{{monday(loc, 11, 50), monday(loc, 12, 40)}, {monday(loc, 15, 0), monday(loc, 16, 0)}}, monday(loc, 15, 0), true},
		{"never open", []Interval{}, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &DayRoute{PractitionerID: "p", From: monday(loc, 8, 0), To: monday(loc, 17, 0), StartPoint: base, EndPoint: base, MaxVisits: 8,
				Breaks: []Interval{{From: monday(loc, 12, 0), To: monday(loc, 12, 30)}}}
			r.Legs(tr)
			c := Candidate{Loc: near, Duration: 45 * time.Minute, Earliest: monday(loc, 8, 0), Latest: monday(loc, 17, 0), Open: tc.open}
			to, from := travelTo(r, near, tr)
			p, ok := r.Insert(c, to, from, monday(loc, 7, 0), false)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tc.ok, p)
			}
			if !ok {
				return
			}
			if !tc.wantStart.IsZero() && !p.Start.Equal(tc.wantStart) {
				t.Errorf("starts %s, want %s", p.Start.Format("15:04"), tc.wantStart.Format("15:04"))
			}
			if tc.open != nil {
				inside := false
				for _, o := range tc.open {
					inside = inside || !p.Start.Before(o.From) && !p.Start.Add(c.Duration).After(o.To)
				}
				if !inside {
					t.Errorf("%s to %s is outside every opening", p.Start.Format("15:04"), p.Start.Add(c.Duration).Format("15:04"))
				}
			}
		})
	}
}
