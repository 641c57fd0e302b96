package vrptw

import (
	"math"
	"slices"
)

// state is a solution under search: one route per vehicle and the pool of unserved visits.
type state struct {
	routes   []*route
	unserved []int
	where    []int // where[u]: route of visit u, or -1
}

func newState(m *model) *state {
	s := &state{routes: make([]*route, m.nv), where: make([]int, m.n)}
	for k := range s.routes {
		s.routes[k] = &route{v: k}
		s.routes[k].update(m)
	}
	for u := range s.where {
		s.where[u] = -1
		s.unserved = append(s.unserved, u)
	}
	return s
}

func (s *state) clone() *state {
	c := &state{routes: make([]*route, len(s.routes)), unserved: slices.Clone(s.unserved), where: slices.Clone(s.where)}
	for k, r := range s.routes {
		c.routes[k] = &route{v: r.v, seq: slices.Clone(r.seq), load: r.load, dist: r.dist,
			early: slices.Clone(r.early), late: slices.Clone(r.late), prefix: slices.Clone(r.prefix)}
	}
	return c
}

func (s *state) used() int {
	n := 0
	for _, r := range s.routes {
		if len(r.seq) > 0 {
			n++
		}
	}
	return n
}

func (s *state) distance() float64 {
	d := 0.0
	for _, r := range s.routes {
		d += r.dist
	}
	return d
}

// cost weighs unserved visits above vehicles above distance.
func (s *state) cost(m *model) float64 {
	return float64(len(s.unserved))*m.wUnserved + float64(s.used())*m.wUse + s.distance()
}

// remove takes the visits in us out of their routes and into the pool.
func (s *state) remove(m *model, us []int) {
	touched := make([]bool, len(s.routes))
	for _, u := range us {
		k := s.where[u]
		if k < 0 {
			continue
		}
		r := s.routes[k]
		i := slices.Index(r.seq, u)
		r.seq = slices.Delete(r.seq, i, i+1)
		s.where[u] = -1
		s.unserved = append(s.unserved, u)
		touched[k] = true
	}
	for k, t := range touched {
		if t {
			s.routes[k].update(m)
		}
	}
}

// repairOp is one way of inserting: by regret over the k best routes (k = 1: greedy; k = 0: in
// random order), with noise added to costs and a charge for lost slack.
type repairOp struct {
	k            int
	noise, slack float64
}

// repair inserts pool visits one at a time: the visit with the largest regret over its k best
// routes goes first (k = 1 is greedy: the cheapest insertion first). noise, when positive, blurs
// costs by up to that much. Visits that fit nowhere stay unserved.
//
// Visits marked in first (which may be nil) were unserved before the destroy step; they go first,
// so that the search keeps trying to fit them.
func (s *state) repair(m *model, op repairOp, rnd func() float64, first []bool) {
	k, noise := op.k, op.noise
	if k == 0 {
		s.repairRandomOrder(m, rnd, first, op.slack)
		return
	}
	pool := s.unserved
	s.unserved = nil
	nr := len(s.routes)
	cost := make([]float64, len(pool)*nr)
	pos := make([]int, len(pool)*nr)
	fill := func(pi, ri int) {
		c, at := s.routes[ri].bestInsert(m, pool[pi], op.slack)
		if noise > 0 && !math.IsInf(c, 1) {
			c += noise * (2*rnd() - 1)
		}
		cost[pi*nr+ri], pos[pi*nr+ri] = c, at
	}
	for pi := range pool {
		for ri := range nr {
			fill(pi, ri)
		}
	}
	alive := make([]bool, len(pool))
	for i := range alive {
		alive[i] = true
	}
	best := make([]float64, 0, k)
	consider := make([]bool, nr)
	for left := len(pool); left > 0; left-- {
		m.distinctRoutes(s.routes, consider)
		pick, pickRoute := -1, -1
		pickRegret, pickCost := math.Inf(-1), math.Inf(1)
		for pi := range pool {
			if !alive[pi] {
				continue
			}
			best = best[:0]
			br := -1
			for ri := range nr {
				c := cost[pi*nr+ri]
				if math.IsInf(c, 1) || (!consider[ri] && m.pin[pool[pi]] == 0) {
					continue
				}
				if len(best) == 0 || c < best[0] {
					br = ri
				}
				best = insertSorted(best, c, k)
			}
			if len(best) == 0 {
				continue
			}
			regret := 0.0
			if first != nil && first[pool[pi]] {
				regret += 2 * float64(k) * m.wUnserved
			}
			for j := 1; j < k; j++ {
				if j < len(best) {
					regret += best[j] - best[0]
				} else {
					regret += m.wUnserved
				}
			}
			if regret > pickRegret+eps || (math.Abs(regret-pickRegret) <= eps && best[0] < pickCost) {
				pick, pickRoute, pickRegret, pickCost = pi, br, regret, best[0]
			}
		}
		if pick < 0 {
			break
		}
		u := pool[pick]
		r := s.routes[pickRoute]
		r.insert(m, u, pos[pick*nr+pickRoute])
		s.where[u] = pickRoute
		alive[pick] = false
		for pi := range pool {
			if alive[pi] {
				fill(pi, pickRoute)
			}
		}
	}
	for pi, u := range pool {
		if alive[pi] {
			s.unserved = append(s.unserved, u)
		}
	}
	slices.Sort(s.unserved)
}

// insertSorted keeps the k smallest values in ascending order.
func insertSorted(b []float64, c float64, k int) []float64 {
	i := len(b)
	for i > 0 && b[i-1] > c {
		i--
	}
	if i >= k {
		return b
	}
	if len(b) < k {
		b = append(b, 0)
	}
	copy(b[i+1:], b[i:len(b)-1])
	b[i] = c
	return b
}

// distinctRoutes marks the routes worth considering: every used one, and the first empty route of
// each kind of vehicle. Empty routes of identical vehicles are interchangeable, so only one counts
// towards regret, and many idle vehicles do not hide a visit's lack of options.
func (m *model) distinctRoutes(routes []*route, consider []bool) {
	seen := make([]bool, m.nv)
	for k, r := range routes {
		switch {
		case len(r.seq) > 0:
			consider[k] = true
		case seen[m.vclass[k]]:
			consider[k] = false
		default:
			consider[k] = true
			seen[m.vclass[k]] = true
		}
	}
}

// repairRandomOrder inserts pool visits in random order, each at its cheapest place; it reaches
// sets of served visits that the cost-ordered insertions never try.
func (s *state) repairRandomOrder(m *model, rnd func() float64, first []bool, slack float64) {
	pool := s.unserved
	s.unserved = nil
	for i := len(pool) - 1; i > 0; i-- {
		j := int(rnd() * float64(i+1))
		pool[i], pool[j] = pool[j], pool[i]
	}
	if first != nil {
		slices.SortStableFunc(pool, func(a, b int) int {
			switch {
			case first[a] && !first[b]:
				return -1
			case first[b] && !first[a]:
				return 1
			}
			return 0
		})
	}
	for _, u := range pool {
		best, at, br := math.Inf(1), -1, -1
		for ri, r := range s.routes {
			if c, i := r.bestInsert(m, u, slack); c < best {
				best, at, br = c, i, ri
			}
		}
		if br < 0 {
			s.unserved = append(s.unserved, u)
			continue
		}
		s.routes[br].insert(m, u, at)
		s.where[u] = br
	}
	slices.Sort(s.unserved)
}
