package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
)

// ExtentTypeGeoJSON is the only HSDS extent_type Carepath can test containment against.
const ExtentTypeGeoJSON = "geojson"

// ParseExtent reads a service area extent of type geojson: a Polygon or MultiPolygon, or a
// Feature or FeatureCollection wrapping them, returned as one multipolygon in lon/lat order.
// Every ring must be closed, have at least 4 points and lie within WGS84 ranges.
func ParseExtent(extent, extentType string) (orb.MultiPolygon, error) {
	if !strings.EqualFold(strings.TrimSpace(extentType), ExtentTypeGeoJSON) {
		return nil, fmt.Errorf("unsupported extent_type %q: want %q", extentType, ExtentTypeGeoJSON)
	}
	if strings.TrimSpace(extent) == "" {
		return nil, errors.New("extent is empty")
	}
	data := []byte(extent)
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("unparsable GeoJSON: %w", err)
	}
	var geoms []orb.Geometry
	switch head.Type {
	case "Polygon", "MultiPolygon":
		g, err := geojson.UnmarshalGeometry(data)
		if err != nil {
			return nil, fmt.Errorf("unparsable GeoJSON %s: %w", head.Type, err)
		}
		geoms = append(geoms, g.Geometry())
	case "Feature":
		f, err := geojson.UnmarshalFeature(data)
		if err != nil {
			return nil, fmt.Errorf("unparsable GeoJSON Feature: %w", err)
		}
		geoms = append(geoms, f.Geometry)
	case "FeatureCollection":
		fc, err := geojson.UnmarshalFeatureCollection(data)
		if err != nil {
			return nil, fmt.Errorf("unparsable GeoJSON FeatureCollection: %w", err)
		}
		if len(fc.Features) == 0 {
			return nil, errors.New("GeoJSON FeatureCollection has no features")
		}
		for _, f := range fc.Features {
			geoms = append(geoms, f.Geometry)
		}
	default:
		return nil, fmt.Errorf("unsupported GeoJSON type %q: want Polygon, MultiPolygon, Feature or FeatureCollection", head.Type)
	}

	var mp orb.MultiPolygon
	for i, g := range geoms {
		switch g := g.(type) {
		case orb.Polygon:
			mp = append(mp, g)
		case orb.MultiPolygon:
			mp = append(mp, g...)
		case nil:
			return nil, fmt.Errorf("GeoJSON feature %d has no geometry", i)
		default:
			return nil, fmt.Errorf("GeoJSON feature %d is a %s: want Polygon or MultiPolygon", i, g.GeoJSONType())
		}
	}
	if len(mp) == 0 {
		return nil, errors.New("GeoJSON has no polygons")
	}
	if err := checkPolygons(mp); err != nil {
		return nil, err
	}
	return mp, nil
}

