package routing

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// randomDays builds a request over practitioners with random hours (sometimes two shifts),
// breaks, visits, windows and places, over one to three days, with built routes as the route
// book gives them; travel is the reference's, for insertVisitRef.
func randomDays(loc *time.Location, rng *rand.Rand) RouteRequest {
	pt := func() Point { return at(rng.Float64()*40-20, rng.Float64()*40-20) }
	n := 1 + rng.IntN(12)
	ps := make([]Practitioner, n)
	for i := range ps {
		p := prac(fmt.Sprintf("p%02d", i), pt())
		p.MaxVisitsPerDay = []int{0, 3, 6, 8}[rng.IntN(4)]
		if rng.IntN(4) == 0 {
			p.ServiceIDs = []string{"svc-b"}
		}
		start, end := 7+rng.IntN(3), 15+rng.IntN(4)
		p.WorkingHours = nil
		for d := time.Monday; d <= time.Wednesday; d++ {
			if rng.IntN(5) == 0 {
				mid := 12 + rng.IntN(2)
				p.WorkingHours = append(p.WorkingHours, Shift{Day: d, StartMinute: start * 60, EndMinute: mid * 60},
					Shift{Day: d, StartMinute: mid*60 + 30 + rng.IntN(60), EndMinute: end * 60})
			} else {
				p.WorkingHours = append(p.WorkingHours, Shift{Day: d, StartMinute: start * 60, EndMinute: end * 60})
			}
			for range rng.IntN(3) {
				b := (start+1)*60 + rng.IntN((end-start-2)*60)
				p.Breaks = append(p.Breaks, Shift{Day: d, StartMinute: b, EndMinute: b + 15 + rng.IntN(46)})
			}
		}
		if rng.IntN(3) == 0 {
			sp := pt()
			p.StartPoint = &sp
		}
		if rng.IntN(3) == 0 {
			ep := pt()
			p.EndPoint = &ep
		}
		ps[i] = p
	}
	// Days fill up to the point of having no room, the case the early rejection is for.
	fill := rng.Float64()
	routes := fixedDays{}
	for i := range ps {
		p := &ps[i]
		for d := 2; d <= 4; d++ {
			var stops []Stop
			r, ok := BuildRoute(p, loc, 2026, 3, d, nil)
			if !ok {
				continue
			}
			t := r.From.Add(time.Duration(rng.IntN(60)) * time.Minute)
			for k := 0; rng.Float64() < 0.6+0.4*fill; k++ {
				dur := time.Duration(15+15*rng.IntN(6)) * time.Minute
				if t.Add(dur).After(r.To) {
					break
				}
				s := Stop{VisitID: fmt.Sprintf("v%d-%d-%d", i, d, k), Loc: pt(), Start: t, Duration: dur,
					Earliest: t.Add(-time.Duration(rng.IntN(3)) * time.Hour), Pinned: rng.IntN(4) == 0}
				if rng.IntN(4) > 0 {
					s.Latest = t.Add(dur + time.Duration(rng.IntN(4))*time.Hour)
				}
				stops = append(stops, s)
				t = t.Add(dur + time.Duration(rng.IntN(int(60*(1.1-fill))+1))*time.Minute)
			}
			r, _ = BuildRoute(p, loc, 2026, 3, d, stops)
			r.Legs(GreatCircle{}.Between)
			routes[routeKey{p.ID, civilDay(2026, 3, d)}] = r
		}
	}
	now := time.Date(2026, 3, 2, 6+rng.IntN(10), rng.IntN(60), 0, 0, loc)
	earliest := now.Add(time.Duration(rng.IntN(300)) * time.Minute)
	latest := earliest.Add(time.Duration(30+rng.IntN(60*48)) * time.Minute)
	req := RouteRequest{CaseID: "c", CandidateServiceIDs: []string{"svc-a", "svc-b"}[:1+rng.IntN(2)], RequiredSkills: []string{"nurse"},
		Duration: time.Duration(15+15*rng.IntN(5)) * time.Minute, Earliest: earliest, Latest: latest, Now: now,
		Subject: pt(), MayMove: rng.IntN(2) == 0, Practitioners: ps, Routes: routes, Loc: loc,
		Travel: GreatCircle{}}
	if rng.IntN(2) == 0 {
		req.MaxTravelMinutes = float64(20 + rng.IntN(60))
	}
	if rng.IntN(3) == 0 {
		req.LastPractitionerID = ps[rng.IntN(n)].ID
	}
	if rng.IntN(3) == 0 {
		req.Travel = GreatCircle{DetourFactor: 1 + rng.Float64(), SpeedKPH: 10 + rng.Float64()*50, OverheadMinutes: float64(rng.IntN(3) - 1)}
	}
	if rng.IntN(50) == 0 {
		// Absurd but accepted configurations whose minutes overflow Insert's nanoseconds.
		req.Travel = []GreatCircle{{SpeedKPH: 1e-300}, {DetourFactor: math.Inf(1)}, {OverheadMinutes: 1e12}}[rng.IntN(3)]
	}
	if rng.IntN(3) == 0 {
		o := earliest.Add(time.Duration(rng.IntN(600)) * time.Minute)
		req.Open = map[string][]Interval{"svc-a": {{From: o, To: o.Add(time.Duration(rng.IntN(600)) * time.Minute)}}}
		if rng.IntN(4) == 0 {
			req.Open["svc-b"] = nil
		}
	}
	return req
}

