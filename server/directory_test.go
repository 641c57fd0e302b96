package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

func TestAssessmentOverHTTPBooksAVisit(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		resp, b := do(t, "POST", srv.URL+"/v1/assessments", string(example), nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		var d struct {
			ID       string `json:"id"`
			Services []struct {
				ServiceID string `json:"service_id"`
			}
			Assignment *struct {
				PractitionerID string `json:"practitioner_id"`
				Appointment    struct {
					ID    string    `json:"id"`
					Start time.Time `json:"start"`
				} `json:"appointment"`
				Why string `json:"why"`
			} `json:"assignment"`
		}
		if err := json.Unmarshal(b, &d); err != nil || d.Assignment == nil || len(d.Services) == 0 || d.Assignment.Why == "" {
			t.Fatalf("decision without a booked visit: %s", b)
		}
		date := d.Assignment.Appointment.Start.In(time.UTC).Format(time.DateOnly)
		resp, b = do(t, "GET", srv.URL+"/v1/practitioners/"+d.Assignment.PractitionerID+"/day?date="+date, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), d.Assignment.Appointment.ID) {
			t.Fatalf("day: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "GET", srv.URL+"/v1/routing/visits?date="+date, "", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/geo+json" || !strings.Contains(string(b), `"FeatureCollection"`) {
			t.Fatalf("visits: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "POST", srv.URL+"/v1/assessments/"+d.ID+"/reassign", "", nil)
		if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"practitioner_id":"`+d.Assignment.PractitionerID+`"`) {
			t.Fatalf("reassign: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "POST", srv.URL+"/v1/appointments/"+d.Assignment.Appointment.ID+"/cancel", "", nil)
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("cancel of the appointment reassign cancelled: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "POST", srv.URL+"/v1/appointments/"+d.Assignment.Appointment.ID+"/move", `{"start":"tomorrow"}`, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"field":"start"`) {
			t.Errorf("move with a bad start: %d %s", resp.StatusCode, b)
		}
	})
}

func TestServicesAPI(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		for _, tc := range []struct {
			query      string
			status     int
			total      int
			contains   string
			notContain string
		}{
			{"", 200, 12, `"total_pages":1`, ""},
			{"?per_page=5&page=3", 200, 12, `"size":2`, ""},
			{"?taxonomy_term_id=term-talking-therapies-step2", 200, 3, "Youth Talking Therapies", "Crisis Resolution"},
			{"?minimum_age=30&taxonomy_term_id=term-talking-therapies-step2", 200, 2, "(central team)", "Youth Talking"},
			{"?postcode=ZX1%201AA&taxonomy_term_id=term-talking-therapies-step2", 200, 2, "(central team)", "(south team)"},
			{"?search=reablement%20home", 200, 1, "Home First Reablement", ""},
			{"?minimum_age=old", 422, 0, `"field":"minimum_age"`, ""},
			{"?postcode=ZX9%209ZZ", 422, 0, `"field":"postcode"`, ""},
			{"?proximity=500", 422, 0, `"field":"proximity"`, ""},
		} {
			resp, b := do(t, "GET", srv.URL+"/v1/services"+tc.query, "", nil)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.contains) || tc.notContain != "" && strings.Contains(string(b), tc.notContain) {
				t.Errorf("%s: %d %.400s", tc.query, resp.StatusCode, b)
				continue
			}
			if tc.status == 200 {
				var page struct {
					TotalItems int               `json:"total_items"`
					Contents   []json.RawMessage `json:"contents"`
				}
				if err := json.Unmarshal(b, &page); err != nil || page.TotalItems != tc.total {
					t.Errorf("%s: total %d, want %d", tc.query, page.TotalItems, tc.total)
				}
			}
		}
		if resp, b := do(t, "GET", srv.URL+"/v1/services/svc-crisis", "", nil); resp.StatusCode != 200 || !strings.Contains(string(b), "Crisis Resolution") || !strings.Contains(string(b), `"value":"svc-crisis"`) {
			t.Errorf("service: %d %s", resp.StatusCode, b)
		}
		if resp, _ := do(t, "GET", srv.URL+"/v1/services/nope", "", nil); resp.StatusCode != 404 {
			t.Errorf("unknown service: %d", resp.StatusCode)
		}
	})
}

func TestPractitionersAPI(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		resp, b := do(t, "POST", srv.URL+"/v1/practitioners", `[{"id":"new-1","name":"N","skills":["reablement"],"service_ids":["svc-reablement"],
			"base":{"lat":52.95,"lon":-1.15},"max_visits_per_day":4,"working_hours":[{"day":"mon","start":"09:00","end":"17:00"}]}]`, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"imported":1`) {
			t.Fatalf("import: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "POST", srv.URL+"/v1/practitioners", `[{"id":"bad","skills":[],"service_ids":[],"base":{"lat":95,"lon":0},
			"max_visits_per_day":0,"working_hours":[{"day":"someday","start":"09:00","end":"08:00"}]}]`, nil)
		if resp.StatusCode != 422 || !strings.Contains(string(b), `practitioner 0 (id \"bad\") base`) || !strings.Contains(string(b), "working_hours[0].day") {
			t.Errorf("bad import: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "GET", srv.URL+"/v1/practitioners", "", nil)
		var list struct{ Practitioners []struct{ ID string } }
		if err := json.Unmarshal(b, &list); err != nil || resp.StatusCode != 200 || len(list.Practitioners) != 41 {
			t.Errorf("list: %d %d practitioners", resp.StatusCode, len(list.Practitioners))
		}
		if resp, b := do(t, "GET", srv.URL+"/v1/practitioners/new-1/day?date=26/11/2026", "", nil); resp.StatusCode != 422 || !strings.Contains(string(b), `"field":"date"`) {
			t.Errorf("bad date: %d %s", resp.StatusCode, b)
		}
	})
}
