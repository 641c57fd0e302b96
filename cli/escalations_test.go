package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/routing"
)

// TestEscalationsCommands lists an escalated case, refuses a bad note, resolves it with the
// case's step, event and access record, and refuses a second resolution, on both backends.
func TestEscalationsCommands(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		d, db := escalatedDemo(t, dsn)
		var code int
		var out, stderr string
		ctx := context.Background()

		list := func(args ...string) []routing.Escalation {
			t.Helper()
			code, out, stderr := run(t, "", append([]string{"--db", dsn, "escalations", "list"}, args...)...)
			var got struct{ Escalations []routing.Escalation }
			if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
				t.Fatalf("escalations list %v: %d %s %s", args, code, out, stderr)
			}
			return got.Escalations
		}
		if l := list(); len(l) != 1 || l[0].DecisionID != d.ID || l[0].Reason != "nobody on call before the deadline" {
			t.Fatalf("list: %+v", l)
		}
		if l := list("--team", "central"); len(l) != 1 {
			t.Errorf("list --team central: %+v", l)
		}
		if l := list("--team", "south"); len(l) != 0 {
			t.Errorf("list --team south: %+v", l)
		}

		for _, tc := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"no note", []string{d.ID}, cli.ExitInvalid, "note"},
			{"empty note", []string{d.ID, "--note", "  "}, cli.ExitInvalid, "note: is missing"},
			{"long note", []string{d.ID, "--note", strings.Repeat("x", routing.MaxResolutionNote+1)}, cli.ExitInvalid, "note: at most"},
			{"control character", []string{d.ID, "--note", "ok\x1b[2J"}, cli.ExitInvalid, "note: plain text"},
			{"no decision", []string{"--note", "handled"}, cli.ExitInvalid, "give one DECISION"},
			{"unknown decision", []string{"nope", "--note", "handled"}, cli.ExitInvalid, "nope"},
		} {
			code, _, stderr := run(t, "", append([]string{"--db", dsn, "escalations", "resolve"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s: %d %s, want %d and %q", tc.name, code, stderr, tc.code, tc.want)
			}
		}
		if l := list(); len(l) != 1 {
			t.Fatalf("a refused resolution changed the list: %+v", l)
		}

		code, out, stderr = run(t, "", "--db", dsn, "escalations", "resolve", d.ID, "--note", "Phoned the crisis team; visit booked by hand")
		var res struct {
			DecisionID string  `json:"decision_id"`
			ResolvedAt *string `json:"resolved_at"`
			ResolvedBy string  `json:"resolved_by"`
			Note       string
			CaseStep   bool `json:"case_step"`
		}
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.DecisionID != d.ID || res.ResolvedAt == nil ||
			res.ResolvedBy != "local:tester" || res.Note != "Phoned the crisis team; visit booked by hand" || !res.CaseStep {
			t.Fatalf("resolve: %d %s %s", code, out, stderr)
		}
		if l := list(); len(l) != 0 {
			t.Errorf("resolved, still listed: %+v", l)
		}
		code, out, _ = run(t, "", "--db", dsn, "cases", "show", d.ID, "--format", "json")
		if code != 0 || !strings.Contains(out, `"escalation_resolved"`) || !strings.Contains(out, "Phoned the crisis team") {
			t.Errorf("the case's history lacks the resolution: %s", out)
		}
		var events, records int
		if err := db.Get(&events, db.Rebind(`SELECT COUNT(*) FROM outbox_events WHERE type = 'escalation.resolved' AND case_key = ?`), d.ID); err != nil || events != 1 {
			t.Errorf("escalation.resolved events: %d %v", events, err)
		}
		found, err := (&audit.Log{DB: db}).Search(ctx, audit.Filter{Record: d.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range found {
			if a.Action == "escalation.resolve" && a.Subject == "local:tester" && a.Outcome == audit.Allowed {
				records++
			}
		}
		if records != 1 {
			t.Errorf("access records of the resolution: %d in %+v", records, found)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "escalations", "resolve", d.ID, "--note", "again"); code != cli.ExitInvalid ||
			!strings.Contains(stderr, "already resolved") {
			t.Errorf("second resolution: %d %s", code, stderr)
		}
	})
}