type fixedDays map[routeKey]*DayRoute

func (f fixedDays) Route(p *Practitioner, y int, m time.Month, d int) (*DayRoute, bool) {
	r, ok := f[routeKey{p.ID, civilDay(y, m, d)}]
	return r, ok
}

// TestInsertVisitEqualsReference places random visits into random days, emptier and fuller,
// with great-circle travel measured only where a position could take the visit, and requires
// exactly the outcome of the previous algorithm, which measures every point and tries every
// position: practitioner, position, start, moves, detour, score, counts and explanation.
func TestInsertVisitEqualsReference(t *testing.T) {
	loc := londonLoc(t)
	rng := rand.New(rand.NewPCG(41, 42))
	ctx := context.Background()
	placed, unplaced, moved := 0, 0, 0
	for inst := range 3000 {
		req := randomDays(loc, rng)
		ref := req
		ref.Travel = refGreatCircle{req.Travel.(GreatCircle)}
		got, gerr := InsertVisit(ctx, req)
		want, werr := insertVisitRef(ctx, ref)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("instance %d: error %v, reference %v", inst, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("instance %d:\n got %+v\nwant %+v", inst, got, want)
		}
		switch {
		case got.Appointment == nil:
			unplaced++
		case len(got.Moved) > 0:
			moved++
			placed++
		default:
			placed++
		}
	}
	// The draw must exercise both outcomes and the pushing of visits, or it proves little.
	if placed < 500 || unplaced < 500 || moved < 50 {
		t.Errorf("placed %d (moving others %d), unplaced %d: the draw no longer covers the cases", placed, moved, unplaced)
	}
}

// TestInsertVisitFailsAsReference requires the errors of the previous algorithm, which measured
// every point with Matrix: a bad travel configuration, a stop with impossible coordinates (the
// first one in table order is named), and a cancelled context.
func TestInsertVisitFailsAsReference(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		travel GreatCircle
		bad    bool
	}{
		{"bad detour factor", context.Background(), GreatCircle{DetourFactor: 0.5}, false},
		{"bad speed and bad stop", context.Background(), GreatCircle{SpeedKPH: -1}, true},
		{"bad stop", context.Background(), GreatCircle{}, true},
		{"cancelled", cancelled, GreatCircle{}, false},
		{"cancelled and bad stop", cancelled, GreatCircle{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := dayRequest(t, 5, 3, 8, false)
			if tc.bad {
				for _, id := range []string{"p003", "p001"} {
					r := req.Routes.(fixedRoutes)[id]
					r.Stops = append([]Stop(nil), r.Stops...)
					r.Stops[1].Loc = Point{Lat: 91, Lon: 0}
				}
			}
			req.Travel = tc.travel
			ref := req
			ref.Travel = refGreatCircle{tc.travel}
			_, gerr := InsertVisit(tc.ctx, req)
			_, werr := insertVisitRef(tc.ctx, ref)
			if gerr == nil || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Fatalf("error %v, reference %v", gerr, werr)
			}
		})
	}
}

