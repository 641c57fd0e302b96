package routing

import (
	"context"
	"encoding/json"
	"testing"
)

// TestExportRoutesGeoJSON: each practitioner's route is a LineString from the base through the
// visits by start and back, on the roads when the source draws them, straight otherwise.
func TestExportRoutesGeoJSON(t *testing.T) {
	loc := londonLoc(t)
	pracs := []Practitioner{prac("a", at(0, 0)), prac("b", at(5, 5))}
	visit := func(id, who string, hh int, p Point) StoredVisit {
		return StoredVisit{Visit: Visit{ID: id, PractitionerID: who, Start: monday(loc, hh, 0), End: monday(loc, hh, 45), Loc: p}}
	}
	visits := []StoredVisit{visit("v2", "a", 11, at(2, 0)), visit("v1", "a", 9, at(1, 1)), visit("v3", "b", 10, at(6, 4)),
		visit("v4", "gone", 10, at(9, 9))}
	server := &osrmShaped{maxTable: 100}
	srv := server.start(t)
	for _, tc := range []struct {
		name   string
		geom   Geometry
		source string
		points int // of a's line
	}{
		{"straight", nil, "straight", 4},
		{"road", OSRM{BaseURL: srv.URL, Client: srv.Client()}, "road", 7},
		{"server down", OSRM{BaseURL: srv.URL + "/down", Client: srv.Client()}, "straight", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := DayRoutesGeoJSON(context.Background(), visits, pracs, loc, tc.geom)
			if err != nil {
				t.Fatal(err)
			}
			var fc struct {
				Features []struct {
					Geometry struct {
						Type        string          `json:"type"`
						Coordinates json.RawMessage `json:"coordinates"`
					} `json:"geometry"`
					Properties map[string]any `json:"properties"`
				} `json:"features"`
			}
			if err := json.Unmarshal(out, &fc); err != nil {
				t.Fatal(err)
			}
			lines := map[string][][2]float64{}
			for _, f := range fc.Features {
				if f.Properties["kind"] != "route" {
					continue
				}
				if f.Geometry.Type != "LineString" || f.Properties["geometry"] != tc.source {
					t.Errorf("route of %v: %s drawn %v", f.Properties["practitioner"], f.Geometry.Type, f.Properties["geometry"])
				}
				var c [][2]float64
				if err := json.Unmarshal(f.Geometry.Coordinates, &c); err != nil {
					t.Fatal(err)
				}
				lines[f.Properties["practitioner"].(string)] = c
				if f.Properties["practitioner"] == "a" {
					ids, _ := json.Marshal(f.Properties["visit_ids"])
					if string(ids) != `["v1","v2"]` {
						t.Errorf("visit order %s", ids)
					}
				}
			}
			if len(lines) != 2 {
				t.Fatalf("%d routes, want a's and b's (none for a practitioner off the roster)", len(lines))
			}
			a := lines["a"]
			if len(a) != tc.points {
				t.Fatalf("a's line has %d points, want %d", len(a), tc.points)
			}
			base, first, last := pracs[0].Base, visits[1].Loc, a[len(a)-1]
			near := func(c [2]float64, p Point) bool { return abs(c[0]-p.Lon) < 1e-5 && abs(c[1]-p.Lat) < 1e-5 }
			if !near(a[0], base) || !near(last, base) {
				t.Errorf("a's line does not start and end at the base: %v", a)
			}
			if tc.source == "straight" && !near(a[1], first) {
				t.Errorf("a's first stop %v, want v1 at %s", a[1], first)
			}
		})
	}
	if _, err := DayRoutesGeoJSON(context.Background(), visits, pracs, nil, nil); err == nil {
		t.Error("no time zone accepted")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
