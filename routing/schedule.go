package routing

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// DefaultWaitPerDay is how many minutes of travel one day of waiting is worth when
// Weights.WaitPerDay is zero: a route a day later must save more than this to win.
const DefaultWaitPerDay = 30

// Routes gives the route of a practitioner's local day (year, month, day in the council's zone);
// ok is false when the practitioner does not work that day.
type Routes interface {
	Route(p *Practitioner, y int, m time.Month, d int) (r *DayRoute, ok bool)
}

// RouteRequest is everything InsertVisit needs to place one visit into practitioners' routes.
type RouteRequest struct {
	CaseID string
	// CandidateServiceIDs are the services that can deliver the pathway, best first.
	CandidateServiceIDs []string
	RequiredSkills      []string
	Duration            time.Duration
	// Earliest and Latest bound the visit: it starts no earlier and ends no later.
	Earliest, Latest time.Time
	// Now is the decision time: no practitioner leaves for the visit before it.
	Now                time.Time
	Subject            Point
	LastPractitionerID string
	// MaxTravelMinutes bounds travel from a practitioner's start point; zero means no bound.
	MaxTravelMinutes float64
	// MayMove lets unpinned visits that have not started move later inside their own windows,
	// for urgent visits.
	MayMove bool
	// Open lists, per candidate service id, when that service is open within the window, in
	// order: a visit for it lies inside one opening. A service not in the map is always open.
	Open          map[string][]Interval
	Practitioners []Practitioner
	Routes        Routes
	Travel        Travel
	Loc           *time.Location
	Weights       Weights
}

type routeOption struct {
	p      *Practitioner
	rank   int
	route  *DayRoute
	placed Placed
	cont   bool
	cost   float64
	// off is where the route's points begin in the decision's travel table.
	off int
	// full is set when no position of the route could take the visit (DayRoute.reach).
	full bool
}

func betterOption(a, b *routeOption) bool {
	if a.cost != b.cost {
		return a.cost < b.cost
	}
	if !a.placed.Start.Equal(b.placed.Start) {
		return a.placed.Start.Before(b.placed.Start)
	}
	return a.p.ID < b.p.ID
}

// Inserted is the outcome of InsertVisit: the Assignment as Assign reports it, and the route
// change behind it.
type Inserted struct {
	Assignment
	// Route is the chosen practitioner's day before the insertion; nil when nobody qualified.
	Route  *DayRoute `json:"-"`
	Placed Placed    `json:"-"`
}

