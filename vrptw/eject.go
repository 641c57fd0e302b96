package vrptw

import (
	"math"
	"math/rand/v2"
	"slices"
)

// eject tries to serve the unserved visits on the routes as they are, without changing the fleet,
// with an ejection pool (Nagata and Bräysy, 2009): a visit from the pool goes in at its cheapest
// feasible place, or else in place of up to two visits of one route, those that were ejected least
// often, which join the pool; a few random feasible relocations follow each ejection so that the
// search does not cycle. It stops when the pool is empty, after maxSteps steps, or when stop says
// so, and leaves s at the state with the fewest unserved visits it saw.
func (s *state) eject(m *model, rng *rand.Rand, stop func() bool, maxSteps int) {
	if len(s.unserved) == 0 {
		return
	}
	times := make([]int, m.n) // how often each visit was ejected, plus one
	for i := range times {
		times[i] = 1
	}
	best := s.clone()
	buf := make([]int, 0, 64)
	rest := make([]int, 0, 64)
	for step := 0; step < maxSteps && len(s.unserved) > 0 && !stop(); step++ {
		u := s.unserved[len(s.unserved)-1]
		s.unserved = s.unserved[:len(s.unserved)-1]
		if c, at, k := s.cheapest(m, u); !math.IsInf(c, 1) {
			s.routes[k].insert(m, u, at)
			s.where[u] = k
			if len(s.unserved) < len(best.unserved) {
				best = s.clone()
			}
			continue
		}
		times[u]++
		bestSum, bestDist := math.MaxInt, math.Inf(1)
		var bestSeq []int
		bestRoute := -1
		for size := 1; size <= 2 && bestRoute < 0; size++ {
			for k, r := range s.routes {
				if !m.allowed(u, k) || len(r.seq) < size {
					continue
				}
				for at := 0; at <= len(r.seq); at++ {
					buf = append(append(append(buf[:0], r.seq[:at]...), u), r.seq[at:]...)
					for i := 0; i < len(buf); i++ {
						if buf[i] == u {
							continue
						}
						if size == 1 {
							if times[buf[i]] > bestSum {
								continue
							}
							rest = append(append(rest[:0], buf[:i]...), buf[i+1:]...)
							if d, ok := m.feasibleSeq(k, rest); ok && (times[buf[i]] < bestSum || d-r.dist < bestDist) {
								bestSum, bestDist, bestRoute, bestSeq = times[buf[i]], d-r.dist, k, slices.Clone(rest)
							}
							continue
						}
						for j := i + 1; j < len(buf); j++ {
							if buf[j] == u || times[buf[i]]+times[buf[j]] > bestSum {
								continue
							}
							rest = append(append(append(rest[:0], buf[:i]...), buf[i+1:j]...), buf[j+1:]...)
							sum := times[buf[i]] + times[buf[j]]
							if d, ok := m.feasibleSeq(k, rest); ok && (sum < bestSum || d-r.dist < bestDist) {
								bestSum, bestDist, bestRoute, bestSeq = sum, d-r.dist, k, slices.Clone(rest)
							}
						}
					}
				}
			}
		}
		if bestRoute < 0 {
			// Nowhere even after ejecting two: try it again after the others.
			s.unserved = slices.Insert(s.unserved, 0, u)
			continue
		}
		r := s.routes[bestRoute]
		for _, w := range r.seq {
			if !slices.Contains(bestSeq, w) {
				s.where[w] = -1
				s.unserved = append(s.unserved, w)
			}
		}
		s.apply(m, bestRoute, bestSeq)
		s.perturb(m, rng, 50)
	}
	if len(s.unserved) > len(best.unserved) {
		*s = *best
	}
	slices.Sort(s.unserved)
}

// cheapest is visit u's cheapest feasible insertion: its cost, gap and route, or +Inf.
func (s *state) cheapest(m *model, u int) (float64, int, int) {
	best, at, br := math.Inf(1), -1, -1
	for k, r := range s.routes {
		if c, i := r.bestInsert(m, u, 0); c < best {
			best, at, br = c, i, k
		}
	}
	return best, at, br
}

// perturb makes up to n random feasible relocations, better or worse.
func (s *state) perturb(m *model, rng *rand.Rand, n int) {
	for range n {
		sv := s.served()
		if len(sv) == 0 {
			return
		}
		u := sv[rng.IntN(len(sv))]
		from := s.where[u]
		to := rng.IntN(len(s.routes))
		if to == from || len(s.routes[to].seq) == 0 {
			continue
		}
		c, at := s.routes[to].bestInsert(m, u, 0)
		if math.IsInf(c, 1) {
			continue
		}
		a := s.routes[from]
		i := slices.Index(a.seq, u)
		rest := slices.Delete(slices.Clone(a.seq), i, i+1)
		if _, ok := m.feasibleSeq(a.v, rest); !ok {
			continue
		}
		s.apply(m, from, rest)
		s.routes[to].insert(m, u, at)
		s.where[u] = to
	}
}
