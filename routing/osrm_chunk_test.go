package routing

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// osrmShaped is a loopback server in OSRM's shape: /table/v1/driving answers 60 s per km between
// the coordinates (refusing more than maxTable of them with OSRM's TooBig), /route/v1/driving
// answers a GeoJSON line through the coordinates with a midpoint added on every leg, as a road
// would bend; delay slows every answer.
type osrmShaped struct {
	maxTable       int
	delay          time.Duration
	tables, routes atomic.Int32
	biggest        atomic.Int32
}

func (o *osrmShaped) start(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.delay > 0 {
			time.Sleep(o.delay)
		}
		path, kind := r.URL.Path, ""
		switch {
		case strings.HasPrefix(path, "/table/v1/driving/"):
			kind, path = "table", strings.TrimPrefix(path, "/table/v1/driving/")
			o.tables.Add(1)
		case strings.HasPrefix(path, "/route/v1/driving/"):
			kind, path = "route", strings.TrimPrefix(path, "/route/v1/driving/")
			o.routes.Add(1)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code":"InvalidUrl","message":"URL string malformed"}`)
			return
		}
		var pts []Point
		for _, c := range strings.Split(path, ";") {
			lon, lat, _ := strings.Cut(c, ",")
			x, _ := strconv.ParseFloat(lon, 64)
			y, _ := strconv.ParseFloat(lat, 64)
			pts = append(pts, Point{Lat: y, Lon: x})
		}
		if int32(len(pts)) > o.biggest.Load() {
			o.biggest.Store(int32(len(pts)))
		}
		if len(pts) > o.maxTable {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code":"TooBig","message":"Too many table coordinates"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if kind == "route" {
			var coords []string
			for i, p := range pts {
				if i > 0 {
					q := pts[i-1]
					coords = append(coords, fmt.Sprintf("[%f,%f]", (p.Lon+q.Lon)/2+0.001, (p.Lat+q.Lat)/2))
				}
				coords = append(coords, fmt.Sprintf("[%f,%f]", p.Lon, p.Lat))
			}
			fmt.Fprintf(w, `{"code":"Ok","routes":[{"geometry":{"type":"LineString","coordinates":[%s]}}]}`, strings.Join(coords, ","))
			return
		}
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
				cells = append(cells, strconv.FormatFloat(DistanceKM(pts[i], pts[j])*60, 'f', 3, 64))
			}
			rows = append(rows, "["+strings.Join(cells, ",")+"]")
		}
		fmt.Fprintf(w, `{"code":"Ok","durations":[%s]}`, strings.Join(rows, ","))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func ring(n int) []Point {
	out := make([]Point, n)
	for i := range out {
		a := 2 * math.Pi * float64(i) / float64(n)
		out[i] = at(10*math.Cos(a), 10*math.Sin(a))
	}
	return out
}

// TestOSRMChunksToTheTableLimit: a matrix larger than the server's table limit is asked for in
// blocks that fit, and the blocks are put together in the right places.
func TestOSRMChunksToTheTableLimit(t *testing.T) {
	for _, tc := range []struct {
		limit, from, to, requests int
	}{
		{limit: 10, from: 23, to: 7, requests: 5 * 2},
		{limit: 100, from: 30, to: 30, requests: 1},
		{limit: 4, from: 5, to: 5, requests: 3 * 3},
		{limit: 3, from: 2, to: 5, requests: 2 * 3},
	} {
		t.Run(fmt.Sprintf("%dx%d within %d", tc.from, tc.to, tc.limit), func(t *testing.T) {
			server := &osrmShaped{maxTable: tc.limit}
			srv := server.start(t)
			o := OSRM{BaseURL: srv.URL, Client: srv.Client(), MaxTable: tc.limit}
			from, to := ring(tc.from), ring(tc.to + 1)[1:]
			m, err := o.Matrix(context.Background(), from, to)
			if err != nil {
				t.Fatal(err)
			}
			if got := int(server.tables.Load()); got != tc.requests || int(server.biggest.Load()) > tc.limit {
				t.Errorf("%d requests of up to %d coordinates, want %d within %d", got, server.biggest.Load(), tc.requests, tc.limit)
			}
			for i := range from {
				for j := range to {
					if want := DistanceKM(from[i], to[j]); math.Abs(m[i][j]-want) > 0.001 {
						t.Fatalf("[%d][%d] = %.4f min, want %.4f", i, j, m[i][j], want)
					}
				}
			}
		})
	}
}

