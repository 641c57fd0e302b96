package triage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// placedNow is a Thursday morning in November, when the demo practitioners work.
var placedNow = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// placedEngine is an engine over the whole demo, directory and roster included, with routing.
func placedEngine(t testing.TB, db *database.DB) *triage.Engine {
	t.Helper()
	forms := triage.NewSQLStore(db)
	rs := rules.NewSQLStore(db)
	sum, err := fixtures.Load(context.Background(), forms, rs, placedNow)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Services != 12 || sum.Practitioners != 40 || sum.Postcodes == 0 {
		t.Fatalf("demo directory not loaded: %+v", sum)
	}
	var n atomic.Int64
	return &triage.Engine{Store: forms, Rules: rules.NewRegistry(rs), Now: func() time.Time { return placedNow },
		NewID:     func() string { return fmt.Sprintf("id-%06d", n.Add(1)) },
		Placement: triage.NewPlacement(db, rs, "Europe/London")}
}

// example reads a demo example assessment and rewrites its subject.
func example(t testing.TB, name string, subject map[string]any) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	if subject != nil {
		doc["subject"] = subject
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func countRows(t testing.TB, db *database.DB, query string) int {
	t.Helper()
	var n int
	if err := db.Get(&n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAssessmentEndsWithBookedAppointment(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		ctx := context.Background()
		d, created, err := e.Submit(ctx, example(t, "mental-health", nil), triage.Options{IncludeRejected: true})
		if err != nil || !created {
			t.Fatalf("submit: %v created=%v", err, created)
		}
		if d.Outcome.Pathway != "talking-therapies-step2" || len(d.Services) == 0 || d.Services[0].ServiceID != "svc-talking-central" {
			t.Fatalf("pathway %s, services %+v", d.Outcome.Pathway, d.Services)
		}
		rejected := map[string]string{}
		for _, r := range d.RejectedServices {
			rejected[r.ServiceID] = string(r.Reason)
		}
		if rejected["svc-talking-south"] != "out_of_area" || rejected["svc-talking-youth"] != "age" {
			t.Errorf("rejected services: %v", rejected)
		}
		a := d.Assignment
		if a == nil || d.ManualAllocation {
			t.Fatalf("no assignment: %q", d.UnassignedReason)
		}
		if a.Appointment.Start.Before(placedNow) || a.Appointment.End.Sub(a.Appointment.Start) != 45*time.Minute || a.Why == "" {
			t.Errorf("appointment %+v", a)
		}
		stored, err := e.Store.Decision(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(stored)
		want, _ := json.Marshal(d)
		if string(got) != string(want) {
			t.Errorf("stored decision differs from the one returned:\n%s\n%s", got, want)
		}
		visits, err := e.Placement.Routing.VisitsOfDecision(ctx, nil, d.ID)
		if err != nil || len(visits) != 1 || visits[0].Status != routing.StatusBooked || visits[0].PractitionerID != a.PractitionerID ||
			!visits[0].Start.Equal(a.Appointment.Start) {
			t.Fatalf("booked visits %+v, %v", visits, err)
		}

		// The same subject again: continuity keeps the practitioner who saw them, once that visit is past.
		e.Now = func() time.Time { return a.Appointment.End.Add(time.Hour) }
		again, _, err := e.Submit(ctx, example(t, "mental-health", nil), triage.Options{})
		if err != nil || again.Assignment == nil {
			t.Fatalf("second submit: %v", err)
		}
		if again.Assignment.PractitionerID != a.PractitionerID || !again.Assignment.Continuity {
			t.Errorf("continuity lost: first %s, then %+v", a.PractitionerID, again.Assignment)
		}
	})
}

func TestPlacementWithoutServiceOrVisit(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		ctx := context.Background()
		for _, tc := range []struct {
			name    string
			body    []byte
			manual  bool
			booked  bool
			reason  string
			service string
		}{
			{"outside the council", example(t, "mental-health", map[string]any{"ref": "s-far", "age": 40, "location": map[string]any{"lat": 51.5, "lon": -0.12}}),
				true, false, "out_of_area", ""},
			{"postcode only", example(t, "mental-health", map[string]any{"ref": "s-pc", "age": 40, "postcode": "zx1 1aa"}),
				false, true, "", "svc-talking-central"},
			{"unknown postcode", example(t, "mental-health", map[string]any{"ref": "s-nowhere", "age": 40, "postcode": "ZX9 9ZZ"}),
				true, false, "no location", ""},
			{"pathway without a visit", []byte(`{"form":"mental-health","subject":{"ref":"s-ww","age":40,"location":{"lat":52.95,"lon":-1.15}},
				"answers":{"phq9_1":0,"phq9_2":0,"phq9_3":0,"phq9_4":0,"phq9_5":0,"phq9_6":0,"phq9_7":0,"phq9_8":0,"phq9_9":0,
				"gad7_1":0,"gad7_2":0,"gad7_3":0,"gad7_4":0,"gad7_5":0,"gad7_6":0,"gad7_7":0,"risk_plan":false,"risk_intent":false,
				"previous_high_intensity_treatment":false,"under_secondary_care":false}}`),
				false, false, "", "svc-wellbeing-college"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, _, err := e.Submit(ctx, tc.body, triage.Options{})
				if err != nil {
					t.Fatalf("no match must not be an error: %v", err)
				}
				if d.ManualAllocation != tc.manual || (d.Assignment != nil) != tc.booked || !strings.Contains(d.UnassignedReason, tc.reason) {
					t.Errorf("manual %v assignment %+v reason %q", d.ManualAllocation, d.Assignment, d.UnassignedReason)
				}
				if tc.service != "" && (len(d.Services) == 0 || d.Services[0].ServiceID != tc.service) {
					t.Errorf("services %+v, want %s first", d.Services, tc.service)
				}
				if tc.service == "" && len(d.Services) != 0 {
					t.Errorf("services %+v, want none", d.Services)
				}
				raw, _ := json.Marshal(d)
				if !strings.Contains(string(raw), `"services":[`) || !tc.booked && !strings.Contains(string(raw), `"assignment":null`) {
					t.Errorf("decision JSON lacks services or a null assignment: %s", raw)
				}
			})
		}
	})
}

