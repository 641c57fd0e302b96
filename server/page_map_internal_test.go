package server

import (
	"math"
	"strings"
	"testing"

	"github.com/carepath/carepath/routing"
)

// TestSpreadColocated: visits at one place get one marker each, set apart far enough that every
// number shows, in the same places every time; visits elsewhere stay where they are.
func TestSpreadColocated(t *testing.T) {
	for _, n := range []int{2, 3, 5} {
		m := routing.DayMap{Width: mapWidth, Height: mapHeight}
		for i := range n {
			m.Visits = append(m.Visits, routing.MapPoint{N: i + 1, ID: string(rune('a' + i)), X: 300, Y: 200})
		}
		m.Visits = append(m.Visits, routing.MapPoint{N: n + 1, ID: "far", X: 100, Y: 100})
		again := routing.DayMap{Width: m.Width, Height: m.Height, Visits: append([]routing.MapPoint(nil), m.Visits...)}
		spreadColocated(&m)
		spreadColocated(&again)
		for i := range n {
			for j := i + 1; j < n; j++ {
				a, b := m.Visits[i], m.Visits[j]
				if d := math.Hypot(a.X-b.X, a.Y-b.Y); d < 20 {
					t.Errorf("%d at one place: markers %d and %d are %.1f apart", n, a.N, b.N, d)
				}
			}
			if d := math.Hypot(m.Visits[i].X-300, m.Visits[i].Y-200); d > 30 {
				t.Errorf("%d at one place: marker %d moved %.1f from the place", n, m.Visits[i].N, d)
			}
		}
		if far := m.Visits[n]; far.X != 100 || far.Y != 100 {
			t.Errorf("a visit elsewhere moved to %v", far)
		}
		for i := range m.Visits {
			if m.Visits[i] != again.Visits[i] {
				t.Errorf("two runs place marker %d at %v and %v", i+1, m.Visits[i], again.Visits[i])
			}
		}
	}
}

// TestRouteLine: the route is drawn in the LineString's visit order, from the base and back,
// between the markers as placed, and only for the practitioner whose day it is.
func TestRouteLine(t *testing.T) {
	geo := []byte(`{"type":"FeatureCollection","features":[
		{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1],[0,0]]},"properties":{"kind":"route","practitioner":"other","visit_ids":["b"]}},
		{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1],[2,2],[0,0]]},"properties":{"kind":"route","practitioner":"p1","visit_ids":["b","a"]}}]}`)
	m := routing.DayMap{Bases: []routing.MapPoint{{ID: "p1", X: 10, Y: 20}},
		Visits: []routing.MapPoint{{N: 1, ID: "a", X: 30, Y: 40}, {N: 2, ID: "b", X: 50.5, Y: 60}}}
	got, err := routeLine(geo, m, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "10,20 50.5,60 30,40 10,20"; got != want {
		t.Errorf("route %q, want %q", got, want)
	}
	if got, err := routeLine(geo, m, "nobody"); err != nil || got != "" {
		t.Errorf("route of a practitioner without one: %q %v", got, err)
	}
	if _, err := routeLine([]byte("{"), m, "p1"); err == nil || !strings.Contains(err.Error(), "routes") {
		t.Errorf("bad GeoJSON: %v", err)
	}
}
