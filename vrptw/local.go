package vrptw

import "slices"

// localSearch applies improving relocate, exchange and 2-opt* moves until none is left or stop
// says so. Each move's gain is estimated in constant time and confirmed by evaluating the changed
// routes from scratch, so a move is applied only when it is feasible and strictly better.
func (s *state) localSearch(m *model, stop func() bool) {
	for improved := true; improved && !stop(); {
		improved = s.relocate(m) || s.twoOptStar(m) || s.exchange(m) || s.orOpt(m) || s.twoOpt(m)
	}
}

// targets lists the routes worth trying for visit u: every route on small problems, else the
// routes of u's nearest visits, in order of first appearance.
func (s *state) targets(m *model, u int) []int {
	out := make([]int, 0, len(s.routes))
	if m.near == nil {
		for k := range s.routes {
			out = append(out, k)
		}
		return out
	}
	for _, w := range m.near[u] {
		if k := s.where[w]; k >= 0 && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// apply replaces route k's sequence and refreshes it.
func (s *state) apply(m *model, k int, seq []int) {
	r := s.routes[k]
	r.seq = append(r.seq[:0], seq...)
	r.update(m)
	for _, u := range r.seq {
		s.where[u] = k
	}
}

// relocate moves one visit to its best place in another route, or elsewhere in its own.
func (s *state) relocate(m *model) bool {
	changed := false
	for ka, a := range s.routes {
		for i := 0; i < len(a.seq); i++ {
			u := a.seq[i]
			p, n := a.node(m, i), a.node(m, i+2)
			gain := m.t(p, u) + m.t(u, n) - m.t(p, n) + m.penalty(u, a.v)
			if len(a.seq) == 1 {
				gain = a.dist + m.wUse
			}
			moved := false
			for _, kb := range s.targets(m, u) {
				b := s.routes[kb]
				if kb == ka || len(b.seq) == 0 {
					continue
				}
				c, at := b.bestInsert(m, u, 0)
				if at < 0 || c >= gain-eps {
					continue
				}
				rest := slices.Delete(slices.Clone(a.seq), i, i+1)
				da, ok := m.feasibleSeq(a.v, rest)
				if !ok {
					continue
				}
				nb := slices.Insert(slices.Clone(b.seq), at, u)
				db, ok := m.feasibleSeq(b.v, nb)
				if !ok || da+db+m.wUse*boolf(len(rest) > 0) >= a.dist+b.dist+m.wUse-eps {
					continue
				}
				s.apply(m, ka, rest)
				s.apply(m, kb, nb)
				changed, moved = true, true
				break
			}
			if moved {
				i--
				continue
			}
			// Within the route.
			rest := slices.Delete(slices.Clone(a.seq), i, i+1)
			for j := 0; j <= len(rest); j++ {
				if j == i {
					continue
				}
				pj := m.n + 2*a.v
				if j > 0 {
					pj = rest[j-1]
				}
				nj := m.n + 2*a.v + 1
				if j < len(rest) {
					nj = rest[j]
				}
				if m.t(pj, u)+m.t(u, nj)-m.t(pj, nj) >= gain-eps {
					continue
				}
				ns := slices.Insert(slices.Clone(rest), j, u)
				d, ok := m.feasibleSeq(a.v, ns)
				if ok && d < a.dist-eps {
					s.apply(m, ka, ns)
					changed = true
					break
				}
			}
		}
	}
	return changed
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// exchange swaps two visits of different routes.
func (s *state) exchange(m *model) bool {
	changed := false
	for ka, a := range s.routes {
		for kb := ka + 1; kb < len(s.routes); kb++ {
			b := s.routes[kb]
			if len(a.seq) == 0 || len(b.seq) == 0 || (m.near != nil && !s.neighbours(m, a, b)) {
				continue
			}
			for i := 0; i < len(a.seq); i++ {
				u := a.seq[i]
				pa, na := a.node(m, i), a.node(m, i+2)
				for j := 0; j < len(b.seq); j++ {
					w := b.seq[j]
					pb, nb := b.node(m, j), b.node(m, j+2)
					delta := m.t(pa, w) + m.t(w, na) - m.t(pa, u) - m.t(u, na) +
						m.t(pb, u) + m.t(u, nb) - m.t(pb, w) - m.t(w, nb)
					if delta >= -eps {
						continue
					}
					sa := slices.Clone(a.seq)
					sa[i] = w
					da, ok := m.feasibleSeq(a.v, sa)
					if !ok {
						continue
					}
					sb := slices.Clone(b.seq)
					sb[j] = u
					db, ok := m.feasibleSeq(b.v, sb)
					if !ok || da+db >= a.dist+b.dist-eps {
						continue
					}
					s.apply(m, ka, sa)
					s.apply(m, kb, sb)
					changed = true
					u = w
					pa, na = a.node(m, i), a.node(m, i+2)
				}
			}
		}
	}
	return changed
}

// twoOptStar exchanges the tails of two routes.
func (s *state) twoOptStar(m *model) bool {
	changed := false
	for ka := range s.routes {
		for kb := ka + 1; kb < len(s.routes); kb++ {
			a, b := s.routes[ka], s.routes[kb]
			if len(a.seq) == 0 || len(b.seq) == 0 {
				continue
			}
			capA, capB := m.vcap[a.v], m.vcap[b.v]
		search:
			for i := 0; i <= len(a.seq); i++ {
				ai, ai1 := a.node(m, i), a.node(m, i+1)
				for j := 0; j <= len(b.seq); j++ {
					if (i == 0 && j == 0) || (i == len(a.seq) && j == len(b.seq)) {
						continue
					}
					bj, bj1 := b.node(m, j), b.node(m, j+1)
					// New A: a[1..i] then b[j+1..]; new B: b[1..j] then a[i+1..].
					if a.prefix[i]+b.load-b.prefix[j] > capA || b.prefix[j]+a.load-a.prefix[i] > capB {
						continue
					}
					delta := m.t(ai, bj1) + m.t(bj, ai1) - m.t(ai, ai1) - m.t(bj, bj1)
					if delta >= -eps {
						continue
					}
					if a.early[i]+m.service[ai]+m.t(ai, bj1) > b.late[j+1]+eps ||
						b.early[j]+m.service[bj]+m.t(bj, ai1) > a.late[i+1]+eps {
						continue
					}
					na := append(slices.Clone(a.seq[:i]), b.seq[j:]...)
					nb := append(slices.Clone(b.seq[:j]), a.seq[i:]...)
					da, ok := m.feasibleSeq(a.v, na)
					if !ok {
						continue
					}
					db, ok := m.feasibleSeq(b.v, nb)
					if !ok {
						continue
					}
					before := a.dist + b.dist + m.wUse*(boolf(len(a.seq) > 0)+boolf(len(b.seq) > 0))
					after := da + db + m.wUse*(boolf(len(na) > 0)+boolf(len(nb) > 0))
					if after >= before-eps {
						continue
					}
					s.apply(m, ka, na)
					s.apply(m, kb, nb)
					changed = true
					break search
				}
			}
		}
	}
	return changed
}

// neighbours reports whether some visit of a has one of its nearest visits on b.
func (s *state) neighbours(m *model, a, b *route) bool {
	for _, u := range a.seq {
		for _, w := range m.near[u][:min(10, len(m.near[u]))] {
			if k := s.where[w]; k >= 0 && s.routes[k] == b {
				return true
			}
		}
	}
	return false
}
