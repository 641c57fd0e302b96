package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/internal/syncbuffer"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/server"
)

// Sizes of the large roster and directory of BenchmarkStoredAssessmentRoster.
const (
	rosterPractitioners = 10000
	rosterServices      = 50000
)

// BenchmarkStoredAssessmentRoster measures a stored, booked POST of the demo mental-health
// assessment through the whole handler, wired as `carepath serve` wires it (reference data in
// memory), with the demo roster and directory ("demo") and with 10,000 more practitioners and
// 50,000 more services ("large"), so that the two show how a decision's cost grows with the size
// of a council; "paired" alternates the two in one loop, so that the drift of a shared machine
// falls on both alike, and reports large/demo. The extra staff and services are synthetic and
// illustrative: they work for other services and serve other areas or pathways, so both make the
// same decision, and every POST must book a demo practitioner. Run with -benchtime 300x so the
// demo routes do not fill.
func BenchmarkStoredAssessmentRoster(b *testing.B) {
	body, err := os.ReadFile("../fixtures/examples/mental-health.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			// Both servers are built first and serve all three variants.
			type target struct{ url, tok string }
			var demo, large target
			demo.url, demo.tok = rosterServer(b, dialect, 0, 0)
			large.url, large.tok = rosterServer(b, dialect, rosterPractitioners, rosterServices)
			// The first decisions, outside the timing, load the caches; the extra staff and
			// services must not change them.
			if d, l := postBooked(b, demo.url, demo.tok, body), postBooked(b, large.url, large.tok, body); d != l {
				b.Fatalf("the large roster changed the decision: %q, want %q", l, d)
			}
			for _, size := range []struct {
				name string
				t    target
			}{{"demo", demo}, {"large", large}} {
				b.Run(size.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						postBooked(b, size.t.url, size.t.tok, body)
					}
				})
			}
			b.Run("paired", func(b *testing.B) {
				d, l := demo, large
				var tDemo, tLarge time.Duration
				b.ReportAllocs()
				for b.Loop() {
					t0 := time.Now()
					postBooked(b, d.url, d.tok, body)
					t1 := time.Now()
					postBooked(b, l.url, l.tok, body)
					tDemo += t1.Sub(t0)
					tLarge += time.Since(t1)
				}
				b.ReportMetric(float64(tDemo.Nanoseconds())/float64(b.N), "demo-ns/op")
				b.ReportMetric(float64(tLarge.Nanoseconds())/float64(b.N), "large-ns/op")
				b.ReportMetric(float64(tLarge)/float64(tDemo), "large/demo")
			})
		})
	}
}

// demoPractitioner holds the ids of the demo roster.
var demoPractitioner = func() map[string]bool {
	ps, err := fixtures.Practitioners()
	if err != nil {
		panic(err)
	}
	ids := make(map[string]bool, len(ps))
	for _, p := range ps {
		ids[p.ID] = true
	}
	return ids
}()

// postBooked posts the assessment and returns its booked practitioner and start; it fails
// unless a practitioner of the demo roster was booked.
func postBooked(b *testing.B, url, tok string, body []byte) string {
	got := postAssessment(b, url, tok, body)
	if id, _, _ := strings.Cut(got, " "); !demoPractitioner[id] {
		b.Fatalf("the assessment was not booked with a demo practitioner: %q", got)
	}
	return got
}

// postAssessment posts the demo assessment and returns its booked practitioner and start.
func postAssessment(b *testing.B, url, tok string, assessment []byte) string {
	req, err := http.NewRequest(http.MethodPost, url+"/v1/assessments", bytes.NewReader(assessment))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("status %d: %s", resp.StatusCode, body.String())
	}
	s := body.String()
	pick := func(key string) string {
		i := strings.Index(s, `"`+key+`":"`)
		if i < 0 {
			return ""
		}
		rest := s[i+len(key)+4:]
		return rest[:strings.IndexByte(rest, '"')]
	}
	return pick("practitioner_id") + " " + pick("start")
}

