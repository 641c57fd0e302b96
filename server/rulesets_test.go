package server_test

import (
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/identity"
)

func TestRuleSetGovernanceAPI(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		srv := e.Server
		e.user(t, "alice", "", "", identity.PolicyOfficer)
		e.user(t, "bob", "", "", identity.PolicyOfficer)
		src, err := fs.ReadFile(fixtures.FS(), "rulesets/mh-triage.v2.yaml")
		if err != nil {
			t.Fatal(err)
		}
		alice, bob := e.bearer("alice"), e.bearer("bob")
		nobody := map[string]string{"Authorization": anonymous}
		steps := []struct {
			method, path, body string
			header             map[string]string
			status             int
			contains           string
		}{
			{"POST", "/v1/rulesets", string(src), nobody, http.StatusUnauthorized, "sign in"},
			// The demo ships mh-triage versions 1 to 3, so a new draft takes version 4.
			{"POST", "/v1/rulesets", string(src), alice, http.StatusCreated, `"version":4`},
			{"GET", "/v1/rulesets/mh-triage/versions/4?format=yaml", "", nil, http.StatusOK, "version: 4"},
			{"POST", "/v1/rulesets/mh-triage/versions/4/submit", "", alice, http.StatusOK, `"in_review"`},
			{"POST", "/v1/rulesets/mh-triage/versions/4/approve", `{"comment": "mine"}`, alice, http.StatusForbidden, "cannot approve"},
			{"POST", "/v1/rulesets/mh-triage/versions/4/approve", `{"comment": "checked"}`, bob, http.StatusOK, `"approved"`},
			{"PUT", "/v1/rulesets/mh-triage/versions/4", string(src), alice, http.StatusConflict, "only drafts change"},
			{"GET", "/v1/rulesets/mh-triage/diff?from=1&to=4", "", nil, http.StatusOK, `"params.phq9_caseness"`},
			{"GET", "/v1/rulesets/mh-triage/versions/4/tests", "", nil, http.StatusOK, `"passed":true`},
			{"POST", "/v1/rulesets/mh-triage/shadow", `{"version": 4}`, bob, http.StatusCreated, `"version":4`},
			{"DELETE", "/v1/rulesets/mh-triage/shadow", "", bob, http.StatusOK, `"stopped_by":"`},
			{"POST", "/v1/rulesets/mh-triage/versions/4/activate", `{"reason": "go"}`, bob, http.StatusOK, `"active"`},
			{"GET", "/v1/rulesets/mh-triage/history", "", nil, http.StatusOK, `"actor_name":"bob (test)"`},
		}
		for _, s := range steps {
			resp, body := do(t, s.method, srv.URL+s.path, s.body, s.header)
			if resp.StatusCode != s.status || !strings.Contains(string(body), s.contains) {
				t.Fatalf("%s %s: %d %s, want %d containing %q", s.method, s.path, resp.StatusCode, body, s.status, s.contains)
			}
		}
	})
}
