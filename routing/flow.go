package routing

// flowGraph is a residual graph for min-cost flow with integer costs, so that reduced costs of
// zero are exact and results do not depend on floating-point rounding. Edge e and e^1 are a
// forward edge and its reverse.
type flowGraph struct {
	head []int32
	next []int32
	to   []int32
	cap  []int32
	cost []int64
}

func newFlowGraph(nodes, edgeHint int) *flowGraph {
	g := &flowGraph{
		head: make([]int32, nodes),
		next: make([]int32, 0, 2*edgeHint),
		to:   make([]int32, 0, 2*edgeHint),
		cap:  make([]int32, 0, 2*edgeHint),
		cost: make([]int64, 0, 2*edgeHint),
	}
	for i := range g.head {
		g.head[i] = -1
	}
	return g
}

// addEdge adds u→v and its zero-capacity reverse, returning the forward edge's index.
func (g *flowGraph) addEdge(u, v, capacity int32, cost int64) int32 {
	e := int32(len(g.to))
	g.to = append(g.to, v, u)
	g.cap = append(g.cap, capacity, 0)
	g.cost = append(g.cost, cost, -cost)
	g.next = append(g.next, g.head[u], g.head[v])
	g.head[u] = e
	g.head[v] = e + 1
	return e
}

type heapItem struct {
	dist int64
	node int32
}

// shortestPaths runs successive shortest augmenting paths with Johnson potentials: each new
// supply node (a visit) is joined to the flow by a Dijkstra on reduced costs, stopped as soon as
// the sink is settled. Potentials stay feasible (no negative reduced cost on any residual edge),
// which is what makes each intermediate flow, and the final one, minimum-cost.
type shortestPaths struct {
	g     *flowGraph
	h     []int64 // potentials: reduced cost of u→v is cost + h[u] − h[v] ≥ 0
	dist  []int64
	prev  []int32
	seen  []uint32
	done  []uint32
	stamp uint32
	heap  []heapItem
	order []int32 // nodes settled in the current search
}

func newShortestPaths(g *flowGraph) *shortestPaths {
	n := len(g.head)
	return &shortestPaths{
		g:    g,
		h:    make([]int64, n),
		dist: make([]int64, n),
		prev: make([]int32, n),
		seen: make([]uint32, n),
		done: make([]uint32, n),
	}
}

// augment sends one unit from src (a node with no flow yet and only outgoing edges) to sink
// along a cheapest path; it reports false when the sink is unreachable.
func (s *shortestPaths) augment(src, sink int32) bool {
	g := s.g
	// A fresh source has no incoming residual edges, so any potential at least
	// max(h[v] − cost) over its edges keeps every reduced cost non-negative.
	first := true
	for e := g.head[src]; e >= 0; e = g.next[e] {
		if g.cap[e] == 0 {
			continue
		}
		if p := s.h[g.to[e]] - g.cost[e]; first || p > s.h[src] {
			s.h[src] = p
			first = false
		}
	}
	if first {
		return false
	}
	s.stamp++
	stamp := s.stamp
	s.heap = s.heap[:0]
	s.order = s.order[:0]
	s.dist[src] = 0
	s.seen[src] = stamp
	s.push(heapItem{0, src})
	for len(s.heap) > 0 {
		it := s.pop()
		u := it.node
		if s.done[u] == stamp || it.dist > s.dist[u] {
			continue
		}
		s.done[u] = stamp
		s.order = append(s.order, u)
		if u == sink {
			break
		}
		hu := s.h[u]
		for e := g.head[u]; e >= 0; e = g.next[e] {
			if g.cap[e] == 0 {
				continue
			}
			v := g.to[e]
			if s.done[v] == stamp {
				continue
			}
			nd := it.dist + g.cost[e] + hu - s.h[v]
			if s.seen[v] != stamp || nd < s.dist[v] {
				s.seen[v] = stamp
				s.dist[v] = nd
				s.prev[v] = e
				s.push(heapItem{nd, v})
			}
		}
	}
	if s.done[sink] != stamp {
		return false
	}
	// Capping every label at the sink's distance keeps potentials feasible while touching only
	// the settled nodes (adding the same constant to all nodes changes no reduced cost).
	d := s.dist[sink]
	for _, u := range s.order {
		s.h[u] += s.dist[u] - d
	}
	for v := sink; v != src; {
		e := s.prev[v]
		g.cap[e]--
		g.cap[e^1]++
		v = g.to[e^1]
	}
	return true
}

// reducedCost is the reduced cost of a would-be edge u→v of the given cost under the final
// potentials; a negative value means adding it could lower the total.
func (s *shortestPaths) reducedCost(u, v int32, cost int64) int64 {
	return cost + s.h[u] - s.h[v]
}

func lessItem(a, b heapItem) bool {
	if a.dist != b.dist {
		return a.dist < b.dist
	}
	return a.node < b.node
}

func (s *shortestPaths) push(it heapItem) {
	s.heap = append(s.heap, it)
	i := len(s.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !lessItem(s.heap[i], s.heap[p]) {
			break
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
}

func (s *shortestPaths) pop() heapItem {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && lessItem(h[r], h[l]) {
			m = r
		}
		if !lessItem(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
	return top
}
