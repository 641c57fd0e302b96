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
// reads and decodes the whole roster, nor a route it does not book into. Each route carries the
// version (route_changes.seq) it was read at; a booking planned on it claims the route at that
// version in its own transaction (SQLStore.ClaimRoute), and when another booking got there first
// the route is read again and the decision planned again. So what the book shows may be a moment
// stale, but a booking never rests on a stale route. Changes made elsewhere (other replicas,
// coordinators' moves) are found by a small query at most every Refresh; this process's own
// bookings are applied to the book when they commit. It is safe for concurrent use.
type RouteBook struct {
	Store  *SQLStore
	Loc    *time.Location
	Travel Travel
	// Refresh bounds how often Cached looks for routes changed by others (default 100 ms).
	Refresh time.Duration
	// Now is the clock the refresh interval is measured on (time.Now when nil).
	Now func() time.Time
	// Generation, when set, tells a roster change by the reference marker (see package refdata),
	// which costs no query, in place of the roster counter.
	Generation func(ctx context.Context) (uint64, error)

	mu        sync.Mutex
	primed    bool
	rosterSeq int64
	roster    []Practitioner
	byID      map[string]*Practitioner
	// days holds, per loaded local day, each practitioner's stops.
	days   map[int]map[string][]Stop
	routes map[routeKey]*DayRoute
	// known is the version each practitioner's loaded stops were read at (0: never changed);
	// dirty lists practitioners whose stops must be read again before the next view.
	known map[string]int64
	dirty map[string]bool
	// checked is when changes were last looked for; seen holds the highest version seen at each
	// recent look, since versions from PostgreSQL's sequence may commit out of order.
	checked time.Time
	seen    []seenAt
	base    int64
	// turns holds, per practitioner, the token of Hold.
	turns map[string]chan struct{}
	// served indexes roster (as last loaded) by the services each practitioner works for.
	served servedIndex
}

type seenAt struct {
	at  time.Time
	seq int64
}

// outOfOrder is how long a route version may take from being handed out to being committed and
// still be found by the look for changes; one slower is found when a booking claims its route.
const outOfOrder = 5 * time.Second

type routeKey struct {
	id  string
	day int
}

// NewRouteBook returns an empty book over store in the council's zone.
func NewRouteBook(store *SQLStore, loc *time.Location, travel Travel) *RouteBook {
	return &RouteBook{Store: store, Loc: loc, Travel: travel, Refresh: 100 * time.Millisecond}
}

// RouteView is a book refreshed for one decision: its roster and the routes of a span of days.
type RouteView struct {
	book   *RouteBook
	ctx    context.Context
	Roster []Practitioner
	// served indexes Roster by service, so InsertVisit passes over those of other services.
	served servedIndex
	err    error
	// seqs is the version of each route the view handed out, when it first did.
	seqs map[string]int64
}

// View refreshes the book against the database as ex sees it now and loads the days of
// [from, to). On SQLite pass the decision's transaction, so no second connection is needed while it
// holds the write lock.
func (b *RouteBook) View(ctx context.Context, ex database.Querier, from, to time.Time) (*RouteView, error) {
	return b.view(ctx, ex, from, to, true)
}

// Cached is View for a booking that claims its route (ClaimRoute): it looks for changes made by
// others at most every Refresh, reading on ex (the decision's transaction, so that it never waits
// for a second connection while holding one).
func (b *RouteBook) Cached(ctx context.Context, ex database.Querier, from, to time.Time) (*RouteView, error) {
	return b.view(ctx, ex, from, to, false)
}

