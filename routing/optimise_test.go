package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// smallDay is a random instance small enough to brute-force.
func smallDay(tb testing.TB, rng *rand.Rand) Day {
	loc := londonLoc(tb)
	nP := 2 + rng.IntN(4)
	day := Day{Date: monday(loc, 12, 0), Now: monday(loc, 8, 0), Loc: loc, Travel: GreatCircle{}}
	if rng.IntN(3) == 0 {
		day.MaxTravelMinutes = 25
	}
	pt := func() Point { return at(rng.Float64()*30-15, rng.Float64()*30-15) }
	hours := [][2]int{{9, 12}, {10, 12}, {9, 11}, {9, 17}}
	for i := 0; i < nP; i++ {
		h := hours[rng.IntN(len(hours))]
		p := Practitioner{ID: fmt.Sprintf("p%d", i), Base: pt(), MaxVisitsPerDay: 1 + rng.IntN(3),
			ServiceIDs: []string{[]string{"a", "b"}[rng.IntN(2)]}, WorkingHours: weekdays(h[0], h[1])}
		if rng.IntN(3) == 0 {
			p.ServiceIDs = []string{"a", "b"}
		}
		for _, sk := range []string{"x", "y"} {
			if rng.IntN(3) > 0 {
				p.Skills = append(p.Skills, sk)
			}
		}
		day.Practitioners = append(day.Practitioners, p)
	}
	// A late "now" makes 09:00 visits started (fixed) without pinning them.
	if rng.IntN(3) == 0 {
		day.Now = monday(loc, 9, 30)
	}
	used := map[[2]int]bool{}
	count := map[int]int{}
	nV := 1 + rng.IntN(7)
	for i := 0; i < nV; i++ {
		hour := 9 + rng.IntN(3)
		v := Visit{ID: fmt.Sprintf("v%d", i), CaseID: fmt.Sprintf("c%d", i), Loc: pt()}
		v.ServiceID = []string{"a", "b"}[rng.IntN(2)]
		if rng.IntN(3) == 0 {
			v.CandidateServiceIDs = slices.Compact([]string{v.ServiceID, "a", "b"}[:2+rng.IntN(2)])
		}
		if rng.IntN(2) == 0 {
			v.RequiredSkills = []string{[]string{"x", "y"}[rng.IntN(2)]}
		}
		p := rng.IntN(nP)
		v.PractitionerID = day.Practitioners[p].ID
		fixed := rng.IntN(4) == 0 && !used[[2]int{p, hour}] && count[p] < day.Practitioners[p].MaxVisitsPerDay
		if fixed {
			used[[2]int{p, hour}] = true
			count[p]++
			v.Pinned = hour > 9 || day.Now.Hour() < 9
		} else if hour == 9 && day.Now.Hour() >= 9 {
			hour = 10 + rng.IntN(2)
		}
		v.Start = monday(loc, hour, 0)
		v.End = v.Start.Add(45 * time.Minute)
		day.Visits = append(day.Visits, v)
	}
	return day
}

func fixedVisit(day Day, v Visit) bool { return v.Pinned || v.Start.Before(day.Now) }

