package directory

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

const (
	// square is 0..10 by 0..10 with a hole 4..6 by 4..6.
	squareWithHole = `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]}`
	// twoIslands is 0..1 by 0..1 and 5..6 by 5..6.
	twoIslands = `{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,6],[5,5]]]]}`
)

func TestParseExtent(t *testing.T) {
	tests := []struct {
		name, extent, extentType string
		wantPolygons             int
		wantErr                  string
	}{
		{name: "polygon with hole", extent: squareWithHole, extentType: "geojson", wantPolygons: 1},
		{name: "extent_type is case-insensitive", extent: squareWithHole, extentType: "GeoJSON", wantPolygons: 1},
		{name: "multipolygon", extent: twoIslands, extentType: "geojson", wantPolygons: 2},
		{name: "feature", extent: `{"type":"Feature","properties":{},"geometry":` + squareWithHole + `}`, extentType: "geojson", wantPolygons: 1},
		{name: "feature collection", extent: `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":` + squareWithHole + `},{"type":"Feature","geometry":` + twoIslands + `}]}`, extentType: "geojson", wantPolygons: 3},
		{name: "topojson unsupported", extent: squareWithHole, extentType: "topojson", wantErr: "unsupported extent_type"},
		{name: "text unsupported", extent: "Leeds", extentType: "text", wantErr: "unsupported extent_type"},
		{name: "empty", extent: " ", extentType: "geojson", wantErr: "empty"},
		{name: "unparsable", extent: `{"type":"Polygon","coordinates":[[[0,0],`, extentType: "geojson", wantErr: "unparsable GeoJSON"},
		{name: "bad coordinates", extent: `{"type":"Polygon","coordinates":"x"}`, extentType: "geojson", wantErr: "unparsable GeoJSON Polygon"},
		{name: "point", extent: `{"type":"Point","coordinates":[0,0]}`, extentType: "geojson", wantErr: `unsupported GeoJSON type "Point"`},
		{name: "feature of a line", extent: `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}`, extentType: "geojson", wantErr: "is a LineString"},
		{name: "feature without geometry", extent: `{"type":"Feature","geometry":null}`, extentType: "geojson", wantErr: "has no geometry"},
		{name: "empty collection", extent: `{"type":"FeatureCollection","features":[]}`, extentType: "geojson", wantErr: "no features"},
		{name: "not closed", extent: `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`, extentType: "geojson", wantErr: "ring 0 is not closed"},
		{name: "too few points", extent: `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`, extentType: "geojson", wantErr: "has 3 points, need at least 4"},
		{name: "hole too few points", extent: `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,0]],[[1,1],[2,1]]]}`, extentType: "geojson", wantErr: "polygon 0 ring 1 has 2 points"},
		{name: "longitude out of range", extent: `{"type":"Polygon","coordinates":[[[0,0],[181,0],[1,1],[0,0]]]}`, extentType: "geojson", wantErr: "out of range"},
		{name: "latitude out of range", extent: `{"type":"Polygon","coordinates":[[[0,0],[1,-91],[1,1],[0,0]]]}`, extentType: "geojson", wantErr: "out of range"},
		{name: "polygon without rings", extent: `{"type":"Polygon","coordinates":[]}`, extentType: "geojson", wantErr: "polygon 0 has no rings"},
		{name: "every problem listed", extent: `{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[0,0]]],[[[0,0],[1,0],[1,1],[0,1]]]]}`, extentType: "geojson", wantErr: "polygon 0 ring 0 has 3 points, need at least 4; polygon 1 ring 0 is not closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mp, err := ParseExtent(tc.extent, tc.extentType)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(mp) != tc.wantPolygons {
				t.Errorf("got %d polygons, want %d", len(mp), tc.wantPolygons)
			}
		})
	}
}

func TestAreaContains(t *testing.T) {
	tests := []struct {
		name     string
		extent   string
		lon, lat float64
		want     bool
	}{
		{"inside", squareWithHole, 2, 2, true},
		{"in the hole", squareWithHole, 5, 5, false},
		{"on the hole's edge counts as inside the hole", squareWithHole, 4, 5, false},
		{"on the outer edge counts as inside", squareWithHole, 0, 5, true},
		{"outside the bounding box", squareWithHole, 11, 5, false},
		{"first island", twoIslands, 0.5, 0.5, true},
		{"second island", twoIslands, 5.5, 5.5, true},
		{"between islands, inside the overall box", twoIslands, 3, 3, false},
		{"outside both islands, inside second's column", twoIslands, 5.5, 0.5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mp, err := ParseExtent(tc.extent, ExtentTypeGeoJSON)
			if err != nil {
				t.Fatal(err)
			}
			a := newArea("a", mp)
			if got := a.contains(orb.Point{tc.lon, tc.lat}); got != tc.want {
				t.Errorf("contains(%g, %g) = %v, want %v", tc.lon, tc.lat, got, tc.want)
			}
		})
	}
}

// TestAreaContainsOutsideBound is a property: no point outside an area's bounding box is inside.
func TestAreaContainsOutsideBound(t *testing.T) {
	mp, err := ParseExtent(twoIslands, ExtentTypeGeoJSON)
	if err != nil {
		t.Fatal(err)
	}
	a := newArea("", mp)
	for x := -2.0; x <= 8; x += 0.25 {
		for y := -2.0; y <= 8; y += 0.25 {
			p := orb.Point{x, y}
			if a.contains(p) && !a.bound.Contains(p) {
				t.Fatalf("%v inside area but outside its bound", p)
			}
		}
	}
}

// TestAreaContainsMatchesOrb is a property test: the precomputed-bound containment agrees with
// planar.MultiPolygonContains on random points and on every vertex and edge midpoint.
func TestAreaContainsMatchesOrb(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	extents := []string{squareWithHole, twoIslands,
		`{"type":"Polygon","coordinates":[[[0,0],[4,1],[3,3],[5,6],[1,5],[2,2],[0,0]]]}`}
	for _, s := range generateServices(40, 9) {
		extents = append(extents, s.ServiceAreas[0].Extent)
	}
	for _, ext := range extents {
		mp, err := ParseExtent(ext, ExtentTypeGeoJSON)
		if err != nil {
			t.Fatal(err)
		}
		a := newArea("", mp)
		b := mp.Bound().Pad(0.1 * (mp.Bound().Max[0] - mp.Bound().Min[0]))
		var points []orb.Point
		for range 2000 {
			points = append(points, orb.Point{
				b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]),
				b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1]),
			})
		}
		for _, poly := range mp {
			for _, r := range poly {
				for i := 0; i+1 < len(r); i++ {
					points = append(points, r[i], orb.Point{(r[i][0] + r[i+1][0]) / 2, (r[i][1] + r[i+1][1]) / 2})
				}
			}
		}
		for _, p := range points {
			if got, want := a.contains(p), planar.MultiPolygonContains(mp, p); got != want {
				t.Fatalf("%v in %s: got %v, orb says %v", p, ext, got, want)
			}
		}
	}
}