// TestOSRMSourceCachesAndNamesErrors: the configured OSRM source asks the server once for pairs
// it has seen, names the server's refusals and gives up on a slow server after its timeout.
func TestOSRMSourceCachesAndNamesErrors(t *testing.T) {
	server := &osrmShaped{maxTable: 100}
	srv := server.start(t)
	src, err := NewTravelSource(TravelConfig{Source: SourceOSRM, OSRMURL: srv.URL, MaxTable: 100, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pts := ring(12)
	if _, err := src.Travel.Matrix(context.Background(), pts, pts); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Travel.Matrix(context.Background(), pts[:5], pts[3:9]); err != nil {
		t.Fatal(err)
	}
	if n := server.tables.Load(); n != 1 {
		t.Errorf("%d table requests for pairs already known, want 1", n)
	}
	if src.Geometry == nil || src.Name != SourceOSRM {
		t.Errorf("OSRM source without road geometry: %+v", src)
	}

	// A limit set higher than the server's: its refusal is named.
	small := &osrmShaped{maxTable: 4}
	smallSrv := small.start(t)
	_, err = OSRM{BaseURL: smallSrv.URL, Client: smallSrv.Client(), MaxTable: 10}.Matrix(context.Background(), ring(6), ring(6))
	if err == nil || !strings.Contains(err.Error(), "TooBig") || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("too big: %v", err)
	}

	slow := &osrmShaped{maxTable: 100, delay: 300 * time.Millisecond}
	slowSrv := slow.start(t)
	src, err = NewTravelSource(TravelConfig{Source: SourceOSRM, OSRMURL: slowSrv.URL, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Travel.Matrix(context.Background(), ring(3), ring(3))
	if err == nil || !strings.Contains(err.Error(), "unable to query OSRM table") || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("slow server: %v", err)
	}

	for name, cfg := range map[string]TravelConfig{
		"unknown source": {Source: "teleport"},
		"no URL":         {Source: SourceOSRM},
	} {
		if _, err := NewTravelSource(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if gc, err := NewTravelSource(TravelConfig{}); err != nil || gc.Name != SourceGreatCircle || gc.Geometry != nil {
		t.Errorf("default source: %+v %v", gc, err)
	}
}

// TestOSRMPathChunks: a route longer than the limit is drawn in requests that share their joining
// point, and the line passes through every stop in order.
func TestOSRMPathChunks(t *testing.T) {
	server := &osrmShaped{maxTable: 4}
	srv := server.start(t)
	stops := ring(10)
	path, err := OSRM{BaseURL: srv.URL, Client: srv.Client(), MaxTable: 4}.Path(context.Background(), stops)
	if err != nil {
		t.Fatal(err)
	}
	if n := server.routes.Load(); n != 3 || server.biggest.Load() > 4 {
		t.Errorf("%d route requests of up to %d points, want 3 within 4", n, server.biggest.Load())
	}
	if len(path) != 2*len(stops)-1 {
		t.Fatalf("%d points, want %d (stops and one bend per leg)", len(path), 2*len(stops)-1)
	}
	for i, s := range stops {
		if p := path[2*i]; math.Abs(p.Lat-s.Lat) > 1e-5 || math.Abs(p.Lon-s.Lon) > 1e-5 {
			t.Errorf("point %d = %s, want stop %s", 2*i, p, s)
		}
	}
	_, err = OSRM{BaseURL: srv.URL + "/nope", Client: srv.Client()}.Path(context.Background(), stops[:3])
	if err == nil || !strings.Contains(err.Error(), "InvalidUrl") {
		t.Errorf("error answer: %v", err)
	}
}

// FuzzParseOSRMRoute: any answer is either refused with an error or gives a line of at least two
// valid points.
func FuzzParseOSRMRoute(f *testing.F) {
	f.Add([]byte(`{"code":"Ok","routes":[{"geometry":{"type":"LineString","coordinates":[[-1.1,52.6],[-1.2,52.7]]}}]}`))
	f.Add([]byte(`{"code":"NoRoute","message":"Impossible route between points"}`))
	f.Add([]byte(`{"code":"Ok","routes":[]}`))
	f.Add([]byte(`{"code":"Ok","routes":[{"geometry":{"coordinates":[[500,52.6],[-1.2,52.7]]}}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		pts, err := parseOSRMRoute(body, 200)
		if err != nil {
			return
		}
		if len(pts) < 2 {
			t.Fatalf("%d points accepted", len(pts))
		}
		for _, p := range pts {
			if !p.Valid() {
				t.Fatalf("invalid point %s accepted", p)
			}
		}
	})
}