// bruteForce tries every practitioner for every movable visit; it returns the least total cost
// in integer cost units and whether any assignment satisfies every constraint.
func bruteForce(day Day) (int64, bool) {
	ps := day.Practitioners
	idx := map[string]int{}
	for i, p := range ps {
		idx[p.ID] = i
	}
	slotTaken := map[[2]int64]bool{}
	count := make([]int, len(ps))
	var movable []Visit
	for _, v := range day.Visits {
		if fixedVisit(day, v) {
			if p, ok := idx[v.PractitionerID]; ok {
				slotTaken[[2]int64{int64(p), v.Start.Unix()}] = true
				count[p]++
			}
			continue
		}
		movable = append(movable, v)
	}
	ok := func(p Practitioner, pi int, v Visit) (int64, bool) {
		svcs := v.CandidateServiceIDs
		if len(svcs) == 0 {
			svcs = []string{v.ServiceID}
		}
		in := false
		for _, s := range svcs {
			in = in || slices.Contains(p.ServiceIDs, s)
		}
		if !in {
			return 0, false
		}
		for _, sk := range v.RequiredSkills {
			if !slices.Contains(p.Skills, sk) {
				return 0, false
			}
		}
		slots, _ := p.Slots(v.Start, day.Loc, day.SlotLength)
		if !slices.ContainsFunc(slots, func(t time.Time) bool { return t.Equal(v.Start) }) {
			return 0, false
		}
		t := GreatCircle{}.Between(p.Base, v.Loc)
		if day.MaxTravelMinutes > 0 && t > day.MaxTravelMinutes {
			return 0, false
		}
		if slotTaken[[2]int64{int64(pi), v.Start.Unix()}] || count[pi] >= p.MaxVisitsPerDay {
			return 0, false
		}
		return costUnit(t), true
	}
	best, found := int64(0), false
	var rec func(i int, cost int64)
	rec = func(i int, cost int64) {
		if i == len(movable) {
			if !found || cost < best {
				best, found = cost, true
			}
			return
		}
		v := movable[i]
		for pi, p := range ps {
			c, good := ok(p, pi, v)
			if !good {
				continue
			}
			k := [2]int64{int64(pi), v.Start.Unix()}
			slotTaken[k] = true
			count[pi]++
			rec(i+1, cost+c)
			slotTaken[k] = false
			count[pi]--
		}
	}
	rec(0, 0)
	return best, found
}

// checkPlan verifies every hard constraint of the plan independently of the solver.
func checkPlan(t *testing.T, day Day, plan Plan) int64 {
	t.Helper()
	if len(plan.Visits) != len(day.Visits) {
		t.Fatalf("plan has %d visits, day has %d", len(plan.Visits), len(day.Visits))
	}
	in := map[string]Visit{}
	for _, v := range day.Visits {
		in[v.ID] = v
	}
	ps := map[string]Practitioner{}
	for _, p := range day.Practitioners {
		ps[p.ID] = p
	}
	slot := map[string]string{}
	count := map[string]int{}
	var cost int64
	for _, v := range plan.Visits {
		orig, ok := in[v.ID]
		if !ok {
			t.Fatalf("plan has unknown visit %s", v.ID)
		}
		if !v.Start.Equal(orig.Start) || !v.End.Equal(orig.End) || v.Loc != orig.Loc {
			t.Errorf("visit %s moved in time or place", v.ID)
		}
		if fixedVisit(day, orig) && (v.PractitionerID != orig.PractitionerID || v.ServiceID != orig.ServiceID) {
			t.Errorf("fixed visit %s changed: %s/%s → %s/%s", v.ID, orig.PractitionerID, orig.ServiceID, v.PractitionerID, v.ServiceID)
		}
		p, known := ps[v.PractitionerID]
		if !known {
			continue
		}
		k := v.PractitionerID + "@" + v.Start.String()
		if other, dup := slot[k]; dup {
			t.Errorf("visits %s and %s share practitioner %s's slot", other, v.ID, v.PractitionerID)
		}
		slot[k] = v.ID
		count[v.PractitionerID]++
		if fixedVisit(day, orig) {
			continue
		}
		svcs := orig.CandidateServiceIDs
		if len(svcs) == 0 {
			svcs = []string{orig.ServiceID}
		}
		if !slices.Contains(svcs, v.ServiceID) || !slices.Contains(p.ServiceIDs, v.ServiceID) {
			t.Errorf("visit %s: service %s not a candidate the practitioner %s belongs to", v.ID, v.ServiceID, p.ID)
		}
		for _, sk := range orig.RequiredSkills {
			if !slices.Contains(p.Skills, sk) {
				t.Errorf("visit %s: practitioner %s lacks %s", v.ID, p.ID, sk)
			}
		}
		slots, _ := p.Slots(v.Start, day.Loc, day.SlotLength)
		if !slices.ContainsFunc(slots, func(s time.Time) bool { return s.Equal(v.Start) }) {
			t.Errorf("visit %s: practitioner %s does not work the slot", v.ID, p.ID)
		}
		tm := GreatCircle{}.Between(p.Base, v.Loc)
		if day.MaxTravelMinutes > 0 && tm > day.MaxTravelMinutes {
			t.Errorf("visit %s: travel %.1f over the maximum", v.ID, tm)
		}
		cost += costUnit(tm)
	}
	for id, n := range count {
		if n > ps[id].MaxVisitsPerDay {
			t.Errorf("practitioner %s has %d visits, max %d", id, n, ps[id].MaxVisitsPerDay)
		}
	}
	return cost
}

func TestOptimiseMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	feasible, infeasible := 0, 0
	for iter := 0; iter < 600; iter++ {
		day := smallDay(t, rng)
		want, ok := bruteForce(day)
		for _, k := range []int{1, 2, defaultSparseArcs} {
			plan, err := optimise(context.Background(), day, k)
			if !ok {
				if err == nil {
					t.Fatalf("iter %d k=%d: brute force finds no feasible plan but Optimise returned one", iter, k)
				}
				continue
			}
			if err != nil {
				t.Fatalf("iter %d k=%d: %v", iter, k, err)
			}
			got := checkPlan(t, day, plan)
			if got != want {
				t.Fatalf("iter %d k=%d: cost %d, brute force optimum %d", iter, k, got, want)
			}
		}
		if ok {
			feasible++
		} else {
			infeasible++
		}
	}
	if feasible < 100 || infeasible < 10 {
		t.Fatalf("generator is skewed: %d feasible, %d infeasible instances", feasible, infeasible)
	}
	t.Logf("%d feasible and %d infeasible instances agreed with brute force", feasible, infeasible)
}

func TestOptimiseDeterministicAndStable(t *testing.T) {
	c := genCounty(t, 5, 60, 250, 3)
	visits, _ := greedy(t, c, Weights{TravelPerMinute: 1})
	day := Day{Date: monday(c.loc, 12, 0), Now: monday(c.loc, 7, 0), Loc: c.loc, MaxTravelMinutes: 60,
		Practitioners: c.pracs, Visits: visits, Travel: GreatCircle{}}
	plan, err := Optimise(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(plan)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 3; i++ {
		shuffled := day
		shuffled.Visits = slices.Clone(day.Visits)
		shuffled.Practitioners = slices.Clone(day.Practitioners)
		rng.Shuffle(len(shuffled.Visits), func(a, b int) { shuffled.Visits[a], shuffled.Visits[b] = shuffled.Visits[b], shuffled.Visits[a] })
		rng.Shuffle(len(shuffled.Practitioners), func(a, b int) {
			shuffled.Practitioners[a], shuffled.Practitioners[b] = shuffled.Practitioners[b], shuffled.Practitioners[a]
		})
		again, err := Optimise(context.Background(), shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(again); string(got) != string(want) {
			t.Fatal("plan depends on input order")
		}
	}
	// Re-optimising an optimal day changes nothing.
	day.Visits = plan.Visits
	again, err := Optimise(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Moves) != 0 || again.TravelAfter != plan.TravelAfter {
		t.Fatalf("second pass moved %d visits (%.1f → %.1f)", len(again.Moves), plan.TravelAfter, again.TravelAfter)
	}
}

// TestOptimiseVersusGreedyAssign books a day one decision at a time with Assign, then optimises
// it, and reports both totals.
func TestOptimiseVersusGreedyAssign(t *testing.T) {
	c := genCounty(t, 2, 150, 600, 4)
	for _, w := range []struct {
		name string
		w    Weights
	}{{"travel-only weights", Weights{TravelPerMinute: 1}}, {"default weights", DefaultWeights()}} {
		visits, greedyTotal := greedy(t, c, w.w)
		for i := range visits {
			if i%10 == 0 {
				visits[i].Pinned = true
			}
		}
		day := Day{Date: monday(c.loc, 12, 0), Now: monday(c.loc, 10, 30), Loc: c.loc, MaxTravelMinutes: 60,
			Practitioners: c.pracs, Visits: visits, Travel: GreatCircle{}}
		plan, err := Optimise(context.Background(), day)
		if err != nil {
			t.Fatal(err)
		}
		cost := checkPlan(t, day, plan)
		if plan.TravelAfter > plan.TravelBefore+1e-6 || cost > costUnit(plan.TravelAfter)+int64(plan.Movable) {
			t.Fatalf("optimised travel %.1f worse than before %.1f", plan.TravelAfter, plan.TravelBefore)
		}
		optimisedTotal := greedyTotal - plan.TravelBefore + plan.TravelAfter
		t.Logf("%s: %d visits (%d movable): greedy Assign %.0f min, optimised %.0f min (%.1f%% less), %d moves, %d rounds",
			w.name, len(visits), plan.Movable, greedyTotal, optimisedTotal, 100*(1-optimisedTotal/greedyTotal), len(plan.Moves), plan.Rounds)
	}
}

func TestOptimiseRejectsBadDays(t *testing.T) {
	loc := londonLoc(t)
	ps := []Practitioner{prac("p1", at(0, 0)), prac("p2", at(1, 0), func(p *Practitioner) { p.MaxVisitsPerDay = 1 })}
	v := func(id, pid string, h, m int) Visit {
		s := monday(loc, h, m)
		return Visit{ID: id, PractitionerID: pid, ServiceID: "svc-a", Start: s, End: s.Add(45 * time.Minute), Loc: at(0, 1)}
	}
	tests := []struct {
		name   string
		visits []Visit
		edit   func(*Day)
		want   string
	}{
		{"off grid", []Visit{v("v1", "p1", 10, 30)}, nil, `visit "v1": field start`},
		{"other day", []Visit{v("v1", "p1", 10, 0)}, func(d *Day) { d.Date = d.Date.AddDate(0, 0, 1) }, `visit "v1": field start`},
		{"duplicate id", []Visit{v("v1", "p1", 10, 0), v("v1", "p2", 11, 0)}, nil, `visit "v1": field id: duplicate`},
		{"fixed double booking", []Visit{v("v1", "p1", 10, 0), v("v2", "p1", 10, 0)}, func(d *Day) { d.Now = monday(loc, 10, 30) }, "already has fixed visit"},
		{"no qualified practitioner", []Visit{func() Visit { x := v("v1", "p1", 10, 0); x.RequiredSkills = []string{"surgeon"}; return x }()}, nil, `visit "v1" at 10:00: no practitioner`},
		{"cannot all fit", []Visit{v("v1", "p1", 10, 0), v("v2", "p1", 10, 0), v("v3", "p1", 10, 0)}, nil, "cannot all be placed"},
		{"missing now", []Visit{v("v1", "p1", 10, 0)}, func(d *Day) { d.Now = time.Time{} }, "field now"},
	}
	for _, tc := range tests {
		day := Day{Date: monday(loc, 12, 0), Now: monday(loc, 7, 0), Loc: loc, Practitioners: ps, Visits: tc.visits, Travel: GreatCircle{}}
		if tc.edit != nil {
			tc.edit(&day)
		}
		_, err := Optimise(context.Background(), day)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// Pinned and started visits stay even when moving them would save travel.
	day := Day{Date: monday(loc, 12, 0), Now: monday(loc, 10, 30), Loc: loc, Practitioners: ps, Travel: GreatCircle{},
		Visits: []Visit{v("started", "p2", 10, 0), func() Visit { x := v("pinned", "p2", 11, 0); x.Pinned = true; return x }(), v("free", "p2", 12, 0)}}
	day.Practitioners[1].MaxVisitsPerDay = 3
	day.Practitioners[1].Base = at(20, 0)
	plan, err := Optimise(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, day, plan)
	if len(plan.Moves) != 1 || plan.Moves[0].VisitID != "free" || plan.Moves[0].ToPractitionerID != "p1" || plan.Fixed != 2 {
		t.Fatalf("moves %+v, fixed %d", plan.Moves, plan.Fixed)
	}
}
