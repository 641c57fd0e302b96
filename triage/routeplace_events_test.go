package triage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// eventsOf returns the payloads of a case's events of one type, oldest first.
func eventsOf(t *testing.T, db *database.DB, caseID, typ string) []map[string]any {
	t.Helper()
	var rows []string
	if err := db.SelectContext(context.Background(), &rows, db.Rebind(`SELECT payload FROM outbox_events WHERE case_key = ? AND type = ? ORDER BY seq`), caseID, typ); err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal([]byte(r), &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestPlacementEventsCommitWithTheChange(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		e := placedEngine(t, db)
		events := &outbox.Publisher{Now: e.Now}
		e.Publish = events.Decided

		// A booked decision announces its visit.
		booked, _, err := e.Submit(ctx, example(t, "mental-health", nil), triage.Options{Team: "central"})
		if err != nil || booked.Assignment == nil {
			t.Fatalf("booking: %+v %v", booked, err)
		}
		got := eventsOf(t, db, booked.ID, outbox.AppointmentBooked)
		if len(got) != 1 || got[0]["appointment_id"] != booked.Assignment.Appointment.ID || got[0]["practitioner_id"] != booked.Assignment.PractitionerID {
			t.Errorf("appointment.booked: %v", got)
		}
		if n := len(eventsOf(t, db, booked.ID, outbox.CaseEscalated)); n != 0 {
			t.Errorf("%d case.escalated for a booked case", n)
		}

		// A refused reassignment writes nothing: the hook's failure rolls the change back.
		refuse := errors.New("refused")
		if _, err := e.Reassign(ctx, booked.ID, func(context.Context, *database.Tx, *triage.Decision, []routing.StoredVisit) error { return refuse }); !errors.Is(err, refuse) {
			t.Fatalf("reassign with a failing hook: %v", err)
		}
		if n := len(eventsOf(t, db, booked.ID, outbox.DecisionReassigned)); n != 0 {
			t.Errorf("%d decision.reassigned after a rolled-back reassignment", n)
		}
		if v, err := e.Placement.Routing.Visit(ctx, booked.Assignment.Appointment.ID); err != nil || v.Status != routing.StatusBooked {
			t.Errorf("rolled-back reassignment cancelled the visit: %+v %v", v.Status, err)
		}
		re, err := e.Reassign(ctx, booked.ID, events.DecisionReassigned)
		if err != nil {
			t.Fatal(err)
		}
		reassigned := eventsOf(t, db, booked.ID, outbox.DecisionReassigned)
		cancelled := eventsOf(t, db, booked.ID, outbox.AppointmentCancelled)
		if len(reassigned) != 1 || len(cancelled) != 1 || cancelled[0]["appointment_id"] != booked.Assignment.Appointment.ID {
			t.Fatalf("reassignment events: %v, cancelled %v", reassigned, cancelled)
		}
		if from, _ := reassigned[0]["from_practitioner_ids"].([]any); len(from) != 1 || from[0] != booked.Assignment.PractitionerID {
			t.Errorf("decision.reassigned from: %v", reassigned[0]["from_practitioner_ids"])
		}
		if re.Assignment != nil {
			if got := eventsOf(t, db, booked.ID, outbox.AppointmentBooked); len(got) != 2 || got[1]["appointment_id"] != re.Assignment.Appointment.ID {
				t.Errorf("appointment.booked after reassigning: %v", got)
			}
		}

		// A crisis at night with an empty rota is escalated, and the event carries what Notify reads.
		if _, err := db.ExecContext(ctx, "DELETE FROM oncall"); err != nil { // the demo rota covers this night
			t.Fatal(err)
		}
		e.Now = func() time.Time { return lateEvening }
		body := withAnswers(t, example(t, "mental-health", nil), map[string]any{"risk_plan": true})
		d, _, err := e.Submit(ctx, body, triage.Options{Team: "central"})
		if err != nil {
			t.Fatal(err)
		}
		reason, escalated := d.Escalated()
		if !escalated {
			t.Fatalf("not escalated: %+v", d)
		}
		esc := eventsOf(t, db, d.ID, outbox.CaseEscalated)
		if len(esc) != 1 || esc[0]["decision_id"] != d.ID || esc[0]["pathway"] != "crisis-home-treatment" || esc[0]["priority"] != "emergency" ||
			esc[0]["team"] != "central" || esc[0]["reason"] != reason {
			t.Errorf("case.escalated: %v", esc)
		}
		if n := len(eventsOf(t, db, d.ID, outbox.AppointmentBooked)); n != 0 {
			t.Errorf("%d appointment.booked for an escalated case", n)
		}
	})
}
