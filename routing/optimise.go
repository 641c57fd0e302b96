package routing

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/carepath/carepath/failure"
)

// Day is one day's diary for batch re-optimisation.
type Day struct {
	// Date picks the day: its local date in Loc.
	Date time.Time
	// Now separates visits already started (Start before Now), which stay, from movable ones.
	Now time.Time
	// Loc is the council's time zone; SlotLength the grid (zero means DefaultSlotLength).
	Loc        *time.Location
	SlotLength time.Duration
	// MaxTravelMinutes bounds base→visit travel; zero means no bound.
	MaxTravelMinutes float64
	Practitioners    []Practitioner
	// Visits are all visits booked on the day, pinned, started or movable.
	Visits []Visit
	Travel Travel
}

// Move is one visit handed to a different practitioner (or, with the same one, a different service).
type Move struct {
	VisitID            string    `json:"visit_id"`
	Start              time.Time `json:"start"`
	FromPractitionerID string    `json:"from_practitioner_id"`
	ToPractitionerID   string    `json:"to_practitioner_id"`
	FromServiceID      string    `json:"from_service_id"`
	ToServiceID        string    `json:"to_service_id"`
	// TravelBefore is zero when the old practitioner is no longer on the roster.
	TravelBefore float64 `json:"travel_before_minutes"`
	TravelAfter  float64 `json:"travel_after_minutes"`
}

// Plan is the outcome of Optimise.
type Plan struct {
	// Visits are all the day's visits sorted by start then id, movable ones reassigned.
	Visits  []Visit `json:"visits"`
	Moves   []Move  `json:"moves"`
	Movable int     `json:"movable"`
	Fixed   int     `json:"fixed"`
	// TravelBefore and TravelAfter total base→visit minutes over the movable visits; visits whose
	// old practitioner is not on the roster add nothing to TravelBefore.
	TravelBefore float64 `json:"travel_before_minutes"`
	TravelAfter  float64 `json:"travel_after_minutes"`
	// Rounds counts sparse solves; more than one means pricing found arcs worth adding.
	Rounds int `json:"rounds"`
}

// defaultSparseArcs is how many cheapest arcs per visit the first sparse solve keeps; pricing
// adds any other arc that could still lower the cost, so this affects speed only.
const defaultSparseArcs = 8

// costUnit converts minutes to integer thousandths of a minute, so the flow's optimality is exact
// and the same input gives the same plan on every machine.
func costUnit(minutes float64) int64 { return int64(math.Round(minutes * 1000)) }

// Optimise reassigns the day's movable visits (not pinned, not started) to minimise total
// base→visit travel, keeping every visit's slot and every hard constraint: service membership,
// skills, working hours covering the slot, one visit per practitioner per slot, the daily maximum
// (counting pinned and started visits) and MaxTravelMinutes. It solves the assignment exactly as
// a min-cost flow: visit → (practitioner, slot) → practitioner → sink.
func Optimise(ctx context.Context, day Day) (Plan, error) {
	return optimise(ctx, day, defaultSparseArcs)
}

// dayProblem is Day turned into indexes and integer costs.
type dayProblem struct {
	g        grid
	pracs    []*Practitioner // sorted by id
	pIndex   map[string]int
	all      []Visit // every visit, sorted by start then id
	movable  []int   // indexes into all
	slotOf   []int   // per movable visit: slot index of the day
	capLeft  []int   // per practitioner: daily visits left after fixed ones
	travel   [][]float64
	arcOff   []int   // per movable visit: arcs[arcOff[i]:arcOff[i+1]]
	arcPrac  []int32 // practitioner of each arc
	arcCost  []int64
	nSlots   int
	pslotIdx []int32 // practitioner*nSlots+slot → pslot number, −1 if none
	pslots   []int32 // pslot number → practitioner
}

