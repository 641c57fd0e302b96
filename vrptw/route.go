package vrptw

import (
	"cmp"
	"math"
	"slices"
)

// On problems with more than granularAbove visits the local search moves a visit only into routes
// that hold one of its granularNeighbours nearest visits (a granular neighbourhood), so that a pass
// costs O(n·k) route scans instead of O(n·routes).
const (
	granularAbove      = 300
	granularNeighbours = 40
)

// model is the problem in flat arrays. Nodes 0..n-1 are visits; vehicle k's start is node n+2k and
// its end node n+2k+1.
type model struct {
	n, nv   int
	nloc    int
	travel  []float64 // nloc × nloc
	loc     []int
	ready   []float64
	due     []float64
	service []float64
	demand  []int
	skills  []uint64
	pin     []int
	vcap    []int
	vskills []uint64
	vclass  []int // vehicles of one class are identical
	// near[u] lists the visits closest to u, nearest first, on large problems (nil on small ones,
	// where the local search tries every route).
	near [][]int
	// maxEdge is the longest travel time; wVehicle and wUnserved weigh a used vehicle and an
	// unserved visit above any distance. wUse is what a used vehicle adds to the objective:
	// wVehicle, or nothing when the problem counts travel only.
	maxEdge, wVehicle, wUnserved, wUse float64
	// deny[u*nv+k] forbids vehicle k for visit u beyond skills and pins (nil when nothing is).
	deny []bool
	// home[u] is visit u's current vehicle or -1; movePenalty is charged for serving it elsewhere.
	home        []int
	group       []int
	movePenalty float64
}

func newModel(p *Problem) *model {
	n, nv, nloc := len(p.Visits), len(p.Vehicles), len(p.Travel)
	m := &model{n: n, nv: nv, nloc: nloc, travel: make([]float64, nloc*nloc)}
	for a, row := range p.Travel {
		for b, t := range row {
			m.travel[a*nloc+b] = t
			m.maxEdge = max(m.maxEdge, t)
		}
	}
	total := n + 2*nv
	m.loc = make([]int, total)
	m.ready = make([]float64, total)
	m.due = make([]float64, total)
	m.service = make([]float64, total)
	m.demand = make([]int, n)
	m.skills = make([]uint64, n)
	m.pin = make([]int, n)
	for i, v := range p.Visits {
		m.loc[i], m.ready[i], m.due[i], m.service[i] = v.Location, v.Ready, v.Due, v.Service
		m.demand[i], m.skills[i], m.pin[i] = v.Demand, v.Skills, v.Pin
	}
	m.vcap = make([]int, nv)
	m.vskills = make([]uint64, nv)
	for k, v := range p.Vehicles {
		s, e := n+2*k, n+2*k+1
		m.loc[s], m.ready[s], m.due[s] = v.Start, v.Ready, v.Due
		m.loc[e], m.ready[e], m.due[e] = v.End, math.Inf(-1), v.Due
		m.vcap[k] = v.Capacity
		if v.Capacity <= 0 {
			m.vcap[k] = math.MaxInt / 4
		}
		m.vskills[k] = v.Skills
	}
	m.vclass = make([]int, nv)
	for k, v := range p.Vehicles {
		m.vclass[k] = k
		for j := range k {
			if p.Vehicles[j] == v {
				m.vclass[k] = m.vclass[j]
				break
			}
		}
	}
	if n > granularAbove {
		m.near = make([][]int, n)
		order := make([]int, n)
		for u := range n {
			for w := range order {
				order[w] = w
			}
			d := func(w int) float64 { return min(m.t(u, w), m.t(w, u)) }
			slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(d(a), d(b)) })
			for _, w := range order {
				if w != u && len(m.near[u]) < granularNeighbours {
					m.near[u] = append(m.near[u], w)
				}
			}
		}
	}
	m.movePenalty = p.MovePenalty
	m.group = make([]int, nv)
	for k, v := range p.Vehicles {
		m.group[k] = v.Group
	}
	m.home = make([]int, n)
	for i, v := range p.Visits {
		m.home[i] = v.Home - 1
		if len(v.Vehicles) > 0 {
			if m.deny == nil {
				m.deny = make([]bool, n*nv)
			}
			row := m.deny[i*nv : (i+1)*nv]
			for k := range row {
				row[k] = true
			}
			for _, k := range v.Vehicles {
				row[k] = false
			}
		}
	}
	if m.movePenalty > 0 && slices.ContainsFunc(m.home, func(k int) bool { return k >= 0 }) {
		// Each vehicle is home to different visits, so no two are interchangeable.
		for k := range nv {
			m.vclass[k] = k
		}
	} else if m.deny != nil {
		// Vehicles that may serve different visits are not interchangeable.
		for k := range nv {
			for j := range k {
				if m.vclass[k] == m.vclass[j] && !sameColumn(m.deny, n, nv, j, k) {
					m.vclass[k] = k
				}
			}
		}
	}
	m.wVehicle = float64(n+nv+1)*(m.maxEdge+m.movePenalty) + 1
	m.wUnserved = float64(nv+1) * m.wVehicle
	m.wUse = m.wVehicle
	if p.TravelOnly {
		m.wUse = 0
	}
	return m
}

func sameColumn(deny []bool, n, nv, a, b int) bool {
	for u := range n {
		if deny[u*nv+a] != deny[u*nv+b] {
			return false
		}
	}
	return true
}

// penalty is what serving visit u on vehicle k adds beyond travel.
func (m *model) penalty(u, k int) float64 {
	h := m.home[u]
	if h < 0 || h == k || (m.group[h] > 0 && m.group[h] == m.group[k]) {
		return 0
	}
	return m.movePenalty
}

