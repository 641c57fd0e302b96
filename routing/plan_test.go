package routing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// planDay is a random Monday in the demo area: practitioners with skills and services (some on a
// split shift), visits on the hour with pinned and started ones, each booked with an eligible
// practitioner as one-at-a-time booking would.
func planDay(rng *rand.Rand, loc *time.Location, visits, pracs int) PlanDay {
	day := PlanDay{Date: monday(loc, 0, 0), Now: monday(loc, 10, 30), Loc: loc, Travel: GreatCircle{}, Iterations: 40, Seed: 1}
	services := []string{"svc-a", "svc-b", "svc-c"}
	for i := range pracs {
		p := prac(fmt.Sprintf("p%02d", i), at(rng.Float64()*20-10, rng.Float64()*20-10))
		p.Skills = []string{skillNames[rng.IntN(3)], skillNames[rng.IntN(3)]}
		p.ServiceIDs = []string{services[rng.IntN(3)], services[rng.IntN(3)]}
		p.MaxVisitsPerDay = 3 + rng.IntN(5)
		if rng.IntN(4) == 0 {
			p.WorkingHours = append(weekdays(8, 12), weekdays(13, 18)...)
			sortShifts(p.WorkingHours)
		}
		day.Practitioners = append(day.Practitioners, p)
	}
	for i := range visits {
		start := monday(loc, 8+rng.IntN(9), 0)
		v := Visit{ID: fmt.Sprintf("v%03d", i), Start: start, End: start.Add(time.Duration(20+rng.IntN(40)) * time.Minute),
			Loc: at(rng.Float64()*24-12, rng.Float64()*24-12), ServiceID: services[rng.IntN(3)], Pinned: rng.IntN(8) == 0}
		if rng.IntN(3) == 0 {
			v.RequiredSkills = []string{skillNames[rng.IntN(3)]}
		}
		if rng.IntN(4) == 0 {
			v.CandidateServiceIDs = []string{v.ServiceID, services[rng.IntN(3)]}
		}
		if rng.IntN(5) == 0 {
			v.Earliest, v.Latest = start.Add(-time.Hour), start.Add(3*time.Hour)
		}
		var ok []string
		for _, p := range day.Practitioners {
			if eligible(&p, &v) {
				ok = append(ok, p.ID)
			}
		}
		if len(ok) > 0 {
			v.PractitionerID = ok[rng.IntN(len(ok))]
		} else {
			v.PractitionerID = "p-gone" // no longer on the roster
		}
		day.Visits = append(day.Visits, v)
	}
	return day
}

// checkRoutePlan is an independent feasibility check of a plan against the day it was made for: the
// same visits, fixed ones unchanged, every placed visit with a practitioner who may make it,
// within its window and not before now, and each practitioner's day a journey that can be
// driven: from the base after the shift starts, visit to visit with travel between, back to the
// base for a break between shifts and at the end, within the daily limit.
func checkRoutePlan(t *testing.T, day PlanDay, plan RoutePlan) {
	t.Helper()
	const slack = time.Second
	before := map[string]Visit{}
	for _, v := range day.Visits {
		before[v.ID] = v
	}
	if len(plan.Visits) != len(day.Visits) {
		t.Fatalf("%d visits planned, %d booked", len(plan.Visits), len(day.Visits))
	}
	unplaced := map[string]bool{}
	for _, u := range plan.Unplaced {
		unplaced[u.VisitID] = true
	}
	changed := map[string]bool{}
	for _, c := range plan.Changes {
		changed[c.VisitID] = true
	}
	roster := map[string]*Practitioner{}
	for i := range day.Practitioners {
		roster[day.Practitioners[i].ID] = &day.Practitioners[i]
	}
	flex := cmpOr(day.Flex, DefaultPlanFlex)
	byPrac := map[string][]Visit{}
	for _, v := range plan.Visits {
		b, ok := before[v.ID]
		if !ok {
			t.Fatalf("visit %s was not booked", v.ID)
		}
		if v.End.Sub(v.Start) != b.End.Sub(b.Start) {
			t.Errorf("visit %s: length changed", v.ID)
		}
		same := v.PractitionerID == b.PractitionerID && v.Start.Equal(b.Start)
		if same == changed[v.ID] {
			t.Errorf("visit %s: changed %v, but listed as changed %v", v.ID, !same, changed[v.ID])
		}
		if (b.Pinned || b.Start.Before(day.Now) || unplaced[v.ID]) && !same {
			t.Errorf("visit %s: pinned, started or unplaced, but moved", v.ID)
		}
		if unplaced[v.ID] {
			continue
		}
		p := roster[v.PractitionerID]
		if p == nil {
			t.Errorf("visit %s: planned for %s, not on the roster", v.ID, v.PractitionerID)
			continue
		}
		if !same {
			if !eligible(p, &b) {
				t.Errorf("visit %s: %s lacks its skills or services", v.ID, p.ID)
			}
			lo, hi := b.Start.Add(-flex), b.Start.Add(flex)
			if !b.Earliest.IsZero() {
				lo = b.Earliest
			}
			if !b.Latest.IsZero() {
				hi = b.Latest.Add(-b.End.Sub(b.Start))
			}
			if v.Start.Before(lo.Add(-slack)) || v.Start.After(hi.Add(slack)) || v.Start.Before(day.Now) {
				t.Errorf("visit %s: starts %s outside [%s, %s] or before now", v.ID, v.Start.Format("15:04:05"), lo.Format("15:04"), hi.Format("15:04"))
			}
		}
		byPrac[p.ID] = append(byPrac[p.ID], v)
	}
	minutes := func(a, b Point) time.Duration {
		return time.Duration(GreatCircle{}.Between(a, b) * float64(time.Minute))
	}
	for id, vs := range byPrac {
		p := roster[id]
		if p.MaxVisitsPerDay > 0 && len(vs) > p.MaxVisitsPerDay {
			t.Errorf("%s: %d visits over the limit %d", id, len(vs), p.MaxVisitsPerDay)
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].Start.Before(vs[j].Start) })
		var shifts [][2]time.Time
		for _, s := range p.WorkingHours {
			if s.Day == time.Monday {
				shifts = append(shifts, [2]time.Time{monday(day.Loc, 0, s.StartMinute), monday(day.Loc, 0, s.EndMinute)})
			}
		}
		// Walk the day: within each shift, base → its visits → base.
		for _, v := range vs {
			in := slices.IndexFunc(shifts, func(s [2]time.Time) bool { return !v.Start.Before(s[0]) && !v.End.After(s[1]) })
			if in < 0 {
				t.Errorf("%s: visit %s at %s outside working hours", id, v.ID, v.Start.Format("15:04"))
			}
		}
		for si, s := range shifts {
			var in []Visit
			for _, v := range vs {
				if !v.Start.Before(s[0]) && !v.End.After(s[1]) {
					in = append(in, v)
				}
			}
			free, at := s[0], p.Base
			for _, v := range in {
				if v.Start.Add(slack).Before(free.Add(minutes(at, v.Loc))) {
					t.Errorf("%s shift %d: visit %s at %s cannot be reached (free %s + %s)", id, si, v.ID, v.Start.Format("15:04:05"), free.Format("15:04:05"), minutes(at, v.Loc))
				}
				free, at = v.End, v.Loc
			}
			if free.Add(minutes(at, p.Base)).After(s[1].Add(slack)) {
				t.Errorf("%s shift %d: back at base after the shift ends", id, si)
			}
		}
	}
}

