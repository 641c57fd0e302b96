package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server"
)

// stored counts what a decision without storing must leave untouched.
func stored(t *testing.T, db *database.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"decisions", "access_audit", "outbox_events"} {
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM `+table); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func TestDecideStoresNothing(t *testing.T) {
	c := newContract(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "ann", "", "", identity.Analyst)
		before := stored(t, db)
		clinician := map[string]string{"Authorization": "Bearer " + e.tokens["carol"]}
		b := c.check(t, e.URL, exchange{method: "POST", path: "/v1/decide", body: assessment, header: clinician, status: http.StatusOK})
		var got struct {
			Pathway, Priority, RespondWithin, Rule string
			Flags                                  []string
			Explanation                            json.RawMessage
			Scores                                 map[string]json.RawMessage
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Pathway != "talking-therapies-step2" || got.Rule != "caseness" || string(got.Scores["phq9_total"]) != "10" ||
			got.Priority == "" || got.Flags == nil || len(got.Explanation) < 3 {
			t.Errorf("decision %s", b)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw["respond_within"]; !ok {
			t.Errorf("no respond_within in %s", b)
		}
		for _, personal := range []string{"subject_ref", "input", "id", "assignment"} {
			if _, ok := raw[personal]; ok {
				t.Errorf("the answer carries %s: %s", personal, b)
			}
		}
		if after := stored(t, db); after["decisions"] != before["decisions"] || after["access_audit"] != before["access_audit"] || after["outbox_events"] != before["outbox_events"] {
			t.Errorf("stored %v, before %v", after, before)
		}

		tests := []struct {
			name   string
			body   string
			header map[string]string
			status int
			field  string
		}{
			{"out of range", strings.Replace(assessment, `"phq9_3":1`, `"phq9_3":4`, 1), clinician, http.StatusUnprocessableEntity, "answers.phq9_3"},
			{"unknown form", strings.Replace(assessment, `"mental-health"`, `"nope"`, 1), clinician, http.StatusUnprocessableEntity, "form"},
			{"malformed", `{"form":`, clinician, http.StatusBadRequest, "body"},
			{"anonymous", assessment, map[string]string{"Authorization": anonymous}, http.StatusUnauthorized, ""},
			{"analyst", assessment, map[string]string{"Authorization": "Bearer " + e.tokens["ann"]}, http.StatusForbidden, ""},
		}
		for _, tt := range tests {
			b := c.check(t, e.URL, exchange{method: "POST", path: "/v1/decide", body: tt.body, header: tt.header, status: tt.status})
			if tt.field == "" {
				continue
			}
			var p server.Problem
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			named := false
			for _, pe := range p.Errors {
				named = named || pe.Field == tt.field && pe.Reason != ""
			}
			if !named {
				t.Errorf("%s: problem %s does not name %s", tt.name, b, tt.field)
			}
		}
		if after := stored(t, db); after["decisions"] != before["decisions"] {
			t.Errorf("refused requests stored decisions: %v, before %v", after, before)
		}
	})
}

func TestDecideRateLimit(t *testing.T) {
	c := newContract(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "dan", "central", "", identity.Clinician)
		e.api.DecideRate, e.api.DecideBurst = 0.01, 2 // refills one token in 100 s: the test never sees one
		srv := httptest.NewServer(e.api.Handler())
		t.Cleanup(srv.Close)
		carol := map[string]string{"Authorization": "Bearer " + e.tokens["carol"]}
		for range 2 {
			c.check(t, srv.URL, exchange{method: "POST", path: "/v1/decide", body: assessment, header: carol, status: http.StatusOK})
		}
		resp, b := do(t, "POST", srv.URL+"/v1/decide", assessment, carol)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("third in the burst: %d %s", resp.StatusCode, b)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 100 {
			t.Errorf("Retry-After %q, want 1 to 100 seconds", resp.Header.Get("Retry-After"))
		}
		var p server.Problem
		if err := json.Unmarshal(b, &p); err != nil || p.Status != http.StatusTooManyRequests || p.Detail == "" {
			t.Errorf("problem %s (%v)", b, err)
		}
		c.check(t, srv.URL, exchange{method: "POST", path: "/v1/decide", body: assessment, header: carol, status: http.StatusTooManyRequests})
		// Each account has its own bucket.
		c.check(t, srv.URL, exchange{method: "POST", path: "/v1/decide", body: assessment,
			header: map[string]string{"Authorization": "Bearer " + e.tokens["dan"]}, status: http.StatusOK})
	})
}

func TestJSONCompactUnlessPretty(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		tests := []struct {
			name     string
			path     string
			header   map[string]string
			indented bool
		}{
			{"default", "/v1/forms", nil, false},
			{"pretty=1", "/v1/forms?pretty=1", nil, true},
			{"pretty=true", "/v1/pathways?pretty=true", nil, true},
			{"pretty=0", "/v1/forms?pretty=0", nil, false},
			{"Accept indent", "/v1/forms", map[string]string{"Accept": "application/json; indent=2"}, true},
			{"Accept in a list", "/v1/forms", map[string]string{"Accept": "text/html, application/json;indent=2;q=0.9"}, true},
			{"Accept plain", "/v1/forms", map[string]string{"Accept": "application/json"}, false},
		}
		for _, tt := range tests {
			resp, b := do(t, "GET", srv.URL+tt.path, "", tt.header)
			if resp.StatusCode != http.StatusOK || !json.Valid(b) {
				t.Fatalf("%s: %d %.200s", tt.name, resp.StatusCode, b)
			}
			if got := bytes.Contains(b, []byte("\n  ")); got != tt.indented {
				t.Errorf("%s: indented %v, want %v: %.200s", tt.name, got, tt.indented, b)
			}
			if bytes.Count(b, []byte("\n")) < 1 || !tt.indented && bytes.Count(b, []byte("\n")) != 1 {
				t.Errorf("%s: %d lines", tt.name, bytes.Count(b, []byte("\n")))
			}
		}
	})
}

func TestAccessLogSample(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.api.AccessLogEvery = 3
		srv := httptest.NewServer(e.api.Handler())
		t.Cleanup(srv.Close)
		lines := func(path string) int {
			n := 0
			for line := range strings.Lines(e.logs.String()) {
				if strings.Contains(line, "msg=request") && strings.Contains(line, "path="+path+" ") {
					n++
				}
			}
			return n
		}
		for range 6 {
			if resp, _ := do(t, "GET", srv.URL+"/healthz", "", nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz %d", resp.StatusCode)
			}
		}
		if n := lines("/healthz"); n != 2 {
			t.Errorf("%d of 6 requests logged, want 2 (one in three)", n)
		}
		for range 2 {
			do(t, "GET", srv.URL+"/v1/nope", "", nil)
		}
		if n := lines("/v1/nope"); n != 2 {
			t.Errorf("%d of 2 errors logged, want every one", n)
		}
		e.api.AccessLogEvery = -1
		srv2 := httptest.NewServer(e.api.Handler())
		t.Cleanup(srv2.Close)
		do(t, "GET", srv2.URL+"/healthz", "", nil)
		do(t, "GET", srv2.URL+"/v1/nope", "", nil)
		if h, n := lines("/healthz"), lines("/v1/nope"); h != 2 || n != 3 {
			t.Errorf("logging none: %d healthz, %d errors logged, want 2 and 3", h, n)
		}
	})
}