// checkPolygons lists every ring problem at once so a publisher can fix an extent in one pass.
func checkPolygons(mp orb.MultiPolygon) error {
	var problems []string
	for pi, p := range mp {
		if len(p) == 0 {
			problems = append(problems, fmt.Sprintf("polygon %d has no rings", pi))
		}
		for ri, r := range p {
			where := fmt.Sprintf("polygon %d ring %d", pi, ri)
			if len(r) < 4 {
				problems = append(problems, fmt.Sprintf("%s has %d points, need at least 4", where, len(r)))
			} else if !r.Closed() {
				problems = append(problems, where+" is not closed (first point differs from last)")
			}
			for _, pt := range r {
				if pt.Lon() < -180 || pt.Lon() > 180 || pt.Lat() < -90 || pt.Lat() > 90 {
					problems = append(problems, fmt.Sprintf("%s has coordinate [%g, %g] out of range (lon -180..180, lat -90..90)", where, pt.Lon(), pt.Lat()))
					break
				}
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// gridSize is the side of the coarse grid laid over each area: most points fall in a cell wholly
// inside or outside, which answers without a ray cast.
const gridSize = 32

// area is a parsed service area ready for containment tests.
type area struct {
	name  string
	shape orb.MultiPolygon
	bound orb.Bound
	// ringBounds[i][j] is the bound of ring j of polygon i, computed once: planar.RingContains
	// recomputes it on every call, which dominated Match's profile.
	ringBounds [][]orb.Bound
	// The grid: a cell is "edge" when some ring segment's bounding box touches it; any other
	// cell holds no boundary, so it is wholly inside or wholly outside.
	gridded      bool
	cellW, cellH float64
	edge, inside [gridSize * gridSize / 64]uint64
}

func newArea(name string, mp orb.MultiPolygon) area {
	a := area{name: name, shape: mp, bound: mp.Bound(), ringBounds: make([][]orb.Bound, len(mp))}
	for i, p := range mp {
		a.ringBounds[i] = make([]orb.Bound, len(p))
		for j, r := range p {
			a.ringBounds[i][j] = r.Bound()
		}
	}
	a.buildGrid()
	return a
}

func (a *area) buildGrid() {
	a.cellW = (a.bound.Max[0] - a.bound.Min[0]) / gridSize
	a.cellH = (a.bound.Max[1] - a.bound.Min[1]) / gridSize
	if !(a.cellW > 0 && a.cellH > 0) {
		return // degenerate area: exact tests only
	}
	for _, poly := range a.shape {
		for _, r := range poly {
			for i := range r {
				s, e := r[i], r[(i+1)%len(r)]
				x0, y0 := a.cell(math.Min(s[0], e[0]), math.Min(s[1], e[1]))
				x1, y1 := a.cell(math.Max(s[0], e[0]), math.Max(s[1], e[1]))
				for y := y0; y <= y1; y++ {
					for x := x0; x <= x1; x++ {
						setBit(&a.edge, y*gridSize+x)
					}
				}
			}
		}
	}
	// Neighbouring non-edge cells in a row share a side with no boundary on it, so one exact
	// test classifies the whole run.
	for y := range gridSize {
		known, in := false, false
		for x := range gridSize {
			bit := y*gridSize + x
			if getBit(&a.edge, bit) {
				known = false
				continue
			}
			if !known {
				centre := orb.Point{a.bound.Min[0] + (float64(x)+0.5)*a.cellW, a.bound.Min[1] + (float64(y)+0.5)*a.cellH}
				in, known = a.containsExact(centre), true
			}
			if in {
				setBit(&a.inside, bit)
			}
		}
	}
	a.gridded = true
}

// cell maps a point in the bound to its grid cell; the mapping is monotonic, so a point on a
// segment always lands in a cell that segment's bounding box marked.
func (a *area) cell(x, y float64) (int, int) {
	cx := int((x - a.bound.Min[0]) / a.cellW)
	cy := int((y - a.bound.Min[1]) / a.cellH)
	return min(max(cx, 0), gridSize-1), min(max(cy, 0), gridSize-1)
}

func setBit(b *[gridSize * gridSize / 64]uint64, i int) { b[i/64] |= 1 << (i % 64) }

func getBit(b *[gridSize * gridSize / 64]uint64, i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

// contains reports whether p lies inside the area: boundary counts as inside and holes as
// outside, exactly as planar.MultiPolygonContains decides.
func (a *area) contains(p orb.Point) bool {
	if !a.bound.Contains(p) {
		return false
	}
	if a.gridded {
		x, y := a.cell(p[0], p[1])
		if bit := y*gridSize + x; !getBit(&a.edge, bit) {
			return getBit(&a.inside, bit)
		}
	}
	return a.containsExact(p)
}

// containsExact is orb's ray-cast test, with each ring's precomputed bound as a cheap precheck;
// the grid leaves it only the points near a boundary.
func (a *area) containsExact(p orb.Point) bool {
	for i, poly := range a.shape {
		if !a.ringBounds[i][0].Contains(p) || !planar.RingContains(poly[0], p) {
			continue
		}
		inHole := false
		for j := 1; j < len(poly); j++ {
			if a.ringBounds[i][j].Contains(p) && planar.RingContains(poly[j], p) {
				inHole = true
				break
			}
		}
		if !inHole {
			return true
		}
	}
	return false
}