func TestPlanRandomDaysFeasible(t *testing.T) {
	loc := londonLoc(t)
	rng := rand.New(rand.NewPCG(21, 22))
	for i := range 12 {
		day := planDay(rng, loc, 5+rng.IntN(40), 2+rng.IntN(8))
		day.Seed = uint64(i)
		day.MovePenaltyMinutes = float64(rng.IntN(3) * 10)
		plan, err := PlanRoutes(context.Background(), day)
		if err != nil {
			t.Fatal(err)
		}
		checkRoutePlan(t, day, plan)
		if plan.Moved != len(plan.Changes) || plan.Fixed+plan.Movable != len(day.Visits) {
			t.Errorf("day %d: counts %d moved of %d changes, %d fixed + %d movable of %d", i, plan.Moved, len(plan.Changes), plan.Fixed, plan.Movable, len(day.Visits))
		}
	}
}

// TestPlanDeterministic: the same day, seed and iteration limit give the same plan.
func TestPlanDeterministic(t *testing.T) {
	loc := londonLoc(t)
	day := planDay(rand.New(rand.NewPCG(23, 24)), loc, 30, 6)
	a, err := PlanRoutes(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	b, err := PlanRoutes(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("two plans of one day differ")
	}
}

// TestPlanReplanChangesLittle: re-planning a planned day after one cancellation, with a move
// penalty, hands no visit to another practitioner, and travel does not grow.
func TestPlanReplanChangesLittle(t *testing.T) {
	loc := londonLoc(t)
	day := planDay(rand.New(rand.NewPCG(25, 26)), loc, 30, 6)
	day.Now = monday(loc, 7, 0)
	first, err := PlanRoutes(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, u := range first.Unplaced {
		gone[u.VisitID] = true
	}
	again := day
	again.Visits = nil
	for _, v := range first.Visits {
		if !gone[v.ID] {
			again.Visits = append(again.Visits, v)
		}
	}
	again.Visits = again.Visits[1:] // a cancellation
	again.MovePenaltyMinutes = 1000
	second, err := PlanRoutes(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	checkRoutePlan(t, again, second)
	for _, c := range second.Changes {
		if c.FromPractitionerID != c.ToPractitionerID {
			t.Errorf("visit %s handed from %s to %s", c.VisitID, c.FromPractitionerID, c.ToPractitionerID)
		}
	}
	if second.TravelAfter > second.TravelBefore+1e-6 || len(second.Unplaced) > 0 {
		t.Errorf("travel %.2f → %.2f, %d unplaced", second.TravelBefore, second.TravelAfter, len(second.Unplaced))
	}
}

func TestPlanRefusesBadDays(t *testing.T) {
	loc := londonLoc(t)
	good := func() PlanDay { return planDay(rand.New(rand.NewPCG(1, 1)), loc, 3, 2) }
	for name, mutate := range map[string]func(*PlanDay){
		"no travel":        func(d *PlanDay) { d.Travel = nil },
		"no zone":          func(d *PlanDay) { d.Loc = nil },
		"no now":           func(d *PlanDay) { d.Now = time.Time{} },
		"negative penalty": func(d *PlanDay) { d.MovePenaltyMinutes = -1 },
		"visit elsewhere":  func(d *PlanDay) { d.Visits[0].Start = d.Visits[0].Start.AddDate(0, 0, 1) },
		"duplicate visit":  func(d *PlanDay) { d.Visits[1].ID = d.Visits[0].ID },
		"time limit, no clock": func(d *PlanDay) {
			d.Iterations, d.TimeLimit = 0, time.Second
		},
	} {
		d := good()
		mutate(&d)
		if _, err := PlanRoutes(context.Background(), d); err == nil {
			t.Errorf("%s: planned", name)
		}
	}
}
