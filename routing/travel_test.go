package routing

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestGreatCircle(t *testing.T) {
	london := Point{51.5074, -0.1278}
	manchester := Point{53.4808, -2.2426}
	tests := []struct {
		name     string
		g        GreatCircle
		a, b     Point
		wantMin  float64
		tolerant float64
	}{
		// 262.0 km haversine; ×1.3 / 40 km/h × 60 + 5.
		{"defaults", GreatCircle{}, london, manchester, 262.0*1.3/40*60 + 5, 0.5},
		{"custom", GreatCircle{DetourFactor: 1.2, SpeedKPH: 60, OverheadMinutes: 2}, london, manchester, 262.0*1.2/60*60 + 2, 0.5},
		{"no overhead", GreatCircle{OverheadMinutes: -1}, london, manchester, 262.0 * 1.3 / 40 * 60, 0.5},
		{"same point costs nothing", GreatCircle{}, london, london, 0, 0},
	}
	for _, tc := range tests {
		got, err := Minutes(context.Background(), tc.g, tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.wantMin) > tc.tolerant {
			t.Errorf("%s: %.2f min, want %.2f", tc.name, got, tc.wantMin)
		}
	}
	if _, err := (GreatCircle{}).Matrix(context.Background(), []Point{{Lat: 95}}, []Point{london}); err == nil || !strings.Contains(err.Error(), "origin 0") {
		t.Errorf("invalid origin: %v", err)
	}
	if _, err := (GreatCircle{DetourFactor: 0.5}).Matrix(context.Background(), []Point{london}, []Point{london}); err == nil {
		t.Error("detour factor below 1 accepted")
	}
}

// Property: travel is symmetric, non-negative, grows with distance, and the matrix agrees with
// the pairwise value.
func TestGreatCircleProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := GreatCircle{}
	pt := func() Point { return Point{Lat: rng.Float64()*170 - 85, Lon: rng.Float64()*360 - 180} }
	for i := 0; i < 1000; i++ {
		a, b := pt(), pt()
		ab, ba := g.Between(a, b), g.Between(b, a)
		if math.Abs(ab-ba) > 1e-9 || ab < DefaultOverheadMinutes {
			t.Fatalf("%s→%s: %g vs %g", a, b, ab, ba)
		}
		if d := DistanceKM(a, b); d > math.Pi*earthRadiusKM+1e-6 || DistanceKM(a, b)+DistanceKM(b, a) < 0 {
			t.Fatalf("distance %g out of range", d)
		}
		m, err := g.Matrix(context.Background(), []Point{a, b}, []Point{b})
		if err != nil || m[0][0] != ab || m[1][0] != 0 {
			t.Fatalf("matrix %v disagrees with pairwise %g (%v)", m, ab, err)
		}
	}
}

// osrmServer answers /table/v1/driving like OSRM: durations in seconds computed from the
// coordinates in the path, null for any destination at exactly lat 0 (no route).
func osrmServer(t *testing.T, requests *int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*requests++
		const prefix = "/table/v1/driving/"
		if !strings.HasPrefix(r.URL.Path, prefix) || !strings.Contains(r.URL.RawQuery, "annotations=duration") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code":"InvalidUrl","message":"URL string malformed"}`)
			return
		}
		var pts []Point
		for _, c := range strings.Split(strings.TrimPrefix(r.URL.Path, prefix), ";") {
			lon, lat, _ := strings.Cut(c, ",")
			x, err1 := strconv.ParseFloat(lon, 64)
			y, err2 := strconv.ParseFloat(lat, 64)
			if err1 != nil || err2 != nil {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"code":"InvalidQuery","message":"Query string malformed close to position 0"}`)
				return
			}
			pts = append(pts, Point{y, x})
		}
		// OSRM separates indexes with literal semicolons, which net/url's query parser rejects.
		query := map[string]string{}
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			query[k] = v
		}
		idx := func(key string) []int {
			var out []int
			for _, s := range strings.Split(query[key], ";") {
				i, _ := strconv.Atoi(s)
				out = append(out, i)
			}
			return out
		}
		var rows []string
		for _, i := range idx("sources") {
			var cells []string
			for _, j := range idx("destinations") {
				if pts[j].Lat == 0 {
					cells = append(cells, "null")
					continue
				}
				cells = append(cells, strconv.FormatFloat(DistanceKM(pts[i], pts[j])*60, 'f', 1, 64))
			}
			rows = append(rows, "["+strings.Join(cells, ",")+"]")
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"code":"Ok","durations":[%s],"sources":[],"destinations":[]}`, strings.Join(rows, ","))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOSRMTable(t *testing.T) {
	requests := 0
	srv := osrmServer(t, &requests)
	o := OSRM{BaseURL: srv.URL + "/", Client: srv.Client()}
	from := []Point{{52.6369, -1.1398}, {52.70, -1.20}}
	to := []Point{{52.60, -1.10}, {52.65, -1.00}, {52.7, -1.3}}
	m, err := o.Matrix(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if requests != 1 {
		t.Fatalf("%d requests, want one table request", requests)
	}
	for i := range from {
		for j := range to {
			// The server says 60 s per km, so minutes equal kilometres.
			if want := DistanceKM(from[i], to[j]); math.Abs(m[i][j]-want) > 0.01 {
				t.Errorf("[%d][%d] = %.3f min, want %.3f", i, j, m[i][j], want)
			}
		}
	}
	_, err = o.Matrix(context.Background(), from, []Point{to[0], {0, 10}})
	if err == nil || !strings.Contains(err.Error(), "no route from origin 0") || !strings.Contains(err.Error(), "destination 1") {
		t.Fatalf("null duration: %v", err)
	}
	_, err = OSRM{BaseURL: srv.URL + "/wrong", Client: srv.Client()}.Matrix(context.Background(), from, to)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "InvalidUrl") {
		t.Fatalf("error answer: %v", err)
	}
	if m, err := o.Matrix(context.Background(), nil, to); err != nil || len(m) != 0 {
		t.Fatalf("empty origins: %v %v", m, err)
	}
	if _, err := o.Matrix(context.Background(), []Point{{Lat: 100}}, to); err == nil {
		t.Fatal("invalid coordinates sent to the server")
	}
}

