package routing

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/vrptw"
)

// Defaults for PlanDay, used when a field is zero.
const (
	// DefaultPlanFlex is how far re-planning may move a visit from the time it was booked for:
	// people were told a time, and a plan that moves them by hours is not a plan they agreed to.
	DefaultPlanFlex = 2 * time.Hour
	// DefaultPlanTimeLimit bounds the search of one day's plan.
	DefaultPlanTimeLimit = 30 * time.Second
)

// PlanDay is one day's diary for re-planning every practitioner's route.
type PlanDay struct {
	// Date is the local midnight that starts the day, in Loc.
	Date time.Time
	// Now separates visits already started (Start before Now), which stay, from movable ones,
	// which are never planned to start before Now.
	Now time.Time
	Loc *time.Location
	// Practitioners is the roster; those not working on the day take no visits.
	Practitioners []Practitioner
	// Visits are all visits booked on the day.
	Visits []Visit
	Travel Travel
	// Flex bounds how far a movable visit's start may move from its booked start; zero means
	// DefaultPlanFlex, negative means anywhere in the day.
	Flex time.Duration
	// MovePenaltyMinutes is what handing a visit to another practitioner costs in the objective,
	// in minutes of travel, so that re-planning changes few visits; zero means no penalty.
	MovePenaltyMinutes float64
	// TimeLimit bounds the search (zero: DefaultPlanTimeLimit unless Iterations is set);
	// Iterations, when set without a time limit, makes the plan repeatable for a Seed.
	TimeLimit  time.Duration
	Iterations int
	Seed       uint64
	// Clock measures the time limit.
	Clock func() time.Time
}

// Change is one visit the plan moves: to another practitioner, another time, or both.
type Change struct {
	VisitID            string    `json:"visit_id"`
	FromPractitionerID string    `json:"from_practitioner_id"`
	ToPractitionerID   string    `json:"to_practitioner_id"`
	FromStart          time.Time `json:"from_start"`
	ToStart            time.Time `json:"to_start"`
	ToEnd              time.Time `json:"to_end"`
	FromServiceID      string    `json:"from_service_id"`
	ToServiceID        string    `json:"to_service_id"`
	// Reason says why, in words a coordinator can pass on.
	Reason string `json:"reason"`
}

// PlannedRoute is one practitioner's day in visit order.
type PlannedRoute struct {
	PractitionerID string   `json:"practitioner_id"`
	VisitIDs       []string `json:"visit_ids"`
	// TravelMinutes runs from the base through the visits and back.
	TravelMinutes float64 `json:"travel_minutes"`
}

// Unplaced is a visit the plan leaves as it was booked, with the reason.
type Unplaced struct {
	VisitID string `json:"visit_id"`
	Reason  string `json:"reason"`
}

// RoutePlan is what re-planning a day found.
type RoutePlan struct {
	// Visits are all the day's visits as planned, by start then id.
	Visits  []Visit        `json:"visits"`
	Routes  []PlannedRoute `json:"routes"`
	Changes []Change       `json:"changes"`
	// Moved counts Changes.
	Moved    int        `json:"moved"`
	Movable  int        `json:"movable"`
	Fixed    int        `json:"fixed"`
	Unplaced []Unplaced `json:"unplaced"`
	// TravelBefore and TravelAfter total every route's travel (base → visits → base) as booked
	// and as planned.
	TravelBefore float64 `json:"travel_before_minutes"`
	TravelAfter  float64 `json:"travel_after_minutes"`
	Iterations   int     `json:"iterations"`
}

// planModel is a PlanDay as a vrptw problem, with the way back.
type planModel struct {
	day      PlanDay
	dayStart time.Time
	pracs    []*Practitioner // working today, sorted by id
	pIndex   map[string]int
	// Each shift of a practitioner's day is one vehicle: vehPrac[k] is vehicle k's practitioner,
	// shiftsOf[p] the vehicles of practitioner p in time order.
	vehPrac  []int
	shiftsOf [][]int
	visits   []Visit // by start then id
	node     []int   // visit index → vrptw visit, or -1 when left out of the problem
	fixed    []bool
	orig     []float64 // booked start, minutes from dayStart
	locs     []Point
	problem  *vrptw.Problem
	reason   []string // why a visit was left out of the problem
}

