package routing

import (
	"math"
	"sort"
	"time"
)

// Interval is a span of time [From, To).
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Stop is one visit in a practitioner's day route, with its own time window, so that moving it
// keeps the promise made when it was booked.
type Stop struct {
	VisitID  string        `json:"visit_id"`
	Loc      Point         `json:"loc"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	// Earliest is the first instant the visit may start; Latest the last instant by which it must
	// end. A zero Latest bounds the visit by the working day only.
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest"`
	// Pinned visits never move, nor do visits that started before the decision.
	Pinned bool `json:"pinned"`
	// Skills are the skills the visit needs.
	Skills []string `json:"skills,omitempty"`
}

// End is when the visit ends.
func (s Stop) End() time.Time { return s.Start.Add(s.Duration) }

// DayRoute is a practitioner's working day: from the start point at From, through the stops in
// order, back to the end point by To, never working through a break.
type DayRoute struct {
	PractitionerID string
	// Day is the civil day number of the local date (days since 1970-01-01).
	Day      int
	From, To time.Time
	// Breaks lie inside [From, To), sorted; gaps between two shifts of one day are breaks too.
	Breaks     []Interval
	StartPoint Point
	EndPoint   Point
	MaxVisits  int
	// Stops are ordered by start and do not overlap.
	Stops []Stop
	// legs[i] is the travel in minutes from stop i-1 (or the start point) to stop i, and
	// legs[len(Stops)] from the last stop back to the end point; filled by Legs.
	legs []float64
	// cosLat is the cosine of each point's latitude (Points order), taken by Legs with the legs,
	// so that great-circle travel to a new visit repeats no trigonometry of the route's points.
	cosLat []float64
}

// Candidate is a visit to place: where, how long, and its window.
type Candidate struct {
	Loc      Point
	Duration time.Duration
	Earliest time.Time
	Latest   time.Time
	// Open, when not nil, lists when the visit's service is open, in order: the visit lies inside
	// one of them. Nil means the service is always open; empty means it never is.
	Open []Interval
}

// Placed is one feasible insertion of a candidate into a route.
type Placed struct {
	// Position is the index the visit takes in the route's stops.
	Position int
	Start    time.Time
	// Detour is the extra travel in minutes the route makes for the visit.
	Detour float64
	// Moved lists later stops pushed back to make room, in route order.
	Moved []Shifted
}

// Shifted is a stop moved later by an insertion.
type Shifted struct {
	VisitID  string    `json:"visit_id"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest"`
}

// Legs fills the route's travel between consecutive points, from tr, which must give minutes from
// a to b; callers set it once per route build, so insertions read it for free.
func (r *DayRoute) Legs(tr func(a, b Point) float64) {
	r.legs = make([]float64, len(r.Stops)+1)
	prev := r.StartPoint
	for i, s := range r.Stops {
		r.legs[i] = tr(prev, s.Loc)
		prev = s.Loc
	}
	r.legs[len(r.Stops)] = tr(prev, r.EndPoint)
	r.cosLat = make([]float64, 0, len(r.Stops)+2)
	r.cosLat = append(r.cosLat, math.Cos(deg2rad(r.StartPoint.Lat)))
	for _, s := range r.Stops {
		r.cosLat = append(r.cosLat, math.Cos(deg2rad(s.Loc.Lat)))
	}
	r.cosLat = append(r.cosLat, math.Cos(deg2rad(r.EndPoint.Lat)))
}

// point is the route's point k in Points order: the start point, the stops, the end point.
func (r *DayRoute) point(k int) Point {
	switch {
	case k == 0:
		return r.StartPoint
	case k <= len(r.Stops):
		return r.Stops[k-1].Loc
	}
	return r.EndPoint
}

// cosOf is the cosine of the latitude of the route's point k (Points order), which is p.
func (r *DayRoute) cosOf(k int, p Point) float64 {
	if len(r.cosLat) == len(r.Stops)+2 {
		return r.cosLat[k]
	}
	return math.Cos(deg2rad(p.Lat))
}

// Points are the route's places in order: start point, stops, end point.
func (r *DayRoute) Points() []Point {
	return r.appendPoints(make([]Point, 0, len(r.Stops)+2))
}

func (r *DayRoute) appendPoints(out []Point) []Point {
	out = append(out, r.StartPoint)
	for _, s := range r.Stops {
		out = append(out, s.Loc)
	}
	return append(out, r.EndPoint)
}

// Insert finds the cheapest feasible position for c in the route, given the travel from each of
// the route's points (Points order) to c (toC) and from c to each (fromC). Existing stops keep
// their times unless mayMove, when unpinned stops that have not started by now may move later
// inside their own windows. ok is false when no position is feasible. Times are worked in
// nanoseconds since the epoch: this runs for every route at every decision.
func (r *DayRoute) Insert(c Candidate, toC, fromC []float64, now time.Time, mayMove bool) (best Placed, ok bool) {
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
			best.Moved = r.pushed(i, bestStart+dur+mins(fromC[i+1]), bestMoved, ceilMin, fitN, mins)
		}
	}
	return best, ok
}

