package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/internal/syncbuffer"
	"github.com/carepath/carepath/refdata"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/server"
	"github.com/carepath/carepath/triage"
)

const assessment = `{"form":"mental-health","subject":{"ref":"s-1","age":34},
 "answers":{"phq9_1":2,"phq9_2":1,"phq9_3":1,"phq9_4":2,"phq9_5":1,"phq9_6":1,"phq9_7":1,"phq9_8":1,"phq9_9":0,
 "gad7_1":1,"gad7_2":1,"gad7_3":1,"gad7_4":0,"gad7_5":0,"gad7_6":1,"gad7_7":1,
 "risk_plan":false,"risk_intent":false,"previous_high_intensity_treatment":false,"under_secondary_care":false},
 "authored":"2026-11-20T10:15:00Z"}`

// testNow is the clock of the server tests.
// london is the demo council's time zone, in which pages show dates and times.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

func testNow() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }

// env is a server under test with its database and a signed-in identity per role.
type env struct {
	*httptest.Server
	api    *server.Server
	db     *database.DB
	ids    *identity.SQLStore
	tokens map[string]string // username → API token
	logs   *syncbuffer.Buffer
	// refs tells the server's reference caches when the reference data changed.
	refs *refdata.Watcher
}

// tokenOf maps a test server's URL to the token do sends when a request names none: a user with
// every role, in team central, so the tests of other concerns run as before.
var tokenOf = map[string]string{}

func start(t testing.TB, db *database.DB) *httptest.Server {
	t.Helper()
	return startEnv(t, db).Server
}

