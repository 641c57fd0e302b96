package triage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// withAnswers rewrites answers of an assessment body.
func withAnswers(t testing.TB, body []byte, answers map[string]any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	a := doc["answers"].(map[string]any)
	for k, v := range answers {
		a[k] = v
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lateEvening is Thursday 26 November 2026 at 21:40 in London (GMT then).
var lateEvening = time.Date(2026, 11, 26, 21, 40, 0, 0, time.UTC)

func TestCrisisAtNightGoesOnCallOrIsEscalated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rota   []routing.OnCall
		onCall string
	}{
		{"on-call practitioner takes it", []routing.OnCall{{ID: "night-1", ServiceID: "svc-crisis", PractitionerID: "crisis-02",
			Starts: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), Ends: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}}, "crisis-02"},
		{"empty rota escalates", nil, ""},
		{"rota of another service escalates", []routing.OnCall{{ID: "night-x", ServiceID: "svc-reablement", PractitionerID: "rbl-01",
			Starts: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), Ends: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			databasetest.Each(t, func(t *testing.T, db *database.DB) {
				e := placedEngine(t, db)
				e.Now = func() time.Time { return lateEvening }
				ctx := context.Background()
				store := e.Placement.Routing.(*routing.SQLStore)
				// The demo rota covers this night: each case brings its own.
				if _, err := db.ExecContext(ctx, "DELETE FROM oncall"); err != nil {
					t.Fatal(err)
				}
				if len(tc.rota) > 0 {
					if err := store.PutOnCall(ctx, tc.rota, lateEvening); err != nil {
						t.Fatal(err)
					}
				}
				body := withAnswers(t, example(t, "mental-health", nil), map[string]any{"risk_plan": true})
				d, _, err := e.Submit(ctx, body, triage.Options{Team: "central"})
				if err != nil {
					t.Fatal(err)
				}
				if d.Outcome.Pathway != "crisis-home-treatment" {
					t.Fatalf("pathway %s", d.Outcome.Pathway)
				}
				reason, escalated := d.Escalated()
				list, err := store.Escalations(ctx, "central")
				if err != nil {
					t.Fatal(err)
				}
				if tc.onCall != "" {
					a := d.Assignment
					if a == nil || a.PractitionerID != tc.onCall || escalated {
						t.Fatalf("want on-call %s, got %+v (%q)", tc.onCall, a, d.UnassignedReason)
					}
					if a.Appointment.Start.Before(lateEvening) || a.Appointment.End.After(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
						t.Errorf("on-call visit %s–%s not the same evening", a.Appointment.Start, a.Appointment.End)
					}
					if len(list) != 0 {
						t.Errorf("escalations %+v for a case on call took", list)
					}
					return
				}
				if !escalated || d.Assignment != nil || !d.ManualAllocation || reason == "" {
					t.Fatalf("want escalated, got assignment %+v reason %q", d.Assignment, d.UnassignedReason)
				}
				if len(list) != 1 || list[0].DecisionID != d.ID || list[0].Reason != reason || list[0].Priority != "emergency" {
					t.Errorf("escalations %+v", list)
				}
				stored, err := e.Store.Decision(ctx, d.ID)
				if err != nil {
					t.Fatalf("escalated case dropped: %v", err)
				}
				if r, ok := stored.Escalated(); !ok || r != reason {
					t.Errorf("stored decision not escalated: %q", stored.UnassignedReason)
				}
			})
		})
	}
}

func TestSameDayReviewLateIsNeverBookedTomorrow(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		e.Now = func() time.Time { return lateEvening }
		ctx := context.Background()
		body := withAnswers(t, example(t, "mental-health", nil), map[string]any{"phq9_9": 1})
		d, _, err := e.Submit(ctx, body, triage.Options{Team: "central"})
		if err != nil {
			t.Fatal(err)
		}
		same := false
		for _, f := range d.Outcome.Flags {
			same = same || f == triage.SameDayReviewFlag
		}
		if !same {
			t.Fatalf("outcome %+v lacks the same-day flag", d.Outcome)
		}
		if a := d.Assignment; a != nil {
			if y, m, dd := a.Appointment.Start.Date(); y != 2026 || m != 11 || dd != 26 {
				t.Fatalf("same-day review booked for %s", a.Appointment.Start)
			}
			return
		}
		if _, ok := d.Escalated(); !ok {
			t.Fatalf("neither booked today nor escalated: %q", d.UnassignedReason)
		}
	})
}