// minutesOf is t as minutes from the start of the day.
func (pm *planModel) minutesOf(t time.Time) float64 { return t.Sub(pm.dayStart).Minutes() }

// timeOf is the instant m minutes after the start of the day, to the second.
func (pm *planModel) timeOf(m float64) time.Time {
	return pm.dayStart.Add(time.Duration(math.Round(m*60)) * time.Second)
}

// PlanRoutes re-plans a day: every practitioner's visits as one route from base to base,
// minimising total travel subject to the hard constraints (working hours, skills, service
// membership, daily limits, each visit within its window), with pinned and started visits kept
// where they are. A visit that no route can take stays as booked and is listed as unplaced.
func PlanRoutes(ctx context.Context, day PlanDay) (RoutePlan, error) {
	opt := vrptw.Options{Seed: day.Seed, Iterations: day.Iterations, Now: day.Clock}
	var begin time.Time
	if day.TimeLimit > 0 || day.Iterations == 0 {
		if opt.Now == nil {
			return RoutePlan{}, failure.Errorf(failure.Invalid, "routing: unable to plan day: a time limit needs a clock")
		}
		begin = opt.Now()
	}
	pm, err := buildPlanModel(ctx, day)
	if err != nil {
		return RoutePlan{}, err
	}
	if !begin.IsZero() {
		// The limit covers the travel matrix too; the search gets what is left, at least a second.
		opt.TimeLimit = max(cmpOr(day.TimeLimit, DefaultPlanTimeLimit)-opt.Now().Sub(begin), time.Second)
	}
	searchLimit := opt.TimeLimit
	if opt.TimeLimit > 0 {
		opt.TimeLimit = searchLimit * 4 / 5 // a fifth kept for a second pass
	}
	sol, err := vrptw.Solve(ctx, pm.problem, opt)
	if err != nil {
		return RoutePlan{}, fmt.Errorf("routing: unable to plan day: %w", err)
	}
	if pm.pinUnserved(sol) {
		// Movable visits no route took stay as booked; a second pass plans the others around
		// them, and is kept when it leaves no more visits out.
		if opt.TimeLimit > 0 {
			opt.TimeLimit = max(searchLimit-opt.TimeLimit, time.Second)
		}
		again, err := vrptw.Solve(ctx, pm.problem, opt)
		if err != nil {
			return RoutePlan{}, fmt.Errorf("routing: unable to plan day: %w", err)
		}
		if len(again.Unserved) <= len(sol.Unserved) {
			sol = again
		}
	}
	return pm.plan(sol), nil
}

