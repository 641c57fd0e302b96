package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/server"
)

// atNight serves e's stores and accounts through a second server whose clock reads at, so that a
// reassignment is made on the night the case was escalated; the clock is set before the server
// starts, so no request races with it.
func (e *env) atNight(t *testing.T, at time.Time) string {
	t.Helper()
	eng := *e.api.Engine
	eng.Now = func() time.Time { return at }
	s := &server.Server{Engine: &eng, Forms: e.api.Forms, Rules: e.api.Rules, DB: e.db, Logger: e.api.Logger, Ping: e.db.PingContext,
		Auth: e.api.Auth, Audit: e.api.Audit, Privacy: e.api.Privacy, Location: e.api.Location,
		Events: &outbox.Publisher{Now: func() time.Time { return at }}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestReassignRecordsTheEscalationItClears: a reassignment that still finds nobody leaves the
// escalation open and records nothing of it; once someone is put on call, the reassignment that
// books them clears the escalation and, in the same transaction, writes escalation.resolved
// (after the booking's events) and the case's escalation_resolved step, both by the coordinator
// with a note naming whom it booked and when; resolving it afterwards is a conflict that writes
// nothing more.
func TestReassignRecordsTheEscalationItClears(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		e := startEnv(t, db)
		e.user(t, "cora", "central", "", identity.Coordinator)
		id := e.escalatedCase(t, "esc-cleared")
		later := saturdayNight.Add(10 * time.Minute)
		base := e.atNight(t, later)
		cora := e.subjectOf(t, "cora")
		reassign := func() bookedCase {
			t.Helper()
			resp, body := do(t, "POST", base+"/v1/assessments/"+id+"/reassign", "", e.bearer("cora"))
			var d bookedCase
			if err := json.Unmarshal(body, &d); resp.StatusCode != http.StatusOK || err != nil {
				t.Fatalf("reassign: %d %s", resp.StatusCode, body)
			}
			return d
		}
		open := func() int {
			t.Helper()
			list, err := routing.NewSQLStore(db).Escalations(ctx, "central")
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		steps := func() []cases.StepRecord {
			t.Helper()
			c, err := (&cases.Store{DB: db}).Case(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return c.Steps
		}
		before := len(steps())

		// Nobody on call yet: escalated again, still open, nothing recorded as resolved.
		if d := reassign(); d.Assignment != nil {
			t.Fatalf("booked with nobody on call: %+v", d.Assignment)
		}
		if n := open(); n != 1 {
			t.Fatalf("%d open escalations after escalating again, want 1", n)
		}
		if n := countEvents(t, db, id, outbox.EscalationResolved); n != 0 {
			t.Errorf("%d escalation.resolved events while still escalated", n)
		}
		if got := steps(); len(got) != before {
			t.Errorf("steps %+v after a reassignment that cleared nothing", got[before:])
		}

		// Capacity: crisis-02 on call that night.
		night := []routing.OnCall{{ID: "sat-night", ServiceID: "svc-crisis", PractitionerID: "crisis-02",
			Starts: time.Date(2026, 11, 28, 21, 0, 0, 0, time.UTC), Ends: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}}
		if err := routing.NewSQLStore(db).PutOnCall(ctx, night, later); err != nil {
			t.Fatal(err)
		}
		d := reassign()
		if d.Assignment == nil || d.Assignment.PractitionerID != "crisis-02" || d.Assignment.Appointment.ID == "" {
			t.Fatalf("not booked on call: %+v", d.Assignment)
		}
		if n := open(); n != 0 {
			t.Fatalf("%d open escalations after booking the case", n)
		}
		note := "cleared by reassignment: booked crisis-02 " + d.Assignment.Appointment.Start.UTC().Format(time.RFC3339)

		var events []struct {
			Seq     int64  `db:"seq"`
			Type    string `db:"type"`
			Payload string `db:"payload"`
		}
		if err := db.Select(&events, db.Rebind(`SELECT seq, type, payload FROM outbox_events WHERE case_key = ? ORDER BY seq`), id); err != nil {
			t.Fatal(err)
		}
		var resolved []outbox.ResolvedData
		last := ""
		for _, ev := range events {
			last = ev.Type
			if ev.Type != outbox.EscalationResolved {
				continue
			}
			var r outbox.ResolvedData
			if err := json.Unmarshal([]byte(ev.Payload), &r); err != nil {
				t.Fatalf("%s: %v", ev.Payload, err)
			}
			resolved = append(resolved, r)
		}
		if len(resolved) != 1 {
			t.Fatalf("%d escalation.resolved events, want 1: %+v", len(resolved), events)
		}
		if r := resolved[0]; r.Decision != id || r.ResolvedBy != cora || r.Note != note || !r.Resolved.Equal(later) {
			t.Errorf("escalation.resolved data %+v, want by %s at %s with note %q", r, cora, later, note)
		}
		if last != outbox.EscalationResolved {
			t.Errorf("the last event of the case is %s, want escalation.resolved after the booking's", last)
		}

		got := steps()
		if len(got) != before+1 {
			t.Fatalf("steps after the booking: %+v, want one more", got[before:])
		}
		step := got[len(got)-1]
		var detail cases.EscalationNote
		if err := json.Unmarshal(step.Detail, &detail); err != nil || step.Step != cases.ResolveEscalation || step.Actor != cora ||
			step.From != step.To || !step.At.Equal(later) || detail.Note != note {
			t.Errorf("the case's last step: %+v %s, want escalation_resolved by %s with %q", step, step.Detail, cora, note)
		}

		// The explicit resolution now has nothing to resolve, and writes nothing.
		resp, body := do(t, "POST", base+"/v1/escalations/"+id+"/resolve", `{"note":"handled"}`, e.bearer("cora"))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "already resolved") {
			t.Errorf("resolving after the reassignment: %d %s, want 409 already resolved", resp.StatusCode, body)
		}
		if n := countEvents(t, db, id, outbox.EscalationResolved); n != 1 {
			t.Errorf("%d escalation.resolved events after the refused resolution, want 1", n)
		}

		// Reassigning again leaves crisis-02 out, so the case is escalated anew: nothing is cleared.
		if n := len(steps()); n != before+1 {
			t.Fatalf("steps moved: %d", n)
		}
		if d := reassign(); d.Assignment != nil {
			t.Errorf("booked someone other than the one on call: %+v", d.Assignment)
		}
		if n := countEvents(t, db, id, outbox.EscalationResolved); n != 1 {
			t.Errorf("%d escalation.resolved events after reassigning a case not escalated, want 1", n)
		}
	})
}
