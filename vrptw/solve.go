package vrptw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// ejectSteps bounds the ejection-pool phase at this many steps per visit.
const ejectSteps = 1000

// Options control a search.
type Options struct {
	// Seed makes the search repeatable.
	Seed uint64
	// TimeLimit bounds the search (measured with Now); zero means no time bound.
	TimeLimit time.Duration
	// Iterations bounds the search's iterations; zero means no bound. With no time limit the search
	// is deterministic for a seed. At least one of TimeLimit and Iterations must be set.
	Iterations int
	// Now reads the clock; required with a time limit.
	Now func() time.Time
	// NoLocalSearch turns off the route-based local search (for comparisons).
	NoLocalSearch bool
}

// Solve routes the problem's visits on its vehicles. It returns the best solution found when the
// time limit or the iteration limit is reached or ctx is done; an error only for a malformed
// problem or options. Visits no vehicle can serve are listed as unserved.
func Solve(ctx context.Context, p *Problem, opt Options) (*Solution, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("vrptw: unable to solve: %w", err)
	}
	if opt.TimeLimit < 0 || opt.Iterations < 0 {
		return nil, errors.New("vrptw: unable to solve: negative limit")
	}
	if opt.TimeLimit == 0 && opt.Iterations == 0 {
		return nil, errors.New("vrptw: unable to solve: give a time limit or an iteration limit")
	}
	if opt.TimeLimit > 0 && opt.Now == nil {
		return nil, errors.New("vrptw: unable to solve: a time limit needs a clock")
	}
	var begin time.Time
	if opt.TimeLimit > 0 {
		begin = opt.Now() // the limit covers the whole call, preparation included
	}
	m := newModel(p)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	iter := 0
	progress := func() float64 {
		f := 0.0
		if opt.Iterations > 0 {
			f = float64(iter) / float64(opt.Iterations)
		}
		if opt.TimeLimit > 0 {
			f = max(f, float64(opt.Now().Sub(begin))/float64(opt.TimeLimit))
		}
		return f
	}
	stop := func() bool { return ctx.Err() != nil || progress() >= 1 }
	ls := func(s *state) {
		if !opt.NoLocalSearch {
			s.localSearch(m, stop)
		}
	}

	cur := newState(m)
	cur.repair(m, repairOp{k: 3}, rng.Float64, nil)
	ls(cur)
	if m.n == 0 || m.nv == 0 {
		return cur.solution(m, 0), nil // nothing to choose
	}
	best := cur.clone()
	curCost, bestCost := cur.cost(m), cur.cost(m)

	destroys := []func(*model, *state, int, *rand.Rand){destroyRandom, destroyWorst, destroyRelated, destroyRoute}
	repairs := []repairOp{{k: 1}, {k: 2}, {k: 3}, {k: 2, noise: 0.025 * m.maxEdge}, {k: 0}, {k: 2, slack: 0.5}}
	dw, rw := weights(len(destroys)), weights(len(repairs))
	ds, rs := make([]float64, len(destroys)), make([]float64, len(repairs))
	dn, rn := make([]int, len(destroys)), make([]int, len(repairs))

	// The temperature starts where a solution 5% longer is accepted half the time and cools
	// geometrically to a hundredth of that.
	t0 := 0.05 * max(best.distance(), 1) / math.Ln2
	p0 := 0.0
	leftOut := make([]float64, m.n)
	weight := func(s *state) float64 {
		w := 0.0
		for _, u := range s.unserved {
			w += leftOut[u]
		}
		return w
	}
	const segment = 100
	first := make([]bool, m.n)
	// The search packs visits it has not fitted with an ejection pool in two rounds, from 0.2 of
	// the limit to 0.6 and from 0.6 to 0.85, each also bounded by a step budget that keeps an
	// iteration-limited search repeatable; the search goes on from what they find.
	rounds := [][2]float64{{0.2, 0.6}, {0.6, 0.85}}
	for !stop() {
		if len(rounds) > 0 && progress() >= rounds[0][0] {
			until := rounds[0][1]
			rounds = rounds[1:]
			if len(best.unserved) == 0 {
				continue
			}
			steps := ejectSteps * m.n
			if opt.TimeLimit == 0 {
				steps = min(steps, 10*opt.Iterations)
			}
			cand := best.clone()
			cand.eject(m, rng, func() bool { return ctx.Err() != nil || progress() >= until }, steps)
			ls(cand)
			if c := cand.cost(m); c < bestCost-eps {
				p0 = min(progress(), 0.9)
				t0 = 0.05 * max(cand.distance(), 1) / math.Ln2
				best, bestCost = cand.clone(), c
				cur, curCost = cand, c
			}
			continue
		}
		iter++
		// The cooling restarts when the search first serves more visits, over the time left.
		temp := t0 * math.Pow(0.01, min((progress()-p0)/max(1-p0, 1e-9), 1))
		di, ri := roulette(dw, rng), roulette(rw, rng)
		served := m.n - len(cur.unserved)
		lo, hi := min(4, served), min(served, max(10, m.n*3/10), 60)
		q := lo
		if hi > lo {
			q += rng.IntN(hi - lo + 1)
		}
		cand := cur.clone()
		clear(first)
		for _, u := range cand.unserved {
			first[u] = true
		}
		destroys[di](m, cand, q, rng)
		cand.repair(m, repairs[ri], rng.Float64, first)
		ls(cand)
		c := cand.cost(m)
		for _, u := range cand.unserved {
			leftOut[u]++
		}
		score := 0.0
		switch {
		case c < bestCost-eps:
			if len(cand.unserved) < len(best.unserved) {
				p0 = min(progress(), 0.9)
				t0 = 0.05 * max(cand.distance(), 1) / math.Ln2
			}
			best, bestCost = cand.clone(), c
			cur, curCost = cand, c
			score = 33
		case c < curCost-eps:
			cur, curCost = cand, c
			score = 9
		case len(cur.unserved) > 0 && len(cand.unserved) == len(cur.unserved) && weight(cand) <= weight(cur):
			// While some visits fit nowhere, walk freely among solutions that serve as many,
			// leaving out visits that were left out less often (each visit's count rises every
			// time it is left out): the distance matters less than finding room.
			cur, curCost = cand, c
			score = 13
		case c-curCost < m.wVehicle/2 && rng.Float64() < math.Exp(-(c-curCost)/temp):
			cur, curCost = cand, c
			score = 13
		}
		ds[di] += score
		rs[ri] += score
		dn[di]++
		rn[ri]++
		if iter%segment == 0 {
			adapt(dw, ds, dn)
			adapt(rw, rs, rn)
		}
	}
	return best.solution(m, iter), nil
}

func weights(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func roulette(w []float64, rng *rand.Rand) int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	r := rng.Float64() * total
	for i, x := range w {
		if r < x {
			return i
		}
		r -= x
	}
	return len(w) - 1
}

// adapt blends each operator's average score over the segment into its weight.
func adapt(w, score []float64, n []int) {
	const reaction = 0.2
	for i := range w {
		if n[i] > 0 {
			w[i] = max(0.05, (1-reaction)*w[i]+reaction*score[i]/float64(n[i]))
		}
		score[i], n[i] = 0, 0
	}
}

func (s *state) solution(m *model, iter int) *Solution {
	out := &Solution{Routes: make([][]int, len(s.routes)), Starts: make([][]float64, len(s.routes)),
		Unserved: slices.Clone(s.unserved), Iterations: iter}
	slices.Sort(out.Unserved)
	for k, r := range s.routes {
		out.Routes[k] = slices.Clone(r.seq)
		out.Starts[k] = slices.Clone(r.early[1 : len(r.seq)+1])
		if len(r.seq) > 0 {
			out.VehiclesUsed++
			out.Distance += r.travel(m)
		}
	}
	return out
}
