package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/triage"
)

// TestPlanDayRoute re-plans a demo day over HTTP on both databases: a report of changes with
// reasons, applied when asked, refused for bad parameters and for anyone but a coordinator.
func TestPlanDayRoute(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		date := ""
		for i := range 5 {
			located := strings.Replace(assessment, `"ref":"s-1","age":34`,
				fmt.Sprintf(`"ref":"s-p%d","age":34,"location":{"lat":%.4f,"lon":-1.15}`, i, 52.90+0.02*float64(i)), 1)
			resp, b := do(t, "POST", e.URL+"/v1/assessments", located, nil)
			var d triage.Decision
			if err := json.Unmarshal(b, &d); err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("assessment: %d %.300s", resp.StatusCode, b)
			}
			if d.Assignment != nil && date == "" {
				date = d.Assignment.Appointment.Start.In(time.UTC).Format(time.DateOnly)
			}
		}
		if date == "" {
			t.Fatal("no visit booked")
		}
		var report struct {
			Date    string `json:"date"`
			Applied bool   `json:"applied"`
			Moved   int    `json:"moved"`
			Changes []struct {
				Reason string `json:"reason"`
			} `json:"changes"`
			Routes []struct {
				PractitionerID string `json:"practitioner_id"`
			} `json:"routes"`
		}
		path := "/v1/routing/plan?date=" + date + "&time_limit=1&move_penalty=0"
		resp, b := do(t, "POST", e.URL+path, "", nil)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &report) != nil || report.Date != date || report.Applied || len(report.Routes) == 0 {
			t.Fatalf("plan: %d %.500s", resp.StatusCode, b)
		}
		for _, c := range report.Changes {
			if c.Reason == "" {
				t.Error("a change without a reason")
			}
		}
		resp, b = do(t, "POST", e.URL+path+"&apply=true", "", nil)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &report) != nil || (report.Moved > 0 && !report.Applied) {
			t.Fatalf("apply: %d %.500s", resp.StatusCode, b)
		}
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM access_audit WHERE action = 'routing.visits' AND outcome = 'allowed'`); err != nil || n != 2 {
			t.Errorf("%d access records of the plans (%v), want 2", n, err)
		}
		e.user(t, "nurse", "central", "", identity.Clinician)
		for _, rf := range []refusal{
			{"no date", "POST", "/v1/routing/plan", "", nil, http.StatusUnprocessableEntity, "date"},
			{"time limit too long", "POST", "/v1/routing/plan?date=" + date + "&time_limit=600", "", nil, http.StatusUnprocessableEntity, "time_limit"},
			{"bad apply", "POST", "/v1/routing/plan?date=" + date + "&apply=yes", "", nil, http.StatusUnprocessableEntity, "apply"},
			{"bad penalty", "POST", "/v1/routing/plan?date=" + date + "&move_penalty=-3", "", nil, http.StatusUnprocessableEntity, "move_penalty"},
			{"not a coordinator", "POST", "/v1/routing/plan?date=" + date, "", e.bearer("nurse"), http.StatusForbidden, ""},
		} {
			checkRefusal(t, e.URL, rf)
		}
	})
}