func TestIdempotentRetryNeverBooksTwice(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		body := example(t, "discharge", nil)
		var wg sync.WaitGroup
		ids := make([]string, 8)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, _, err := e.Submit(context.Background(), body, triage.Options{IdempotencyKey: "retry-1"})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = d.ID
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("retries returned different decisions: %v", ids)
			}
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM appointments`); n != 1 {
			t.Errorf("%d appointments for one idempotent submission, want 1", n)
		}
	})
}

func TestConcurrentSubmissionsNeverShareASlot(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		ctx := context.Background()
		// One practitioner with three slots a week, so submissions contend for the same few slots.
		db.MustExec(`DELETE FROM practitioners`)
		ps, err := routing.ParsePractitioners([]byte(`[{"id":"only","name":"Only One","skills":["psychological_wellbeing_practitioner"],
			"service_ids":["svc-talking-central"],"base":{"lat":52.95,"lon":-1.15},"max_visits_per_day":3,
			"working_hours":[{"day":"fri","start":"10:00","end":"13:00"}]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Placement.Routing.PutPractitioners(ctx, ps, placedNow); err != nil {
			t.Fatal(err)
		}
		const n = 16 // four Fridays of three slots fit in the 28-day window: 12 slots
		var wg sync.WaitGroup
		results := make([]*triage.Decision, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, _, err := e.Submit(ctx, example(t, "mental-health", map[string]any{"ref": fmt.Sprintf("s-%02d", i), "age": 30,
					"location": map[string]any{"lat": 52.95, "lon": -1.15}}), triage.Options{})
				if err != nil {
					t.Error(err)
					return
				}
				results[i] = d
			}()
		}
		wg.Wait()
		slots := map[time.Time]string{}
		booked := 0
		for _, d := range results {
			if d == nil {
				continue
			}
			if d.Assignment == nil {
				if !d.ManualAllocation || d.UnassignedReason == "" {
					t.Errorf("unassigned decision %s not flagged: %+v", d.ID, d)
				}
				continue
			}
			booked++
			if other, dup := slots[d.Assignment.Appointment.Start]; dup {
				t.Errorf("decisions %s and %s share slot %s", other, d.ID, d.Assignment.Appointment.Start)
			}
			slots[d.Assignment.Appointment.Start] = d.ID
		}
		if booked == 0 || booked > 12 {
			t.Errorf("%d booked, want 1..12", booked)
		}
		if got := countRows(t, db, `SELECT COUNT(*) FROM appointments WHERE status = 'booked'`); got != booked {
			t.Errorf("%d appointments stored, %d decisions booked", got, booked)
		}
		if got := countRows(t, db, `SELECT COUNT(*) FROM decisions`); got != n {
			t.Errorf("%d decisions stored, want %d: accepted work lost", got, n)
		}
	})
}

