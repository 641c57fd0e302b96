package cli_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/database"
)

// seedAudit migrates the database at dsn and records three accesses and one rule-set change.
func seedAudit(t *testing.T, dsn string) {
	t.Helper()
	if code, _, stderr := run(t, "", "--db", dsn, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	log := &audit.Log{DB: db}
	for _, e := range []audit.Access{
		{Subject: "u-alice", Roles: []string{"clinician"}, Team: "north", At: at, Action: audit.ActionDecisionRead, Records: []string{"d-1"}, Outcome: audit.Allowed},
		{Subject: "u-bob", Roles: []string{"clinician"}, Team: "south", At: at.Add(time.Hour), Action: audit.ActionDecisionRead, Records: []string{"d-1"},
			Purpose: "patient in A&E, team unreachable", BreakGlass: true, Outcome: audit.Allowed},
		{Subject: "u-alice", Roles: []string{"clinician"}, Team: "north", At: at.Add(24 * time.Hour), Action: audit.ActionDecisionRead, Records: []string{"d-2"}, Outcome: audit.Allowed},
	} {
		if err := log.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	err = db.InTx(context.Background(), func(tx *database.Tx) error {
		return audit.AppendRuleSetTx(context.Background(), tx, audit.RuleSetEntry{RuleSet: "mental-health", Version: 2, Actor: "u-carol", At: at, To: "draft"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditSearchCommand(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		seedAudit(t, dsn)
		tests := []struct {
			args     []string
			wantSeqs []float64
		}{
			{nil, []float64{3, 2, 1}},
			{[]string{"--user", "u-alice"}, []float64{3, 1}},
			{[]string{"--subject", "d-1"}, []float64{2, 1}},
			{[]string{"--break-glass"}, []float64{2}},
			{[]string{"--since", "2026-11-26"}, []float64{3}},
			{[]string{"--until", "2026-11-25"}, []float64{2, 1}},
			{[]string{"--since", "2026-11-25T14:30:00Z", "--until", "2026-11-25"}, []float64{2}},
			{[]string{"--limit", "1", "--user", "u-alice"}, []float64{3}},
		}
		for _, tt := range tests {
			args := append([]string{"--db", dsn, "audit", "search", "--format", "json"}, tt.args...)
			code, out, stderr := run(t, "", args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", tt.args, code, stderr)
			}
			var found []map[string]any
			if err := json.Unmarshal([]byte(out), &found); err != nil {
				t.Fatalf("%v printed %q: %v", tt.args, out, err)
			}
			// Each search is itself recorded (as audit.search by local:tester); the seeded rows are
			// what the filters are checked against.
			var got []float64
			for _, a := range found {
				if a["action"] != "audit.search" {
					got = append(got, a["seq"].(float64))
				}
			}
			if !slices.Equal(got, tt.wantSeqs) {
				t.Errorf("%v: seqs %v, want %v", tt.args, got, tt.wantSeqs)
			}
		}

		code, out, _ := run(t, "", "--db", dsn, "audit", "search", "--subject", "d-1")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "2\t2026-11-25T15:00:00Z\tu-bob\tsouth\tdecision.read\tallowed\td-1\tBREAK GLASS: patient in A&E") {
			t.Errorf("text search: exit %d\n%s", code, out)
		}

		for _, args := range [][]string{{"--since", "yesterday"}, {"--until", "2026-13-01"}, {"--format", "xml"}, {"--limit", "-3"},
			{"--since", "2026-11-26", "--until", "2026-11-25"}} {
			code, _, stderr := run(t, "", append([]string{"--db", dsn, "audit", "search"}, args...)...)
			if code != cli.ExitInvalid || !strings.Contains(stderr, "carepath audit search") {
				t.Errorf("%v: exit %d %q, want %d", args, code, stderr, cli.ExitInvalid)
			}
		}
	})
}

func TestAuditVerifyCommand(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		seedAudit(t, dsn)
		code, out, stderr := run(t, "", "--db", dsn, "audit", "verify")
		if code != 0 || !strings.Contains(out, "access: intact, 3 rows, head ") || !strings.Contains(out, "ruleset: intact, 1 rows") {
			t.Fatalf("verify: exit %d\n%s%s", code, out, stderr)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "audit", "verify", "--chain", "everything"); code != cli.ExitInvalid || !strings.Contains(stderr, "access, ruleset or all") {
			t.Errorf("unknown chain: exit %d %q", code, stderr)
		}

		// Someone with schema rights lifts the guard and rewrites who read record d-1.
		db, err := database.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		drop := "DROP TRIGGER access_audit_no_update"
		if db.Dialect == database.Postgres {
			drop = "DROP TRIGGER access_audit_append_only ON access_audit"
		}
		for _, q := range []string{drop, "UPDATE access_audit SET subject = 'u-alice' WHERE seq = 2"} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		code, out, stderr = run(t, "", "--db", dsn, "audit", "verify")
		if code != cli.ExitFailure || !strings.Contains(stderr, "the access chain is broken at row 2") || !strings.Contains(out, "ruleset: intact") {
			t.Errorf("verify after tampering: exit %d\nstdout %s\nstderr %s", code, out, stderr)
		}
		if code, _, _ := run(t, "", "--db", dsn, "audit", "verify", "--chain", "ruleset"); code != 0 {
			t.Errorf("verify --chain ruleset: exit %d, want 0: that chain is intact", code)
		}
	})
}
