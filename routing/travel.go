package routing

import (
	"context"
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// Point is a WGS84 position in decimal degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Valid reports whether p is a finite latitude in [-90, 90] and longitude in [-180, 180].
func (p Point) Valid() bool {
	return !math.IsNaN(p.Lat) && !math.IsNaN(p.Lon) &&
		p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180
}

// String formats p as "lat,lon" with six decimals (about 0.1 m), for messages.
func (p Point) String() string {
	return fmt.Sprintf("%.6f,%.6f", p.Lat, p.Lon)
}

// Travel estimates travel times so the routing logic does not care whether they come from a
// formula or a routing server.
type Travel interface {
	// Matrix returns minutes from every point in from (rows) to every point in to (columns).
	Matrix(ctx context.Context, from, to []Point) ([][]float64, error)
}

// Minutes is the travel time in minutes for a single pair, for callers that need only one.
func Minutes(ctx context.Context, t Travel, from, to Point) (float64, error) {
	m, err := t.Matrix(ctx, []Point{from}, []Point{to})
	if err != nil {
		return 0, err
	}
	if len(m) != 1 || len(m[0]) != 1 {
		return 0, fmt.Errorf("routing: unable to estimate travel from %s to %s: matrix is %d rows, want 1x1", from, to, len(m))
	}
	return m[0][0], nil
}

// newMatrix allocates a rows×cols matrix in one backing array, because Assign asks for thousands
// of one-column rows and one allocation per row would dominate its cost.
func newMatrix(rows, cols int) [][]float64 {
	backing := make([]float64, rows*cols)
	m := make([][]float64, rows)
	for i := range m {
		m[i] = backing[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return m
}

// Defaults for GreatCircle, used when a field is zero.
const (
	DefaultDetourFactor    = 1.3
	DefaultSpeedKPH        = 40.0
	DefaultOverheadMinutes = 5.0
)

// earthRadiusKM is the mean Earth radius (IUGG), adequate for a council-sized area.
const earthRadiusKM = 6371.0088

// GreatCircle estimates travel without a routing server: haversine distance times a detour factor
// for road layout, at an average speed, plus a fixed overhead for parking and walking to the door.
// Zero fields take the defaults; a negative OverheadMinutes means no overhead.
type GreatCircle struct {
	DetourFactor    float64 `json:"detour_factor"`
	SpeedKPH        float64 `json:"speed_kph"`
	OverheadMinutes float64 `json:"overhead_minutes"`
}

func (g GreatCircle) params() (detour, speed, overhead float64) {
	detour, speed, overhead = g.DetourFactor, g.SpeedKPH, g.OverheadMinutes
	if detour == 0 {
		detour = DefaultDetourFactor
	}
	if speed == 0 {
		speed = DefaultSpeedKPH
	}
	if overhead == 0 {
		overhead = DefaultOverheadMinutes
	}
	if overhead < 0 {
		overhead = 0
	}
	return detour, speed, overhead
}

// DistanceKM is the haversine great-circle distance between a and b in kilometres, on the mean
// Earth radius rather than orb's equatorial one, so travel estimates keep their calibration.
func DistanceKM(a, b Point) float64 {
	return distanceKM(a, b, math.Cos(deg2rad(a.Lat)), math.Cos(deg2rad(b.Lat)))
}

// distanceKM is DistanceKM given the cosines of both latitudes, so a point measured against many
// takes its cosine once. It is orb's geo.DistanceHaversine written out, operation for operation
// and in the same order, so that stored decisions replay to the same bit.
func distanceKM(a, b Point, cosA, cosB float64) float64 {
	dLat := deg2rad(a.Lat - b.Lat)
	dLon := deg2rad(a.Lon - b.Lon)
	dLat2Sin := math.Sin(dLat / 2)
	dLon2Sin := math.Sin(dLon / 2)
	h := dLat2Sin*dLat2Sin + cosB*cosA*dLon2Sin*dLon2Sin
	m := 2.0 * orb.EarthRadius * math.Atan2(math.Sqrt(h), math.Sqrt(1-h))
	if math.IsNaN(m) && a.Valid() && b.Valid() {
		// Rounding can put nearly antipodal points a hair past half the globe.
		return math.Pi * earthRadiusKM
	}
	return m / orb.EarthRadius * earthRadiusKM
}

// deg2rad is orb's conversion, kept to its rounding.
func deg2rad(d float64) float64 { return d * math.Pi / 180.0 }

// Between is the estimated travel in minutes from a to b; identical points cost nothing because
// no journey (and so no parking) happens.
func (g GreatCircle) Between(a, b Point) float64 {
	if a == b {
		return 0
	}
	detour, speed, overhead := g.params()
	return DistanceKM(a, b)*detour/speed*60 + overhead
}

// toward measures travel from many points to one place with the place's cosine taken once; the
// minutes are Between's to the bit.
type toward struct {
	place                   Point
	cos                     float64
	detour, speed, overhead float64
}

func (g GreatCircle) toward(place Point) toward {
	t := toward{place: place, cos: math.Cos(deg2rad(place.Lat))}
	t.detour, t.speed, t.overhead = g.params()
	return t
}

// from is Between(a, t.place), given the cosine of a's latitude.
func (t *toward) from(a Point, cosA float64) float64 {
	if a == t.place {
		return 0
	}
	return distanceKM(a, t.place, cosA, t.cos)*t.detour/t.speed*60 + t.overhead
}

// Symmetric reports that travel from a to b takes as long as from b to a, so callers may ask
// for one direction only.
func (g GreatCircle) Symmetric() bool { return true }

// Matrix implements Travel; it fails only for invalid coordinates or a bad configuration.
func (g GreatCircle) Matrix(ctx context.Context, from, to []Point) ([][]float64, error) {
	if err := g.check(ctx, from, to); err != nil {
		return nil, err
	}
	m := newMatrix(len(from), len(to))
	for i, a := range from {
		row := m[i]
		for j, b := range to {
			row[j] = g.Between(a, b)
		}
	}
	return m, nil
}

// check fails as Matrix does before measuring anything.
func (g GreatCircle) check(ctx context.Context, from, to []Point) error {
	if err := g.checkParams(); err != nil {
		return err
	}
	for i, p := range from {
		if !p.Valid() {
			return invalidOrigin(i, p)
		}
	}
	for j, p := range to {
		if !p.Valid() {
			return fmt.Errorf("routing: unable to estimate travel: destination %d has invalid coordinates %s", j, p)
		}
	}
	return checkContext(ctx)
}

func (g GreatCircle) checkParams() error {
	detour, speed, _ := g.params()
	if detour < 1 || speed <= 0 || math.IsNaN(detour) || math.IsNaN(speed) {
		return fmt.Errorf("routing: unable to estimate travel: detour factor %g must be >= 1 and speed %g km/h > 0", detour, speed)
	}
	return nil
}

func invalidOrigin(i int, p Point) error {
	return fmt.Errorf("routing: unable to estimate travel: origin %d has invalid coordinates %s", i, p)
}

func checkContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("routing: unable to estimate travel: %w", err)
	}
	return nil
}