func optimise(ctx context.Context, day Day, k int) (Plan, error) {
	pr, err := buildDayProblem(ctx, day)
	if err != nil {
		return Plan{}, err
	}
	n := len(pr.movable)
	chosen := make([]int32, n) // practitioner per movable visit
	rounds := 0
	if n > 0 {
		inSparse := make([]bool, len(pr.arcCost))
		for i := 0; i < n; i++ {
			markCheapest(pr, i, k, inSparse)
		}
		for {
			if err := ctx.Err(); err != nil {
				return Plan{}, fmt.Errorf("routing: unable to optimise day: %w", err)
			}
			rounds++
			sp, ok := solveSparse(pr, inSparse)
			if !ok {
				// The sparse graph may be infeasible when the full one is not: widen it, and only
				// call the day infeasible once every arc is in.
				if allIn(inSparse) {
					// The roster as it now stands (hours, services, skills, limits) has no room for
					// what was booked: a state of the diary for a coordinator to resolve, not a fault.
					return Plan{}, failure.Errorf(failure.Conflict, "the %d movable visits cannot all be placed under the hard constraints; check the roster's working hours, services, skills and daily limits for the day", n)
				}
				k *= 4
				for i := 0; i < n; i++ {
					markCheapest(pr, i, k, inSparse)
				}
				continue
			}
			added := 0
			for i := 0; i < n; i++ {
				for a := pr.arcOff[i]; a < pr.arcOff[i+1]; a++ {
					if !inSparse[a] && sp.reducedCost(int32(1+i), pslotNode(n, pr.pslotIdx[int(pr.arcPrac[a])*pr.nSlots+pr.slotOf[i]]), pr.arcCost[a]) < 0 {
						inSparse[a] = true
						added++
					}
				}
			}
			if added == 0 {
				readAssignment(pr, sp, chosen)
				break
			}
		}
	}
	return buildPlan(pr, chosen, rounds), nil
}

func allIn(in []bool) bool {
	for _, b := range in {
		if !b {
			return false
		}
	}
	return true
}

// Node layout: 0 sink, 1..n visits, then pslots, then practitioners.
func pslotNode(n int, ps int32) int32 { return int32(1+n) + ps }

func pracNode(pr *dayProblem, n int, p int) int32 { return int32(1+n+len(pr.pslots)) + int32(p) }

func solveSparse(pr *dayProblem, inSparse []bool) (*shortestPaths, bool) {
	n := len(pr.movable)
	nodes := 1 + n + len(pr.pslots) + len(pr.pracs)
	edges := len(pr.pslots) + len(pr.pracs)
	for _, in := range inSparse {
		if in {
			edges++
		}
	}
	fg := newFlowGraph(nodes, edges)
	for ps, p := range pr.pslots {
		fg.addEdge(pslotNode(n, int32(ps)), pracNode(pr, n, int(p)), 1, 0)
	}
	for p, c := range pr.capLeft {
		if c > 0 {
			fg.addEdge(pracNode(pr, n, p), 0, int32(c), 0)
		}
	}
	// Arcs are added most expensive first so that adjacency lists (which run newest first) try
	// cheap arcs first; the result does not depend on this, only the speed.
	for i := 0; i < n; i++ {
		for a := pr.arcOff[i+1] - 1; a >= pr.arcOff[i]; a-- {
			if inSparse[a] {
				ps := pr.pslotIdx[int(pr.arcPrac[a])*pr.nSlots+pr.slotOf[i]]
				fg.addEdge(int32(1+i), pslotNode(n, ps), 1, pr.arcCost[a])
			}
		}
	}
	sp := newShortestPaths(fg)
	for i := 0; i < n; i++ {
		if !sp.augment(int32(1+i), 0) {
			return nil, false
		}
	}
	return sp, true
}

func readAssignment(pr *dayProblem, sp *shortestPaths, chosen []int32) {
	n := len(pr.movable)
	g := sp.g
	for i := 0; i < n; i++ {
		for e := g.head[1+i]; e >= 0; e = g.next[e] {
			if e&1 == 0 && g.cap[e] == 0 {
				chosen[i] = pr.pslots[g.to[e]-int32(1+n)]
				break
			}
		}
	}
}

