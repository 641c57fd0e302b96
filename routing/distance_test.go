package routing

import (
	"math"
	"testing"
)

// asinHaversine is the formula DistanceKM used before it called orb: the check that moving to the
// library kept every distance, and so every travel estimate, where it was.
func asinHaversine(a, b Point) float64 {
	const rad = math.Pi / 180
	s1 := math.Sin((b.Lat - a.Lat) * rad / 2)
	s2 := math.Sin((b.Lon - a.Lon) * rad / 2)
	h := min(s1*s1+math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*s2*s2, 1)
	return 2 * earthRadiusKM * math.Asin(math.Sqrt(h))
}

func FuzzDistanceKM(f *testing.F) {
	f.Add(51.5074, -0.1278, 53.4808, -2.2426)
	f.Add(0.0, 0.0, 0.0, 180.0)
	f.Add(45.0, 10.0, -45.0, -170.0)
	f.Add(52.95, -1.15, 52.95, -1.15)
	f.Add(90.0, 0.0, -90.0, 0.0)
	f.Fuzz(func(t *testing.T, lat1, lon1, lat2, lon2 float64) {
		a, b := Point{lat1, lon1}, Point{lat2, lon2}
		if !a.Valid() || !b.Valid() {
			return
		}
		got, want := DistanceKM(a, b), asinHaversine(a, b)
		if math.IsNaN(got) || got < 0 || got > math.Pi*earthRadiusKM*(1+1e-12) {
			t.Fatalf("DistanceKM(%s, %s) = %g: out of range", a, b, got)
		}
		// A millimetre: the two formulas round differently only near antipodes.
		if math.Abs(got-want) > 1e-6 {
			t.Fatalf("DistanceKM(%s, %s) = %.9f km, the previous formula %.9f", a, b, got, want)
		}
	})
}

// BenchmarkDistanceKM compares orb's haversine with the previous formula, the case for keeping a
// hand-written one: great-circle travel prices every candidate practitioner with it.
func BenchmarkDistanceKM(b *testing.B) {
	a, c := Point{51.5074, -0.1278}, Point{53.4808, -2.2426}
	for _, bc := range []struct {
		name string
		fn   func(a, b Point) float64
	}{{"orb", DistanceKM}, {"asin", asinHaversine}} {
		b.Run(bc.name, func(b *testing.B) {
			var sum float64
			for b.Loop() {
				sum += bc.fn(a, c)
			}
			if sum < 0 {
				b.Fatal(sum)
			}
		})
	}
}
