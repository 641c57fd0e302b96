package triage_test

import (
	"context"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// TestReassignClearingReportsTheEscalation: the cleared hook runs only for the reassignment that
// closes an open escalation, once, with the escalation as closed, after the Reassigned hook; a
// refusing cleared hook rolls the whole reassignment back, the escalation staying open.
func TestReassignClearingReportsTheEscalation(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e, store, d := escalatedAtNight(t, db)
		ctx := context.Background()
		var order []string
		var got []routing.Escalation
		reassigned := func(context.Context, *database.Tx, *triage.Decision, []routing.StoredVisit) error {
			order = append(order, "reassigned")
			return nil
		}
		cleared := func(_ context.Context, _ *database.Tx, d *triage.Decision, esc routing.Escalation) error {
			order = append(order, "cleared")
			if d.Assignment == nil || d.Assignment.Appointment.ID == "" {
				t.Errorf("cleared without a booking: %+v", d.Assignment)
			}
			got = append(got, esc)
			return nil
		}

		// Still nobody: escalated again, nothing cleared.
		if _, err := e.ReassignClearing(ctx, d.ID, reassigned, cleared); err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("cleared while still escalated: %+v", got)
		}

		night := []routing.OnCall{{ID: "night-1", ServiceID: "svc-crisis", PractitionerID: "crisis-02",
			Starts: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), Ends: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}}
		if err := store.PutOnCall(ctx, night, lateEvening); err != nil {
			t.Fatal(err)
		}

		// A refusing cleared hook undoes the booking and the closure.
		refuse := func(context.Context, *database.Tx, *triage.Decision, routing.Escalation) error {
			return failure.Errorf(failure.Unavailable, "refused")
		}
		if _, err := e.ReassignClearing(ctx, d.ID, nil, refuse); failure.CodeOf(err) != failure.Unavailable {
			t.Fatalf("refusing cleared hook: %v", err)
		}
		if l, err := store.Escalations(ctx, "central"); err != nil || len(l) != 1 {
			t.Fatalf("after a rolled-back clearance: %+v %v, want it open", l, err)
		}

		order = nil
		r, err := e.ReassignClearing(ctx, d.ID, reassigned, cleared)
		if err != nil {
			t.Fatal(err)
		}
		if r.Assignment == nil || r.Assignment.PractitionerID != "crisis-02" {
			t.Fatalf("not booked on call: %+v", r.Assignment)
		}
		if len(got) != 1 || got[0].DecisionID != d.ID || got[0].Team != "central" || got[0].Reason == "" ||
			got[0].ResolvedAt == nil || !got[0].ResolvedAt.Equal(lateEvening) {
			t.Fatalf("cleared %+v, want the escalation of %s closed at %s", got, d.ID, lateEvening)
		}
		if len(order) != 2 || order[0] != "reassigned" || order[1] != "cleared" {
			t.Errorf("hooks ran in the order %v, want reassigned then cleared", order)
		}
		if l, err := store.Escalations(ctx, "central"); err != nil || len(l) != 0 {
			t.Errorf("booked, yet still escalated: %+v %v", l, err)
		}
	})
}

// TestClearEscalation closes an open escalation once and returns it as closed; a decision never
// escalated, or already resolved, is not open, and nothing is changed.
func TestClearEscalation(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := routing.NewSQLStore(db)
		at := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
		if _, ok, err := store.ClearEscalation(ctx, db, "nope", at); err != nil || ok {
			t.Errorf("never escalated: open %v, %v", ok, err)
		}
		if err := store.Escalate(ctx, db, routing.Escalation{DecisionID: "d-1", Team: "central", Pathway: "p", Priority: "urgent",
			Reason: "nobody", Deadline: at.Add(time.Hour), CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := store.ClearEscalation(ctx, db, "d-1", at.Add(time.Minute))
		if err != nil || !ok || got.DecisionID != "d-1" || got.Team != "central" || got.Reason != "nobody" || !got.Deadline.Equal(at.Add(time.Hour)) ||
			got.ResolvedAt == nil || !got.ResolvedAt.Equal(at.Add(time.Minute)) {
			t.Fatalf("clear: %+v %v %v", got, ok, err)
		}
		if _, ok, err := store.ClearEscalation(ctx, db, "d-1", at.Add(2*time.Minute)); err != nil || ok {
			t.Errorf("second clearance: open %v, %v", ok, err)
		}
		if _, err := store.ResolveEscalationTx(ctx, db, "d-1", at); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("resolving a cleared escalation: %v, want a conflict", err)
		}
	})
}