// InsertVisit places a visit into the cheapest feasible position of the best practitioner's day
// route: hard filters (service, skills, distance, a working day in the window, a feasible
// position) first, then the lowest score of detour travel, caseload, continuity and waiting.
func InsertVisit(ctx context.Context, req RouteRequest) (Inserted, error) {
	fail := func(field, format string, args ...any) (Inserted, error) {
		return Inserted{}, fmt.Errorf("routing: unable to place case %q: field %s: %s", req.CaseID, field, fmt.Sprintf(format, args...))
	}
	switch {
	case req.Loc == nil:
		return fail("loc", "missing")
	case req.Travel == nil:
		return fail("travel", "missing")
	case req.Routes == nil:
		return fail("routes", "missing")
	case len(req.CandidateServiceIDs) == 0:
		return fail("candidate_service_ids", "empty")
	case req.Duration <= 0:
		return fail("duration", "%s must be positive", req.Duration)
	case req.Earliest.IsZero() || req.Latest.IsZero():
		return fail("earliest/latest", "missing")
	case !req.Latest.After(req.Earliest):
		return fail("latest", "%s is not after earliest %s", req.Latest.Format(time.RFC3339), req.Earliest.Format(time.RFC3339))
	case req.Latest.Sub(req.Earliest) > maxWindowDays*24*time.Hour:
		return fail("latest", "window longer than %d days", maxWindowDays)
	case !req.Subject.Valid():
		return fail("subject", "coordinates %s out of range", req.Subject)
	}
	w := req.Weights
	if w == (Weights{}) {
		w = DefaultWeights()
	}
	if w.WaitPerDay == 0 {
		w.WaitPerDay = DefaultWaitPerDay
	}
	out := Inserted{Assignment: Assignment{Considered: len(req.Practitioners), Weights: w}}
	g := grid{loc: req.Loc, slotMin: 60}
	days := windowDays(g, req.Earliest, req.Latest)

	type survivor struct {
		p     *Practitioner
		rank  int
		state uint8
	}
	ix, indexed := servedIndexOf(req)
	var serving []int32
	if indexed {
		serving = ix.serving(req.CandidateServiceIDs)
	}
	survivors := make([]survivor, 0, len(serving))
	if !indexed {
		// Without the index most of a large roster fails serves: grow past a small start.
		survivors = make([]survivor, 0, min(len(req.Practitioners), 64))
	}
	consider := func(p *Practitioner) {
		if rank, ok := serves(req.CandidateServiceIDs, req.RequiredSkills, p, &out.Removed); ok {
			survivors = append(survivors, survivor{p: p, rank: rank})
		}
	}
	if indexed {
		// Only those who work for a candidate service can pass serves; the rest are counted as
		// it would count them, and the survivors keep roster order, so the choice is the same.
		out.Removed.NotInService += len(req.Practitioners) - len(serving)
		for _, i := range serving {
			consider(&req.Practitioners[i])
		}
	} else {
		for i := range req.Practitioners {
			consider(&req.Practitioners[i])
		}
	}

	// Every route of every survivor in the window, and one travel table each way for all their
	// points, so a routing server sees two requests per decision; great-circle travel is
	// measured here instead, and only where it is read.
	routes := make([]routeOption, 0, len(survivors)*len(days))
	const (
		working = 1 << iota
		tooFar
		feasible
	)
	npoints := 0
	for si, s := range survivors {
		for _, day := range days {
			r, ok := req.Routes.Route(s.p, day.y, day.m, day.d)
			if !ok || !r.To.After(req.Earliest) || !r.From.Before(req.Latest) {
				continue
			}
			survivors[si].state |= working
			routes = append(routes, routeOption{p: s.p, rank: si, route: r, off: npoints,
				cont: req.LastPractitionerID != "" && s.p.ID == req.LastPractitionerID})
			npoints += len(r.Stops) + 2
		}
	}
	c := Candidate{Loc: req.Subject, Duration: req.Duration, Earliest: req.Earliest, Latest: req.Latest}
	var toC, fromC []float64
	if gc, ok := req.Travel.(GreatCircle); ok && npoints > 0 {
		var err error
		if toC, err = greatCircleTo(ctx, gc, routes, npoints, &c, req); err != nil {
			return Inserted{}, fmt.Errorf("routing: unable to place case %q: %w", req.CaseID, err)
		}
		fromC = toC
	} else if npoints > 0 {
		points := make([]Point, 0, npoints)
		for k := range routes {
			points = routes[k].route.appendPoints(points)
		}
		to, err := req.Travel.Matrix(ctx, points, []Point{req.Subject})
		if err != nil {
			return Inserted{}, fmt.Errorf("routing: unable to place case %q: %w", req.CaseID, err)
		}
		if len(to) != len(points) {
			return Inserted{}, fmt.Errorf("routing: unable to place case %q: travel matrix has %d rows, want %d", req.CaseID, len(to), len(points))
		}
		toC = make([]float64, len(points))
		for i := range to {
			if len(to[i]) != 1 {
				return Inserted{}, fmt.Errorf("routing: unable to place case %q: travel matrix row %d has %d columns, want 1", req.CaseID, i, len(to[i]))
			}
			toC[i] = to[i][0]
		}
		fromC = toC
		if s, ok := req.Travel.(interface{ Symmetric() bool }); !ok || !s.Symmetric() {
			from, err := req.Travel.Matrix(ctx, []Point{req.Subject}, points)
			if err != nil {
				return Inserted{}, fmt.Errorf("routing: unable to place case %q: %w", req.CaseID, err)
			}
			if len(from) != 1 || len(from[0]) != len(points) {
				return Inserted{}, fmt.Errorf("routing: unable to place case %q: travel matrix has the wrong shape", req.CaseID)
			}
			fromC = from[0]
		}
	}
	var best, second *routeOption
	for k := range routes {
		o := &routes[k]
		n := len(o.route.Stops) + 2
		to, from := toC[o.off:o.off+n], fromC[o.off:o.off+n]
		if req.MaxTravelMinutes > 0 && to[0] > req.MaxTravelMinutes {
			survivors[o.rank].state |= tooFar
			continue
		}
		c.Open = nil
		if open, ok := req.Open[req.CandidateServiceIDs[survivors[o.rank].rank]]; ok {
			c.Open = open
			if open == nil {
				c.Open = []Interval{} // listed with no opening: never open
			}
		}
		if o.full {
			continue // Insert would find no position
		}
		placed, ok := o.route.Insert(c, to, from, req.Now, req.MayMove)
		if !ok {
			continue
		}
		survivors[o.rank].state |= feasible
		o.placed = placed
		waited := placed.Start.Sub(req.Earliest).Hours() / 24
		o.cost = w.TravelPerMinute*placed.Detour + w.FullDay*float64(len(o.route.Stops))/float64(max(o.route.MaxVisits, 1)) + w.WaitPerDay*waited
		if o.cont {
			o.cost -= w.Continuity
		}
		switch {
		case best == nil || betterOption(o, best):
			best, second = o, best
		case (second == nil || betterOption(o, second)) && o.p.ID != best.p.ID:
			second = o
		}
	}
	for k := range routes {
		// rank held the survivor's index while routes were scored; it is the service rank again.
		routes[k].rank = survivors[routes[k].rank].rank
	}
	for _, s := range survivors {
		switch st := s.state; {
		case st&feasible != 0:
			out.Qualified++
		case st&tooFar != 0:
			out.Removed.TooFar++
		case st&working == 0:
			out.Removed.NotWorking++
		default:
			out.Removed.FullyBooked++
		}
	}
	if best == nil {
		out.UnassignedReason = "no practitioner: " + removedSummary(out.Removed, Request{Practitioners: req.Practitioners,
			CandidateServiceIDs: req.CandidateServiceIDs, RequiredSkills: req.RequiredSkills, MaxTravelMinutes: req.MaxTravelMinutes})
		return out, nil
	}
	sid := req.CandidateServiceIDs[best.rank]
	out.Appointment = &Appointment{
		PractitionerID: best.p.ID, PractitionerName: best.p.Name, ServiceID: sid,
		TravelMinutes: math.Round(best.placed.Detour*10) / 10, Start: best.placed.Start, End: best.placed.Start.Add(req.Duration),
		BookedThatDay: len(best.route.Stops), MaxVisitsPerDay: best.p.MaxVisitsPerDay, Continuity: best.cont, Score: best.cost,
	}
	out.Moved = best.placed.Moved
	out.Route, out.Placed = best.route, best.placed
	out.Why = explainRoute(req.Loc, best, second, sid, out.Assignment)
	return out, nil
}

