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

// TestReassignResolvesEscalation: a crisis case escalated at night is resolved by the
// reassignment that books it on call, in the reassignment's transaction; a reassignment that
// escalates it again reopens it, and a resolution is refused once it is resolved.
func TestReassignResolvesEscalation(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e, store, d := escalatedAtNight(t, db)
		ctx := context.Background()
		open := func() []routing.Escalation {
			t.Helper()
			list, err := store.Escalations(ctx, "central")
			if err != nil {
				t.Fatal(err)
			}
			return list
		}
		if l := open(); len(l) != 1 || l[0].DecisionID != d.ID {
			t.Fatalf("open escalations %+v", l)
		}

		// Still nobody on call: the reassignment escalates again and the escalation stays open.
		if r, err := e.Reassign(ctx, d.ID, nil); err != nil {
			t.Fatal(err)
		} else if _, ok := r.Escalated(); !ok {
			t.Fatalf("reassigned without anyone on call: %+v", r.Assignment)
		}
		if l := open(); len(l) != 1 {
			t.Fatalf("after escalating again: %+v, want it open", l)
		}

		// Someone on call now: the visit is booked and the escalation resolved with it.
		night := []routing.OnCall{{ID: "night-1", ServiceID: "svc-crisis", PractitionerID: "crisis-02",
			Starts: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), Ends: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}}
		if err := store.PutOnCall(ctx, night, lateEvening); err != nil {
			t.Fatal(err)
		}
		r, err := e.Reassign(ctx, d.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Assignment == nil || r.Assignment.PractitionerID != "crisis-02" {
			t.Fatalf("not booked on call: %+v %q", r.Assignment, r.UnassignedReason)
		}
		if l := open(); len(l) != 0 {
			t.Fatalf("booked, yet still escalated: %+v", l)
		}
		if _, err := store.ResolveEscalationTx(ctx, db, d.ID, lateEvening); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("resolving a resolved escalation: %v, want a conflict", err)
		}

		// The on-call practitioner is taken off: reassigning leaves them out, escalates, and reopens it.
		if _, err := db.ExecContext(ctx, "DELETE FROM oncall"); err != nil {
			t.Fatal(err)
		}
		if r, err := e.Reassign(ctx, d.ID, nil); err != nil {
			t.Fatal(err)
		} else if _, ok := r.Escalated(); !ok {
			t.Fatalf("want escalated again, got %+v", r.Assignment)
		}
		if l := open(); len(l) != 1 || l[0].DecisionID != d.ID {
			t.Fatalf("escalated again, yet not open: %+v", l)
		}

		// A rolled-back reassignment leaves the escalation as it was.
		if err := store.PutOnCall(ctx, night, lateEvening); err != nil {
			t.Fatal(err)
		}
		refuse := func(context.Context, *database.Tx, *triage.Decision, []routing.StoredVisit) error {
			return failure.Errorf(failure.Unavailable, "refused")
		}
		if _, err := e.Reassign(ctx, d.ID, refuse); err == nil {
			t.Fatal("the refusing hook did not roll back the reassignment")
		}
		if l := open(); len(l) != 1 {
			t.Fatalf("a rolled-back reassignment resolved the escalation: %+v", l)
		}
	})
}

// TestResolveEscalationTx tells a decision never escalated from one already resolved.
func TestResolveEscalationTx(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := routing.NewSQLStore(db)
		at := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
		if _, err := store.ResolveEscalationTx(ctx, db, "nope", at); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("never escalated: %v, want a conflict", err)
		}
		if err := store.Escalate(ctx, db, routing.Escalation{DecisionID: "d-1", Team: "central", Pathway: "p", Priority: "urgent",
			Reason: "nobody", Deadline: at.Add(time.Hour), CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		got, err := store.ResolveEscalationTx(ctx, db, "d-1", at.Add(time.Minute))
		if err != nil || got.ResolvedAt == nil || !got.ResolvedAt.Equal(at.Add(time.Minute)) || got.Reason != "nobody" {
			t.Fatalf("resolve: %+v %v", got, err)
		}
		if _, err := store.ResolveEscalationTx(ctx, db, "d-1", at); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("second resolution: %v, want a conflict", err)
		}
	})
}

// escalatedAtNight is a crisis case submitted late in the evening with nobody on call, so it is
// escalated, with the engine and the routing store it was placed by.
func escalatedAtNight(t *testing.T, db *database.DB) (*triage.Engine, *routing.SQLStore, *triage.Decision) {
	t.Helper()
	e := placedEngine(t, db)
	e.Now = func() time.Time { return lateEvening }
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "DELETE FROM oncall"); err != nil {
		t.Fatal(err)
	}
	body := withAnswers(t, example(t, "mental-health", nil), map[string]any{"risk_plan": true})
	d, _, err := e.Submit(ctx, body, triage.Options{Team: "central"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Escalated(); !ok {
		t.Fatalf("not escalated: %+v %q", d.Assignment, d.UnassignedReason)
	}
	return e, e.Placement.Routing.(*routing.SQLStore), d
}