func TestReassignAndOptimise(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		ctx := context.Background()
		p := e.Placement
		d, _, err := e.Submit(ctx, example(t, "discharge", nil), triage.Options{})
		if err != nil || d.Assignment == nil {
			t.Fatalf("submit: %v %+v", err, d)
		}
		first := *d.Assignment
		re, err := e.Reassign(ctx, d.ID, nil)
		if err != nil || re.Assignment == nil {
			t.Fatalf("reassign: %v", err)
		}
		if re.Assignment.PractitionerID == first.PractitionerID {
			t.Errorf("reassigned to the same practitioner %s", first.PractitionerID)
		}
		visits, err := p.Routing.VisitsOfDecision(ctx, nil, d.ID)
		if err != nil || len(visits) != 2 || visits[0].Status != routing.StatusCancelled || visits[1].Status != routing.StatusBooked {
			t.Fatalf("after reassign: %+v %v", visits, err)
		}
		if stored, _ := e.Store.Decision(ctx, d.ID); stored.Assignment == nil || stored.Assignment.PractitionerID != re.Assignment.PractitionerID {
			t.Errorf("stored assignment not updated: %+v", stored.Assignment)
		}

		// Two reablement visits in one slot, each given to the practitioner based nearer the other.
		roster, err := p.Routing.Practitioners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var a, b routing.Practitioner
		for _, pr := range roster {
			if pr.ID == "rbl-01" {
				a = pr
			}
			if pr.ID == "rbl-02" {
				b = pr
			}
		}
		start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		for i, v := range []struct{ who, near routing.Practitioner }{{a, b}, {b, a}} {
			err := p.Routing.Book(ctx, db, routing.StoredVisit{Visit: routing.Visit{ID: fmt.Sprintf("swap-%d", i), CaseID: "case-swap",
				PractitionerID: v.who.ID, ServiceID: "svc-reablement", Pathway: "discharge-pathway-1", Start: start, End: start.Add(time.Hour),
				Loc: v.near.Base, RequiredSkills: []string{"reablement"}}, SubjectRef: "s-swap", CreatedAt: placedNow, UpdatedAt: placedNow})
			if err != nil {
				t.Fatal(err)
			}
		}
		dry, err := p.Optimise(ctx, "2026-11-27", placedNow, true)
		if err != nil {
			t.Fatal(err)
		}
		if dry.Applied || dry.TravelAfter >= dry.TravelBefore || len(dry.Moves) < 2 {
			t.Fatalf("dry run: %+v", dry)
		}
		if v, _ := p.Routing.Visit(ctx, "swap-0"); v.PractitionerID != a.ID {
			t.Errorf("dry run changed the diary")
		}
		report, err := p.Optimise(ctx, "2026-11-27", placedNow, false)
		if err != nil || !report.Applied || report.TravelAfter != dry.TravelAfter || report.SavedMinutes <= 0 {
			t.Fatalf("optimise: %+v %v", report, err)
		}
		v0, _ := p.Routing.Visit(ctx, "swap-0")
		v1, _ := p.Routing.Visit(ctx, "swap-1")
		if v0.PractitionerID == a.ID || v1.PractitionerID == b.ID {
			t.Errorf("visits not swapped: %s %s", v0.PractitionerID, v1.PractitionerID)
		}
		again, err := p.Optimise(ctx, "2026-11-27", placedNow, false)
		if err != nil || len(again.Moves) != 0 || again.Applied {
			t.Errorf("second optimise should find nothing: %+v %v", again, err)
		}
	})
}

func BenchmarkSubmitWithBooking(b *testing.B) {
	db := databasetest.Open(b, database.SQLite)
	e := placedEngine(b, db)
	ctx := context.Background()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		// Spread over days so the roster never fills.
		bodies[i] = example(b, "discharge", map[string]any{"ref": fmt.Sprintf("b-%d", i), "age": 80, "location": map[string]any{"lat": 52.94, "lon": -1.13}})
	}
	day := 0
	e.Now = func() time.Time { return placedNow.Add(time.Duration(day) * 24 * time.Hour) }
	b.ResetTimer()
	for i := range b.N {
		day = i / 8 // even a Sunday window (Monday 08:00) holds ten reablement slots
		d, _, err := e.Submit(ctx, bodies[i], triage.Options{})
		if err != nil || d.Assignment == nil {
			b.Fatalf("%v %+v", err, d.UnassignedReason)
		}
	}
}
