package vrptw

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

// check is an independent feasibility checker: every visit at most once, on an allowed vehicle,
// within its window, each route within its vehicle's hours and capacity; it returns the distance.
func check(t *testing.T, p *Problem, s *Solution) float64 {
	t.Helper()
	if len(s.Routes) != len(p.Vehicles) {
		t.Fatalf("%d routes for %d vehicles", len(s.Routes), len(p.Vehicles))
	}
	seen := make([]int, len(p.Visits))
	total := 0.0
	used := 0
	for k, r := range s.Routes {
		veh := p.Vehicles[k]
		if len(r) == 0 {
			continue
		}
		used++
		clock, loc, load := veh.Ready, veh.Start, 0
		for i, v := range r {
			seen[v]++
			vis := p.Visits[v]
			if vis.Skills&^veh.Skills != 0 {
				t.Errorf("vehicle %d lacks skills for visit %d", k, v)
			}
			if vis.Pin != 0 && vis.Pin != k+1 {
				t.Errorf("visit %d pinned to %d, on %d", v, vis.Pin-1, k)
			}
			if len(vis.Vehicles) > 0 && !slices.Contains(vis.Vehicles, k) {
				t.Errorf("visit %d allowed only on %v, on %d", v, vis.Vehicles, k)
			}
			total += p.Travel[loc][vis.Location]
			clock = math.Max(clock+p.Travel[loc][vis.Location], vis.Ready)
			if clock > vis.Due+1e-6 {
				t.Errorf("vehicle %d starts visit %d at %.3f after its due %.3f", k, v, clock, vis.Due)
			}
			if math.Abs(clock-s.Starts[k][i]) > 1e-6 {
				t.Errorf("vehicle %d visit %d starts %.3f, reported %.3f", k, v, clock, s.Starts[k][i])
			}
			clock += vis.Service
			loc = vis.Location
			load += vis.Demand
		}
		total += p.Travel[loc][veh.End]
		if clock+p.Travel[loc][veh.End] > veh.Due+1e-6 {
			t.Errorf("vehicle %d ends at %.3f after %.3f", k, clock+p.Travel[loc][veh.End], veh.Due)
		}
		if veh.Capacity > 0 && load > veh.Capacity {
			t.Errorf("vehicle %d carries %d over %d", k, load, veh.Capacity)
		}
	}
	for _, v := range s.Unserved {
		seen[v]++
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("visit %d appears %d times (routes and unserved)", v, n)
		}
	}
	if math.Abs(total-s.Distance) > 1e-6 {
		t.Errorf("distance %.6f, reported %.6f", total, s.Distance)
	}
	if used != s.VehiclesUsed {
		t.Errorf("%d vehicles used, reported %d", used, s.VehiclesUsed)
	}
	return total
}