// greatCircleTo is the travel table Matrix gives from every point of routes (npoints in all, in
// order) to the subject, measured only where Insert reads it: the points of positions that could
// take the visit (DayRoute.reach) and each start point for the distance limit. A full day costs
// no trigonometry. The rest stay zero, which Insert never reads at a feasible position; routes
// with no such position are marked full. It fails as Matrix would, with Matrix's errors.
func greatCircleTo(ctx context.Context, gc GreatCircle, routes []routeOption, npoints int, c *Candidate, req RouteRequest) ([]float64, error) {
	err := gc.checkParams()
	for k := range routes {
		r := routes[k].route
		for i := range len(r.Stops) + 2 {
			if p := r.point(i); err == nil && !p.Valid() {
				err = invalidOrigin(routes[k].off+i, p)
			}
		}
	}
	// The subject, the one destination, was checked by InsertVisit.
	if err == nil {
		err = checkContext(ctx)
	}
	if err != nil {
		return nil, err
	}
	toC := make([]float64, npoints)
	var buf [32]bool
	t := gc.toward(req.Subject)
	// reach holds for travel that Insert turns into a non-negative count of nanoseconds; minutes
	// past about 1.5e8 overflow it, so a configuration that could give them measures everything.
	bounded := math.Pi*earthRadiusKM*t.detour/t.speed*60+t.overhead < 1e8
	// A practitioner's days start at the same point: its travel is measured once.
	last, lastStart, lastTravel := -1, Point{}, 0.0
	for k := range routes {
		r := routes[k].route
		need := buf[:0]
		if n := len(r.Stops) + 2; n <= len(buf) {
			need = buf[:n]
			clear(need)
		} else {
			need = make([]bool, n)
		}
		if bounded {
			routes[k].full = !r.reach(c, req.Now, req.MayMove, need)
		} else {
			for i := range need {
				need[i] = true
			}
		}
		if req.MaxTravelMinutes > 0 {
			need[0] = true
		}
		measured := need[0]
		if measured && routes[k].rank == last && r.StartPoint == lastStart {
			need[0] = false
			toC[routes[k].off] = lastTravel
		}
		for i, yes := range need {
			if yes {
				p := r.point(i)
				toC[routes[k].off+i] = t.from(p, r.cosOf(i, p))
			}
		}
		if measured {
			last, lastStart, lastTravel = routes[k].rank, r.StartPoint, toC[routes[k].off]
		}
	}
	return toC, nil
}