// TestReachSkipsOnlyInfeasiblePositions gives Insert arbitrary travel of zero minutes or more
// to and from the visit, and the same travel with every point reach leaves unmarked set to zero:
// the outcome must be the same, whatever the travel.
func TestReachSkipsOnlyInfeasiblePositions(t *testing.T) {
	loc := londonLoc(t)
	rng := rand.New(rand.NewPCG(43, 44))
	for inst := range 300 {
		req := randomDays(loc, rng)
		c := Candidate{Loc: req.Subject, Duration: req.Duration, Earliest: req.Earliest, Latest: req.Latest}
		for _, r := range req.Routes.(fixedDays) {
			n := len(r.Stops) + 2
			need := make([]bool, n)
			r.reach(&c, req.Now, req.MayMove, need)
			for range 5 {
				to, from := make([]float64, n), make([]float64, n)
				for i := range to {
					to[i], from[i] = rng.Float64()*float64(rng.IntN(90)), rng.Float64()*float64(rng.IntN(90))
				}
				pto, pfrom := make([]float64, n), make([]float64, n)
				for i, yes := range need {
					if yes {
						pto[i], pfrom[i] = to[i], from[i]
					}
				}
				got, gok := r.Insert(c, pto, pfrom, req.Now, req.MayMove)
				want, wok := r.insertRef(c, to, from, req.Now, req.MayMove)
				if gok != wok || !reflect.DeepEqual(got, want) {
					t.Fatalf("instance %d route %s/%d: got %v %+v, want %v %+v", inst, r.PractitionerID, r.Day, gok, got, wok, want)
				}
			}
		}
	}
}

// TestDistanceEqualsOrb compares the written-out haversine with orb's on random points the world
// over, near each other, equal and nearly antipodal, bit for bit, and great-circle minutes with
// the cosines shared.
func TestDistanceEqualsOrb(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for i := range 200000 {
		a := Point{Lat: rng.Float64()*180 - 90, Lon: rng.Float64()*360 - 180}
		var b Point
		switch i % 4 {
		case 0:
			b = Point{Lat: rng.Float64()*180 - 90, Lon: rng.Float64()*360 - 180}
		case 1:
			b = Point{Lat: math.Max(-90, math.Min(90, a.Lat+rng.NormFloat64()*0.01)), Lon: math.Max(-180, math.Min(180, a.Lon+rng.NormFloat64()*0.01))}
		case 2:
			b = a
		case 3:
			b = Point{Lat: -a.Lat + rng.NormFloat64()*1e-9, Lon: a.Lon - math.Copysign(180, a.Lon) + rng.NormFloat64()*1e-9}
			b.Lat, b.Lon = math.Max(-90, math.Min(90, b.Lat)), math.Max(-180, math.Min(180, b.Lon))
		}
		checkDistance(t, a, b)
	}
}

func checkDistance(t *testing.T, a, b Point) {
	t.Helper()
	if got, want := DistanceKM(a, b), distanceKMRef(a, b); math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("DistanceKM(%v, %v) = %v, orb %v", a, b, got, want)
	}
	g := GreatCircle{}
	to := g.toward(b)
	if got, want := to.from(a, math.Cos(deg2rad(a.Lat))), (refGreatCircle{g}).Between(a, b); math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("minutes from %v to %v = %v, reference %v", a, b, got, want)
	}
}

// FuzzDistanceEqualsOrb looks for points where the written-out haversine and orb's differ.
func FuzzDistanceEqualsOrb(f *testing.F) {
	f.Add(52.6369, -1.1398, 52.95, -1.15)
	f.Add(0.0, 0.0, 0.0, 180.0)
	f.Add(90.0, 0.0, -90.0, 0.0)
	f.Fuzz(func(t *testing.T, alat, alon, blat, blon float64) {
		a, b := Point{Lat: alat, Lon: alon}, Point{Lat: blat, Lon: blon}
		if !a.Valid() || !b.Valid() {
			return
		}
		checkDistance(t, a, b)
	})
}
