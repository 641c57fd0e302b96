package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/privacy"
)

// testPseudonyms names cases in the impact previews and shadow reports of the server tests.
var testPseudonyms = func() *privacy.Pseudonymiser {
	p, err := privacy.New([]byte("server tests: a fixed 32-byte pseudonym key"))
	if err != nil {
		panic(err)
	}
	return p
}()

// TestImpactPreviewIsPseudonymised: an analyst's impact preview names the moved case by its
// pseudonym, never by decision id or subject, and a server without a pseudonym key refuses it.
func TestImpactPreviewIsPseudonymised(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "ana", "", "", identity.Analyst)
		// PHQ-9 total 9: watchful waiting under v3 (in force, caseness 10 as in v1), step 2 under v2.
		nine := strings.Replace(strings.Replace(assessment, `"phq9_1":2`, `"phq9_1":1`, 1),
			`"subject":{"ref":"s-1","age":34}`, `"subject":{"ref":"sarah-ashworth-77","birth_date":"1980-02-03","postcode":"NG7 2RD"}`, 1)
		resp, b := do(t, "POST", e.URL+"/v1/assessments", nine, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		var d struct{ ID string }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		resp, b = do(t, "GET", e.URL+"/v1/rulesets/mh-triage/versions/2/impact?days=30", "", e.bearer("ana"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("impact: %d %s", resp.StatusCode, b)
		}
		var imp struct {
			Changed int
			Flows   []struct{ Examples []string }
		}
		if err := json.Unmarshal(b, &imp); err != nil {
			t.Fatal(err)
		}
		if imp.Changed != 1 || len(imp.Flows) != 1 || len(imp.Flows[0].Examples) != 1 || imp.Flows[0].Examples[0] != testPseudonyms.Case(d.ID) {
			t.Errorf("impact %s, want the case %s by pseudonym", b, d.ID)
		}
		for _, s := range []string{`"` + d.ID + `"`, "sarah-ashworth-77", "1980-02-03", "NG7 2RD"} {
			if strings.Contains(string(b), s) {
				t.Errorf("impact preview contains %q", s)
			}
		}

		e.api.Privacy = nil
		if resp, b = do(t, "GET", e.URL+"/v1/rulesets/mh-triage/versions/2/impact?days=30", "", e.bearer("ana")); resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(b), d.ID) {
			t.Errorf("impact without a pseudonym key: %d %s, want 500", resp.StatusCode, b)
		}
	})
}