func TestParseOSRMTableErrors(t *testing.T) {
	from := []Point{{1, 1}}
	to := []Point{{2, 2}, {3, 3}}
	tests := []struct{ body, want string }{
		{`{"code":"NoTable","message":"no table"}`, `code "NoTable": no table`},
		{`{"code":"Ok","durations":[]}`, "0 duration rows, want 1"},
		{`{"code":"Ok","durations":[[1]]}`, "row 0 has 1 durations, want 2"},
		{`{"code":"Ok","durations":[[1,null]]}`, "no route from origin 0 (1.000000,1.000000) to destination 1 (3.000000,3.000000)"},
		{`{"code":"Ok","durations":[[1,-5]]}`, "negative duration"},
		{`not json`, "unable to decode"},
	}
	for _, tc := range tests {
		_, err := parseOSRMTable([]byte(tc.body), from, to)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.want)
		}
	}
	m, err := parseOSRMTable([]byte(`{"code":"Ok","durations":[[90,120]]}`), from, to)
	if err != nil || m[0][0] != 1.5 || m[0][1] != 2 {
		t.Fatalf("seconds to minutes: %v %v", m, err)
	}
}

func FuzzParseOSRMTable(f *testing.F) {
	f.Add([]byte(`{"code":"Ok","durations":[[0,60],[null,1.5]]}`))
	f.Add([]byte(`{"code":"InvalidQuery","message":"bad"}`))
	f.Add([]byte(`{"code":"Ok","durations":[[1e308,-0]]}`))
	from := []Point{{1, 1}, {2, 2}}
	to := []Point{{3, 3}, {4, 4}}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseOSRMTable(body, from, to)
		if err != nil {
			return
		}
		if len(m) != 2 || len(m[0]) != 2 || len(m[1]) != 2 {
			t.Fatalf("accepted a %d-row matrix", len(m))
		}
		for _, row := range m {
			for _, v := range row {
				if v < 0 || math.IsNaN(v) {
					t.Fatalf("accepted duration %g", v)
				}
			}
		}
	})
}

// counting is a real Travel (great-circle) that counts the pairs it is asked for.
type counting struct {
	mu    sync.Mutex
	pairs int
	calls int
}

func (c *counting) Matrix(ctx context.Context, from, to []Point) ([][]float64, error) {
	c.mu.Lock()
	c.pairs += len(from) * len(to)
	c.calls++
	c.mu.Unlock()
	return GreatCircle{}.Matrix(ctx, from, to)
}

func TestCached(t *testing.T) {
	inner := &counting{}
	c, err := NewCached(inner, 4)
	if err != nil {
		t.Fatal(err)
	}
	// b sits in the middle of a 1e-5° cell, so a point 0.3 m away shares its key.
	a, b, d := at(0, 0), Point{52.70000, -1.00000}, at(10, 0)
	ctx := context.Background()
	m1, _ := c.Matrix(ctx, []Point{a}, []Point{b, d})
	// Within a metre of b: same key.
	nearB := Point{b.Lat + 3e-6, b.Lon - 3e-6}
	if keyOf(a, nearB) != keyOf(a, b) {
		t.Fatal("test points fall in different cache cells")
	}
	m2, _ := c.Matrix(ctx, []Point{a}, []Point{nearB, d})
	if inner.pairs != 2 || m2[0][0] != m1[0][0] || m2[0][1] != m1[0][1] {
		t.Fatalf("second lookup asked inner for %d pairs total, values %v vs %v", inner.pairs, m1, m2)
	}
	// A mixed lookup asks only for the rows and columns with misses.
	e := at(-7, 2)
	m3, _ := c.Matrix(ctx, []Point{a, e}, []Point{b})
	if inner.pairs != 3 || m3[1][0] != (GreatCircle{}).Between(e, b) {
		t.Fatalf("mixed lookup: inner pairs %d, %v", inner.pairs, m3)
	}
	// Capacity 4: adding more evicts the least recently used.
	for i := 0; i < 4; i++ {
		c.Matrix(ctx, []Point{a}, []Point{at(float64(20+i), 0)})
	}
	if _, _, size := c.Stats(); size != 4 {
		t.Fatalf("size %d, want bound 4", size)
	}
	before := inner.pairs
	c.Matrix(ctx, []Point{a}, []Point{b})
	if inner.pairs != before+1 {
		t.Fatal("evicted pair still served from cache")
	}
	if _, err := NewCached(inner, 0); err == nil {
		t.Fatal("zero capacity accepted")
	}
}

func TestCachedConcurrent(t *testing.T) {
	c, _ := NewCached(GreatCircle{}, 64)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 0))
			for i := 0; i < 500; i++ {
				p, q := at(float64(rng.IntN(10)), 0), at(0, float64(rng.IntN(10)))
				m, err := c.Matrix(context.Background(), []Point{p}, []Point{q})
				if err != nil || m[0][0] != (GreatCircle{}).Between(p, q) {
					t.Errorf("got %v %v", m, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
}
