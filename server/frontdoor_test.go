package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/server"
	"github.com/carepath/carepath/triage"
)

// goChain matches what a Go error chain leaks into a message: package prefixes, encoding/json's
// wording, driver errors, line breaks.
var goChain = regexp.MustCompile(`(?i)\b(json|yaml|pq|sql|sqlite|strconv\.\w+|triage|rules|routing|governance|replay|directory|identity|audit|server|config|database):\s|Go struct|Go value|\n`)

// refusal is a request every database must refuse alike, naming the field at fault.
type refusal struct {
	name, method, path, body string
	header                   map[string]string
	status                   int
	field                    string // "" when the problem names no field
}

// checkRefusal sends rf and holds the answer to problem details with the status, the field and
// a detail for a person.
func checkRefusal(t *testing.T, base string, rf refusal) *server.Problem {
	t.Helper()
	resp, b := do(t, rf.method, base+rf.path, rf.body, rf.header)
	if resp.StatusCode != rf.status || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s: %d %s %.300s, want %d problem details", rf.name, resp.StatusCode, resp.Header.Get("Content-Type"), b, rf.status)
		return nil
	}
	var p server.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", rf.name, err)
	}
	if p.Status != rf.status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("%s: incomplete problem %s", rf.name, b)
	}
	if goChain.MatchString(p.Detail) {
		t.Errorf("%s: detail %q reads as a Go error chain, not for a person", rf.name, p.Detail)
	}
	if rf.field != "" {
		found := false
		for _, e := range p.Errors {
			found = found || e.Field == rf.field && e.Reason != ""
		}
		if !found {
			t.Errorf("%s: problem %s does not name %q", rf.name, b, rf.field)
		}
	}
	return &p
}

