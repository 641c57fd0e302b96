package routing

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// MapArea is a named area (a service's) to draw under a day's map.
type MapArea struct {
	Name  string
	Shape orb.MultiPolygon
}

// MapOptions size a day's map and say whose visits it shows.
type MapOptions struct {
	// Width and Height are the viewport in SVG user units; Padding keeps markers off its edges.
	Width, Height, Padding float64
	// Practitioner keeps only that practitioner's visits and base; empty keeps everyone's.
	Practitioner string
	// TileURL, when set, is a slippy-map tile template with {z}, {x} and {y}: the map lists the
	// tiles under its viewport for the browser to draw beneath it. Nothing here fetches them.
	TileURL string
	// MaxTiles bounds the tiles listed (64 when zero).
	MaxTiles int
}

// DayMap is a day's GeoJSON projected onto a viewport, ready to draw as SVG: coordinates are in
// the viewport's units with y downwards, rounded to a tenth.
type DayMap struct {
	Width, Height float64
	Areas         []MapShape
	Bases         []MapPoint
	// Visits are in visit order (the GeoJSON's: by start, then id), N counting from 1.
	Visits []MapPoint
	// Route is an SVG polyline's points: the base, then each visit in order.
	Route string
	Tiles []MapTile
}

// MapShape is an area as an SVG path.
type MapShape struct {
	Name string
	Path string
}

// MapPoint is a projected base or visit; ID is the visit's id or the base's practitioner.
type MapPoint struct {
	N    int
	ID   string
	X, Y float64
}

// MapTile is one slippy-map tile placed in the viewport.
type MapTile struct {
	URL        string
	X, Y, Size float64
}

// minSpan is the least width of ground a map shows, in Web Mercator world units (about 2 km in
// England), so that a day of one visit is not drawn at street-corner scale.
const minSpan = 8e-5

// mercator projects a WGS84 point to Web Mercator world units: x and y from 0 to 1, y downwards.
// Near the map's centre it is the equirectangular projection scaled by cos(latitude), and it is
// what slippy-map tiles use, so a council's tiles line up beneath it.
func mercator(p orb.Point) (x, y float64) {
	lat := math.Max(-85.05112878, math.Min(85.05112878, p[1]))
	s := math.Sin(lat * math.Pi / 180)
	return (p[0] + 180) / 360, 0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)
}

