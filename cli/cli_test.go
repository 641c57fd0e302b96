package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/routing"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }

// run runs carepath in process as the local account "tester" and returns its exit code, stdout
// and stderr.
func run(t testing.TB, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return runAs(t, "tester", stdin, args...)
}

// runAs runs carepath in process as the operating-system account named account.
func runAs(t testing.TB, account, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := cli.New(cli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, LocalAccount: account}, fixedNow)
	code := cli.Run(app, append([]string{"carepath"}, args...))
	return code, out.String(), errOut.String()
}

func eachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { fn(t, databasetest.EmptyDSN(t, d)) })
	}
}

func countDecisions(t *testing.T, dsn string) int {
	t.Helper()
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAssessCommand(t *testing.T) {
	native, err := os.ReadFile(filepath.Join("..", "triage", "testdata", "native", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	fhir, err := os.ReadFile(filepath.Join("..", "triage", "testdata", "fhir", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, _, stderr := run(t, string(native), "--db", dsn, "assess", "-"); code != cli.ExitFailure || !strings.Contains(stderr, "carepath migrate") {
			t.Errorf("assess before migrate: exit %d, %q", code, stderr)
		}
		code, out, stderr := run(t, "", "--db", dsn, "fixtures", "load")
		if code != 0 || !strings.Contains(out, "loaded 3 forms, 12 pathways, 5 rule-set versions, 4 activations, 12 services, 40 practitioners, 5 on-call entries, 41 postcodes") {
			t.Fatalf("fixtures load: %d %q %q", code, out, stderr)
		}
		if code, out, _ = run(t, "", "--db", dsn, "fixtures", "load"); code != 0 || !strings.Contains(out, "loaded 0 forms, 0 pathways, 0 rule-set versions, 0 activations, 0 services, 0 practitioners, 0 on-call entries, 0 postcodes") {
			t.Errorf("second load changed something: %q", out)
		}

		var decisions []map[string]any
		for _, in := range [][]byte{native, fhir} {
			code, out, stderr = run(t, string(in), "--db", dsn, "assess", "-")
			if code != 0 {
				t.Fatalf("assess: exit %d: %s", code, stderr)
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatalf("assess printed %q: %v", out, err)
			}
			for _, k := range []string{"id", "form", "scores", "ruleset", "outcome", "rule", "explanation"} {
				if _, ok := d[k]; !ok {
					t.Errorf("output lacks %s", k)
				}
			}
			decisions = append(decisions, d)
		}
		// The native and FHIR fixtures carry the same answers, so they decide alike.
		if decisions[0]["input_sha256"] != decisions[1]["input_sha256"] || decisions[0]["rule"] != decisions[1]["rule"] {
			t.Errorf("native and FHIR decided differently: %v / %v", decisions[0]["rule"], decisions[1]["rule"])
		}
		if n := countDecisions(t, dsn); n != 2 {
			t.Errorf("%d decisions stored, want 2", n)
		}

		if code, _, _ = run(t, string(native), "--db", dsn, "assess", "--dry-run", "-"); code != 0 || countDecisions(t, dsn) != 2 {
			t.Errorf("dry run: exit %d, stored %d", code, countDecisions(t, dsn))
		}
		bad := strings.Replace(string(native), `"phq9_1"`, `"phq9_10"`, 1)
		code, out, stderr = run(t, bad, "--db", dsn, "assess", "-")
		if code != cli.ExitInvalid || out != "" || !strings.Contains(stderr, "answers.phq9_10") || !strings.Contains(stderr, "nothing was stored") {
			t.Errorf("bad input: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		if countDecisions(t, dsn) != 2 {
			t.Error("bad input stored a decision")
		}
		if code, _, stderr = run(t, "", "--db", dsn, "assess", filepath.Join(t.TempDir(), "missing.json")); code != cli.ExitInvalid || stderr == "" {
			t.Errorf("missing file: exit %d %q", code, stderr)
		}

		code, out, _ = run(t, "", "--db", dsn, "forms", "export", "mental-health")
		if code != 0 || !strings.Contains(out, `"resourceType":"Questionnaire"`) && !strings.Contains(out, `"resourceType": "Questionnaire"`) {
			t.Errorf("forms export: %d %.200s", code, out)
		}
		if code, _, stderr = run(t, "", "--db", dsn, "forms", "export", "nope"); code != cli.ExitInvalid || !strings.Contains(stderr, "nope") {
			t.Errorf("export of unknown form: %d %q", code, stderr)
		}
		if code, out, _ = run(t, "", "--db", dsn, "forms", "list"); code != 0 || !strings.Contains(out, "discharge\tv1") {
			t.Errorf("forms list: %q", out)
		}
	})
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, out, _ := run(t, "", "--db", dsn, "migrate"); code != 0 || !strings.Contains(out, "database schema at version") {
			t.Fatalf("migrate: %d %q", code, out)
		}
		db, err := database.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(db.Rebind(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)`), 999, true)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"migrate"}, {"forms", "list"}} {
			code, _, stderr := run(t, "", append([]string{"--db", dsn}, args...)...)
			if code == 0 || !strings.Contains(stderr, "newer than this carepath knows") {
				t.Errorf("%v on a newer schema: exit %d, %q", args, code, stderr)
			}
		}
	})
}

func TestBadDSN(t *testing.T) {
	code, _, stderr := run(t, "", "--db", "mysql://x", "forms", "list")
	if code == 0 || !strings.Contains(stderr, "sqlite:") {
		t.Errorf("bad DSN: exit %d %q", code, stderr)
	}
}

// assessedCase is a decision made from the command line on the demo data: what a case, step or
// escalation test starts from.
type assessedCase struct{ ID, Team string }

// assessDemo loads the demo data into dsn and assesses the mental-health example there.
func assessDemo(t *testing.T, dsn string) assessedCase {
	t.Helper()
	if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr := run(t, "", "--db", dsn, "assess", "--format", "json", "../fixtures/examples/mental-health.json")
	if code != 0 {
		t.Fatalf("assess: %d %s", code, stderr)
	}
	var d assessedCase
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.ID == "" {
		t.Fatalf("assess printed %s", out)
	}
	return d
}

// escalatedDemo is assessDemo's case escalated as placement escalates one that nobody could be
// booked for in time, with the database open on dsn for the test to look into.
func escalatedDemo(t *testing.T, dsn string) (assessedCase, *database.DB) {
	t.Helper()
	d := assessDemo(t, dsn)
	ctx := context.Background()
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := fixedNow()
	if err := routing.NewSQLStore(db).Escalate(ctx, db, routing.Escalation{DecisionID: d.ID, Team: "central", Pathway: "crisis-home-treatment",
		Priority: "emergency", Reason: "nobody on call before the deadline", Deadline: now.Add(4 * time.Hour), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return d, db
}
