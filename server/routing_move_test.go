package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/outbox"
)

func countEvents(t *testing.T, db *database.DB, caseID, typ string) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, db.Rebind(`SELECT COUNT(*) FROM outbox_events WHERE case_key = ? AND type = ?`), caseID, typ); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMoveOnTheRouteWritesItsEvent moves a booked visit over the API: refusals name the reason
// and write no event; an accepted move, at any minute, writes appointment.moved with it.
func TestMoveOnTheRouteWritesItsEvent(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.api.Events = &outbox.Publisher{Now: testNow}
		e.api.Engine.Publish = e.api.Events.Decided
		resp, b := do(t, "POST", e.URL+"/v1/assessments", string(example), nil)
		var d struct {
			ID         string `json:"id"`
			Assignment *struct {
				Appointment struct {
					ID    string    `json:"id"`
					Start time.Time `json:"start"`
					End   time.Time `json:"end"`
				} `json:"appointment"`
			} `json:"assignment"`
		}
		if err := json.Unmarshal(b, &d); err != nil || resp.StatusCode != http.StatusCreated || d.Assignment == nil {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		if n := countEvents(t, db, d.ID, outbox.AppointmentBooked); n != 1 {
			t.Errorf("%d appointment.booked, want 1", n)
		}
		appt := d.Assignment.Appointment
		move := func(body string) (*http.Response, []byte) {
			return do(t, "POST", e.URL+"/v1/appointments/"+appt.ID+"/move", body, nil)
		}
		night := time.Date(appt.Start.Year(), appt.Start.Month(), appt.Start.Day()+1, 3, 7, 0, 0, time.UTC)
		for _, tc := range []struct {
			name, body string
			status     int
			reason     string
		}{
			{"at night", `{"start":"` + night.Format(time.RFC3339) + `"}`, http.StatusUnprocessableEntity, "working hours"},
			{"in the past", `{"start":"2020-01-06T10:00:00Z"}`, http.StatusUnprocessableEntity, "future"},
		} {
			resp, b := move(tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.reason) || !strings.Contains(string(b), `"start"`) {
				t.Errorf("%s: %d %s, want %d naming %q", tc.name, resp.StatusCode, b, tc.status, tc.reason)
			}
		}
		if n := countEvents(t, db, d.ID, outbox.AppointmentMoved); n != 0 {
			t.Fatalf("%d appointment.moved after refused moves", n)
		}
		// The booked time is a route arrival, off any grid; moving a minute later fits the same route
		// unless the visit's window ends there, and moving to the booked time itself always does.
		var moved bool
		for _, to := range []time.Time{appt.Start.Add(time.Minute), appt.Start} {
			resp, b := move(`{"start":"` + to.Format(time.RFC3339) + `"}`)
			if resp.StatusCode == http.StatusOK {
				var v struct {
					Start time.Time `json:"start"`
				}
				if err := json.Unmarshal(b, &v); err != nil || !v.Start.Equal(to) {
					t.Errorf("moved to %s: %s", to, b)
				}
				moved = true
				break
			}
		}
		if !moved {
			t.Fatal("no move on the route was accepted")
		}
		if n := countEvents(t, db, d.ID, outbox.AppointmentMoved); n != 1 {
			t.Errorf("%d appointment.moved, want 1", n)
		}
		resp, b = do(t, "POST", e.URL+"/v1/assessments/"+d.ID+"/reassign", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("reassign: %d %s", resp.StatusCode, b)
		}
		if n, c := countEvents(t, db, d.ID, outbox.DecisionReassigned), countEvents(t, db, d.ID, outbox.AppointmentCancelled); n != 1 || c != 1 {
			t.Errorf("decision.reassigned %d, appointment.cancelled %d, want 1 and 1", n, c)
		}
	})
}