// ProjectDay reads a day's GeoJSON FeatureCollection (as DayGeoJSON writes it) and projects its
// visits, bases and the route between them, with areas underneath, onto the viewport. The view
// fits the visits and bases; areas only when there is neither.
func ProjectDay(geo []byte, areas []MapArea, opt MapOptions) (DayMap, error) {
	if opt.Width <= 0 || opt.Height <= 0 || opt.Padding < 0 || 2*opt.Padding >= math.Min(opt.Width, opt.Height) {
		return DayMap{}, fmt.Errorf("routing: unable to draw the map: viewport %gx%g with padding %g", opt.Width, opt.Height, opt.Padding)
	}
	fc, err := geojson.UnmarshalFeatureCollection(geo)
	if err != nil {
		return DayMap{}, fmt.Errorf("routing: unable to draw the map: %w", err)
	}
	type placed struct {
		id, who string
		x, y    float64
	}
	var visits, bases []placed
	for _, f := range fc.Features {
		pt, ok := f.Geometry.(orb.Point)
		if !ok || !onEarth(pt) {
			continue
		}
		if opt.Practitioner != "" && f.Properties.MustString("practitioner", "") != opt.Practitioner {
			continue
		}
		x, y := mercator(pt)
		switch f.Properties.MustString("kind", "") {
		case "visit":
			visits = append(visits, placed{f.Properties.MustString("id", ""), f.Properties.MustString("practitioner", ""), x, y})
		case "base":
			who := f.Properties.MustString("practitioner", "")
			bases = append(bases, placed{who, who, x, y})
		}
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	grow := func(x, y float64) {
		minX, minY, maxX, maxY = math.Min(minX, x), math.Min(minY, y), math.Max(maxX, x), math.Max(maxY, y)
	}
	for _, p := range append(append([]placed(nil), visits...), bases...) {
		grow(p.x, p.y)
	}
	if math.IsInf(minX, 1) {
		for _, a := range areas {
			b := a.Shape.Bound()
			for _, c := range []orb.Point{b.Min, b.Max} {
				if onEarth(c) {
					grow(mercator(c))
				}
			}
		}
	}
	m := DayMap{Width: opt.Width, Height: opt.Height}
	if math.IsInf(minX, 1) {
		return m, nil // nothing to show: an empty day
	}
	cx, cy := (minX+maxX)/2, (minY+maxY)/2
	spanX, spanY := math.Max(maxX-minX, minSpan), math.Max(maxY-minY, minSpan)
	scale := math.Min((opt.Width-2*opt.Padding)/spanX, (opt.Height-2*opt.Padding)/spanY)
	toView := func(x, y float64) (float64, float64) {
		return round1(opt.Width/2 + (x-cx)*scale), round1(opt.Height/2 + (y-cy)*scale)
	}
	for _, a := range areas {
		var path strings.Builder
		for _, poly := range a.Shape {
			for _, ring := range poly {
				drawn := 0
				for _, pt := range ring {
					if !onEarth(pt) {
						continue
					}
					x, y := toView(mercator(pt))
					if drawn == 0 {
						path.WriteString("M")
					} else {
						path.WriteString(" L")
					}
					path.WriteString(num(x) + "," + num(y))
					drawn++
				}
				if drawn > 0 {
					path.WriteString(" Z ")
				}
			}
		}
		if p := strings.TrimSpace(path.String()); p != "" {
			m.Areas = append(m.Areas, MapShape{Name: a.Name, Path: p})
		}
	}
	// One practitioner's route: from their base through the visits in order. Visits of several
	// practitioners are not one route, so none is drawn.
	one := len(visits) > 0
	for _, v := range visits {
		one = one && v.who == visits[0].who
	}
	var route []string
	for _, b := range bases {
		x, y := toView(b.x, b.y)
		m.Bases = append(m.Bases, MapPoint{ID: b.id, X: x, Y: y})
		if one && b.who == visits[0].who {
			route = append(route, num(x)+","+num(y))
		}
	}
	for i, v := range visits {
		x, y := toView(v.x, v.y)
		m.Visits = append(m.Visits, MapPoint{N: i + 1, ID: v.id, X: x, Y: y})
		route = append(route, num(x)+","+num(y))
	}
	if one && len(route) > 1 {
		m.Route = strings.Join(route, " ")
	}
	if opt.TileURL != "" {
		m.Tiles = tiles(opt, cx, cy, scale)
	}
	return m, nil
}

// tiles lists the slippy-map tiles covering the viewport, at the zoom whose tiles are nearest
// 256 units wide.
func tiles(opt MapOptions, cx, cy, scale float64) []MapTile {
	limit := opt.MaxTiles
	if limit <= 0 {
		limit = 64
	}
	z := int(math.Round(math.Log2(scale / 256)))
	z = max(0, min(z, 19))
	n := math.Exp2(float64(z))
	size := scale / n
	// The viewport's corners in world units, then in tile numbers.
	x0, x1 := cx-opt.Width/2/scale, cx+opt.Width/2/scale
	y0, y1 := cy-opt.Height/2/scale, cy+opt.Height/2/scale
	var out []MapTile
	for ty := max(0, int(math.Floor(y0*n))); ty <= min(int(n)-1, int(math.Floor(y1*n))); ty++ {
		for tx := max(0, int(math.Floor(x0*n))); tx <= min(int(n)-1, int(math.Floor(x1*n))); tx++ {
			if len(out) == limit {
				return out
			}
			url := strings.NewReplacer("{z}", strconv.Itoa(z), "{x}", strconv.Itoa(tx), "{y}", strconv.Itoa(ty)).Replace(opt.TileURL)
			out = append(out, MapTile{URL: url, Size: round1(size),
				X: round1(opt.Width/2 + (float64(tx)/n-cx)*scale), Y: round1(opt.Height/2 + (float64(ty)/n-cy)*scale)})
		}
	}
	return out
}

// onEarth reports whether p is a longitude and latitude, so that nonsense cannot stretch the map.
func onEarth(p orb.Point) bool {
	return p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
