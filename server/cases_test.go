package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
)

type caseView struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	Team      string   `json:"team"`
	NextSteps []string `json:"next_steps"`
	Steps     []struct {
		Step  string `json:"step"`
		Actor string `json:"actor"`
	} `json:"steps"`
}

func TestCasesAPI(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "clin", "central", "", identity.Clinician)
		e.user(t, "coord", "central", "", identity.Coordinator)
		e.user(t, "coord-south", "south", "", identity.Coordinator)
		e.user(t, "case-system", "central", "", identity.Coordinator)
		body, err := os.ReadFile("../fixtures/examples/mental-health.json")
		if err != nil {
			t.Fatal(err)
		}
		resp, out := do(t, "POST", e.URL+"/v1/assessments", string(body), e.bearer("clin"))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("submit: %d %s", resp.StatusCode, out)
		}
		var d struct{ ID string }
		_ = json.Unmarshal(out, &d)

		var page struct {
			Cases []caseView `json:"cases"`
			Next  string     `json:"next"`
		}
		resp, out = do(t, "GET", e.URL+"/v1/cases?status=referred", "", e.bearer("coord"))
		if err := json.Unmarshal(out, &page); resp.StatusCode != http.StatusOK || err != nil || len(page.Cases) != 1 || page.Cases[0].ID != d.ID {
			t.Fatalf("list: %d %s", resp.StatusCode, out)
		}
		resp, out = do(t, "GET", e.URL+"/v1/cases", "", e.bearer("coord-south"))
		if err := json.Unmarshal(out, &page); err != nil || len(page.Cases) != 0 {
			t.Errorf("another team's worklist: %d %s", resp.StatusCode, out)
		}
		for q, want := range map[string]int{"?team=south": 403, "?size=0": 422, "?size=501": 422, "?status=lost": 422, "?overdue=yes": 422, "?cursor=x": 422, "?manual_allocation=true": 200} {
			if resp, out := do(t, "GET", e.URL+"/v1/cases"+q, "", e.bearer("coord")); resp.StatusCode != want {
				t.Errorf("list%s: %d %s, want %d", q, resp.StatusCode, out, want)
			}
		}

		if resp, _ := do(t, "GET", e.URL+"/v1/cases/"+d.ID, "", e.bearer("coord-south")); resp.StatusCode != http.StatusForbidden {
			t.Errorf("read outside the team without breaking the glass: %d", resp.StatusCode)
		}
		glass := e.bearer("coord-south")
		glass["Carepath-Break-Glass"] = "covering the central crisis rota tonight"
		if resp, _ := do(t, "GET", e.URL+"/v1/cases/"+d.ID, "", glass); resp.StatusCode != http.StatusOK {
			t.Errorf("break the glass: %d", resp.StatusCode)
		}

		step := func(user, path, body string) (int, caseView, string) {
			resp, out := do(t, "POST", e.URL+"/v1/cases/"+d.ID+path, body, e.bearer(user))
			var c caseView
			_ = json.Unmarshal(out, &c)
			return resp.StatusCode, c, string(out)
		}
		if code, _, out := step("coord", "/steps", `{"step":"visit_done"}`); code != 422 || !strings.Contains(out, "is referred") || !strings.Contains(out, "visit_done") {
			t.Errorf("visit_done on a referred case: %d %s", code, out)
		}
		if code, _, out := step("coord-south", "/steps", `{"step":"accept"}`); code != 403 {
			t.Errorf("a step by another team: %d %s", code, out)
		}
		if code, _, out := step("clin", "/steps", `{"step":"accept"}`); code != 403 || !strings.Contains(out, "appointment.manage") {
			t.Errorf("a step by a clinician: %d %s", code, out)
		}
		if code, _, out := step("coord", "/steps", `{"step":"accept","at":"2099-01-01T00:00:00Z"}`); code != 422 {
			t.Errorf("a step in the future: %d %s", code, out)
		}
		if code, _, out := step("coord", "/steps", `{"step":"accept","surprise":1}`); code != 422 {
			t.Errorf("an unknown field: %d %s", code, out)
		}
		if code, c, out := step("coord", "/steps", `{"step":"accept"}`); code != 200 || c.Status != "accepted" || len(c.Steps) != 2 || c.Steps[1].Actor == "" {
			t.Fatalf("accept: %d %s", code, out)
		}
		// The case system's callback: once recorded, a retry changes nothing.
		for i := range 2 {
			resp, out := do(t, "POST", e.URL+"/v1/cases/"+d.ID+"/callback", `{"step":"book","appointment_id":"their-42","external_ref":"CS-1"}`, e.bearer("case-system"))
			var c caseView
			_ = json.Unmarshal(out, &c)
			if resp.StatusCode != 200 || c.Status != "visit_booked" || len(c.Steps) != 3 || (i == 1) != (resp.Header.Get("Idempotent-Replayed") == "true") {
				t.Fatalf("callback %d: %d %s", i, resp.StatusCode, out)
			}
		}
		if code, _, out := step("coord", "/steps", `{"step":"book","external_ref":"x"}`); code != 422 {
			t.Errorf("external_ref outside the callback: %d %s", code, out)
		}
	})
}

func TestCaseCallbackNeedsAnAPIToken(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "coord", "central", "", identity.Coordinator)
		b := e.signIn(t, "coord")
		resp, out := b.post("/v1/cases/nope/callback", nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(out, "API token") {
			t.Errorf("callback with a web session: %d %s", resp.StatusCode, out)
		}
	})
}
