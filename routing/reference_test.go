package routing

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// The previous insertion and great-circle distance, kept as the reference the faster ones are
// compared with, result for result and bit for bit.

// distanceKMRef is DistanceKM through orb's haversine.
func distanceKMRef(a, b Point) float64 {
	m := geo.DistanceHaversine(orb.Point{a.Lon, a.Lat}, orb.Point{b.Lon, b.Lat})
	if math.IsNaN(m) && a.Valid() && b.Valid() {
		return math.Pi * earthRadiusKM
	}
	return m / orb.EarthRadius * earthRadiusKM
}

// refGreatCircle is GreatCircle travel on distanceKMRef.
type refGreatCircle struct{ GreatCircle }

func (g refGreatCircle) Between(a, b Point) float64 {
	if a == b {
		return 0
	}
	detour, speed, overhead := g.params()
	return distanceKMRef(a, b)*detour/speed*60 + overhead
}

func (g refGreatCircle) Matrix(ctx context.Context, from, to []Point) ([][]float64, error) {
	detour, speed, _ := g.params()
	if detour < 1 || speed <= 0 || math.IsNaN(detour) || math.IsNaN(speed) {
		return nil, fmt.Errorf("routing: unable to estimate travel: detour factor %g must be >= 1 and speed %g km/h > 0", detour, speed)
	}
	for i, p := range from {
		if !p.Valid() {
			return nil, fmt.Errorf("routing: unable to estimate travel: origin %d has invalid coordinates %s", i, p)
		}
	}
	for j, p := range to {
		if !p.Valid() {
			return nil, fmt.Errorf("routing: unable to estimate travel: destination %d has invalid coordinates %s", j, p)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("routing: unable to estimate travel: %w", err)
	}
	m := newMatrix(len(from), len(to))
	for i, a := range from {
		for j, b := range to {
			m[i][j] = g.Between(a, b)
		}
	}
	return m, nil
}

// insertVisitRef is InsertVisit as it was before routes that cannot take the visit were passed
// over before travel: every point of every route is measured, and every position tried.
func insertVisitRef(ctx context.Context, req RouteRequest) (Inserted, error) {
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
		p    *Practitioner
		rank int
	}
	var survivors []survivor
	consider := func(p *Practitioner) {
		if rank, ok := serves(req.CandidateServiceIDs, req.RequiredSkills, p, &out.Removed); ok {
			survivors = append(survivors, survivor{p, rank})
		}
	}
	if ix, ok := servedIndexOf(req); ok {
		// Only those who work for a candidate service can pass serves; the rest are counted as
		// it would count them, and the survivors keep roster order, so the choice is the same.
		serving := ix.serving(req.CandidateServiceIDs)
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
	// points, so a routing server sees two requests per decision.
	routes := make([]routeOption, 0, len(survivors)*len(days))
	points := make([]Point, 0, len(survivors)*len(days)*8)
	offsets := make([]int, 0, len(survivors)*len(days))
	const (
		working = 1 << iota
		tooFar
		feasible
	)
	state := make([]uint8, len(survivors))
	for si, s := range survivors {
		for _, day := range days {
			r, ok := req.Routes.Route(s.p, day.y, day.m, day.d)
			if !ok || !r.To.After(req.Earliest) || !r.From.Before(req.Latest) {
				continue
			}
			state[si] |= working
			routes = append(routes, routeOption{p: s.p, rank: si, route: r,
				cont: req.LastPractitionerID != "" && s.p.ID == req.LastPractitionerID})
			offsets = append(offsets, len(points))
			points = r.appendPoints(points)
		}
	}
	var toC, fromC []float64
	if len(points) > 0 {
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
	c := Candidate{Loc: req.Subject, Duration: req.Duration, Earliest: req.Earliest, Latest: req.Latest}
	var best, second *routeOption
	for k := range routes {
		o := &routes[k]
		n := len(o.route.Stops) + 2
		to, from := toC[offsets[k]:offsets[k]+n], fromC[offsets[k]:offsets[k]+n]
		if req.MaxTravelMinutes > 0 && to[0] > req.MaxTravelMinutes {
			state[o.rank] |= tooFar
			continue
		}
		c.Open = nil
		if open, ok := req.Open[req.CandidateServiceIDs[survivors[o.rank].rank]]; ok {
			c.Open = open
			if open == nil {
				c.Open = []Interval{} // listed with no opening: never open
			}
		}
		placed, ok := o.route.insertRef(c, to, from, req.Now, req.MayMove)
		if !ok {
			continue
		}
		state[o.rank] |= feasible
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
	for si := range survivors {
		switch st := state[si]; {
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

// insertRef is Insert as it was, the reference the faster one must agree with exactly. It finds
// the cheapest feasible position for c in the route, given the travel from each of
// the route's points (Points order) to c (toC) and from c to each (fromC). Existing stops keep
// their times unless mayMove, when unpinned stops that have not started by now may move later
// inside their own windows. ok is false when no position is feasible. Times are worked in
// nanoseconds since the epoch: this runs for every route at every decision.
func (r *DayRoute) insertRef(c Candidate, toC, fromC []float64, now time.Time, mayMove bool) (best Placed, ok bool) {
	n := len(r.Stops)
	if r.MaxVisits > 0 && n >= r.MaxVisits || len(toC) != n+2 || len(fromC) != n+2 || len(r.legs) != n+1 {
		return Placed{}, false
	}
	const minute = int64(time.Minute)
	ceilMin := func(t int64) int64 { return (t + minute - 1) / minute * minute }
	mins := func(m float64) int64 { return int64(math.Ceil(m * float64(minute))) }
	fitN := func(t, d int64) int64 {
		for _, b := range r.Breaks {
			if bf, bt := b.From.UnixNano(), b.To.UnixNano(); t < bt && t+d > bf {
				t = bt
			}
		}
		return ceilMin(t)
	}
	from, to, nowN := r.From.UnixNano(), r.To.UnixNano(), now.UnixNano()
	earliest, latest := c.Earliest.UnixNano(), int64(math.MaxInt64)
	if !c.Latest.IsZero() {
		latest = c.Latest.UnixNano()
	}
	if to < latest {
		latest = to
	}
	dur := int64(c.Duration)
	// fitOpen moves a start (already clear of breaks) to the first opening that holds the whole
	// visit and clear of breaks again; false when no opening does.
	fitOpen := func(t int64) (int64, bool) {
		if c.Open == nil {
			return t, true
		}
		for k := 0; k < len(c.Open); {
			of, ot := c.Open[k].From.UnixNano(), c.Open[k].To.UnixNano()
			if t+dur > ot {
				k++
				continue
			}
			if t >= of {
				return t, true
			}
			t = fitN(of, dur)
		}
		return 0, false
	}
	bestStart, bestMoved := int64(0), 0
	for i := 0; i <= n; i++ {
		prevEnd := from
		if i > 0 {
			s := &r.Stops[i-1]
			prevEnd = s.Start.UnixNano() + int64(s.Duration)
		}
		if prevEnd+dur > latest {
			break // stops are in time order, so later positions end later still
		}
		detour := toC[i] + fromC[i+1] - r.legs[i]
		if ok && detour >= best.Detour {
			continue
		}
		start := max(prevEnd, nowN) + mins(toC[i])
		start = fitN(ceilMin(max(start, earliest)), dur)
		start, open := fitOpen(start)
		end := start + dur
		if !open || end > latest {
			continue
		}
		t := end + mins(fromC[i+1])
		nmoved := 0
		feasible := true
		for j := i; j < n; j++ {
			s := &r.Stops[j]
			ss := s.Start.UnixNano()
			if t <= ss {
				break
			}
			if !mayMove || s.Pinned || ss < nowN {
				feasible = false
				break
			}
			sd := int64(s.Duration)
			ns := fitN(ceilMin(t), sd)
			ne := ns + sd
			if !s.Latest.IsZero() && ne > s.Latest.UnixNano() || ne > to {
				feasible = false
				break
			}
			nmoved++
			t = ne + mins(r.legs[j+1])
		}
		if !feasible || (i+nmoved == n && t > to) {
			continue
		}
		best, ok, bestStart, bestMoved = Placed{Position: i, Detour: detour}, true, start, nmoved
	}
	if ok {
		best.Start = time.Unix(0, bestStart).In(r.From.Location())
		if bestMoved > 0 {
			i := best.Position
			best.Moved = r.pushedRef(i, bestStart+dur+mins(fromC[i+1]), bestMoved, ceilMin, fitN, mins)
		}
	}
	return best, ok
}

// pushedRef lists the moves of the nmoved stops from position i when the new visit's next arrival is t.
func (r *DayRoute) pushedRef(i int, t int64, nmoved int, ceilMin func(int64) int64, fitN func(int64, int64) int64, mins func(float64) int64) []Shifted {
	out := make([]Shifted, 0, nmoved)
	for j := i; j < i+nmoved; j++ {
		s := r.Stops[j]
		ns := fitN(ceilMin(t), int64(s.Duration))
		out = append(out, Shifted{VisitID: s.VisitID, From: s.Start, To: time.Unix(0, ns).In(s.Start.Location()), Earliest: s.Earliest, Latest: s.Latest})
		t = ns + int64(s.Duration) + mins(r.legs[j+1])
	}
	return out
}