func (m *model) t(a, b int) float64 { return m.travel[m.loc[a]*m.nloc+m.loc[b]] }

// allowed reports whether vehicle k may serve visit u at all.
func (m *model) allowed(u, k int) bool {
	return m.skills[u]&^m.vskills[k] == 0 && (m.pin[u] == 0 || m.pin[u] == k+1) && (m.deny == nil || !m.deny[u*m.nv+k])
}

// route is one vehicle's sequence with its schedule: node(i) is position i, 0 the start and
// len(seq)+1 the end; early[i] is the earliest start of service there, late[i] the latest start
// that keeps the rest of the route feasible.
type route struct {
	v      int
	seq    []int
	load   int
	dist   float64
	early  []float64
	late   []float64
	prefix []int // prefix[i]: load of the first i visits
}

func (r *route) node(m *model, i int) int {
	switch {
	case i == 0:
		return m.n + 2*r.v
	case i == len(r.seq)+1:
		return m.n + 2*r.v + 1
	}
	return r.seq[i-1]
}

// update recomputes the schedule; it reports whether the route is feasible.
func (r *route) update(m *model) bool {
	k := len(r.seq)
	r.early = grow(r.early, k+2)
	r.late = grow(r.late, k+2)
	r.prefix = growInt(r.prefix, k+1)
	ok := true
	prev := r.node(m, 0)
	r.early[0] = m.ready[prev]
	r.dist = 0
	r.load = 0
	for i := 1; i <= k+1; i++ {
		cur := r.node(m, i)
		r.dist += m.t(prev, cur)
		r.early[i] = max(m.ready[cur], r.early[i-1]+m.service[prev]+m.t(prev, cur))
		if r.early[i] > m.due[cur]+eps {
			ok = false
		}
		if i <= k {
			r.dist += m.penalty(cur, r.v)
			r.prefix[i-1] = r.load
			r.load += m.demand[cur]
			if !m.allowed(cur, r.v) {
				ok = false
			}
		}
		prev = cur
	}
	r.prefix[k] = r.load
	if k == 0 {
		r.dist = 0
	}
	next := r.node(m, k+1)
	r.late[k+1] = m.due[next]
	for i := k; i >= 0; i-- {
		cur := r.node(m, i)
		r.late[i] = min(m.due[cur], r.late[i+1]-m.t(cur, next)-m.service[cur])
		next = cur
	}
	return ok && r.load <= m.vcap[r.v]
}

const eps = 1e-7

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n, 2*n)
	}
	return s[:n]
}

func growInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n, 2*n)
	}
	return s[:n]
}

// insertCost is the added cost of visit u in gap i (between positions i and i+1), or +Inf.
//
// slack, when positive, also charges that much per unit of time the insertion pushes the next
// visit later, which keeps room in routes for visits that are hard to fit (Solomon's I1 idea).
func (r *route) insertCost(m *model, u, i int, slack float64) float64 {
	a, b := r.node(m, i), r.node(m, i+1)
	start := max(m.ready[u], r.early[i]+m.service[a]+m.t(a, u))
	if start > m.due[u]+eps {
		return math.Inf(1)
	}
	if start+m.service[u]+m.t(u, b) > r.late[i+1]+eps {
		return math.Inf(1)
	}
	push := 0.0
	if slack > 0 {
		push = slack * max(0, max(m.ready[b], start+m.service[u]+m.t(u, b))-r.early[i+1])
	}
	if len(r.seq) == 0 {
		return m.t(a, u) + m.t(u, b) + m.wUse + m.penalty(u, r.v) + push
	}
	return m.t(a, u) + m.t(u, b) - m.t(a, b) + m.penalty(u, r.v) + push
}

// bestInsert is the cheapest gap for u in r, or (+Inf, -1).
func (r *route) bestInsert(m *model, u int, slack float64) (float64, int) {
	if !m.allowed(u, r.v) || r.load+m.demand[u] > m.vcap[r.v] {
		return math.Inf(1), -1
	}
	best, at := math.Inf(1), -1
	for i := 0; i <= len(r.seq); i++ {
		if c := r.insertCost(m, u, i, slack); c < best {
			best, at = c, i
		}
	}
	return best, at
}

func (r *route) insert(m *model, u, i int) {
	r.seq = append(r.seq, 0)
	copy(r.seq[i+1:], r.seq[i:])
	r.seq[i] = u
	r.update(m)
}

// feasibleSeq evaluates seq for vehicle v from scratch: its distance and whether it is feasible.
func (m *model) feasibleSeq(v int, seq []int) (float64, bool) {
	if len(seq) == 0 {
		return 0, true
	}
	prev := m.n + 2*v
	at := m.ready[prev]
	dist, load := 0.0, 0
	for i := 0; i <= len(seq); i++ {
		cur := m.n + 2*v + 1
		if i < len(seq) {
			cur = seq[i]
			load += m.demand[cur]
			if !m.allowed(cur, v) {
				return 0, false
			}
			dist += m.penalty(cur, v)
		}
		dist += m.t(prev, cur)
		at = max(m.ready[cur], at+m.service[prev]+m.t(prev, cur))
		if at > m.due[cur]+eps {
			return 0, false
		}
		prev = cur
	}
	return dist, load <= m.vcap[v]
}

// travel is the route's travel alone, without move penalties.
func (r *route) travel(m *model) float64 {
	if len(r.seq) == 0 {
		return 0
	}
	d := 0.0
	for i := 0; i <= len(r.seq); i++ {
		d += m.t(r.node(m, i), r.node(m, i+1))
	}
	return d
}
