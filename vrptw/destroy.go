package vrptw

import (
	"math"
	"math/rand/v2"
	"slices"
)

// served lists the visits on some route, in route order.
func (s *state) served() []int {
	var out []int
	for _, r := range s.routes {
		out = append(out, r.seq...)
	}
	return out
}

// destroyRandom removes q visits chosen uniformly.
func destroyRandom(m *model, s *state, q int, rng *rand.Rand) {
	sv := s.served()
	rng.Shuffle(len(sv), func(i, j int) { sv[i], sv[j] = sv[j], sv[i] })
	s.remove(m, sv[:min(q, len(sv))])
}

// destroyWorst removes q visits among those whose removal saves the most travel, with a random
// bias towards the worst.
func destroyWorst(m *model, s *state, q int, rng *rand.Rand) {
	type saving struct {
		u int
		g float64
	}
	var cand []saving
	for _, r := range s.routes {
		for i, u := range r.seq {
			a, b := r.node(m, i), r.node(m, i+2)
			cand = append(cand, saving{u, m.t(a, u) + m.t(u, b) - m.t(a, b)})
		}
	}
	slices.SortStableFunc(cand, func(x, y saving) int {
		switch {
		case x.g > y.g:
			return -1
		case x.g < y.g:
			return 1
		}
		return 0
	})
	var out []int
	for len(out) < q && len(cand) > 0 {
		i := int(math.Pow(rng.Float64(), 3) * float64(len(cand)))
		out = append(out, cand[i].u)
		cand = slices.Delete(cand, i, i+1)
	}
	s.remove(m, out)
}

// destroyRelated removes q visits related to a random seed (Shaw): close in space and in time
// window, and sharing a route.
func destroyRelated(m *model, s *state, q int, rng *rand.Rand) {
	sv := s.served()
	if len(sv) == 0 {
		return
	}
	span := 1.0
	for _, u := range sv {
		span = max(span, m.due[u]-m.ready[u], m.due[u])
	}
	out := []int{sv[rng.IntN(len(sv))]}
	if len(s.unserved) > 0 && rng.IntN(2) == 0 {
		// Make room near a visit that fits nowhere.
		out[0] = s.unserved[rng.IntN(len(s.unserved))]
	}
	rest := slices.DeleteFunc(slices.Clone(sv), func(u int) bool { return u == out[0] })
	for len(out) < q && len(rest) > 0 {
		ref := out[rng.IntN(len(out))]
		rel := func(u int) float64 {
			r := m.t(ref, u)/max(m.maxEdge, eps) + (math.Abs(m.ready[ref]-m.ready[u])+math.Abs(m.due[ref]-m.due[u]))/span
			if s.where[u] == s.where[ref] {
				r -= 0.1
			}
			return r
		}
		slices.SortStableFunc(rest, func(a, b int) int {
			ra, rb := rel(a), rel(b)
			switch {
			case ra < rb:
				return -1
			case ra > rb:
				return 1
			}
			return 0
		})
		i := int(math.Pow(rng.Float64(), 6) * float64(len(rest)))
		out = append(out, rest[i])
		rest = slices.Delete(rest, i, i+1)
	}
	s.remove(m, out)
}

// destroyRoute empties one used route, the shorter ones more likely, then removes random visits up
// to q; it is how the search tries a smaller fleet.
func destroyRoute(m *model, s *state, q int, rng *rand.Rand) {
	var used []*route
	for _, r := range s.routes {
		if len(r.seq) > 0 {
			used = append(used, r)
		}
	}
	if len(used) == 0 {
		return
	}
	slices.SortStableFunc(used, func(a, b *route) int { return len(a.seq) - len(b.seq) })
	r := used[int(math.Pow(rng.Float64(), 2)*float64(len(used)))]
	take := slices.Clone(r.seq)
	s.remove(m, take)
	if extra := q - len(take); extra > 0 {
		destroyRandom(m, s, extra, rng)
	}
}