func startEnv(t testing.TB, db *database.DB) *env {
	t.Helper()
	ctx := context.Background()
	// Reference data is cached as `carepath serve` caches it, keyed by the reference marker. The
	// watcher is not running unless asServed starts it, so each check reads the marker itself and a
	// change a test makes is in force for its next request, as it is on every replica within the bound.
	refs := &refdata.Watcher{DB: db}
	rs := rules.NewSQLStore(db)
	forms, cached, placement := referenceStores(db, rs, refs.Generation)
	if _, err := fixtures.Load(ctx, forms, rs, testNow()); err != nil {
		t.Fatal(err)
	}
	ids := identity.NewSQLStore(db)
	for _, team := range []string{"central", "south"} {
		if _, err := ids.AddTeam(ctx, team, team+" team", testNow()); err != nil {
			t.Fatal(err)
		}
	}
	var n atomic.Int64
	logs := &syncbuffer.Buffer{}
	s := &server.Server{
		Engine: &triage.Engine{Store: forms, Rules: rules.NewRegistry(cached), Now: testNow, NewID: func() string { return fmt.Sprintf("d%d", n.Add(1)) },
			Placement: placement},
		Forms: forms, Rules: rs, DB: db, Logger: slog.New(slog.NewTextHandler(logs, nil)), Ping: db.PingContext,
		Auth: identity.NewAuthenticator(ids, testNow), Audit: &audit.Log{DB: db}, Privacy: testPseudonyms,
		Location: london,
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e := &env{Server: srv, api: s, db: db, ids: ids, tokens: map[string]string{}, logs: logs, refs: refs}
	e.user(t, "everyone", "central", "", identity.Roles...)
	tokenOf[srv.URL] = e.tokens["everyone"]
	t.Cleanup(func() { delete(tokenOf, srv.URL) })
	return e
}

// referenceStores are the stores `carepath serve` gives its engine over db: forms, rule sets and
// their activations, pathways, the directory and the roster, each kept in memory until gen moves;
// with gen nil every decision reads them all.
func referenceStores(db *database.DB, rs *rules.SQLStore, gen rules.Generation) (*triage.SQLStore, *rules.CachedStore, *triage.Placement) {
	forms := triage.NewSQLStore(db)
	forms.Generation = gen
	cached := rules.NewCachedStore(rs, gen)
	placement := triage.NewPlacement(db, cached, "")
	placement.Directory.Generation = gen
	placement.Routes.Generation = gen
	return forms, cached, placement
}

// asServed runs the server as `carepath serve` runs it from here on: the reference watcher polls
// in the background, so that a decision reads no reference data while it stands still, shadow runs
// are observed, and stored decisions take the same slots. Benchmarks use it to measure what serve
// does; a change to reference data is then in force within the watcher's bound, not at once.
func (e *env) asServed(tb testing.TB) {
	tb.Helper()
	shadow := governance.NewShadow(e.db, e.api.Engine.Rules, testNow, nil, 1024)
	shadow.Generation = e.refs.Generation
	runAsServed(tb, e.refs, shadow)
	e.api.Engine.Observers = append(e.api.Engine.Observers, shadow)
	e.api.Engine.Slots = make(chan struct{}, database.PostgresConns)
}

// runAsServed runs the reference watcher and the shadow worker beside the server until the test
// ends, as serve runs them, and returns once the marker is held in memory.
func runAsServed(tb testing.TB, refs *refdata.Watcher, shadow *governance.Shadow) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { refs.Run(ctx); done <- struct{}{} }()
	go func() { shadow.Run(ctx); done <- struct{}{} }()
	tb.Cleanup(func() { cancel(); <-done; <-done })
	// Until the first poll is in, a check reads the marker itself; from then on, none does.
	for {
		reads := refs.Reads()
		if _, err := refs.Generation(ctx); err != nil {
			tb.Fatal(err)
		}
		if refs.Reads() == reads {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// user adds an account with roles in team (none when empty), with an API token and the password
// "correct horse battery", and returns its token.
func (e *env) user(t testing.TB, username, team, practitioner string, roles ...identity.Role) string {
	t.Helper()
	var teams []string
	if team != "" {
		teams = []string{team}
	}
	if _, err := e.ids.AddUser(context.Background(), identity.NewUser{Username: username, Name: username + " (test)", Roles: roles,
		Teams: teams, Practitioner: practitioner, Password: "correct horse battery"}, testNow()); err != nil {
		t.Fatal(err)
	}
	secret, _, err := e.ids.CreateToken(context.Background(), username, "test", testNow().Add(24*time.Hour), testNow())
	if err != nil {
		t.Fatal(err)
	}
	e.tokens[username] = secret
	return secret
}

// bearer is the header map that authenticates as username.
func (e *env) bearer(username string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + e.tokens[username]}
}

// anonymous marks a request sent without credentials.
const anonymous = "-"

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if v != anonymous {
			req.Header.Set(k, v)
		}
	}
	if _, ok := header["Authorization"]; !ok {
		for base, token := range tokenOf {
			if strings.HasPrefix(url, base+"/") {
				req.Header.Set("Authorization", "Bearer "+token)
			}
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestAssessmentsAPI(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		resp, b := do(t, "POST", srv.URL+"/v1/assessments", assessment, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		var d triage.Decision
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if d.Outcome.Pathway != "talking-therapies-step2" || d.Scores["phq9_total"].I != 10 || d.Rule != "caseness" {
			t.Errorf("decision %s", b)
		}
		if loc := resp.Header.Get("Location"); loc != "/v1/assessments/"+d.ID {
			t.Errorf("Location %q", loc)
		}
		resp, got := do(t, "GET", srv.URL+"/v1/assessments/"+d.ID, "", nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, b) {
			t.Errorf("GET %d: differs from POST:\n%s\n%s", resp.StatusCode, got, b)
		}
		resp, _ = do(t, "GET", srv.URL+"/v1/assessments/nope", "", nil)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("missing decision: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

func TestAssessmentsAPIRefusesBadInput(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		tests := []struct {
			name   string
			body   string
			status int
			field  string
		}{
			{"malformed", `{"form":`, http.StatusBadRequest, "body"},
			{"out of range", strings.Replace(assessment, `"phq9_3":1`, `"phq9_3":4`, 1), http.StatusUnprocessableEntity, "answers.phq9_3"},
			{"wrong type", strings.Replace(assessment, `"risk_plan":false`, `"risk_plan":"no"`, 1), http.StatusUnprocessableEntity, "answers.risk_plan"},
			{"unknown form", strings.Replace(assessment, `"mental-health"`, `"nope"`, 1), http.StatusUnprocessableEntity, "form"},
			{"too large", `{"form":"` + strings.Repeat("x", triage.MaxSubmissionBytes) + `"}`, http.StatusRequestEntityTooLarge, "body"},
		}
		for _, tt := range tests {
			resp, b := do(t, "POST", srv.URL+"/v1/assessments", tt.body, nil)
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %d %s, want %d problem+json", tt.name, resp.StatusCode, resp.Header.Get("Content-Type"), tt.status)
				continue
			}
			var p server.Problem
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range p.Errors {
				found = found || e.Field == tt.field && e.Reason != ""
			}
			if !found || p.Status != tt.status || p.Type == "" || p.Title == "" {
				t.Errorf("%s: problem %s does not name %s", tt.name, b, tt.field)
			}
		}
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil || n != 0 {
			t.Errorf("%d decisions stored after refused input (%v)", n, err)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		h := map[string]string{"Idempotency-Key": "k-1"}
		r1, b1 := do(t, "POST", srv.URL+"/v1/assessments", assessment, h)
		r2, b2 := do(t, "POST", srv.URL+"/v1/assessments", assessment, h)
		if r1.StatusCode != http.StatusCreated || r2.StatusCode != http.StatusOK || r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("statuses %d, %d", r1.StatusCode, r2.StatusCode)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("retry returned another decision:\n%s\n%s", b1, b2)
		}
		r3, _ := do(t, "POST", srv.URL+"/v1/assessments", strings.Replace(assessment, `"s-1"`, `"s-2"`, 1), h)
		if r3.StatusCode != http.StatusConflict {
			t.Errorf("same key, other body: %d", r3.StatusCode)
		}
	})
}

func TestReadEndpoints(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		for _, tt := range []struct {
			path, contentType, contains string
		}{
			{"/v1/forms", "application/json", `"id": "mental-health"`},
			{"/v1/forms/discharge", "application/json", `"barthel_total"`},
			{"/v1/forms/mental-health?version=1", "application/json", `"phq9_9"`},
			{"/v1/forms/mental-health/questionnaire", "application/fhir+json", `"resourceType":"Questionnaire"`},
			{"/v1/pathways", "application/json", `"crisis-home-treatment"`},
			{"/v1/rulesets", "application/json", `"mh-triage"`},
			{"/healthz", "application/json", `"ok"`},
		} {
			resp, b := do(t, "GET", srv.URL+tt.path, "", nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("%s: %d %s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !bytes.Contains(bytes.ReplaceAll(b, []byte(`": "`), []byte(`":"`)), []byte(strings.ReplaceAll(tt.contains, `": "`, `":"`))) {
				t.Errorf("%s: body lacks %s: %.300s", tt.path, tt.contains, b)
			}
		}
		_, b := do(t, "GET", srv.URL+"/v1/rulesets", "", nil)
		var list struct {
			RuleSets []struct {
				ID      string `json:"id"`
				Version int    `json:"version"`
				Active  bool   `json:"active"`
			} `json:"rulesets"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		active := map[string]bool{}
		for _, r := range list.RuleSets {
			active[fmt.Sprintf("%s v%d", r.ID, r.Version)] = r.Active
		}
		// In force now: the demo's revised versions, not version 1 or the stored-only mh-triage v2.
		if active["mh-triage v1"] || active["mh-triage v2"] || !active["mh-triage v3"] || active["discharge-pathways v1"] || !active["discharge-pathways v2"] {
			t.Errorf("active flags %v", active)
		}
		for _, path := range []string{"/v1/forms/nope", "/v1/forms/mental-health?version=x"} {
			if resp, _ := do(t, "GET", srv.URL+path, "", nil); resp.StatusCode/100 != 4 {
				t.Errorf("%s: %d", path, resp.StatusCode)
			}
		}
	})
}

func TestIncludeRejectedServices(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		var plain, full triage.Decision
		_, b := do(t, "POST", srv.URL+"/v1/assessments", assessment, nil)
		if err := json.Unmarshal(b, &plain); err != nil {
			t.Fatal(err)
		}
		located := strings.Replace(assessment, `"ref":"s-1","age":34`, `"ref":"s-9","age":34,"location":{"lat":52.95,"lon":-1.15}`, 1)
		resp, b := do(t, "POST", srv.URL+"/v1/assessments?include_rejected=true", located, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, &full); err != nil {
			t.Fatal(err)
		}
		if len(plain.RejectedServices) != 0 || len(full.RejectedServices) == 0 {
			t.Errorf("rejected services: %d without asking, %d when asked", len(plain.RejectedServices), len(full.RejectedServices))
		}
		for _, r := range full.RejectedServices {
			if r.Reason == "" {
				t.Errorf("rejection without a reason code: %+v", r)
			}
		}
		if resp, _ := do(t, "POST", srv.URL+"/v1/assessments?include_rejected=maybe", assessment, nil); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("bad include_rejected: %d", resp.StatusCode)
		}
	})
}

func TestMetrics(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		do(t, "POST", srv.URL+"/v1/assessments", assessment, nil)
		do(t, "GET", srv.URL+"/v1/assessments/nope", "", nil)
		resp, b := do(t, "GET", srv.URL+"/metrics", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		for _, want := range []string{
			`carepath_decisions_total{booked="false",form="mental-health",pathway="talking-therapies-step2",priority="routine"} 1`,
			`carepath_http_requests_total{route="POST /v1/assessments",status="201"} 1`,
			`carepath_http_requests_total{route="GET /v1/assessments/{id}",status="404"} 1`,
			`carepath_http_request_duration_seconds_count{route="POST /v1/assessments"} 1`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}
