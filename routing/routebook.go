package routing

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/carepath/carepath/database"
)

// maxBookDays bounds how many local days of visits a RouteBook holds; past it, it starts afresh.
const maxBookDays = 400

// RouteBook holds the roster and the day routes of one process in memory, so a decision never
// reads and decodes the whole roster. It re-reads only when the change marker moved (one small
// query per decision), and then only the roster when that changed, or only the routes of the
// practitioners whose visits changed. It is safe for concurrent use. What it returns may be a
// moment stale: bookings re-check the chosen route against the database inside their
// transaction, under the route's lock.
type RouteBook struct {
	Store  *SQLStore
	Loc    *time.Location
	Travel Travel

	mu        sync.Mutex
	primed    bool
	rosterSeq int64
	visitSeq  int64
	roster    []Practitioner
	byID      map[string]*Practitioner
	// days holds, per loaded local day, each practitioner's stops.
	days   map[int]map[string][]Stop
	routes map[routeKey]*DayRoute
}

type routeKey struct {
	id  string
	day int
}

// NewRouteBook returns an empty book over store in the council's zone.
func NewRouteBook(store *SQLStore, loc *time.Location, travel Travel) *RouteBook {
	return &RouteBook{Store: store, Loc: loc, Travel: travel}
}

// RouteView is a book refreshed for one decision: its roster and the routes of a span of days.
type RouteView struct {
	book   *RouteBook
	ctx    context.Context
	Roster []Practitioner
	err    error
}

// View refreshes the book against the marker read on ex and loads the days of [from, to). On
// SQLite pass the decision's transaction, so no second connection is needed while it holds the
// write lock.
func (b *RouteBook) View(ctx context.Context, ex database.Querier, from, to time.Time) (*RouteView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.refresh(ctx, ex); err != nil {
		return nil, err
	}
	g := grid{loc: b.Loc, slotMin: 60}
	days := windowDays(g, from, to)
	if len(b.days)+len(days) > maxBookDays {
		b.days, b.routes = map[int]map[string][]Stop{}, map[routeKey]*DayRoute{}
	}
	for _, d := range days {
		if _, ok := b.days[d.key]; ok {
			continue
		}
		if err := b.loadDay(ctx, ex, d); err != nil {
			return nil, err
		}
	}
	return &RouteView{book: b, ctx: ctx, Roster: b.roster}, nil
}

// Practitioner returns the cached practitioner with id.
func (v *RouteView) Practitioner(id string) (*Practitioner, bool) {
	v.book.mu.Lock()
	defer v.book.mu.Unlock()
	p, ok := v.book.byID[id]
	return p, ok
}

// Err is the first failure to build a route (a travel error); such routes are left out.
func (v *RouteView) Err() error { return v.err }

// Route implements Routes from the book, building and caching the route on first use.
func (v *RouteView) Route(p *Practitioner, y int, m time.Month, d int) (*DayRoute, bool) {
	b := v.book
	b.mu.Lock()
	defer b.mu.Unlock()
	key := routeKey{p.ID, civilDay(y, m, d)}
	if r, ok := b.routes[key]; ok {
		return r, r != nil
	}
	stops, loaded := b.days[key.day]
	if !loaded {
		return nil, false
	}
	r, ok := BuildRoute(p, b.Loc, y, m, d, stops[p.ID])
	if ok {
		if err := FillLegs(v.ctx, b.Travel, r); err != nil {
			if v.err == nil {
				v.err = err
			}
			return nil, false
		}
	}
	b.routes[key] = r
	return r, ok
}

// FillLegs sets a route's travel between consecutive points with one table request.
func FillLegs(ctx context.Context, tr Travel, r *DayRoute) error {
	pts := r.Points()
	m, err := tr.Matrix(ctx, pts[:len(pts)-1], pts[1:])
	if err != nil {
		return fmt.Errorf("routing: unable to measure the route of %s: %w", r.PractitionerID, err)
	}
	if len(m) != len(pts)-1 {
		return fmt.Errorf("routing: unable to measure the route of %s: travel matrix has %d rows, want %d", r.PractitionerID, len(m), len(pts)-1)
	}
	r.Legs(func(a, b Point) float64 { return 0 })
	for i := range r.legs {
		if len(m[i]) != len(pts)-1 {
			return fmt.Errorf("routing: unable to measure the route of %s: travel matrix row %d is short", r.PractitionerID, i)
		}
		r.legs[i] = m[i][i]
	}
	return nil
}