// TestHostileInputsAreRefusedAlike sends what once reached PostgreSQL and failed there (500)
// while SQLite answered 4xx, and more of the kind: each database must refuse it the same way,
// before storage, naming the field.
func TestHostileInputsAreRefusedAlike(t *testing.T) {
	asJSON := map[string]string{"Content-Type": "application/json"}
	tests := []refusal{
		{"NUL in the subject", "POST", "/v1/assessments", strings.Replace(assessment, `"s-1"`, `"s\u0000-1"`, 1), nil, 422, "subject.ref"},
		{"NUL in the form", "POST", "/v1/assessments", strings.Replace(assessment, `"mental-health"`, `"mental\u0000-health"`, 1), nil, 422, "form"},
		{"NUL in an answer key", "POST", "/v1/assessments", strings.Replace(assessment, `"risk_plan":false`, `"risk_plan":false,"x\u0000":1`, 1), nil, 422, "answers.x\x00"},
		{"Idempotency-Key not UTF-8", "POST", "/v1/assessments", assessment, map[string]string{"Idempotency-Key": "k\xff\xfe"}, 422, "Idempotency-Key"},
		{"Idempotency-Key with a space", "POST", "/v1/assessments", assessment, map[string]string{"Idempotency-Key": "a b"}, 422, "Idempotency-Key"},
		{"Idempotency-Key too long", "POST", "/v1/assessments", assessment, map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, 422, "Idempotency-Key"},
		{"form_version out of range", "POST", "/v1/assessments", strings.Replace(assessment, `"form":"mental-health"`, `"form":"mental-health","form_version":99999999999999`, 1), nil, 422, "form_version"},
		{"answer given twice", "POST", "/v1/assessments", strings.Replace(assessment, `"risk_plan":false`, `"risk_plan":true,"risk_plan":false`, 1), nil, 422, "answers.risk_plan"},
		{"field in capitals", "POST", "/v1/assessments", strings.Replace(assessment, `"form"`, `"FORM"`, 1), nil, 422, "FORM"},
		{"body not JSON", "POST", "/v1/assessments", assessment, map[string]string{"Content-Type": "text/plain"}, 415, "Content-Type"},
		{"form encoded", "POST", "/v1/assessments", assessment, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type"},
		{"JSON not in UTF-8", "POST", "/v1/assessments", assessment, map[string]string{"Content-Type": "application/json; charset=iso-8859-1"}, 415, "Content-Type"},
		{"date in year 0, day", "GET", "/v1/practitioners/pwp-01/day?date=0000-01-01", "", nil, 422, "date"},
		{"date in year 0, visits", "GET", "/v1/routing/visits?date=0000-01-01", "", nil, 422, "date"},
		{"date in year 0, optimise", "POST", "/v1/routing/optimise?date=0000-01-01", "", nil, 422, "date"},
		{"date before 1900", "GET", "/v1/routing/visits?date=1899-12-31", "", nil, 422, "date"},
		{"impact over a billion days", "GET", "/v1/rulesets/mh-triage/versions/2/impact?days=1000000000", "", nil, 422, "days"},
		{"impact of no days", "GET", "/v1/rulesets/mh-triage/versions/2/impact?days=0", "", nil, 422, "days"},
		{"impact of days not a number", "GET", "/v1/rulesets/mh-triage/versions/2/impact?days=many", "", nil, 422, "days"},
		{"approval over a billion days", "POST", "/v1/rulesets/mh-triage/versions/2/approve", `{"comment":"ok","impact_days":1000000000}`, asJSON, 422, "impact_days"},
		{"approval body wrongly typed", "POST", "/v1/rulesets/mh-triage/versions/2/approve", `{"comment":"ok","impact_days":"x"}`, asJSON, 422, "impact_days"},
		{"approval body with an unknown field", "POST", "/v1/rulesets/mh-triage/versions/2/approve", `{"comment":"ok","colour":"x"}`, asJSON, 422, "colour"},
		{"approval comment twice", "POST", "/v1/rulesets/mh-triage/versions/2/approve", `{"comment":"ok","comment":"no"}`, asJSON, 422, "comment"},
		{"activation in year 1", "POST", "/v1/rulesets/mh-triage/versions/2/activate", `{"effective_from":"0001-01-01T00:00:00Z"}`, asJSON, 422, "effective_from"},
		{"version out of range", "GET", "/v1/rulesets/mh-triage/versions/99999999999/impact", "", nil, 422, "version"},
		{"form version out of range", "GET", "/v1/forms/mental-health?version=99999999999", "", nil, 422, "version"},
		{"diff to a version out of range", "GET", "/v1/rulesets/mh-triage/diff?from=1&to=99999999999", "", nil, 422, "to"},
		{"shadow of a version out of range", "POST", "/v1/rulesets/mh-triage/shadow", `{"version":99999999999}`, asJSON, 422, "version"},
		{"rule set with NUL", "POST", "/v1/rulesets", "id: x\x00\n", map[string]string{"Content-Type": "application/yaml"}, 422, "body"},
		{"NUL in a path", "GET", "/v1/assessments/a%00b", "", nil, 422, "path"},
		{"bytes not UTF-8 in a path", "GET", "/v1/assessments/a%ffb", "", nil, 422, "path"},
		{"NUL in a query", "GET", "/v1/services?search=%00", "", nil, 422, "search"},
		{"malformed query", "GET", "/v1/services?search=%zz", "", nil, 400, "query"},
		{"page out of range", "GET", "/v1/services?page=99999999999999999", "", nil, 422, "page"},
		{"age out of range", "GET", "/v1/services?minimum_age=999", "", nil, 422, "minimum_age"},
		{"proximity out of range", "GET", "/v1/services?postcode=ZX1%201AA&proximity=1e308", "", nil, 422, "proximity"},
		{"move to year 1", "POST", "/v1/appointments/nope/move", `{"start":"0001-01-01T09:00:00Z"}`, asJSON, 422, "start"},
		{"move body wrongly typed", "POST", "/v1/appointments/nope/move", `{"start":1}`, asJSON, 422, "start"},
		{"roster with a field twice", "POST", "/v1/practitioners", `[{"id":"a","id":"b"}]`, asJSON, 422, "[0].id"},
		{"roster wrongly cased", "POST", "/v1/practitioners", `[{"ID":"a"}]`, asJSON, 422, "[0].ID"},
		{"no such route", "GET", "/v1/nope", "", nil, 404, ""},
		{"no such route, anonymously", "GET", "/nope", "", map[string]string{"Authorization": anonymous}, 404, ""},
		{"wrong method", "DELETE", "/v1/forms", "", nil, 405, ""},
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		for _, rf := range tests {
			checkRefusal(t, e.URL, rf)
		}
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil || n != 0 {
			t.Errorf("%d decisions stored after refused input (%v)", n, err)
		}
		if err := db.Get(&n, `SELECT COUNT(*) FROM rulesets WHERE id = 'x'`); err != nil || n != 0 {
			t.Errorf("%d rule sets stored after refused input (%v)", n, err)
		}
		if !strings.Contains(e.logs.String(), "level=ERROR") {
			return
		}
		t.Errorf("refusals were logged as server errors:\n%s", e.logs.String())
	})
}