// markCheapest adds visit i's k cheapest arcs (ties by practitioner id) to the sparse set.
func markCheapest(pr *dayProblem, i, k int, in []bool) {
	lo, hi := pr.arcOff[i], pr.arcOff[i+1]
	if hi-lo <= k {
		for a := lo; a < hi; a++ {
			in[a] = true
		}
		return
	}
	idx := make([]int, 0, hi-lo)
	for a := lo; a < hi; a++ {
		idx = append(idx, a)
	}
	sort.Slice(idx, func(x, y int) bool {
		if pr.arcCost[idx[x]] != pr.arcCost[idx[y]] {
			return pr.arcCost[idx[x]] < pr.arcCost[idx[y]]
		}
		return idx[x] < idx[y]
	})
	for _, a := range idx[:k] {
		in[a] = true
	}
}

func buildDayProblem(ctx context.Context, day Day) (*dayProblem, error) {
	fail := func(format string, args ...any) (*dayProblem, error) {
		return nil, fmt.Errorf("routing: unable to optimise day: "+format, args...)
	}
	g, err := newGrid(day.Loc, day.SlotLength)
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case day.Travel == nil:
		return fail("field travel: missing")
	case day.Date.IsZero():
		return fail("field date: missing")
	case day.Now.IsZero():
		return fail("field now: missing")
	case day.MaxTravelMinutes < 0 || math.IsNaN(day.MaxTravelMinutes):
		return fail("field max_travel_minutes: %g must be zero (no bound) or positive", day.MaxTravelMinutes)
	}
	y, m, d := day.Date.In(g.loc).Date()
	key := civilDay(y, m, d)
	wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
	pr := &dayProblem{g: g, nSlots: 24 * 60 / g.slotMin, pIndex: make(map[string]int, len(day.Practitioners))}

	for i := range day.Practitioners {
		pr.pracs = append(pr.pracs, &day.Practitioners[i])
	}
	sort.Slice(pr.pracs, func(a, b int) bool { return pr.pracs[a].ID < pr.pracs[b].ID })
	for i, p := range pr.pracs {
		if _, dup := pr.pIndex[p.ID]; dup {
			return fail("practitioner %q: field id: duplicate", p.ID)
		}
		pr.pIndex[p.ID] = i
	}

	pr.all = append([]Visit(nil), day.Visits...)
	sort.SliceStable(pr.all, func(a, b int) bool {
		if !pr.all[a].Start.Equal(pr.all[b].Start) {
			return pr.all[a].Start.Before(pr.all[b].Start)
		}
		return pr.all[a].ID < pr.all[b].ID
	})
	pr.capLeft = make([]int, len(pr.pracs))
	for i, p := range pr.pracs {
		pr.capLeft[i] = p.MaxVisitsPerDay
	}
	occupied := make(map[int]string) // practitioner*nSlots+slot → fixed visit id
	seenID := make(map[string]bool, len(pr.all))
	for i, v := range pr.all {
		switch {
		case v.ID == "":
			return fail("visit at %s: field id: missing", v.Start.In(g.loc).Format(time.RFC3339))
		case seenID[v.ID]:
			return fail("visit %q: field id: duplicate", v.ID)
		case g.dayKey(v.Start) != key:
			return fail("visit %q: field start: %s is not on %04d-%02d-%02d", v.ID, v.Start.In(g.loc).Format(time.RFC3339), y, m, d)
		case !v.End.After(v.Start) || v.End.Sub(v.Start) > g.slotLength():
			return fail("visit %q: field end: visit must last more than zero and at most one %s slot", v.ID, g.slotLength())
		case !v.Loc.Valid():
			return fail("visit %q: field loc: coordinates %s out of range", v.ID, v.Loc)
		}
		seenID[v.ID] = true
		minute, ok := g.onGrid(v.Start)
		if !ok {
			return fail("visit %q: field start: %s is not on the %d-minute slot grid", v.ID, v.Start.In(g.loc).Format(time.RFC3339), g.slotMin)
		}
		slot := minute / g.slotMin
		if v.Pinned || v.Start.Before(day.Now) {
			if p, ok := pr.pIndex[v.PractitionerID]; ok {
				k := p*pr.nSlots + slot
				if other, taken := occupied[k]; taken {
					return fail("visit %q: field start: practitioner %q already has fixed visit %q in that slot: %w", v.ID, v.PractitionerID, other, ErrSlotTaken)
				}
				occupied[k] = v.ID
				pr.capLeft[p]--
			}
			continue
		}
		pr.movable = append(pr.movable, i)
		pr.slotOf = append(pr.slotOf, slot)
	}

	// (practitioner, slot) nodes exist only for slots some movable visit is in, that the
	// practitioner works in full, is free in, and on a day they still have capacity.
	usedSlot := make([]bool, pr.nSlots)
	for _, s := range pr.slotOf {
		usedSlot[s] = true
	}
	pr.pslotIdx = make([]int32, len(pr.pracs)*pr.nSlots)
	for i := range pr.pslotIdx {
		pr.pslotIdx[i] = -1
	}
	for p, pp := range pr.pracs {
		if pr.capLeft[p] <= 0 {
			continue
		}
		for s := 0; s < pr.nSlots; s++ {
			if !usedSlot[s] || !g.covers(pp, wd, s*g.slotMin) {
				continue
			}
			if _, taken := occupied[p*pr.nSlots+s]; taken {
				continue
			}
			pr.pslotIdx[p*pr.nSlots+s] = int32(len(pr.pslots))
			pr.pslots = append(pr.pslots, int32(p))
		}
	}

	if len(pr.movable) == 0 {
		return pr, nil
	}
	bases := make([]Point, len(pr.pracs))
	for i, p := range pr.pracs {
		bases[i] = p.Base
	}
	locs := make([]Point, len(pr.movable))
	for i, vi := range pr.movable {
		locs[i] = pr.all[vi].Loc
	}
	if len(bases) > 0 {
		pr.travel, err = day.Travel.Matrix(ctx, bases, locs)
		if err != nil {
			return nil, fmt.Errorf("routing: unable to optimise day: %w", err)
		}
		if len(pr.travel) != len(bases) {
			return fail("travel matrix has %d rows, want %d", len(pr.travel), len(bases))
		}
		for r := range pr.travel {
			if len(pr.travel[r]) != len(locs) {
				return fail("travel matrix row %d has %d columns, want %d", r, len(pr.travel[r]), len(locs))
			}
		}
	}

	// Interned bitsets make the million service/skill checks of a large day cheap.
	intern := map[string]int{}
	id := func(s string) int {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = len(intern)
		return len(intern) - 1
	}
	pracServices := make([]map[int]bool, len(pr.pracs))
	pracSkills := make([]map[int]bool, len(pr.pracs))
	for i, p := range pr.pracs {
		pracServices[i] = make(map[int]bool, len(p.ServiceIDs))
		pracSkills[i] = make(map[int]bool, len(p.Skills))
		for _, s := range p.ServiceIDs {
			pracServices[i][id("svc:"+s)] = true
		}
		for _, s := range p.Skills {
			pracSkills[i][id("skill:"+s)] = true
		}
	}
	words := (len(intern) + 64) / 64
	bits := make([]uint64, len(pr.pracs)*words*2)
	pracSvcBits := func(p int) []uint64 { return bits[p*2*words : p*2*words+words] }
	pracSkillBits := func(p int) []uint64 { return bits[p*2*words+words : (p+1)*2*words] }
	for p := range pr.pracs {
		for s := range pracServices[p] {
			pracSvcBits(p)[s/64] |= 1 << (s % 64)
		}
		for s := range pracSkills[p] {
			pracSkillBits(p)[s/64] |= 1 << (s % 64)
		}
	}
	pr.arcOff = make([]int, 1, len(pr.movable)+1)
	for i, vi := range pr.movable {
		v := &pr.all[vi]
		svcs := v.CandidateServiceIDs
		if len(svcs) == 0 {
			svcs = []string{v.ServiceID}
		}
		var want []int // service ids; −1 unknown (nobody has it)
		for _, s := range svcs {
			if x, ok := intern["svc:"+s]; ok {
				want = append(want, x)
			}
		}
		var need []int
		impossible := false
		for _, s := range v.RequiredSkills {
			x, ok := intern["skill:"+s]
			if !ok {
				impossible = true
				break
			}
			need = append(need, x)
		}
		for p := range pr.pracs {
			if impossible || len(want) == 0 {
				break
			}
			ps := pr.pslotIdx[p*pr.nSlots+pr.slotOf[i]]
			if ps < 0 {
				continue
			}
			t := pr.travel[p][i]
			if day.MaxTravelMinutes > 0 && t > day.MaxTravelMinutes {
				continue
			}
			sb := pracSvcBits(p)
			inService := false
			for _, x := range want {
				if sb[x/64]&(1<<(x%64)) != 0 {
					inService = true
					break
				}
			}
			if !inService {
				continue
			}
			kb := pracSkillBits(p)
			skilled := true
			for _, x := range need {
				if kb[x/64]&(1<<(x%64)) == 0 {
					skilled = false
					break
				}
			}
			if !skilled {
				continue
			}
			pr.arcPrac = append(pr.arcPrac, int32(p))
			pr.arcCost = append(pr.arcCost, costUnit(t))
		}
		if len(pr.arcPrac) == pr.arcOff[i] {
			// As in optimise: the roster no longer has room for what was booked, which a
			// coordinator resolves; not a fault.
			return nil, failure.Errorf(failure.Conflict, "visit %q at %s: no practitioner on the roster meets every hard constraint for its slot (working hours, services, skills, daily limit, travel)",
				v.ID, v.Start.In(g.loc).Format("15:04"))
		}
		pr.arcOff = append(pr.arcOff, len(pr.arcPrac))
	}
	return pr, nil
}

