package vrptw

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// replanProblem is randomProblem with what day planning adds: visits allowed on some vehicles
// only, a current vehicle for most visits, a move penalty, and the fleet size left out.
func replanProblem(rng *rand.Rand, visits, vehicles int) *Problem {
	p := randomProblem(rng, visits, vehicles)
	p.TravelOnly = true
	p.MovePenalty = rng.Float64() * 40
	for i := range p.Visits {
		v := &p.Visits[i]
		if rng.IntN(3) == 0 {
			for k := range vehicles {
				if rng.IntN(2) == 0 {
					v.Vehicles = append(v.Vehicles, k)
				}
			}
		}
		if rng.IntN(4) != 0 {
			v.Home = 1 + rng.IntN(vehicles)
		}
	}
	return p
}

// objective is what a travel-only plan minimises after serving visits: travel plus penalties.
func objective(p *Problem, s *Solution) float64 {
	c := s.Distance
	for k, r := range s.Routes {
		for _, u := range r {
			if h := p.Visits[u].Home; h > 0 && h != k+1 {
				c += p.MovePenalty
			}
		}
	}
	return c
}

// bruteReplan tries every assignment of visits to vehicles (or none) and every order: the fewest
// unserved, then the least travel plus penalties.
func bruteReplan(p *Problem) (int, float64) {
	n, nv := len(p.Visits), len(p.Vehicles)
	bestU, bestC := n+1, math.Inf(1)
	assign := make([]int, n)
	var rec func(i int)
	rec = func(i int) {
		if i < n {
			for k := -1; k < nv; k++ {
				assign[i] = k
				rec(i + 1)
			}
			return
		}
		unserved, cost := 0, 0.0
		for k := range nv {
			var seq []int
			for u, a := range assign {
				if a == k {
					seq = append(seq, u)
				}
			}
			best := math.Inf(1)
			permute(seq, 0, func(order []int) {
				if d, ok := routeCost(p, k, order); ok && d < best {
					best = d
				}
			})
			if math.IsInf(best, 1) {
				return
			}
			cost += best
		}
		for u, a := range assign {
			if a < 0 {
				unserved++
			} else if h := p.Visits[u].Home; h > 0 && h != a+1 {
				cost += p.MovePenalty
			}
		}
		if unserved < bestU || (unserved == bestU && cost < bestC) {
			bestU, bestC = unserved, cost
		}
	}
	rec(0)
	return bestU, bestC
}

func permute(a []int, i int, f func([]int)) {
	if i == len(a) {
		f(a)
		return
	}
	for j := i; j < len(a); j++ {
		a[i], a[j] = a[j], a[i]
		permute(a, i+1, f)
		a[i], a[j] = a[j], a[i]
	}
}

// routeCost is the travel of vehicle k serving seq in order, checked from first principles.
func routeCost(p *Problem, k int, seq []int) (float64, bool) {
	if len(seq) == 0 {
		return 0, true
	}
	veh := p.Vehicles[k]
	clock, at, load, d := veh.Ready, veh.Start, 0, 0.0
	for _, u := range seq {
		v := p.Visits[u]
		if v.Skills&^veh.Skills != 0 || (v.Pin != 0 && v.Pin != k+1) || (len(v.Vehicles) > 0 && !slices.Contains(v.Vehicles, k)) {
			return 0, false
		}
		d += p.Travel[at][v.Location]
		clock = max(clock+p.Travel[at][v.Location], v.Ready)
		if clock > v.Due+1e-9 {
			return 0, false
		}
		clock += v.Service
		at = v.Location
		load += v.Demand
	}
	d += p.Travel[at][veh.End]
	if clock+p.Travel[at][veh.End] > veh.Due+1e-9 || (veh.Capacity > 0 && load > veh.Capacity) {
		return 0, false
	}
	return d, true
}

func TestSolveReplanFeasible(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 40 {
		p := replanProblem(rng, 2+rng.IntN(25), 1+rng.IntN(4))
		s, err := Solve(context.Background(), p, Options{Seed: uint64(i), Iterations: 30})
		if err != nil {
			t.Fatal(err)
		}
		check(t, p, s)
	}
}

func TestSolveReplanMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 60 {
		p := replanProblem(rng, 2+rng.IntN(4), 1+rng.IntN(2))
		s, err := Solve(context.Background(), p, Options{Seed: uint64(i), Iterations: 200})
		if err != nil {
			t.Fatal(err)
		}
		check(t, p, s)
		u, c := bruteReplan(p)
		if got := objective(p, s); len(s.Unserved) != u || got > c+1e-6 {
			t.Errorf("instance %d: solver (%d unserved, %.3f), brute force (%d, %.3f)", i, len(s.Unserved), got, u, c)
		}
	}
}

// TestMovePenaltyKeepsVisitsHome: with a penalty larger than any saving, no visit leaves the
// vehicle it is on when that vehicle can keep it.
func TestMovePenaltyKeepsVisitsHome(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := randomProblem(rng, 12, 3)
	p.TravelOnly = true
	for i := range p.Visits {
		p.Visits[i].Skills, p.Visits[i].Pin = 0, 0
	}
	for k := range p.Vehicles {
		p.Vehicles[k].Skills, p.Vehicles[k].Capacity, p.Vehicles[k].Due = 0, 0, 1e6
	}
	for i := range p.Visits {
		p.Visits[i].Ready, p.Visits[i].Due = 0, 1e5 // anyone can take anything
		p.Visits[i].Home = 1 + i%3
	}
	free, err := Solve(context.Background(), p, Options{Seed: 1, Iterations: 100})
	if err != nil {
		t.Fatal(err)
	}
	p.MovePenalty = 1e4
	kept, err := Solve(context.Background(), p, Options{Seed: 1, Iterations: 100})
	if err != nil {
		t.Fatal(err)
	}
	check(t, p, kept)
	moved := func(s *Solution) int {
		n := 0
		for k, r := range s.Routes {
			for _, u := range r {
				if p.Visits[u].Home != k+1 {
					n++
				}
			}
		}
		return n
	}
	if moved(kept) != 0 || moved(free) == 0 {
		t.Errorf("moved %d with the penalty, %d without; want none and some", moved(kept), moved(free))
	}
}

// TestGreedyBaseline: one-at-a-time booking is feasible, and the search never does worse.
func TestGreedyBaseline(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for i := range 30 {
		p := randomProblem(rng, 5+rng.IntN(30), 1+rng.IntN(4))
		g, err := Greedy(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, p, g)
		s, err := Solve(context.Background(), p, Options{Seed: uint64(i), Iterations: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Unserved) > len(g.Unserved) || (len(s.Unserved) == len(g.Unserved) && s.VehiclesUsed > g.VehiclesUsed) {
			t.Errorf("instance %d: search (%d unserved, %d vehicles) worse than booking (%d, %d)",
				i, len(s.Unserved), s.VehiclesUsed, len(g.Unserved), g.VehiclesUsed)
		}
	}
	if _, err := Greedy(randomProblem(rng, 3, 1), []int{0, 0}); err == nil {
		t.Error("an order naming a visit twice was accepted")
	}
}