// pinUnserved pins each movable visit the solution leaves out to its booked practitioner and
// time, when it was booked within a shift; it reports whether it pinned any.
func (pm *planModel) pinUnserved(sol *vrptw.Solution) bool {
	back := make(map[int]int, len(pm.node))
	for i, u := range pm.node {
		if u >= 0 {
			back[u] = i
		}
	}
	pinned := false
	for _, u := range sol.Unserved {
		i := back[u]
		v := &pm.problem.Visits[u]
		if pm.fixed[i] || v.Home == 0 {
			continue
		}
		veh := pm.problem.Vehicles[v.Home-1]
		if pm.orig[i] < veh.Ready || pm.orig[i] >= veh.Due {
			continue
		}
		v.Pin, v.Ready, v.Due, v.Vehicles = v.Home, pm.orig[i], pm.orig[i], nil
		pinned = true
	}
	return pinned
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func buildPlanModel(ctx context.Context, day PlanDay) (*planModel, error) {
	fail := func(code failure.Code, format string, args ...any) (*planModel, error) {
		return nil, failure.Errorf(code, "routing: unable to plan day: "+format, args...)
	}
	switch {
	case day.Loc == nil:
		return fail(failure.Invalid, "field loc: missing")
	case day.Travel == nil:
		return fail(failure.Invalid, "field travel: missing")
	case day.Date.IsZero():
		return fail(failure.Invalid, "field date: missing")
	case day.Now.IsZero():
		return fail(failure.Invalid, "field now: missing")
	case math.IsNaN(day.MovePenaltyMinutes) || math.IsInf(day.MovePenaltyMinutes, 0) || day.MovePenaltyMinutes < 0:
		return fail(failure.Invalid, "field move_penalty_minutes: %g must be zero or positive", day.MovePenaltyMinutes)
	case day.TimeLimit < 0 || day.Iterations < 0:
		return fail(failure.Invalid, "field time_limit: must not be negative")
	}
	y, mo, d := day.Date.In(day.Loc).Date()
	pm := &planModel{day: day, dayStart: time.Date(y, mo, d, 0, 0, 0, 0, day.Loc), pIndex: map[string]int{}}
	dayEnd := time.Date(y, mo, d+1, 0, 0, 0, 0, day.Loc)
	wd := time.Date(y, mo, d, 12, 0, 0, 0, time.UTC).Weekday()
	clock := func(minute int) float64 { return pm.minutesOf(time.Date(y, mo, d, 0, minute, 0, 0, day.Loc)) }

	// Vehicles: practitioners working today, with their shifts' span as the horizon and any
	// gaps between shifts as breaks spent at the base.
	type shiftSpan struct{ start, end float64 }
	var spans [][]shiftSpan
	roster := make([]*Practitioner, 0, len(day.Practitioners))
	for i := range day.Practitioners {
		roster = append(roster, &day.Practitioners[i])
	}
	sort.Slice(roster, func(a, b int) bool { return roster[a].ID < roster[b].ID })
	for _, p := range roster {
		var ss []shiftSpan
		for _, s := range p.WorkingHours {
			if s.Day == wd && s.EndMinute > s.StartMinute {
				ss = append(ss, shiftSpan{clock(s.StartMinute), clock(s.EndMinute)})
			}
		}
		if len(ss) == 0 {
			continue
		}
		if _, dup := pm.pIndex[p.ID]; dup {
			return fail(failure.Invalid, "practitioner %q: field id: duplicate", p.ID)
		}
		if !p.Base.Valid() {
			return fail(failure.Invalid, "practitioner %q: field base: coordinates %s out of range", p.ID, p.Base)
		}
		pm.pIndex[p.ID] = len(pm.pracs)
		pm.pracs = append(pm.pracs, p)
		spans = append(spans, ss)
	}

	pm.visits = slices.Clone(day.Visits)
	sort.SliceStable(pm.visits, func(a, b int) bool {
		if !pm.visits[a].Start.Equal(pm.visits[b].Start) {
			return pm.visits[a].Start.Before(pm.visits[b].Start)
		}
		return pm.visits[a].ID < pm.visits[b].ID
	})
	seen := map[string]bool{}
	for _, v := range pm.visits {
		switch {
		case v.ID == "":
			return fail(failure.Invalid, "visit at %s: field id: missing", v.Start.Format(time.RFC3339))
		case seen[v.ID]:
			return fail(failure.Invalid, "visit %q: field id: duplicate", v.ID)
		case v.Start.Before(pm.dayStart) || !v.Start.Before(dayEnd):
			return fail(failure.Invalid, "visit %q: field start: %s is not on %04d-%02d-%02d", v.ID, v.Start.In(day.Loc).Format(time.RFC3339), y, mo, d)
		case !v.End.After(v.Start):
			return fail(failure.Invalid, "visit %q: field end: must be after start", v.ID)
		case !v.Loc.Valid():
			return fail(failure.Invalid, "visit %q: field loc: coordinates %s out of range", v.ID, v.Loc)
		}
		seen[v.ID] = true
	}

	// Locations: each base, then each visit, the same point once.
	locIndex := map[Point]int{}
	locOf := func(p Point) int {
		if i, ok := locIndex[p]; ok {
			return i
		}
		locIndex[p] = len(pm.locs)
		pm.locs = append(pm.locs, p)
		return len(pm.locs) - 1
	}
	// One vehicle per shift, from the base and back; the daily limit is shared between a
	// practitioner's shifts in proportion to their length, so no split can exceed it.
	prob := &vrptw.Problem{TravelOnly: true, MovePenalty: day.MovePenaltyMinutes}
	pm.shiftsOf = make([][]int, len(pm.pracs))
	for pi, p := range pm.pracs {
		base := locOf(p.Base)
		ss := spans[pi]
		total := 0.0
		for _, sp := range ss {
			total += sp.end - sp.start
		}
		left := p.MaxVisitsPerDay
		for j, sp := range ss {
			capacity := 0
			if p.MaxVisitsPerDay > 0 {
				capacity = int(math.Floor(float64(p.MaxVisitsPerDay) * (sp.end - sp.start) / total))
				if j == len(ss)-1 {
					capacity = left
				}
				capacity = max(capacity, 0)
				left -= capacity
				if capacity == 0 {
					capacity = -1 // marks a shift that may take nothing; fixed below
				}
			}
			pm.shiftsOf[pi] = append(pm.shiftsOf[pi], len(prob.Vehicles))
			pm.vehPrac = append(pm.vehPrac, pi)
			prob.Vehicles = append(prob.Vehicles, vrptw.Vehicle{Start: base, End: base, Ready: sp.start, Due: sp.end,
				Capacity: capacity, Group: pi + 1})
		}
	}
	// shiftAt is practitioner pi's vehicle whose shift holds the minute m, or its first.
	shiftAt := func(pi int, m float64) (int, bool) {
		for _, k := range pm.shiftsOf[pi] {
			if veh := prob.Vehicles[k]; m >= veh.Ready && m < veh.Due {
				return k, true
			}
		}
		return pm.shiftsOf[pi][0], false
	}
	flex := day.Flex
	if flex == 0 {
		flex = DefaultPlanFlex
	}
	now := pm.minutesOf(day.Now)
	pm.node = make([]int, len(pm.visits))
	pm.fixed = make([]bool, len(pm.visits))
	pm.orig = make([]float64, len(pm.visits))
	pm.reason = make([]string, len(pm.visits))
	for i, v := range pm.visits {
		pm.node[i] = -1
		start, dur := pm.minutesOf(v.Start), v.End.Sub(v.Start).Minutes()
		pm.orig[i] = start
		home, inShift := 0, false
		if pi, ok := pm.pIndex[v.PractitionerID]; ok {
			var k int
			k, inShift = shiftAt(pi, start)
			home = k + 1
		}
		pv := vrptw.Visit{Location: locOf(v.Loc), Service: dur, Demand: 1, Home: home}
		if v.Pinned || v.Start.Before(day.Now) {
			pm.fixed[i] = true
			if !inShift {
				pm.reason[i] = "pinned or started, and not in its practitioner's working hours today: left as booked"
				continue
			}
			pv.Pin, pv.Ready, pv.Due = home, start, start
		} else {
			// The visit's own window when it was booked with one, else flex around its time.
			pv.Ready, pv.Due = max(now, 0), pm.minutesOf(dayEnd)-dur
			switch {
			case !v.Earliest.IsZero():
				pv.Ready = max(pv.Ready, pm.minutesOf(v.Earliest))
			case flex > 0:
				pv.Ready = max(pv.Ready, start-flex.Minutes())
			}
			switch {
			case !v.Latest.IsZero():
				pv.Due = min(pv.Due, pm.minutesOf(v.Latest)-dur)
			case flex > 0:
				pv.Due = min(pv.Due, start+flex.Minutes())
			}
			if pv.Due < pv.Ready {
				pm.reason[i] = "no time left in its window today: left as booked"
				continue
			}
			for pi, p := range pm.pracs {
				if eligible(p, &v) {
					pv.Vehicles = append(pv.Vehicles, pm.shiftsOf[pi]...)
				}
			}
			if len(pv.Vehicles) == 0 {
				pm.reason[i] = "no practitioner working today has the skills and service for it: left as booked"
				continue
			}
		}
		pm.node[i] = len(prob.Visits)
		prob.Visits = append(prob.Visits, pv)
	}
	for k := range prob.Vehicles {
		if prob.Vehicles[k].Capacity < 0 {
			prob.Vehicles[k].Due = prob.Vehicles[k].Ready // a share of nothing: the shift takes no visit
			prob.Vehicles[k].Capacity = 0
		}
	}
	travel, err := day.Travel.Matrix(ctx, pm.locs, pm.locs)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to plan day: %w", err)
	}
	prob.Travel = travel
	pm.problem = prob
	return pm, nil
}

