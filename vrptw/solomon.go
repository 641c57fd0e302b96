package vrptw

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// maxSolomonNodes bounds the nodes a Solomon file may hold, so that a hostile file cannot ask for a
// travel matrix larger than memory.
const maxSolomonNodes = 5000

// Solomon is one instance in Solomon's text format: node 0 is the depot, whose ready and due times
// are the horizon; the others are customers.
type Solomon struct {
	// Name is the instance's name, its first line.
	Name string
	// Vehicles is the fleet size the file offers.
	Vehicles int
	// Capacity is each vehicle's capacity.
	Capacity int
	// Nodes are the depot (first) and the customers, in file order.
	Nodes []SolomonNode
}

// SolomonNode is one line of a Solomon file.
type SolomonNode struct {
	// ID is the customer number (0 for the depot).
	ID int
	// X and Y are the coordinates.
	X, Y float64
	// Demand is the load the customer adds.
	Demand int
	// Ready and Due bound the start of service.
	Ready, Due float64
	// Service is the time spent at the customer.
	Service float64
}

// ParseSolomon reads an instance in Solomon's format: a name line, a VEHICLE section whose first
// numeric line gives the fleet size and capacity, then a CUSTOMER section with one line of seven
// numbers per node, the depot first.
func ParseSolomon(r io.Reader) (*Solomon, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	s := &Solomon{}
	section := ""
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if s.Name == "" && section == "" {
			s.Name = strings.Join(fields, " ")
			section = "name"
			continue
		}
		switch up := strings.ToUpper(fields[0]); {
		case up == "VEHICLE":
			section = "vehicle"
			continue
		case up == "CUSTOMER":
			section = "customer"
			continue
		}
		if !numeric(fields[0]) {
			continue // column headings
		}
		switch section {
		case "vehicle":
			if s.Vehicles != 0 || s.Capacity != 0 {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: a second fleet line", line)
			}
			if len(fields) != 2 {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: want NUMBER CAPACITY", line)
			}
			var err error
			if s.Vehicles, err = count(fields[0]); err != nil {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: vehicles: %w", line, err)
			}
			if s.Capacity, err = count(fields[1]); err != nil {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: capacity: %w", line, err)
			}
		case "customer":
			if len(fields) != 7 {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: want 7 numbers, got %d fields", line, len(fields))
			}
			if len(s.Nodes) >= maxSolomonNodes {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: more than %d nodes", line, maxSolomonNodes)
			}
			var nums [7]float64
			for i, f := range fields {
				v, err := strconv.ParseFloat(f, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e9 {
					return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: field %d: %q is not a finite number", line, i+1, f)
				}
				nums[i] = v
			}
			if nums[0] != math.Trunc(nums[0]) || nums[3] != math.Trunc(nums[3]) || nums[3] < 0 || nums[0] < 0 {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: number and demand must be non-negative integers", line)
			}
			if nums[6] < 0 {
				return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: negative service time", line)
			}
			s.Nodes = append(s.Nodes, SolomonNode{ID: int(nums[0]), X: nums[1], Y: nums[2], Demand: int(nums[3]),
				Ready: nums[4], Due: nums[5], Service: nums[6]})
		default:
			return nil, fmt.Errorf("vrptw: unable to parse Solomon line %d: numbers outside the VEHICLE and CUSTOMER sections", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vrptw: unable to parse Solomon: %w", err)
	}
	if s.Vehicles == 0 {
		return nil, errors.New("vrptw: unable to parse Solomon: no fleet size (VEHICLE section)")
	}
	if len(s.Nodes) == 0 {
		return nil, errors.New("vrptw: unable to parse Solomon: no depot (CUSTOMER section)")
	}
	seen := make(map[int]bool, len(s.Nodes))
	for _, n := range s.Nodes {
		if seen[n.ID] {
			return nil, fmt.Errorf("vrptw: unable to parse Solomon: customer %d appears twice", n.ID)
		}
		seen[n.ID] = true
	}
	return s, nil
}

func numeric(f string) bool {
	_, err := strconv.ParseFloat(f, 64)
	return err == nil
}

func count(f string) (int, error) {
	n, err := strconv.Atoi(f)
	if err != nil || n < 0 || n > 1e6 {
		return 0, fmt.Errorf("%q is not a count", f)
	}
	return n, nil
}

// Problem turns the instance into a routing problem with the given number of identical vehicles
// (the file's own fleet when vehicles is zero or less): Euclidean travel in double precision,
// every vehicle based at the depot over the depot's horizon. Visit i is node i+1.
func (s *Solomon) Problem(vehicles int) *Problem {
	if vehicles <= 0 {
		vehicles = s.Vehicles
	}
	n := len(s.Nodes)
	travel := make([][]float64, n)
	for a := range n {
		travel[a] = make([]float64, n)
		for b := range n {
			travel[a][b] = math.Hypot(s.Nodes[a].X-s.Nodes[b].X, s.Nodes[a].Y-s.Nodes[b].Y)
		}
	}
	p := &Problem{Travel: travel}
	for i := 1; i < n; i++ {
		c := s.Nodes[i]
		p.Visits = append(p.Visits, Visit{Location: i, Ready: c.Ready, Due: c.Due, Service: c.Service, Demand: c.Demand})
	}
	depot := s.Nodes[0]
	for range vehicles {
		p.Vehicles = append(p.Vehicles, Vehicle{Start: 0, End: 0, Ready: depot.Ready, Due: depot.Due, Capacity: s.Capacity})
	}
	return p
}