func (b *RouteBook) refresh(ctx context.Context, ex database.Querier) error {
	roster, visits, err := b.Store.Marker(ctx, ex)
	if err != nil {
		return err
	}
	if !b.primed || roster != b.rosterSeq {
		ps, err := b.Store.PractitionersOn(ctx, ex)
		if err != nil {
			return err
		}
		b.roster, b.byID = ps, make(map[string]*Practitioner, len(ps))
		for i := range ps {
			b.byID[ps[i].ID] = &b.roster[i]
		}
		// Routes are built from practitioners' hours, so they go with the roster; visits stay.
		b.routes = map[routeKey]*DayRoute{}
		b.rosterSeq = roster
	}
	if !b.primed {
		b.days, b.routes, b.visitSeq, b.primed = map[int]map[string][]Stop{}, map[routeKey]*DayRoute{}, visits, true
		return nil
	}
	if visits == b.visitSeq {
		return nil
	}
	changed, err := b.Store.ChangedSince(ctx, ex, b.visitSeq)
	if err != nil {
		return err
	}
	if len(changed) > 64 || len(b.days) == 0 {
		b.days, b.routes = map[int]map[string][]Stop{}, map[routeKey]*DayRoute{}
		b.visitSeq = visits
		return nil
	}
	lo, hi := 1<<62, -(1 << 62)
	for k := range b.days {
		lo, hi = min(lo, k), max(hi, k)
	}
	from := b.dayStart(lo)
	to := b.dayStart(hi + 1)
	for _, id := range changed {
		vs, err := b.Store.BookedOf(ctx, ex, id, from, to)
		if err != nil {
			return err
		}
		for k, m := range b.days {
			if _, had := m[id]; had {
				delete(m, id)
			}
			delete(b.routes, routeKey{id, k})
		}
		for _, v := range vs {
			k := civilDayIn(v.Start, b.Loc)
			if m, ok := b.days[k]; ok {
				m[id] = append(m[id], stopOf(v.Visit))
			}
		}
	}
	b.visitSeq = visits
	return nil
}

// Invalidate drops everything, so the next view reads afresh; for a transaction that lost a race.
func (b *RouteBook) Invalidate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.primed = false
}

func (b *RouteBook) dayStart(key int) time.Time {
	u := time.Unix(int64(key)*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, b.Loc)
}

func civilDayIn(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return civilDay(y, m, d)
}

func (b *RouteBook) loadDay(ctx context.Context, ex database.Querier, d searchDay) error {
	from := time.Date(d.y, d.m, d.d, 0, 0, 0, 0, b.Loc)
	to := time.Date(d.y, d.m, d.d+1, 0, 0, 0, 0, b.Loc)
	vs, err := b.Store.Booked(ctx, ex, from, to)
	if err != nil {
		return err
	}
	m := make(map[string][]Stop)
	for _, v := range vs {
		m[v.PractitionerID] = append(m[v.PractitionerID], stopOf(v.Visit))
	}
	b.days[d.key] = m
	return nil
}

// stopOf is a booked visit as a route stop; a visit without a stored window (booked on the slot
// grid) gets its own times as the window, so it never moves.
func stopOf(v Visit) Stop {
	s := Stop{VisitID: v.ID, Loc: v.Loc, Start: v.Start, Duration: v.End.Sub(v.Start), Earliest: v.Earliest, Latest: v.Latest,
		Pinned: v.Pinned, Skills: v.RequiredSkills}
	if s.Earliest.IsZero() {
		s.Earliest = v.Start
	}
	if s.Latest.IsZero() {
		s.Latest = v.End
	}
	return s
}

// FreshRoute locks a practitioner's route in tx and builds their day from the visits the database
// holds now, for re-validating an insertion chosen from the cache.
func (b *RouteBook) FreshRoute(ctx context.Context, tx *database.Tx, p *Practitioner, day time.Time) (*DayRoute, bool, error) {
	if err := b.Store.LockRoute(ctx, tx, p.ID); err != nil {
		return nil, false, err
	}
	y, m, d := day.In(b.Loc).Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, b.Loc)
	vs, err := b.Store.BookedOf(ctx, tx, p.ID, from, time.Date(y, m, d+1, 0, 0, 0, 0, b.Loc))
	if err != nil {
		return nil, false, err
	}
	stops := make([]Stop, len(vs))
	for i, v := range vs {
		stops[i] = stopOf(v.Visit)
	}
	r, ok := BuildRoute(p, b.Loc, y, m, d, stops)
	if !ok {
		return nil, false, nil
	}
	if err := FillLegs(ctx, b.Travel, r); err != nil {
		return nil, false, err
	}
	return r, true, nil
}
