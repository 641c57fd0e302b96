package vrptw

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
)

const tiny = `TINY

VEHICLE
NUMBER     CAPACITY
  2         50

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0         0          0          0       100          0
    1      3         4         10          0        50         5
    2      6         8.5       20         10        60         5
`

func TestParseSolomon(t *testing.T) {
	s, err := ParseSolomon(strings.NewReader(tiny))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "TINY" || s.Vehicles != 2 || s.Capacity != 50 || len(s.Nodes) != 3 {
		t.Fatalf("got %+v", s)
	}
	if n := s.Nodes[2]; n.ID != 2 || n.Y != 8.5 || n.Demand != 20 || n.Ready != 10 || n.Due != 60 || n.Service != 5 {
		t.Errorf("node 2: %+v", n)
	}
	p := s.Problem(0)
	if len(p.Vehicles) != 2 || len(p.Visits) != 2 || p.Vehicles[0].Due != 100 || p.Vehicles[1].Capacity != 50 {
		t.Errorf("problem: %+v", p)
	}
	if d := p.Travel[0][1]; d != 5 {
		t.Errorf("travel 0→1 = %v, want 5 (Euclidean, unrounded)", d)
	}
	if d := p.Travel[1][2]; math.Abs(d-math.Hypot(3, 4.5)) > 1e-12 {
		t.Errorf("travel 1→2 = %v", d)
	}
	if len(s.Problem(5).Vehicles) != 5 {
		t.Error("vehicles argument ignored")
	}
}

func TestParseSolomonVendored(t *testing.T) {
	for _, tc := range []struct {
		file         string
		vehicles, cp int
	}{{"C101.txt", 25, 200}, {"R101.txt", 25, 200}, {"RC201.txt", 25, 1000}} {
		s := loadSolomon(t, tc.file)
		if s.Vehicles != tc.vehicles || s.Capacity != tc.cp || len(s.Nodes) != 101 || s.Nodes[100].ID != 100 {
			t.Errorf("%s: %d vehicles, capacity %d, %d nodes", tc.file, s.Vehicles, s.Capacity, len(s.Nodes))
		}
	}
}

func TestParseSolomonErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"no fleet":       "X\nCUSTOMER\n0 0 0 0 0 10 0\n",
		"no nodes":       "X\nVEHICLE\n2 10\n",
		"short line":     "X\nVEHICLE\n2 10\nCUSTOMER\n0 0 0 0 0 10\n",
		"fleet twice":    "X\nVEHICLE\n2 10\n3 10\nCUSTOMER\n0 0 0 0 0 10 0\n",
		"bad fleet":      "X\nVEHICLE\n2 x\nCUSTOMER\n0 0 0 0 0 10 0\n",
		"NaN":            "X\nVEHICLE\n2 10\nCUSTOMER\n0 NaN 0 0 0 10 0\n",
		"fractional id":  "X\nVEHICLE\n2 10\nCUSTOMER\n0.5 0 0 0 0 10 0\n",
		"duplicate":      "X\nVEHICLE\n2 10\nCUSTOMER\n0 0 0 0 0 10 0\n0 1 1 0 0 10 0\n",
		"stray numbers":  "X\n1 2 3\n",
		"negative serve": "X\nVEHICLE\n2 10\nCUSTOMER\n0 0 0 0 0 10 -1\n",
	} {
		if _, err := ParseSolomon(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseSolomon(f *testing.F) {
	f.Add([]byte(tiny))
	f.Add([]byte("X\nVEHICLE\n2 10\nCUSTOMER\n0 0 0 0 0 10 0\n1 1 1 1 0 10 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSolomon(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(s.Nodes) == 0 || s.Vehicles <= 0 || len(s.Nodes) > maxSolomonNodes {
			t.Fatalf("accepted %+v", s)
		}
		if len(s.Nodes) > 30 {
			return
		}
		p := s.Problem(min(s.Vehicles, 5))
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed instance does not validate: %v", err)
		}
		sol, err := Solve(context.Background(), p, Options{Seed: 1, Iterations: 3})
		if err != nil {
			t.Fatal(err)
		}
		check(t, p, sol)
	})
}