func loadSolomon(t testing.TB, name string) *Solomon {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseSolomon(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSolveSolomon(t *testing.T) {
	for _, tc := range []struct {
		file     string
		vehicles int
		// within is the allowed distance over the best known after a short run.
		best, within float64
	}{
		{"C101.txt", 10, 828.94, 0.01},
		{"R101.txt", 19, 1645.79, 0.05},
		{"RC201.txt", 4, 1406.91, 0.15},
	} {
		t.Run(tc.file, func(t *testing.T) {
			inst := loadSolomon(t, tc.file)
			p := inst.Problem(tc.vehicles)
			s, err := Solve(context.Background(), p, Options{Seed: 1, Iterations: 100})
			if err != nil {
				t.Fatal(err)
			}
			d := check(t, p, s)
			if len(s.Unserved) > 0 {
				t.Errorf("unserved %v", s.Unserved)
			}
			if d > tc.best*(1+tc.within)+0.01 {
				t.Errorf("distance %.2f, more than %.1f%% over the best known %.2f", d, 100*tc.within, tc.best)
			}
			t.Logf("%s: %d vehicles, %.2f (%.2f%% gap), %d iterations", tc.file, s.VehiclesUsed, d, 100*(d-tc.best)/tc.best, s.Iterations)
		})
	}
}

func TestSolveDeterministic(t *testing.T) {
	p := loadSolomon(t, "R101.txt").Problem(20)
	a, err := Solve(context.Background(), p, Options{Seed: 7, Iterations: 50})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Solve(context.Background(), p, Options{Seed: 7, Iterations: 50})
	if fmt.Sprint(a.Routes) != fmt.Sprint(b.Routes) {
		t.Fatal("same seed, different routes")
	}
}

func TestSolveTimeLimit(t *testing.T) {
	p := loadSolomon(t, "R101.txt").Problem(19)
	began := time.Now()
	s, err := Solve(context.Background(), p, Options{Seed: 1, TimeLimit: 200 * time.Millisecond, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(began); el > time.Second {
		t.Errorf("took %v for a 200ms limit", el)
	}
	check(t, p, s)
}

func TestSolveErrors(t *testing.T) {
	good := loadSolomon(t, "C101.txt").Problem(3)
	for name, tc := range map[string]struct {
		p   *Problem
		opt Options
	}{
		"no limit":        {good, Options{}},
		"no clock":        {good, Options{TimeLimit: time.Second}},
		"negative":        {good, Options{Iterations: -1}},
		"ragged travel":   {&Problem{Travel: [][]float64{{0, 1}, {1}}}, Options{Iterations: 1}},
		"NaN travel":      {&Problem{Travel: [][]float64{{math.NaN()}}}, Options{Iterations: 1}},
		"visit elsewhere": {&Problem{Travel: [][]float64{{0}}, Visits: []Visit{{Location: 3}}}, Options{Iterations: 1}},
		"pin too far":     {&Problem{Travel: [][]float64{{0}}, Visits: []Visit{{Pin: 2}}, Vehicles: []Vehicle{{}}}, Options{Iterations: 1}},
	} {
		if _, err := Solve(context.Background(), tc.p, tc.opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// randomProblem is a small instance with windows, capacities, skills and pins; some visits may be
// impossible to serve.
func randomProblem(rng *rand.Rand, visits, vehicles int) *Problem {
	nloc := visits + 2
	xs, ys := make([]float64, nloc), make([]float64, nloc)
	for i := range nloc {
		xs[i], ys[i] = rng.Float64()*100, rng.Float64()*100
	}
	p := &Problem{Travel: make([][]float64, nloc)}
	for a := range nloc {
		p.Travel[a] = make([]float64, nloc)
		for b := range nloc {
			p.Travel[a][b] = math.Hypot(xs[a]-xs[b], ys[a]-ys[b])
		}
	}
	for k := range vehicles {
		p.Vehicles = append(p.Vehicles, Vehicle{Start: k % 2, End: k % 2, Ready: 0, Due: 300 + rng.Float64()*200,
			Capacity: 10 + rng.IntN(20), Skills: uint64(1 + rng.IntN(3))})
	}
	for i := range visits {
		ready := rng.Float64() * 300
		v := Visit{Location: 2 + i, Ready: ready, Due: ready + 20 + rng.Float64()*150, Service: 5 + rng.Float64()*20,
			Demand: 1 + rng.IntN(8)}
		if rng.IntN(4) == 0 {
			v.Skills = uint64(1 + rng.IntN(3))
		}
		if rng.IntN(8) == 0 {
			v.Pin = 1 + rng.IntN(vehicles)
		}
		p.Visits = append(p.Visits, v)
	}
	return p
}

func TestSolveRandomFeasible(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		p := randomProblem(rng, 2+rng.IntN(25), 1+rng.IntN(4))
		s, err := Solve(context.Background(), p, Options{Seed: uint64(i), Iterations: 30})
		if err != nil {
			t.Fatal(err)
		}
		check(t, p, s)
	}
}

// bruteForce finds the best (unserved, vehicles, distance) by trying every assignment of visits
// to vehicles (or none) and every order.
func bruteForce(p *Problem) (int, int, float64) {
	n, nv := len(p.Visits), len(p.Vehicles)
	bestU, bestV, bestD := n+1, 0, 0.0
	assign := make([]int, n)
	var routeCost func(k int, seq []int) (float64, bool)
	routeCost = func(k int, seq []int) (float64, bool) {
		best, ok := math.Inf(1), false
		perm := slices.Clone(seq)
		var rec func(i int)
		rec = func(i int) {
			if i == len(perm) {
				veh := p.Vehicles[k]
				clock, loc, load, d := veh.Ready, veh.Start, 0, 0.0
				for _, v := range perm {
					vis := p.Visits[v]
					d += p.Travel[loc][vis.Location]
					clock = math.Max(clock+p.Travel[loc][vis.Location], vis.Ready)
					if clock > vis.Due+1e-9 || vis.Skills&^veh.Skills != 0 || (vis.Pin != 0 && vis.Pin != k+1) {
						return
					}
					clock += vis.Service
					loc = vis.Location
					load += vis.Demand
				}
				d += p.Travel[loc][veh.End]
				if clock+p.Travel[loc][veh.End] > veh.Due+1e-9 || (veh.Capacity > 0 && load > veh.Capacity) {
					return
				}
				if d < best {
					best, ok = d, true
				}
				return
			}
			for j := i; j < len(perm); j++ {
				perm[i], perm[j] = perm[j], perm[i]
				rec(i + 1)
				perm[i], perm[j] = perm[j], perm[i]
			}
		}
		rec(0)
		return best, ok
	}
	var rec func(i int)
	rec = func(i int) {
		if i < n {
			for k := -1; k < nv; k++ {
				assign[i] = k
				rec(i + 1)
			}
			return
		}
		unserved, used, dist := 0, 0, 0.0
		for k := range nv {
			var seq []int
			for v, a := range assign {
				if a == k {
					seq = append(seq, v)
				}
			}
			if len(seq) == 0 {
				continue
			}
			d, ok := routeCost(k, seq)
			if !ok {
				return
			}
			used++
			dist += d
		}
		for _, a := range assign {
			if a < 0 {
				unserved++
			}
		}
		if unserved < bestU || (unserved == bestU && (used < bestV || (used == bestV && dist < bestD))) {
			bestU, bestV, bestD = unserved, used, dist
		}
	}
	rec(0)
	return bestU, bestV, bestD
}

func TestSolveMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 60 {
		p := randomProblem(rng, 2+rng.IntN(5), 1+rng.IntN(2))
		s, err := Solve(context.Background(), p, Options{Seed: uint64(i), Iterations: 200})
		if err != nil {
			t.Fatal(err)
		}
		d := check(t, p, s)
		u, v, bd := bruteForce(p)
		if len(s.Unserved) != u || s.VehiclesUsed != v || d > bd+1e-6 {
			t.Errorf("instance %d: solver (%d unserved, %d vehicles, %.3f), brute force (%d, %d, %.3f)",
				i, len(s.Unserved), s.VehiclesUsed, d, u, v, bd)
		}
	}
}

func BenchmarkSolveR101(b *testing.B) {
	p := loadSolomon(b, "R101.txt").Problem(19)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Solve(context.Background(), p, Options{Seed: 1, Iterations: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSolve2000x150 is a council's day at the scale: 2,000 visits with two-hour windows
// over 150 vehicles on a 480-minute day, planned under the 60 s limit.
func BenchmarkSolve2000x150(b *testing.B) {
	p := scaleProblem()
	b.ReportAllocs()
	for b.Loop() {
		s, err := Solve(context.Background(), p, Options{Seed: 1, TimeLimit: time.Minute, Now: time.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(s.Unserved)), "unserved")
		b.ReportMetric(s.Distance, "distance")
		b.ReportMetric(float64(s.Iterations), "iterations")
	}
}

// scaleProblem is a council's day at the scale: 2,000 visits with two-hour windows over 150
// vehicles on a 480-minute day.
func scaleProblem() *Problem {
	rng := rand.New(rand.NewPCG(5, 6))
	const visits, vehicles = 2000, 150
	nloc := visits + 1
	xs, ys := make([]float64, nloc), make([]float64, nloc)
	for i := range nloc {
		xs[i], ys[i] = rng.Float64()*60, rng.Float64()*60
	}
	p := &Problem{Travel: make([][]float64, nloc)}
	for a := range nloc {
		p.Travel[a] = make([]float64, nloc)
		for c := range nloc {
			p.Travel[a][c] = math.Hypot(xs[a]-xs[c], ys[a]-ys[c])
		}
	}
	for range vehicles {
		p.Vehicles = append(p.Vehicles, Vehicle{Due: 480, Capacity: 20})
	}
	for i := range visits {
		ready := rng.Float64() * 360
		p.Visits = append(p.Visits, Visit{Location: 1 + i, Ready: ready, Due: ready + 120, Service: 20, Demand: 1})
	}
	return p
}