func (b *RouteBook) view(ctx context.Context, ex database.Querier, from, to time.Time, force bool) (*RouteView, error) {
	g := grid{loc: b.Loc, slotMin: 60}
	days := windowDays(g, from, to)
	// Whoever reads while holding the book's lock must already hold a connection: a transaction
	// holding one may be waiting for the lock, and with every connection so held, a reader that
	// asked the pool for one under the lock would wait for ever.
	for {
		b.mu.Lock()
		db, pool := ex.(*database.DB)
		if !pool || !b.dueLocked(force, days) {
			break
		}
		b.mu.Unlock()
		conn, err := db.Connx(ctx)
		if err != nil {
			return nil, fmt.Errorf("routing: unable to read routes: %w", err)
		}
		defer conn.Close()
		ex = conn
	}
	defer b.mu.Unlock()
	if err := b.refresh(ctx, ex, force); err != nil {
		return nil, err
	}
	if len(b.days)+len(days) > maxBookDays {
		b.reset()
	}
	for _, d := range days {
		if _, ok := b.days[d.key]; ok {
			continue
		}
		if err := b.loadDay(ctx, ex, d); err != nil {
			return nil, err
		}
	}
	if err := b.reload(ctx, ex); err != nil {
		return nil, err
	}
	if !b.served.indexes(b.roster) {
		b.served = newServedIndex(b.roster)
	}
	return &RouteView{book: b, ctx: ctx, Roster: b.roster, served: b.served, seqs: map[string]int64{}}, nil
}

// dueLocked reports whether a view would read the database now.
func (b *RouteBook) dueLocked(force bool, days []searchDay) bool {
	if !b.primed || force || len(b.dirty) > 0 || b.now().Sub(b.checked) >= b.Refresh {
		return true
	}
	for _, d := range days {
		if _, ok := b.days[d.key]; !ok {
			return true
		}
	}
	return false
}

// Seq is the version of a practitioner's route as this view first handed it out, for ClaimRoute;
// -1, which no claim matches, for a route it never handed out.
func (v *RouteView) Seq(id string) int64 {
	v.book.mu.Lock()
	defer v.book.mu.Unlock()
	if seq, ok := v.seqs[id]; ok {
		return seq
	}
	return -1
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
	// The book moves on while the view is used: a claim must name the version planned on.
	if _, ok := v.seqs[p.ID]; !ok {
		v.seqs[p.ID] = b.known[p.ID]
	}
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

func (b *RouteBook) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *RouteBook) reset() {
	b.days, b.routes, b.known, b.dirty = map[int]map[string][]Stop{}, map[routeKey]*DayRoute{}, map[string]int64{}, map[string]bool{}
}

// refresh reads the roster again when its marker moved, and marks the practitioners whose routes
// changed since the last look; without force it looks at most every Refresh.
func (b *RouteBook) refresh(ctx context.Context, ex database.Querier, force bool) error {
	now := b.now()
	if b.primed && !force && now.Sub(b.checked) < b.Refresh {
		return nil
	}
	var roster int64
	var err error
	if b.Generation != nil {
		var gen uint64
		gen, err = b.Generation(ctx)
		roster = int64(gen)
	} else {
		roster, _, err = b.Store.Marker(ctx, ex)
	}
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
		b.reset()
		b.seen, b.base, b.checked, b.primed = nil, -1, now, true
		return nil
	}
	// Versions handed out up to outOfOrder before a look may have committed after it, so each
	// look goes back to the highest version seen at least that long ago.
	for len(b.seen) > 0 && now.Sub(b.seen[0].at) > outOfOrder {
		b.base = b.seen[0].seq
		b.seen = b.seen[1:]
	}
	after := b.base
	changed, err := b.Store.ChangedAfter(ctx, ex, after)
	if err != nil {
		return err
	}
	top := after
	for id, seq := range changed {
		top = max(top, seq)
		if seq != b.known[id] {
			if len(b.days) == 0 {
				b.known[id] = seq
			} else {
				b.dirty[id] = true
			}
		}
	}
	if len(b.dirty) > 64 {
		b.reset()
	}
	b.seen, b.checked = append(b.seen, seenAt{at: now, seq: top}), now
	return nil
}