func buildPlan(pr *dayProblem, chosen []int32, rounds int) Plan {
	plan := Plan{Visits: pr.all, Movable: len(pr.movable), Fixed: len(pr.all) - len(pr.movable), Rounds: rounds, Moves: []Move{}}
	for i, vi := range pr.movable {
		v := &pr.all[vi]
		np := int(chosen[i])
		after := pr.travel[np][i]
		before := 0.0
		if op, ok := pr.pIndex[v.PractitionerID]; ok {
			before = pr.travel[op][i]
		}
		plan.TravelBefore += before
		plan.TravelAfter += after
		newID := pr.pracs[np].ID
		cands := v.CandidateServiceIDs
		if len(cands) == 0 {
			cands = []string{v.ServiceID}
		}
		svc := v.ServiceID
		if newID != v.PractitionerID || !has(cands, svc) || !has(pr.pracs[np].ServiceIDs, svc) {
			// The best-ranked candidate service the practitioner belongs to, as Assign would pick.
			for _, s := range cands {
				if has(pr.pracs[np].ServiceIDs, s) {
					svc = s
					break
				}
			}
		}
		if newID == v.PractitionerID && svc == v.ServiceID {
			continue
		}
		plan.Moves = append(plan.Moves, Move{
			VisitID: v.ID, Start: v.Start,
			FromPractitionerID: v.PractitionerID, ToPractitionerID: newID,
			FromServiceID: v.ServiceID, ToServiceID: svc,
			TravelBefore: before, TravelAfter: after,
		})
		v.PractitionerID = newID
		v.ServiceID = svc
	}
	return plan
}