// pushed lists the moves of the nmoved stops from position i when the new visit's next arrival is t.
func (r *DayRoute) pushed(i int, t int64, nmoved int, ceilMin func(int64) int64, fitN func(int64, int64) int64, mins func(float64) int64) []Shifted {
	out := make([]Shifted, 0, nmoved)
	for j := i; j < i+nmoved; j++ {
		s := r.Stops[j]
		ns := fitN(ceilMin(t), int64(s.Duration))
		out = append(out, Shifted{VisitID: s.VisitID, From: s.Start, To: time.Unix(0, ns).In(s.Start.Location()), Earliest: s.Earliest, Latest: s.Latest})
		t = ns + int64(s.Duration) + mins(r.legs[j+1])
	}
	return out
}

// reach marks in need (one flag per point, Points order) the points whose travel to and from c
// Insert reads at the positions where c could be inserted for some travel to and from c of zero
// minutes or more. A position it passes over is one Insert finds infeasible whatever that travel
// is, so a caller measures travel only to the points it marks and leaves the rest zero. It works
// Insert's arithmetic with the travel to and from c taken as zero: every step of Insert's start
// time and of its push of later stops is non-decreasing in that travel (one pass over breaks
// sorted by start finds the earliest break-free start, and rounding up to the minute keeps
// order), so what fails at zero fails at any travel. Openings are left out: they only move a
// start later. Breaks not sorted by start lose that proof, and then every position up to the
// end of the window is marked. It reports whether it marked any.
func (r *DayRoute) reach(c *Candidate, now time.Time, mayMove bool, need []bool) (any bool) {
	n := len(r.Stops)
	if r.MaxVisits > 0 && n >= r.MaxVisits || len(r.legs) != n+1 || len(need) != n+2 {
		return false
	}
	sorted := true
	for k := 1; k < len(r.Breaks); k++ {
		if r.Breaks[k].From.Before(r.Breaks[k-1].From) {
			sorted = false
		}
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
	for i := 0; i <= n; i++ {
		prevEnd := from
		if i > 0 {
			s := &r.Stops[i-1]
			prevEnd = s.Start.UnixNano() + int64(s.Duration)
		}
		if prevEnd+dur > latest {
			break // as in Insert: no later position either
		}
		if sorted && !r.fitsWithoutTravel(i, fitBreaks(r.Breaks, ceilMinute(max(prevEnd, nowN, earliest)), dur)+dur, latest, to, nowN, mayMove) {
			continue
		}
		need[i], need[i+1], any = true, true, true
	}
	return any
}

// fitsWithoutTravel is Insert's test of position i for a visit ending at end with no travel to
// the next stop: it ends by latest, and the stops after it are clear of it or may be pushed later.
func (r *DayRoute) fitsWithoutTravel(i int, end, latest, to, nowN int64, mayMove bool) bool {
	if end > latest {
		return false
	}
	t := end
	for j := i; j < len(r.Stops); j++ {
		s := &r.Stops[j]
		ss := s.Start.UnixNano()
		if t <= ss {
			return true
		}
		if !mayMove || s.Pinned || ss < nowN {
			return false
		}
		sd := int64(s.Duration)
		ne := fitBreaks(r.Breaks, ceilMinute(t), sd) + sd
		if !s.Latest.IsZero() && ne > s.Latest.UnixNano() || ne > to {
			return false
		}
		t = ne + minutesNS(r.legs[j+1])
	}
	return t <= to
}

// ceilMinute, minutesNS and fitBreaks are Insert's rounding up to the whole minute, its minutes
// of travel in nanoseconds, and its first start at or after t, rounded up, clear of breaks.
func ceilMinute(t int64) int64 {
	return (t + int64(time.Minute) - 1) / int64(time.Minute) * int64(time.Minute)
}

func minutesNS(m float64) int64 { return int64(math.Ceil(m * float64(time.Minute))) }

func fitBreaks(breaks []Interval, t, d int64) int64 {
	for _, b := range breaks {
		if bf, bt := b.From.UnixNano(), b.To.UnixNano(); t < bt && t+d > bf {
			t = bt
		}
	}
	return ceilMinute(t)
}

// Apply returns the route's stops with p made and s inserted, in order, for checks and storage.
func (r *DayRoute) Apply(p Placed, s Stop) []Stop {
	out := make([]Stop, 0, len(r.Stops)+1)
	out = append(out, r.Stops[:p.Position]...)
	s.Start = p.Start
	out = append(out, s)
	moved := make(map[string]time.Time, len(p.Moved))
	for _, m := range p.Moved {
		moved[m.VisitID] = m.To
	}
	for _, st := range r.Stops[p.Position:] {
		if to, ok := moved[st.VisitID]; ok {
			st.Start = to
		}
		out = append(out, st)
	}
	return out
}

// sortStops orders stops by start, then visit id.
func sortStops(s []Stop) {
	sort.Slice(s, func(i, j int) bool {
		if !s[i].Start.Equal(s[j].Start) {
			return s[i].Start.Before(s[j].Start)
		}
		return s[i].VisitID < s[j].VisitID
	})
}
