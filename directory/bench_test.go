package directory

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func generatedPathway(i int) string { return fmt.Sprintf("pathway-%02d", i) }

// regularPolygon is a closed ring of n points at radius metres around a centre, as GeoJSON text.
func regularPolygon(lat, lon, radius float64, n int) string {
	var b strings.Builder
	b.WriteByte('[')
	dLat := radius / 111320
	dLon := radius / (111320 * math.Cos(lat*math.Pi/180))
	for i := 0; i <= n; i++ {
		a := 2 * math.Pi * float64(i%n) / float64(n)
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%.6f,%.6f]", lon+dLon*math.Cos(a), lat+dLat*math.Sin(a))
	}
	b.WriteByte(']')
	return b.String()
}

// generateServices spreads n services over West Yorkshire (about 70 by 55 km) across twelve
// pathways, with the mix of statuses, ages, expressions, capacities and schedules a real
// directory has.
func generateServices(n int, seed uint64) []Service {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	expressions := []string{
		"!('active-risk' in outcome.flags)",
		"outcome.priority != 'routine'",
		"subject.age_known && subject.age >= 18",
		"subject.postcode.startsWith('LS') || subject.postcode == ''",
	}
	out := make([]Service, n)
	for i := range out {
		id := fmt.Sprintf("svc-%06d", i)
		lat, lon := 53.5+rng.Float64()*0.5, -2.2+rng.Float64()
		radius := 3000 + rng.Float64()*7000
		var extent string
		switch r := rng.IntN(20); {
		case r == 0: // two parts
			extent = fmt.Sprintf(`{"type":"MultiPolygon","coordinates":[[%s],[%s]]}`,
				regularPolygon(lat, lon, radius, 16), regularPolygon(lat+0.2, lon+0.2, radius/2, 16))
		case r == 1: // a hole in the middle
			extent = fmt.Sprintf(`{"type":"Polygon","coordinates":[%s,%s]}`,
				regularPolygon(lat, lon, radius, 16), regularPolygon(lat, lon, radius/3, 8))
		default:
			extent = fmt.Sprintf(`{"type":"Polygon","coordinates":[%s]}`, regularPolygon(lat, lon, radius, 24))
		}
		s := Service{
			ID:          id,
			Name:        "Service " + id,
			Description: "Community service number " + id,
			Status:      StatusActive,
			ServiceAreas: []ServiceArea{{
				ID: id + "-area", Name: "Area " + id, ExtentType: "geojson", Extent: extent,
			}},
			Attributes: []Attribute{pathwayAttr(id, generatedPathway(i%12))},
		}
		if rng.IntN(10) == 0 {
			s.Attributes = append(s.Attributes, pathwayAttr(id, generatedPathway((i+5)%12)))
		}
		switch r := rng.IntN(100); {
		case r < 4:
			s.Status = StatusInactive
		case r < 7:
			s.Status = StatusTemporarilyClosed
		case r < 10:
			s.Status = StatusDefunct
		}
		switch r := rng.IntN(10); {
		case r < 3:
			withAges(18, math.NaN())(&s)
		case r == 3:
			withAges(0, 17)(&s)
		case r == 4:
			withAges(65, math.NaN())(&s)
		}
		if rng.IntN(7) == 0 {
			s.CarepathEligibility = expressions[rng.IntN(len(expressions))]
		}
		if rng.IntN(5) < 3 {
			withCapacity(float64(rng.IntN(20)))(&s)
		}
		switch r := rng.IntN(10); {
		case r < 5:
			s.Schedules = []Schedule{{ID: id + "-wk", Freq: "WEEKLY", Byday: "MO,TU,WE,TH,FR", OpensAt: "09:00", ClosesAt: "17:00"}}
		case r < 7:
			s.Schedules = []Schedule{{ID: id + "-all", Freq: "WEEKLY", OpensAt: "08:00", ClosesAt: "20:00"}}
		}
		for l := range 1 + rng.IntN(2) {
			withLocation(fmt.Sprintf("%s-loc%d", id, l), lat+(rng.Float64()-0.5)*0.02, lon+(rng.Float64()-0.5)*0.02)(&s)
		}
		out[i] = s
	}
	return out
}

// BenchmarkMatch50k matches one urgent query in central West Yorkshire against 50,000 services.
func BenchmarkMatch50k(b *testing.B) {
	ix, err := NewIndex(generateServices(50000, 1))
	if err != nil {
		b.Fatal(err)
	}
	q := Query{
		Pathway:       generatedPathway(3),
		Priority:      "urgent",
		Flags:         []string{"carer"},
		RespondWithin: 4 * time.Hour,
		Age:           YearsOld(42),
		Postcode:      "LS1 5HD",
		Lat:           53.75,
		Lon:           -1.7,
		At:            time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC),
		Loc:           time.UTC,
		Travel:        greatCircleMinutes,
	}
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		res = ix.Match(q)
	}
	b.ReportMetric(float64(len(res.Candidates)), "candidates")
}

// BenchmarkMatch50kRejected is the explained variant, listing every rejected service.
func BenchmarkMatch50kRejected(b *testing.B) {
	ix, err := NewIndex(generateServices(50000, 1))
	if err != nil {
		b.Fatal(err)
	}
	q := Query{
		Pathway: generatedPathway(3), Priority: "urgent", RespondWithin: 4 * time.Hour, Age: YearsOld(42),
		Lat: 53.75, Lon: -1.7, At: time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC), Travel: greatCircleMinutes,
		IncludeRejected: true,
	}
	b.ReportAllocs()
	for b.Loop() {
		ix.Match(q)
	}
}

func BenchmarkNewIndex5k(b *testing.B) {
	services := generateServices(5000, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewIndex(services); err != nil {
			b.Fatal(err)
		}
	}
}