// TestUnmatchedRoutesAnswerProblems: the router's own 404 and 405 are problem details, the 405
// with the methods the path answers.
func TestUnmatchedRoutesAnswerProblems(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		resp, b := do(t, "DELETE", srv.URL+"/v1/forms", "", nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(string(b), `"detail":"/v1/forms answers GET, HEAD, not DELETE"`) {
			t.Errorf("405: %d Allow %q %s %s", resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), b)
		}
		resp, b = do(t, "GET", srv.URL+"/v1/nope", "", nil)
		if resp.StatusCode != 404 || !strings.Contains(string(b), `"detail":"no route answers GET /v1/nope; the routes are listed in the OpenAPI document at /v1/openapi.json"`) {
			t.Errorf("404: %d %s", resp.StatusCode, b)
		}
		// A route's own answers pass through untouched: a redirect, and a 404 of a record.
		resp, _ = do(t, "GET", srv.URL+"/v1/assessments/nope", "", nil)
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("missing record: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// TestJSONBodiesAccepted: the media types a JSON route takes, including none at all (clients
// written before the check).
func TestJSONBodiesAccepted(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		for i, ct := range []string{"", "application/json", "application/json; charset=utf-8", "application/JSON; charset=UTF-8", "application/vnd.carepath+json"} {
			body := strings.Replace(assessment, `"s-1"`, `"s-ct-`+string(rune('a'+i))+`"`, 1)
			h := map[string]string{}
			if ct != "" {
				h["Content-Type"] = ct
			}
			if resp, b := do(t, "POST", srv.URL+"/v1/assessments", body, h); resp.StatusCode != http.StatusCreated {
				t.Errorf("Content-Type %q: %d %s", ct, resp.StatusCode, b)
			}
		}
	})
}

// TestOptimiseInfeasibleDayIsAConflict: a day whose booked visits no longer fit the roster (here
// every practitioner's working hours moved to another weekday) is a state for a coordinator to
// resolve, answered 409, never a 500.
func TestOptimiseInfeasibleDayIsAConflict(t *testing.T) {
	roster, err := os.ReadFile(filepath.Join("..", "fixtures", "directory", "practitioners.json"))
	if err != nil {
		t.Fatal(err)
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		located := strings.Replace(assessment, `"ref":"s-1","age":34`, `"ref":"s-9","age":34,"location":{"lat":52.95,"lon":-1.15}`, 1)
		_, b := do(t, "POST", e.URL+"/v1/assessments", located, nil)
		var d triage.Decision
		if err := json.Unmarshal(b, &d); err != nil || d.Assignment == nil {
			t.Fatalf("no booked visit (%v): %.300s", err, b)
		}
		start := d.Assignment.Appointment.Start
		var ps []map[string]any
		if err := json.Unmarshal(roster, &ps); err != nil {
			t.Fatal(err)
		}
		other := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[(start.UTC().Weekday()+3)%7]
		for _, p := range ps {
			p["working_hours"] = []map[string]string{{"day": other, "start": "09:00", "end": "17:00"}}
		}
		moved, _ := json.Marshal(ps)
		if resp, b := do(t, "POST", e.URL+"/v1/practitioners", string(moved), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("roster: %d %s", resp.StatusCode, b)
		}
		date := start.In(time.UTC).Format(time.DateOnly)
		p := checkRefusal(t, e.URL, refusal{"infeasible day", "POST", "/v1/routing/optimise?date=" + date, "", nil, http.StatusConflict, ""})
		if p != nil && !strings.Contains(p.Detail, "no practitioner on the roster meets") {
			t.Errorf("detail %q", p.Detail)
		}
	})
}

// TestSigninWithUnstorableUsername: a username PostgreSQL cannot look up is simply not a user,
// answered as any wrong username is, on both databases.
func TestSigninWithUnstorableUsername(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		resp, _ := do(t, "GET", e.URL+"/signin", "", map[string]string{"Authorization": anonymous})
		var token string
		for _, c := range resp.Cookies() {
			if c.Name == "carepath_signin" {
				token = c.Value
			}
		}
		for _, username := range []string{"a\x00b", "a\xffb"} {
			form := url.Values{"username": {username}, "password": {"correct horse battery"}, "csrf_token": {token}}
			req, err := http.NewRequest("POST", e.URL+"/signin", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "carepath_signin", Value: token})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("username %q: %d, want 401", username, resp.StatusCode)
			}
		}
	})
}
