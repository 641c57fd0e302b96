package vrptw

import (
	"errors"
	"fmt"
	"math"
)

// Problem is one routing problem. Times and travel share one unit (minutes from the start of the
// day, say); travel time between two locations is also its cost.
type Problem struct {
	// Travel[a][b] is the travel time from location a to location b; a square matrix.
	Travel [][]float64
	// Visits are the places to serve.
	Visits []Visit
	// Vehicles are the fleet; a solution uses at most this many.
	Vehicles []Vehicle
	// TravelOnly drops the fleet size from the objective: a day's practitioners are paid whether
	// they travel or not, so only unserved visits, then travel (and move penalties) count.
	TravelOnly bool
	// MovePenalty is charged, in travel units, for every visit served by a vehicle other than its
	// Home: re-planning a day already told to people then changes as few visits as it can.
	MovePenalty float64
}

// Visit is one place to serve.
type Visit struct {
	// Location indexes Problem.Travel.
	Location int
	// Ready and Due bound the start of service: a vehicle arriving before Ready waits.
	Ready, Due float64
	// Service is the time spent at the visit.
	Service float64
	// Demand counts against the vehicle's capacity.
	Demand int
	// Skills is the set of skills the visit needs, one bit each; the vehicle must hold them all.
	Skills uint64
	// Pin, when positive, restricts the visit to vehicle Pin-1; zero means any vehicle.
	Pin int
	// Vehicles, when not empty, lists the only vehicles that may serve the visit (such as the
	// members of the services it may be made for).
	Vehicles []int
	// Home, when positive, is vehicle Home-1, which serves the visit today; serving it on another
	// vehicle costs Problem.MovePenalty.
	Home int
}

// Vehicle is one member of the fleet: a practitioner's day.
type Vehicle struct {
	// Start and End are the locations where the route begins and ends.
	Start, End int
	// Ready is the earliest departure from Start; Due the latest arrival at End.
	Ready, Due float64
	// Capacity bounds the total demand of the route; zero or less means no bound.
	Capacity int
	// Skills is the set of skills the vehicle holds, one bit each.
	Skills uint64
	// Group, when positive, joins vehicles that are one person's shifts of a day: a visit moved
	// between vehicles of its home's group costs no MovePenalty.
	Group int
}

// Solution is a set of routes, one per vehicle (empty when the vehicle is unused).
type Solution struct {
	// Routes[v] lists the visits (indexes into Problem.Visits) vehicle v serves, in order.
	Routes [][]int
	// Starts[v][k] is when service of Routes[v][k] starts, as early as the route allows.
	Starts [][]float64
	// Unserved lists the visits no route serves, in increasing order.
	Unserved []int
	// VehiclesUsed counts the non-empty routes.
	VehiclesUsed int
	// Distance is the total travel of the used vehicles.
	Distance float64
	// Iterations counts the search's iterations.
	Iterations int
}

// Validate reports whether the problem is well formed: a square travel matrix of finite,
// non-negative times, and locations and pins that exist.
func (p *Problem) Validate() error {
	if p == nil {
		return errors.New("vrptw: unable to validate: no problem")
	}
	n := len(p.Travel)
	for a, row := range p.Travel {
		if len(row) != n {
			return fmt.Errorf("vrptw: unable to validate: travel row %d has %d entries, want %d", a, len(row), n)
		}
		for b, t := range row {
			if math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
				return fmt.Errorf("vrptw: unable to validate: travel %d→%d is %v", a, b, t)
			}
		}
	}
	for i, v := range p.Visits {
		if v.Location < 0 || v.Location >= n {
			return fmt.Errorf("vrptw: unable to validate: visit %d: location %d out of range", i, v.Location)
		}
		if bad(v.Ready) || bad(v.Due) || bad(v.Service) || v.Service < 0 {
			return fmt.Errorf("vrptw: unable to validate: visit %d: times must be finite and service non-negative", i)
		}
		if v.Pin < 0 || v.Pin > len(p.Vehicles) {
			return fmt.Errorf("vrptw: unable to validate: visit %d: pinned to vehicle %d of %d", i, v.Pin-1, len(p.Vehicles))
		}
		if v.Home < 0 || v.Home > len(p.Vehicles) {
			return fmt.Errorf("vrptw: unable to validate: visit %d: home vehicle %d of %d", i, v.Home-1, len(p.Vehicles))
		}
		for _, k := range v.Vehicles {
			if k < 0 || k >= len(p.Vehicles) {
				return fmt.Errorf("vrptw: unable to validate: visit %d: allowed vehicle %d of %d", i, k, len(p.Vehicles))
			}
		}
	}
	if bad(p.MovePenalty) || p.MovePenalty < 0 {
		return errors.New("vrptw: unable to validate: move penalty must be finite and non-negative")
	}
	for k, v := range p.Vehicles {
		if v.Start < 0 || v.Start >= n || v.End < 0 || v.End >= n {
			return fmt.Errorf("vrptw: unable to validate: vehicle %d: location out of range", k)
		}
		if bad(v.Ready) || bad(v.Due) {
			return fmt.Errorf("vrptw: unable to validate: vehicle %d: times must be finite", k)
		}
	}
	return nil
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