// eligible reports whether p may make visit v: every required skill, and membership of one of
// the services the visit may be made for.
func eligible(p *Practitioner, v *Visit) bool {
	for _, s := range v.RequiredSkills {
		if !has(p.Skills, s) {
			return false
		}
	}
	if len(v.CandidateServiceIDs) == 0 {
		return has(p.ServiceIDs, v.ServiceID)
	}
	for _, s := range v.CandidateServiceIDs {
		if has(p.ServiceIDs, s) {
			return true
		}
	}
	return false
}

// serviceFor is the service v is made for by p: its own when p belongs to it, else the best
// ranked candidate p belongs to.
func serviceFor(p *Practitioner, v *Visit) string {
	if has(p.ServiceIDs, v.ServiceID) {
		return v.ServiceID
	}
	for _, s := range v.CandidateServiceIDs {
		if has(p.ServiceIDs, s) {
			return s
		}
	}
	return v.ServiceID
}

// routeTravel is the travel of vehicle k's route over the given problem visits.
func (pm *planModel) routeTravel(k int, seq []int) float64 {
	if len(seq) == 0 {
		return 0
	}
	veh := pm.problem.Vehicles[k]
	at, d := veh.Start, 0.0
	for _, u := range seq {
		loc := pm.problem.Visits[u].Location
		d += pm.problem.Travel[at][loc]
		at = loc
	}
	return d + pm.problem.Travel[at][veh.End]
}

