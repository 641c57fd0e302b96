package routing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the host's zoneinfo
)

func londonLoc(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// monday is Monday 2 March 2026 at hh:mm, London time.
func monday(loc *time.Location, hh, mm int) time.Time {
	return time.Date(2026, 3, 2, hh, mm, 0, 0, loc)
}

func weekdays(start, end int) []Shift {
	var s []Shift
	for d := time.Monday; d <= time.Friday; d++ {
		s = append(s, Shift{Day: d, StartMinute: start * 60, EndMinute: end * 60})
	}
	return s
}

type pracOpt func(*Practitioner)

func prac(id string, base Point, opts ...pracOpt) Practitioner {
	p := Practitioner{ID: id, Name: "Name " + id, Skills: []string{"nurse"}, ServiceIDs: []string{"svc-a"},
		Base: base, MaxVisitsPerDay: 6, WorkingHours: weekdays(9, 17)}
	for _, o := range opts {
		o(&p)
	}
	return p
}

// centre is a point in Leicester; offsets below are in km east/north of it.
var centreLat, centreLon = 52.6369, -1.1398

func at(eastKM, northKM float64) Point {
	return Point{Lat: centreLat + northKM/111.2, Lon: centreLon + eastKM/(111.2*0.6072)}
}

type county struct {
	loc      *time.Location
	pracs    []Practitioner
	requests []Request // in arrival order; Booked left nil
	visits   []Visit   // one per request, unassigned, in arrival order
}

var skillNames = []string{"nurse", "ot", "mental_health", "physio", "wound_care", "palliative"}

// genCounty builds a reproducible county: practitioners spread over ~50 km square, and visit
// requests on Monday 2 March 2026, each fixed to one hourly slot between 09:00 and 16:00.
func genCounty(tb testing.TB, seed uint64, nPrac, nReq, nServices int) county {
	loc := londonLoc(tb)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := county{loc: loc}
	rp := func() Point { return at(rng.Float64()*50-25, rng.Float64()*50-25) }
	for i := 0; i < nPrac; i++ {
		p := Practitioner{ID: fmt.Sprintf("p%05d", i), Base: rp(), MaxVisitsPerDay: 4 + rng.IntN(4)}
		p.ServiceIDs = []string{fmt.Sprintf("svc-%d", rng.IntN(nServices))}
		if rng.IntN(3) == 0 {
			if s := fmt.Sprintf("svc-%d", rng.IntN(nServices)); s != p.ServiceIDs[0] {
				p.ServiceIDs = append(p.ServiceIDs, s)
			}
		}
		for _, sk := range skillNames {
			if rng.IntN(2) == 0 {
				p.Skills = append(p.Skills, sk)
			}
		}
		if rng.IntN(2) == 0 {
			p.WorkingHours = weekdays(8, 18)
		} else {
			p.WorkingHours = weekdays(9, 17)
		}
		c.pracs = append(c.pracs, p)
	}
	for i := 0; i < nReq; i++ {
		start := monday(loc, 9+rng.IntN(8), 0)
		svcs := []string{fmt.Sprintf("svc-%d", rng.IntN(nServices))}
		if rng.IntN(2) == 0 {
			if s := fmt.Sprintf("svc-%d", rng.IntN(nServices)); s != svcs[0] {
				svcs = append(svcs, s)
			}
		}
		var skills []string
		if rng.IntN(2) == 0 {
			skills = []string{skillNames[rng.IntN(len(skillNames))]}
		}
		loc := rp()
		c.requests = append(c.requests, Request{
			CaseID: fmt.Sprintf("case-%05d", i), CandidateServiceIDs: svcs, RequiredSkills: skills,
			VisitDuration: 45 * time.Minute, Earliest: start, RespondWithin: time.Hour, Subject: loc,
			MaxTravelMinutes: 60, Practitioners: c.pracs, Travel: GreatCircle{}, Loc: c.loc,
		})
		c.visits = append(c.visits, Visit{ID: fmt.Sprintf("v%05d", i), CaseID: fmt.Sprintf("case-%05d", i),
			Pathway: "p1", Start: start, End: start.Add(45 * time.Minute), Loc: loc,
			RequiredSkills: skills, CandidateServiceIDs: svcs})
	}
	return c
}

// greedy assigns the county's requests one at a time in arrival order with Assign, as decisions
// would be made, returning the booked visits and the total travel.
func greedy(tb testing.TB, c county, w Weights) ([]Visit, float64) {
	tb.Helper()
	b, err := NewBookings(c.loc, 0, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var booked []Visit
	total := 0.0
	for i, req := range c.requests {
		req.Booked = b
		req.Weights = w
		a, err := Assign(context.Background(), req)
		if err != nil {
			tb.Fatal(err)
		}
		if a.Appointment == nil {
			continue
		}
		v := c.visits[i]
		v.PractitionerID = a.Appointment.PractitionerID
		v.ServiceID = a.Appointment.ServiceID
		if !v.Start.Equal(a.Appointment.Start) {
			tb.Fatalf("greedy: %s got slot %s, want %s", v.ID, a.Appointment.Start, v.Start)
		}
		if err := b.Add(v); err != nil {
			tb.Fatal(err)
		}
		booked = append(booked, v)
		total += a.Appointment.TravelMinutes
	}
	return booked, total
}
