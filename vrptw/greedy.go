package vrptw

import (
	"fmt"
	"math"
)

// Greedy books visits the way a decision-time booking does, one at a time in the given order
// (all visits in index order when order is nil), each at its cheapest feasible place in the
// routes as they stand, never moving a visit once placed. It is the baseline the search is
// measured against; visits that fit nowhere are left unserved.
func Greedy(p *Problem, order []int) (*Solution, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("vrptw: unable to book greedily: %w", err)
	}
	m := newModel(p)
	if order == nil {
		order = make([]int, m.n)
		for i := range order {
			order[i] = i
		}
	}
	s := newState(m)
	s.unserved = nil
	seen := make([]bool, m.n)
	for _, u := range order {
		if u < 0 || u >= m.n || seen[u] {
			return nil, fmt.Errorf("vrptw: unable to book greedily: order names visit %d twice or out of range", u)
		}
		seen[u] = true
	}
	for u := range m.n {
		if !seen[u] {
			order = append(order, u)
		}
	}
	for _, u := range order {
		best, at, br := math.Inf(1), -1, -1
		for k, r := range s.routes {
			if c, i := r.bestInsert(m, u, 0); c < best {
				best, at, br = c, i, k
			}
		}
		if br < 0 {
			s.unserved = append(s.unserved, u)
			continue
		}
		s.routes[br].insert(m, u, at)
		s.where[u] = br
	}
	return s.solution(m, 0), nil
}