// reload reads again the stops of the practitioners marked dirty, on every loaded day: their
// version first, then their visits, so the stops are never older than the version they carry.
func (b *RouteBook) reload(ctx context.Context, ex database.Querier) error {
	if len(b.dirty) == 0 {
		return nil
	}
	if len(b.days) == 0 {
		clear(b.dirty)
		return nil
	}
	lo, hi := 1<<62, -(1 << 62)
	for k := range b.days {
		lo, hi = min(lo, k), max(hi, k)
	}
	from, to := b.dayStart(lo), b.dayStart(hi+1)
	for id := range b.dirty {
		seq, err := b.Store.RouteSeq(ctx, ex, id)
		if err != nil {
			return err
		}
		vs, err := b.Store.BookedOf(ctx, ex, id, from, to)
		if err != nil {
			return err
		}
		for k, m := range b.days {
			delete(m, id)
			delete(b.routes, routeKey{id, k})
		}
		for _, v := range vs {
			k := civilDayIn(v.Start, b.Loc)
			if m, ok := b.days[k]; ok {
				m[id] = append(m[id], stopOf(v.Visit))
			}
		}
		b.known[id] = seq
		delete(b.dirty, id)
	}
	return nil
}

// Invalidate drops everything, so the next view reads afresh; for a transaction that lost a race.
func (b *RouteBook) Invalidate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.primed = false
}

// Forget marks a practitioner's route to be read again before the next view: a claim found it
// changed, or this process changed it without telling the book.
func (b *RouteBook) Forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.primed {
		b.dirty[id] = true
	}
}

// Hold waits for this process's turn at a practitioner's route, so that bookings planned here
// on the same route queue in memory rather than on the database's row lock, where all but one
// would find the route changed and plan again. current reports whether the route is still at
// version seen (else the caller plans again on the book, which has the change). release ends
// the turn; call it once the booking has committed and been applied with Booked.
func (b *RouteBook) Hold(ctx context.Context, id string, seen int64) (release func(), current bool, err error) {
	b.mu.Lock()
	if b.turns == nil {
		b.turns = map[string]chan struct{}{}
	}
	turn, ok := b.turns[id]
	if !ok {
		turn = make(chan struct{}, 1)
		b.turns[id] = turn
	}
	b.mu.Unlock()
	select {
	case turn <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	release = func() { <-turn }
	b.mu.Lock()
	current = b.known[id] == seen && !b.dirty[id]
	b.mu.Unlock()
	return release, current, nil
}

// Stale reports that a claim of a practitioner's route at version seen failed: unless the book
// has moved past seen already (this process's own booking, applied when it committed), the route
// is read again before the next view.
func (b *RouteBook) Stale(id string, seen int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.primed && b.known[id] == seen {
		b.dirty[id] = true
	}
}

// Booked applies this process's own committed booking of v to the book: the route claimed at
// version seen is now at version claimed with v in it. When the book moved on meanwhile, the route
// is read again instead.
func (b *RouteBook) Booked(v Visit, seen, claimed int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.primed {
		return
	}
	id := v.PractitionerID
	switch b.known[id] {
	case claimed:
		return
	case seen:
	default:
		b.dirty[id] = true
		return
	}
	b.known[id] = claimed
	k := civilDayIn(v.Start, b.Loc)
	if m, ok := b.days[k]; ok {
		m[id] = append(m[id][:len(m[id]):len(m[id])], stopOf(v))
		delete(b.routes, routeKey{id, k})
	}
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
	// Versions before visits: a route read newer than its version only makes a claim fail.
	seqs, err := b.Store.RouteSeqs(ctx, ex)
	if err != nil {
		return err
	}
	vs, err := b.Store.Booked(ctx, ex, from, to)
	if err != nil {
		return err
	}
	m := make(map[string][]Stop)
	for _, v := range vs {
		m[v.PractitionerID] = append(m[v.PractitionerID], stopOf(v.Visit))
	}
	first := len(b.days) == 0
	for id, seq := range seqs {
		switch {
		case first:
			b.known[id] = seq
		case seq != b.known[id]:
			// Its other days were read at an older version: read them all again.
			b.dirty[id] = true
		}
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
