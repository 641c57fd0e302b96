package vrptw

import "slices"

// twoOpt reverses a stretch of one route.
func (s *state) twoOpt(m *model) bool {
	changed := false
	for k, r := range s.routes {
		n := len(r.seq)
		// fwd[x] and rev[x] sum travel over the first x legs forwards and backwards, so that the
		// cost of a reversed stretch is known at once even when travel is not symmetric.
		fwd, rev := make([]float64, n+2), make([]float64, n+2)
		for x := 0; x <= n; x++ {
			a, b := r.node(m, x), r.node(m, x+1)
			fwd[x+1] = fwd[x] + m.t(a, b)
			rev[x+1] = rev[x] + m.t(b, a)
		}
		for i := 1; i < n; i++ {
			for j := i + 1; j <= n; j++ {
				// Reverse positions i..j (1-based route positions).
				p, a, b, q := r.node(m, i-1), r.node(m, i), r.node(m, j), r.node(m, j+1)
				delta := m.t(p, b) + m.t(a, q) - m.t(p, a) - m.t(b, q) + (rev[j] - rev[i]) - (fwd[j] - fwd[i])
				if delta >= -eps {
					continue
				}
				ns := slices.Clone(r.seq)
				slices.Reverse(ns[i-1 : j])
				d, ok := m.feasibleSeq(r.v, ns)
				if ok && d < r.dist-eps {
					s.apply(m, k, ns)
					return true
				}
			}
		}
	}
	return changed
}

// orOpt moves a stretch of two or three consecutive visits elsewhere, in its own route or another.
func (s *state) orOpt(m *model) bool {
	changed := false
	for ka, a := range s.routes {
		for length := 2; length <= 3; length++ {
			for i := 0; i+length <= len(a.seq); i++ {
				first, last := a.seq[i], a.seq[i+length-1]
				p, n := a.node(m, i), a.node(m, i+length+1)
				gain := m.t(p, first) + m.t(last, n) - m.t(p, n)
				seg := slices.Clone(a.seq[i : i+length])
				rest := slices.Delete(slices.Clone(a.seq), i, i+length)
				segLoad := 0
				for _, u := range seg {
					segLoad += m.demand[u]
				}
				moved := false
				for _, kb := range s.targets(m, first) {
					b := s.routes[kb]
					if len(b.seq) == 0 || (kb != ka && b.load+segLoad > m.vcap[b.v]) {
						continue
					}
					target := b.seq
					if kb == ka {
						target = rest
					}
					for g := 0; g <= len(target); g++ {
						if kb == ka && g == i {
							continue
						}
						x, y := m.n+2*b.v, m.n+2*b.v+1
						if g > 0 {
							x = target[g-1]
						}
						if g < len(target) {
							y = target[g]
						}
						if m.t(x, first)+m.t(last, y)-m.t(x, y) >= gain-eps {
							continue
						}
						nb := slices.Insert(slices.Clone(target), g, seg...)
						db, ok := m.feasibleSeq(b.v, nb)
						if !ok {
							continue
						}
						if kb == ka {
							if db < a.dist-eps {
								s.apply(m, ka, nb)
								moved = true
							}
						} else if da, ok := m.feasibleSeq(a.v, rest); ok {
							before := a.dist + b.dist + m.wUse
							after := da + db + m.wUse*boolf(len(rest) > 0)
							if after < before-eps {
								s.apply(m, ka, rest)
								s.apply(m, kb, nb)
								moved = true
							}
						}
						if moved {
							break
						}
					}
					if moved {
						break
					}
				}
				if moved {
					changed = true
					i--
				}
			}
		}
	}
	return changed
}
