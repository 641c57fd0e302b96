package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/outbox"
)

// TestRoutingReassignRecordsTheEscalationItClears: `routing reassign` of an escalated case that
// books a visit clears the escalation and records it as `escalations resolve` would, in the same
// transaction: escalation.resolved and the case's step, by the local account, with a note naming
// whom it booked and when; resolving it afterwards is refused as already resolved.
func TestRoutingReassignRecordsTheEscalationItClears(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		d, db := escalatedDemo(t, dsn)
		var code int
		var out, stderr string
		ctx := context.Background()
		now := fixedNow()

		code, out, stderr = run(t, "", "--db", dsn, "routing", "reassign", d.ID)
		var r struct {
			Assignment *struct {
				PractitionerID string `json:"practitioner_id"`
				Appointment    struct {
					ID    string    `json:"id"`
					Start time.Time `json:"start"`
				} `json:"appointment"`
			} `json:"assignment"`
		}
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Assignment == nil || r.Assignment.Appointment.ID == "" {
			t.Fatalf("reassign: %d %s %s", code, out, stderr)
		}
		note := "cleared by reassignment: booked " + r.Assignment.PractitionerID + " " + r.Assignment.Appointment.Start.UTC().Format(time.RFC3339)

		var payloads []string
		if err := db.Select(&payloads, db.Rebind(`SELECT payload FROM outbox_events WHERE type = ? AND case_key = ?`), outbox.EscalationResolved, d.ID); err != nil {
			t.Fatal(err)
		}
		var ev outbox.ResolvedData
		if len(payloads) != 1 {
			t.Fatalf("escalation.resolved events: %q, want one", payloads)
		}
		if err := json.Unmarshal([]byte(payloads[0]), &ev); err != nil || ev.ResolvedBy != "local:tester" || ev.Note != note || !ev.Resolved.Equal(now) {
			t.Errorf("escalation.resolved %s, want by local:tester at %s with %q", payloads[0], now, note)
		}
		c, err := (&cases.Store{DB: db}).Case(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := c.Steps[len(c.Steps)-1]
		if last.Step != cases.ResolveEscalation || last.Actor != "local:tester" || !strings.Contains(string(last.Detail), note) {
			t.Errorf("the case's last step: %+v %s", last, last.Detail)
		}

		if code, _, stderr := run(t, "", "--db", dsn, "escalations", "resolve", d.ID, "--note", "handled"); code != cli.ExitInvalid ||
			!strings.Contains(stderr, "already resolved") {
			t.Errorf("resolving after the reassignment: %d %s", code, stderr)
		}
	})
}