// schedule times a route's visits as close to their booked starts as the route allows, so that a
// visit whose route is unchanged keeps its time: each start is its booked one clamped between the
// earliest the route reaches it and the latest that keeps the rest of the route on time.
func (pm *planModel) schedule(k int, seq []int, orig []float64) []float64 {
	p := pm.problem
	veh := p.Vehicles[k]
	n := len(seq)
	late := make([]float64, n)
	next, nextLate := veh.End, veh.Due
	for i := n - 1; i >= 0; i-- {
		v := p.Visits[seq[i]]
		late[i] = min(v.Due, nextLate-p.Travel[v.Location][next]-v.Service)
		next, nextLate = v.Location, late[i]
	}
	out := make([]float64, n)
	at, free := veh.Start, veh.Ready
	for i, u := range seq {
		v := p.Visits[u]
		lower := max(v.Ready, free+p.Travel[at][v.Location])
		s := min(max(lower, orig[i]), late[i])
		if c := math.Ceil(s - 1e-9); c <= late[i]+1e-9 && c >= lower {
			s = c // whole minutes where the route allows
		}
		out[i] = s
		at, free = v.Location, s+v.Service
	}
	return out
}

func (pm *planModel) plan(sol *vrptw.Solution) RoutePlan {
	out := RoutePlan{Changes: []Change{}, Unplaced: []Unplaced{}, Routes: []PlannedRoute{}, Iterations: sol.Iterations}
	back := make(map[int]int, len(pm.node)) // vrptw visit → visit index
	for i, u := range pm.node {
		if u >= 0 {
			back[u] = i
		}
		if pm.fixed[i] {
			out.Fixed++
		} else {
			out.Movable++
		}
	}
	// Travel as booked: each practitioner's visits and breaks in start order.
	type stop struct {
		at float64
		u  int
	}
	byVeh := make([][]stop, len(pm.problem.Vehicles))
	for i := range pm.visits {
		if u := pm.node[i]; u >= 0 && pm.problem.Visits[u].Home > 0 {
			k := pm.problem.Visits[u].Home - 1
			byVeh[k] = append(byVeh[k], stop{pm.orig[i], u})
		}
	}
	for k, stops := range byVeh {
		sort.SliceStable(stops, func(a, b int) bool { return stops[a].at < stops[b].at })
		seq := make([]int, len(stops))
		for j, s := range stops {
			seq[j] = s.u
		}
		out.TravelBefore += pm.routeTravel(k, seq)
	}
	planned := slices.Clone(pm.visits)
	for pi, p := range pm.pracs {
		r := PlannedRoute{PractitionerID: p.ID, VisitIDs: []string{}}
		for _, k := range pm.shiftsOf[pi] {
			seq := pm.keepOrder(k, sol.Routes[k], back)
			r.TravelMinutes += pm.routeTravel(k, seq)
			orig := make([]float64, len(seq))
			for j, u := range seq {
				orig[j] = pm.orig[back[u]]
			}
			starts := pm.schedule(k, seq, orig)
			for j, u := range seq {
				i := back[u]
				v := &planned[i]
				r.VisitIDs = append(r.VisitIDs, v.ID)
				start := pm.timeOf(starts[j])
				if pm.fixed[i] {
					start = v.Start // exactly as booked
				}
				if p.ID == v.PractitionerID && start.Equal(v.Start) {
					continue
				}
				svc := serviceFor(p, v)
				c := Change{VisitID: v.ID, FromPractitionerID: v.PractitionerID, ToPractitionerID: p.ID,
					FromStart: v.Start, ToStart: start, ToEnd: start.Add(v.End.Sub(v.Start)),
					FromServiceID: v.ServiceID, ToServiceID: svc}
				switch {
				case p.ID != v.PractitionerID && !start.Equal(v.Start):
					c.Reason = "handed to a practitioner whose route passes nearby, at the time that route reaches it"
				case p.ID != v.PractitionerID:
					c.Reason = "handed to a practitioner whose route passes nearby, at the same time"
				default:
					c.Reason = "same practitioner, retimed to follow the route's new order"
				}
				out.Changes = append(out.Changes, c)
				v.PractitionerID, v.ServiceID, v.Start, v.End = c.ToPractitionerID, c.ToServiceID, c.ToStart, c.ToEnd
			}
			out.TravelAfter += pm.routeTravel(k, seq)
		}
		r.TravelMinutes = round2(r.TravelMinutes)
		if len(r.VisitIDs) > 0 {
			out.Routes = append(out.Routes, r)
		}
	}
	for i, v := range pm.visits {
		switch {
		case pm.node[i] < 0:
			out.Unplaced = append(out.Unplaced, Unplaced{VisitID: v.ID, Reason: pm.reason[i]})
		case slices.Contains(sol.Unserved, pm.node[i]):
			reason := "no route can take it within its window under the hard constraints: left as booked"
			if pm.fixed[i] {
				reason = "pinned or started, and it does not fit its practitioner's hours: left as booked"
			}
			out.Unplaced = append(out.Unplaced, Unplaced{VisitID: v.ID, Reason: reason})
		}
	}
	sort.SliceStable(planned, func(a, b int) bool {
		if !planned[a].Start.Equal(planned[b].Start) {
			return planned[a].Start.Before(planned[b].Start)
		}
		return planned[a].ID < planned[b].ID
	})
	out.Visits = planned
	out.Moved = len(out.Changes)
	out.TravelBefore, out.TravelAfter = round2(out.TravelBefore), round2(out.TravelAfter)
	return out
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// keepOrder returns the route's visits in their booked order when that order is feasible and
// travels no further: routes of equal length (a route and its reverse, on symmetric travel) are
// the search's to choose between, and the one people were told about wins.
func (pm *planModel) keepOrder(k int, seq []int, back map[int]int) []int {
	booked := slices.Clone(seq)
	sort.SliceStable(booked, func(a, b int) bool { return pm.orig[back[booked[a]]] < pm.orig[back[booked[b]]] })
	if slices.Equal(booked, seq) || !pm.feasible(k, booked) || pm.routeTravel(k, booked) > pm.routeTravel(k, seq)+1e-9 {
		return seq
	}
	return booked
}

// feasible reports whether vehicle k can serve seq in order within every window and its hours.
func (pm *planModel) feasible(k int, seq []int) bool {
	p := pm.problem
	veh := p.Vehicles[k]
	at, clock := veh.Start, veh.Ready
	for _, u := range seq {
		v := p.Visits[u]
		clock = max(clock+p.Travel[at][v.Location], v.Ready)
		if clock > v.Due+1e-9 {
			return false
		}
		clock += v.Service
		at = v.Location
	}
	return clock+p.Travel[at][veh.End] <= veh.Due+1e-9 && (veh.Capacity <= 0 || len(seq) <= veh.Capacity)
}