// explainRoute names the chosen route position and, against the runner-up, the deciding score.
func explainRoute(loc *time.Location, best, second *routeOption, sid string, a Assignment) string {
	var b strings.Builder
	name := best.p.ID
	if best.p.Name != "" {
		name = fmt.Sprintf("%s (%s)", best.p.ID, best.p.Name)
	}
	fmt.Fprintf(&b, "Assigned %s of service %s: visit %d of %d on their route, %.1f min added travel, %d of %d visits already that day",
		name, sid, best.placed.Position+1, len(best.route.Stops)+1, best.placed.Detour, len(best.route.Stops), best.route.MaxVisits)
	if best.cont {
		b.WriteString(", saw this person last time")
	}
	fmt.Fprintf(&b, "; arrives %s.", best.placed.Start.In(loc).Format("Mon 2 Jan 2006 15:04"))
	if n := len(best.placed.Moved); n > 0 {
		fmt.Fprintf(&b, " Moved later to make room (each within its own window):")
		for i, m := range best.placed.Moved {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %s→%s", m.VisitID, m.From.In(loc).Format("15:04"), m.To.In(loc).Format("15:04"))
		}
		b.WriteString(".")
	}
	if second == nil {
		fmt.Fprintf(&b, " The only one of %d practitioners with a feasible route.", a.Considered)
		return b.String()
	}
	fmt.Fprintf(&b, " %d of %d practitioners could fit it; chosen over %s (score %.1f vs %.1f, arriving %s).",
		a.Qualified, a.Considered, second.p.ID, best.cost, second.cost, second.placed.Start.In(loc).Format("Mon 15:04"))
	return b.String()
}

// BuildRoute lays out p's route for a local date from their working hours and breaks, with the
// given visits as stops; ok is false when p does not work that day.
func BuildRoute(p *Practitioner, loc *time.Location, y int, m time.Month, d int, stops []Stop) (*DayRoute, bool) {
	wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
	r := &DayRoute{PractitionerID: p.ID, Day: civilDay(y, m, d), StartPoint: p.Base, EndPoint: p.Base, MaxVisits: p.MaxVisitsPerDay}
	if p.StartPoint != nil {
		r.StartPoint = *p.StartPoint
	}
	if p.EndPoint != nil {
		r.EndPoint = *p.EndPoint
	}
	var last time.Time
	for _, s := range p.WorkingHours {
		if s.Day != wd {
			continue
		}
		from := time.Date(y, m, d, 0, s.StartMinute, 0, 0, loc)
		to := time.Date(y, m, d, 0, s.EndMinute, 0, 0, loc)
		if r.From.IsZero() {
			r.From = from
		} else if from.After(last) {
			r.Breaks = append(r.Breaks, Interval{From: last, To: from})
		}
		last, r.To = to, to
	}
	if r.From.IsZero() {
		return nil, false
	}
	for _, b := range p.Breaks {
		if b.Day != wd {
			continue
		}
		r.Breaks = append(r.Breaks, Interval{From: time.Date(y, m, d, 0, b.StartMinute, 0, 0, loc), To: time.Date(y, m, d, 0, b.EndMinute, 0, 0, loc)})
	}
	sortIntervals(r.Breaks)
	r.Stops = append([]Stop(nil), stops...)
	sortStops(r.Stops)
	return r, true
}

func sortIntervals(s []Interval) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].From.Before(s[j-1].From); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