func TestUrgentVisitMovesRoutineVisitsLater(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		ctx := context.Background()
		p := e.Placement
		db.MustExec(`DELETE FROM practitioners`)
		ps, err := routing.ParsePractitioners([]byte(`[{"id":"n1","name":"Nurse One","skills":["mental_health_nurse","crisis"],
			"service_ids":["svc-crisis","svc-cmht"],"base":{"lat":52.95,"lon":-1.15},"max_visits_per_day":6,
			"working_hours":[{"day":"thu","start":"09:00","end":"13:00"}]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Routing.PutPractitioners(ctx, ps, placedNow); err != nil {
			t.Fatal(err)
		}
		// A routine visit at 09:40 that may happen until 12:30, and a pinned one at 11:30.
		for _, v := range []routing.Visit{
			{ID: "routine", Start: time.Date(2026, 11, 26, 9, 40, 0, 0, time.UTC), Latest: time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC)},
			{ID: "pinned", Start: time.Date(2026, 11, 26, 11, 30, 0, 0, time.UTC), Pinned: true},
		} {
			v.CaseID, v.PractitionerID, v.ServiceID, v.Pathway = "case-"+v.ID, "n1", "svc-cmht", "adult-mental-health-team"
			v.End, v.Loc, v.Earliest = v.Start.Add(time.Hour), routing.Point{Lat: 52.95, Lon: -1.15}, v.Start
			if err := p.Routing.Book(ctx, db, routing.StoredVisit{Visit: v, SubjectRef: "s-" + v.ID, CreatedAt: placedNow, UpdatedAt: placedNow}); err != nil {
				t.Fatal(err)
			}
		}
		body := withAnswers(t, example(t, "mental-health", map[string]any{"ref": "s-urgent", "age": 40,
			"location": map[string]any{"lat": 52.951, "lon": -1.151}}), map[string]any{"risk_plan": true})
		d, _, err := e.Submit(ctx, body, triage.Options{Team: "central"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Assignment == nil || d.Assignment.PractitionerID != "n1" {
			t.Fatalf("urgent visit not placed: %q", d.UnassignedReason)
		}
		moves, err := p.Routing.(*routing.SQLStore).MovesOf(ctx, nil, d.ID)
		if err != nil || len(moves) != 1 || moves[0].VisitID != "routine" {
			t.Fatalf("moves %+v %v", moves, err)
		}
		pinned, _ := p.Routing.Visit(ctx, "pinned")
		routine, _ := p.Routing.Visit(ctx, "routine")
		if !pinned.Start.Equal(time.Date(2026, 11, 26, 11, 30, 0, 0, time.UTC)) {
			t.Errorf("pinned visit moved to %s", pinned.Start)
		}
		if !routine.Start.After(d.Assignment.Appointment.End) || routine.End.After(routine.Latest) {
			t.Errorf("routine visit at %s–%s, urgent ends %s, window ends %s", routine.Start, routine.End, d.Assignment.Appointment.End, routine.Latest)
		}
		assertNoOverlaps(t, db)
	})
}

// assertNoOverlaps reads every booked visit and fails on two of one practitioner that overlap.
func assertNoOverlaps(t *testing.T, db *database.DB) {
	t.Helper()
	visits, err := routing.NewSQLStore(db).Booked(context.Background(), db, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]routing.StoredVisit{}
	for _, v := range visits {
		by[v.PractitionerID] = append(by[v.PractitionerID], v)
	}
	for id, vs := range by {
		sort.Slice(vs, func(i, j int) bool { return vs[i].Start.Before(vs[j].Start) })
		for i := 1; i < len(vs); i++ {
			if vs[i].Start.Before(vs[i-1].End) {
				t.Errorf("practitioner %s: %s (%s–%s) overlaps %s (%s–%s)", id, vs[i-1].ID, vs[i-1].Start, vs[i-1].End, vs[i].ID, vs[i].Start, vs[i].End)
			}
		}
	}
}

func TestBookingRaceLeavesNoOverlappingVisits(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := placedEngine(t, db)
		ctx := context.Background()
		db.MustExec(`DELETE FROM practitioners`)
		ps, err := routing.ParsePractitioners([]byte(`[
			{"id":"a","name":"A","skills":["psychological_wellbeing_practitioner","mental_health_nurse","crisis"],"service_ids":["svc-talking-central","svc-crisis","svc-cmht"],
			 "base":{"lat":52.95,"lon":-1.15},"max_visits_per_day":8,"working_hours":[{"day":"thu","start":"09:00","end":"17:00"},{"day":"fri","start":"09:00","end":"13:00"}],
			 "breaks":[{"day":"thu","start":"12:00","end":"12:30"}]},
			{"id":"b","name":"B","skills":["psychological_wellbeing_practitioner","mental_health_nurse","crisis"],"service_ids":["svc-talking-central","svc-crisis","svc-cmht"],
			 "base":{"lat":52.96,"lon":-1.12},"max_visits_per_day":8,"working_hours":[{"day":"thu","start":"10:00","end":"16:00"}]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Placement.Routing.PutPractitioners(ctx, ps, placedNow); err != nil {
			t.Fatal(err)
		}
		const n = 24
		var wg sync.WaitGroup
		results := make([]*triage.Decision, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := example(t, "mental-health", map[string]any{"ref": fmt.Sprintf("race-%02d", i), "age": 30,
					"location": map[string]any{"lat": 52.94 + float64(i%5)*0.005, "lon": -1.16 + float64(i%7)*0.006}})
				if i%4 == 0 {
					body = withAnswers(t, body, map[string]any{"risk_plan": true}) // urgent: may move routine visits
				}
				d, _, err := e.Submit(ctx, body, triage.Options{Team: "central"})
				if err != nil {
					t.Error(err)
					return
				}
				results[i] = d
			}()
		}
		wg.Wait()
		booked := 0
		for _, d := range results {
			if d == nil {
				continue
			}
			if d.Assignment == nil {
				if !d.ManualAllocation || d.UnassignedReason == "" {
					t.Errorf("decision %s neither booked nor flagged", d.ID)
				}
				continue
			}
			booked++
		}
		if booked == 0 {
			t.Error("nothing booked")
		}
		if got := countRows(t, db, `SELECT COUNT(*) FROM decisions`); got != n {
			t.Errorf("%d decisions stored, want %d", got, n)
		}
		if got := countRows(t, db, `SELECT COUNT(*) FROM appointments WHERE status = 'booked'`); got != booked {
			t.Errorf("%d appointments, %d decisions booked", got, booked)
		}
		assertNoOverlaps(t, db)
	})
}