// rosterServer starts a server over a fresh database with the demo data plus extraP
// practitioners and extraS services, and returns its URL and a clinician's token.
func rosterServer(b *testing.B, dialect database.Dialect, extraP, extraS int) (string, string) {
	b.Helper()
	ctx := context.Background()
	dsn := databasetest.DSN(b, dialect)
	db, err := database.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	e := startEnv(b, db)
	if extraS > 0 {
		if _, err := directory.NewSQLStore(db).PutServices(ctx, syntheticServices(extraS), func(string) bool { return true }, testNow()); err != nil {
			b.Fatal(err)
		}
	}
	if extraP > 0 {
		if _, err := routing.NewSQLStore(db).PutPractitioners(ctx, syntheticPractitioners(extraP, extraS), testNow()); err != nil {
			b.Fatal(err)
		}
	}
	tok := e.user(b, "carol", "central", "", identity.Clinician)
	engine, _ := referenceEngine(b, db, dsn, testNow, 1, true)
	s := &server.Server{
		Engine: engine, Forms: engine.Store, Rules: e.api.Rules, DB: db,
		Logger: slog.New(slog.NewTextHandler(&syncbuffer.Buffer{}, nil)), Ping: db.PingContext,
		Auth: e.api.Auth, Audit: &audit.Log{DB: db}, Privacy: testPseudonyms, Location: london,
	}
	srv := httptest.NewServer(s.Handler())
	b.Cleanup(srv.Close)
	return srv.URL, tok
}

// syntheticServices are n illustrative services spread over England, each for one of a dozen
// pathways of their own or, one in twelve, a demo pathway in an area away from the demo borough.
func syntheticServices(n int) []directory.Service {
	rng := rand.New(rand.NewPCG(13, 14))
	demo := []string{"talking-therapies-step2", "talking-therapies-step3", "adult-mental-health-team", "crisis-home-treatment"}
	out := make([]directory.Service, n)
	for i := range out {
		id := fmt.Sprintf("svc-gen-%06d", i)
		lat, lon := 50.5+rng.Float64()*4, -3.5+rng.Float64()*4
		for lat > 52.5 && lat < 53.4 && lon > -1.7 && lon < -0.6 {
			lat, lon = 50.5+rng.Float64()*4, -3.5+rng.Float64()*4
		}
		d := 0.03 + rng.Float64()*0.05
		pathway := fmt.Sprintf("generated-%02d", i%12)
		if i%12 == 0 {
			pathway = demo[(i/12)%len(demo)]
		}
		la, lo := lat, lon
		out[i] = directory.Service{
			ID: id, Name: "Synthetic service " + id, Status: "active",
			ServiceAtLocations: []directory.ServiceAtLocation{{ID: id + "-sal", LocationID: id + "-loc",
				Location: &directory.Location{ID: id + "-loc", Latitude: &la, Longitude: &lo}}},
			ServiceAreas: []directory.ServiceArea{{ID: id + "-area", Name: "Area " + id, ExtentType: "geojson",
				Extent: fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f]]]}`,
					lon-d, lat-d, lon+d, lat-d, lon+d, lat+d, lon-d, lat+d, lon-d, lat-d)}},
			Attributes: []directory.Attribute{{ID: id + "-" + pathway, TaxonomyTerm: &directory.TaxonomyTerm{
				ID: "term-" + pathway, Code: pathway, Name: pathway, Taxonomy: directory.PathwayTaxonomy}}},
		}
	}
	return out
}

// syntheticPractitioners are n illustrative practitioners spread over England, each working for
// two or three of the first services synthetic services (none of the demo services), weekdays.
func syntheticPractitioners(n, services int) []routing.Practitioner {
	rng := rand.New(rand.NewPCG(15, 16))
	skills := []string{"psychological_wellbeing_practitioner", "cbt_therapist", "mental_health_nurse", "crisis_practitioner", "social_worker", "occupational_therapist"}
	out := make([]routing.Practitioner, n)
	for i := range out {
		p := routing.Practitioner{ID: fmt.Sprintf("gen-%05d", i), Name: fmt.Sprintf("Synthetic %05d", i),
			Base: routing.Point{Lat: 50.5 + rng.Float64()*4, Lon: -3.5 + rng.Float64()*4}, MaxVisitsPerDay: 6}
		p.Skills = []string{skills[rng.IntN(len(skills))]}
		for range 2 + rng.IntN(2) {
			p.ServiceIDs = append(p.ServiceIDs, fmt.Sprintf("svc-gen-%06d", rng.IntN(max(services, 1))))
		}
		for d := time.Monday; d <= time.Friday; d++ {
			p.WorkingHours = append(p.WorkingHours, routing.Shift{Day: d, StartMinute: 9 * 60, EndMinute: 17 * 60})
		}
		out[i] = p
	}
	return out
}
