package routing

import "slices"

// servedIndex lists, per service id, the positions in a roster of the practitioners who work for
// it, so that a decision in a large council looks only at the staff of its candidate services.
// It is built once per roster load; the roster it indexes is never changed in place.
type servedIndex struct {
	roster []Practitioner
	by     map[string][]int32
}

func newServedIndex(roster []Practitioner) servedIndex {
	by := make(map[string][]int32)
	for i := range roster {
		for k, sid := range roster[i].ServiceIDs {
			// A service listed twice by one practitioner counts once.
			if slices.Contains(roster[i].ServiceIDs[:k], sid) {
				continue
			}
			by[sid] = append(by[sid], int32(i))
		}
	}
	return servedIndex{roster: roster, by: by}
}

// indexes reports whether the index was built over exactly ps (the same backing array and
// length), so its positions are positions in ps.
func (x servedIndex) indexes(ps []Practitioner) bool {
	return x.by != nil && len(x.roster) == len(ps) && (len(ps) == 0 || &x.roster[0] == &ps[0])
}

// serving returns, in roster order, the positions of the practitioners who work for any of
// services.
func (x servedIndex) serving(services []string) []int32 {
	switch len(services) {
	case 0:
		return nil
	case 1:
		return x.by[services[0]]
	}
	var out []int32
	for _, sid := range services {
		out = append(out, x.by[sid]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// servedIndexOf is the index of req's roster when its routes come from a RouteView over that
// same roster; ok is false otherwise (a roster filtered or built by the caller).
func servedIndexOf(req RouteRequest) (servedIndex, bool) {
	v, ok := req.Routes.(*RouteView)
	if !ok || v == nil || !v.served.indexes(req.Practitioners) {
		return servedIndex{}, false
	}
	return v.served, true
}
