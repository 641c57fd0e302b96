package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/outbox"
)

func TestCaseStepsWriteTheirEventsWithTheStep(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.api.Events = &outbox.Publisher{Now: testNow}
		e.api.Engine.Publish = e.api.Events.DecisionMade
		e.user(t, "clin", "central", "", identity.Clinician)
		e.user(t, "coord", "central", "", identity.Coordinator)
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
		steps := []struct {
			body string
			code int
		}{
			{`{"step":"visit_done"}`, 422}, // refused: no event
			{`{"step":"accept"}`, 200},
			{`{"step":"book","appointment_id":"appt-1"}`, 200},
			{`{"step":"visit_done"}`, 200},
			{`{"step":"outcome"}`, 200},
		}
		for _, s := range steps {
			if resp, out := do(t, "POST", e.URL+"/v1/cases/"+d.ID+"/steps", s.body, e.bearer("coord")); resp.StatusCode != s.code {
				t.Fatalf("step %s: %d %s, want %d", s.body, resp.StatusCode, out, s.code)
			}
		}
		var types []string
		if err := db.SelectContext(t.Context(), &types, db.Rebind(`SELECT type FROM outbox_events WHERE case_key = ? ORDER BY seq`), d.ID); err != nil {
			t.Fatal(err)
		}
		want := []string{outbox.DecisionMade, outbox.CaseAccepted, outbox.VisitBooked, outbox.VisitDone, outbox.OutcomeRecorded}
		if !slices.Equal(types, want) {
			t.Fatalf("events %v, want %v", types, want)
		}
		var payload string
		if err := db.GetContext(t.Context(), &payload, db.Rebind(`SELECT payload FROM outbox_events WHERE case_key = ? AND type = ?`), d.ID, outbox.VisitDone); err != nil {
			t.Fatal(err)
		}
		var data outbox.CaseStepData
		if err := json.Unmarshal([]byte(payload), &data); err != nil || data.Decision != d.ID || data.Status != "visit_done" || data.From != "visit_booked" ||
			data.AppointmentID != "appt-1" || data.Actor == "" || data.Team != "central" {
			t.Errorf("visit.done data %s (%v)", payload, err)
		}
	})
}
