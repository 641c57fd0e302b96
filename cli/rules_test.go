package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/cli"
)

// rulesetFile is a demo rule set or a seeded fault, by path from the repository root.
func rulesetFile(path string) string { return filepath.Join("..", filepath.FromSlash(path)) }

// phq9Case is a mental-health submission whose PHQ-9 total is total (item 9 kept at 0).
func phq9Case(total int, ref string) string {
	var answers []string
	for i := 1; i <= 8; i++ {
		v := min(total, 3)
		total -= v
		answers = append(answers, fmt.Sprintf(`"phq9_%d": %d`, i, v))
	}
	answers = append(answers, `"phq9_9": 0`)
	for i := 1; i <= 7; i++ {
		answers = append(answers, fmt.Sprintf(`"gad7_%d": 0`, i))
	}
	answers = append(answers, `"risk_plan": false`, `"risk_intent": false`, `"previous_high_intensity_treatment": false`, `"under_secondary_care": false`)
	return fmt.Sprintf(`{"form": "mental-health", "subject": {"ref": %q, "age": 40}, "answers": {%s}, "authored": %q}`,
		ref, strings.Join(answers, ", "), fixedNow().Add(-time.Hour).Format(time.RFC3339))
}

// TestRulesFileCommands covers the commands that work on files alone: exit 0 when all is well, 1
// when a check or test fails, 2 when the command line itself is refused.
func TestRulesFileCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   string
		junitHas []string
	}{
		{name: "lint demo rule sets", args: []string{"lint", rulesetFile("fixtures/rulesets/mh-triage.v1.yaml"), rulesetFile("fixtures/rulesets/discharge-pathways.v1.yaml")},
			stdout: []string{"mh-triage v1: 0 errors", "discharge-pathways v1: 0 errors"}},
		{name: "lint an unreachable rule", args: []string{"lint", rulesetFile("rules/testdata/faults/unreachable.yaml")},
			code: cli.ExitFailure, stdout: []string{"rule higher: error: unreachable"}},
		{name: "lint a type error", args: []string{"lint", rulesetFile("rules/testdata/faults/type-error.yaml")},
			code: cli.ExitFailure, stdout: []string{"type-error.yaml:"}},
		{name: "lint a missing file", args: []string{"lint", "no-such-file.yaml"}, code: cli.ExitFailure, stdout: []string{"no-such-file.yaml"}},
		{name: "lint without files", args: []string{"lint"}, code: cli.ExitInvalid, stderr: "give one or more FILEs"},
		{name: "test the demo rule sets", args: []string{"test", rulesetFile("fixtures/rulesets/mh-triage.v1.yaml"), rulesetFile("fixtures/rulesets/mh-triage.v2.yaml")},
			stdout: []string{"ok  \tmh-triage v1\t11 tests", "coverage: 100.0%"}, junitHas: []string{"<testsuites", `name="mh-triage v1"`}},
		{name: "test expecting the wrong pathway", args: []string{"test", rulesetFile("rules/testdata/faults/wrong-pathway.yaml")},
			code: cli.ExitFailure, stdout: []string{"--- FAIL: mh-triage v9/wrong-expectation", "pathway: want talking-therapies-step3, got watchful-waiting (matched rule otherwise)"},
			junitHas: []string{"<failure", "wrong-expectation"}},
		{name: "test with a coverage gap", args: []string{"test", rulesetFile("rules/testdata/faults/coverage-gap.yaml")}, code: cli.ExitFailure, stdout: []string{"FAIL"}},
		{name: "test a file that does not compile", args: []string{"test", rulesetFile("rules/testdata/faults/missing-final.yaml")},
			code: cli.ExitFailure, stdout: []string{"[build failed]"}},
		{name: "test without files", args: []string{"test"}, code: cli.ExitInvalid, stderr: "give one or more FILEs"},
		{name: "diff two files", args: []string{"diff", rulesetFile("fixtures/rulesets/mh-triage.v1.yaml"), rulesetFile("fixtures/rulesets/mh-triage.v2.yaml")},
			stdout: []string{"phq9_caseness"}},
		{name: "diff one file", args: []string{"diff", rulesetFile("fixtures/rulesets/mh-triage.v1.yaml")}, code: cli.ExitInvalid, stderr: "give two versions"},
		{name: "diff a missing file", args: []string{"diff", "a.yaml", "b.yaml"}, code: cli.ExitInvalid, stderr: "a.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"rules"}, tc.args...)
			junit := ""
			if tc.junitHas != nil {
				junit = filepath.Join(t.TempDir(), "junit.xml")
				args = append([]string{"rules", "test", "--junit", junit}, tc.args[1:]...)
			}
			code, stdout, stderr := run(t, "", args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q: %q", tc.stderr, stderr)
			}
			if junit != "" {
				xml, err := os.ReadFile(junit)
				if err != nil {
					t.Fatalf("--junit wrote nothing: %v", err)
				}
				for _, want := range tc.junitHas {
					if !strings.Contains(string(xml), want) {
						t.Errorf("JUnit XML lacks %q:\n%s", want, xml)
					}
				}
			}
		})
	}
}

// decisionID assesses a submission with `carepath assess` and returns the stored decision's id.
func decisionID(t *testing.T, dsn, body string) string {
	t.Helper()
	code, out, stderr := run(t, body, "--db", dsn, "assess", "-")
	if code != 0 {
		t.Fatalf("assess: exit %d: %s", code, stderr)
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.ID == "" {
		t.Fatalf("assess printed %q: %v", out, err)
	}
	return d.ID
}

// TestRulesShadowRun starts a shadow of mh-triage v2 through the CLI, assesses cases with
// `carepath assess`, and expects the report to hold exactly the PHQ-9-total-9 cases.
func TestRulesShadowRun(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
			t.Fatalf("fixtures load: %s", stderr)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "rules", "shadow", "start", "mh-triage", "x"); code != cli.ExitInvalid || !strings.Contains(stderr, "want a whole number") {
			t.Errorf("shadow start of version x: exit %d %q", code, stderr)
		}
		code, out, stderr := runAs(t, "alice", "", "--db", dsn, "rules", "shadow", "start", "mh-triage", "2")
		if code != 0 {
			t.Fatalf("shadow start: exit %d %s", code, stderr)
		}
		if !strings.Contains(out, `"local:alice"`) {
			t.Errorf("shadow start does not record the local account local:alice:\n%s", out)
		}
		if code, _, stderr := runAs(t, "alice", "", "--db", dsn, "rules", "shadow", "start", "mh-triage", "2"); code != cli.ExitInvalid || !strings.Contains(stderr, "already has a shadow run") {
			t.Errorf("second shadow start: exit %d %q", code, stderr)
		}
		moved := map[string]bool{}
		for _, total := range []int{0, 4, 8, 9, 10, 14, 9, 15, 20} {
			id := decisionID(t, dsn, phq9Case(total, fmt.Sprintf("subject-%d", total)))
			if total == 9 {
				moved[testPseudonyms(t).Case(id)] = true // reports name cases by pseudonym
			}
		}
		if code, _, stderr := runAs(t, "bob", "", "--db", dsn, "rules", "shadow", "stop", "mh-triage"); code != 0 {
			t.Fatalf("shadow stop: exit %d %s", code, stderr)
		}
		decisionID(t, dsn, phq9Case(9, "after-the-run")) // not shadowed: the run has ended
		code, out, stderr = run(t, "", "--db", dsn, "rules", "shadow", "report", "mh-triage")
		if code != 0 {
			t.Fatalf("shadow report: exit %d %s", code, stderr)
		}
		var rep struct {
			Runs []struct {
				Run struct {
					Evaluated int `json:"evaluated"`
					Failed    int `json:"failed"`
				} `json:"run"`
				Disagreements int     `json:"disagreements"`
				AgreementRate float64 `json:"agreement_rate"`
				Flows         []struct {
					From     string   `json:"from"`
					To       string   `json:"to"`
					Count    int      `json:"count"`
					Examples []string `json:"examples"`
				} `json:"flows"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, out)
		}
		if len(rep.Runs) != 1 || rep.Runs[0].Run.Evaluated != 9 || rep.Runs[0].Run.Failed != 0 || rep.Runs[0].Disagreements != 2 || len(rep.Runs[0].Flows) != 1 {
			t.Fatalf("report:\n%s", out)
		}
		f := rep.Runs[0].Flows[0]
		if f.From != "watchful-waiting" || f.To != "talking-therapies-step2" || f.Count != 2 || len(f.Examples) != 2 || !moved[f.Examples[0]] || !moved[f.Examples[1]] {
			t.Errorf("flow = %+v, want the two PHQ-9-total-9 cases %v", f, moved)
		}
		if want := 7.0 / 9; rep.Runs[0].AgreementRate != want {
			t.Errorf("agreement rate %v, want %v", rep.Runs[0].AgreementRate, want)
		}
	})
}

// TestRulesLifecycle takes a draft through submit, a rejection, a second person's approval, a
// future activation and a rollback with the CLI, each step as an operating-system account, and
// asks why not for a stored decision.
func TestRulesLifecycle(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		db := func(args ...string) (int, string, string) {
			t.Helper()
			return run(t, "", append([]string{"--db", dsn}, args...)...)
		}
		if code, _, stderr := db("fixtures", "load"); code != 0 {
			t.Fatalf("fixtures load: %s", stderr)
		}
		phq9Nine := decisionID(t, dsn, phq9Case(9, "why-not"))

		// A draft that fails its own tests is refused at submit and stays a draft.
		src, err := os.ReadFile(rulesetFile("fixtures/rulesets/mh-triage.v2.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		broken := filepath.Join(t.TempDir(), "broken.yaml")
		bad := strings.Replace(string(src), "expect: {pathway: talking-therapies-step2, rule: caseness}", "expect: {pathway: watchful-waiting}", 1)
		if bad == string(src) {
			t.Fatal("the v2 fixture no longer has the test this one breaks")
		}
		if err := os.WriteFile(broken, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			as     string // the operating-system account running the command
			args   []string
			code   int
			stdout string
			stderr string
		}{
			// Who acts is the operating-system account; there is no flag to name anyone else.
			{as: "alice", args: []string{"rules", "draft", "--actor", "bob", broken}, code: cli.ExitInvalid, stderr: "carepath rules draft: unknown flag --actor"},
			{as: "alice", args: []string{"rules", "draft", "--reason", "lower caseness", broken}, stdout: "stored mh-triage v4 as a draft"},
			{as: "alice", args: []string{"rules", "submit", "mh-triage", "4"}, code: cli.ExitInvalid, stdout: "--- FAIL", stderr: "failed tests"},
			{as: "alice", args: []string{"rules", "draft", rulesetFile("fixtures/rulesets/mh-triage.v2.yaml")}, stdout: "stored mh-triage v5 as a draft"},
			{as: "alice", args: []string{"rules", "submit", "--reason", "ready", "mh-triage", "5"}, stdout: "mh-triage v5 is in review"},
			{as: "alice", args: []string{"rules", "submit", "mh-triage", "x"}, code: cli.ExitInvalid, stderr: "want a whole number"},
			{as: "bob", args: []string{"rules", "reject", "mh-triage", "5"}, code: cli.ExitInvalid, stderr: "reason: say why"},
			{as: "bob", args: []string{"rules", "reject", "--reason", "explain the threshold", "mh-triage", "5"}, stdout: "mh-triage v5 is back to draft"},
			{as: "bob", args: []string{"rules", "activate", "mh-triage", "5"}, code: cli.ExitInvalid, stderr: "only an approved version can be activated"},
			{as: "alice", args: []string{"rules", "submit", "--reason", "explained", "mh-triage", "5"}, stdout: "mh-triage v5 is in review"},
			// The author approving is not allowed (exit 4), whatever the comment.
			{as: "alice", args: []string{"rules", "approve", "--comment", "mine", "mh-triage", "5"}, code: cli.ExitForbidden,
				stderr: "alice (local account) (local:alice) wrote or changed rule set mh-triage v5, so cannot approve it; a second person must"},
			// A reviewer who only sent the version back may approve it.
			{as: "bob", args: []string{"rules", "approve", "--comment", "checked the impact", "mh-triage", "5"}, stdout: `"changed": 1`},
			{as: "alice", args: []string{"rules", "activate", "--at", "2026-11-20T00:00:00Z", "mh-triage", "5"}, code: cli.ExitInvalid, stderr: "in the past"},
			// Another person approved, so the author may bring it into force.
			{as: "alice", args: []string{"rules", "activate", "--at", "2026-12-01T00:00:00Z", "--reason", "from December", "mh-triage", "5"}, stdout: "mh-triage v5 is active from 2026-12-01T00:00:00Z"},
			{as: "carol", args: []string{"rules", "activate", "--reason", "roll back", "mh-triage", "1"}, stdout: "mh-triage v1 is active from 2026-11-26T09:00:00Z"},
			{as: "carol", args: []string{"rules", "retire", "mh-triage", "1"}, code: cli.ExitInvalid, stderr: "active"},
			{args: []string{"rules", "diff", "mh-triage:1", "mh-triage:5"}, stdout: "phq9_caseness"},
			{args: []string{"rules", "diff", "mh-triage:1", "mh-triage:9"}, code: cli.ExitInvalid, stderr: "mh-triage version 9 is not stored"},
			{args: []string{"rules", "why-not", phq9Nine, "talking-therapies-step2"}, stdout: "rule caseness: condition false"},
			{args: []string{"rules", "why-not", "no-such-decision", "talking-therapies-step2"}, code: cli.ExitInvalid, stderr: "no-such-decision"},
			{args: []string{"rules", "history"}, code: cli.ExitInvalid, stderr: "give one rule-set ID"},
		}
		for _, s := range steps {
			as := s.as
			if as == "" {
				as = "tester"
			}
			code, stdout, stderr := runAs(t, as, "", append([]string{"--db", dsn}, s.args...)...)
			if code != s.code || !strings.Contains(stdout, s.stdout) || !strings.Contains(stderr, s.stderr) {
				t.Fatalf("%s: %v: exit %d (want %d)\nstdout (want %q): %s\nstderr (want %q): %s", as, s.args, code, s.code, s.stdout, stdout, s.stderr, stderr)
			}
		}
		code, out, stderr := db("rules", "history", "mh-triage")
		if code != 0 {
			t.Fatalf("history: exit %d %s", code, stderr)
		}
		var trail []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			trail = append(trail, strings.Join(f[1:6], " "))
		}
		want := []string{
			"v1 (new) -> draft system:demo",
			"v1 draft -> approved system:demo",
			"v1 approved -> active system:demo",
			"v2 (new) -> draft system:demo",
			"v2 draft -> approved system:demo",
			// The demo ships v3 and puts it in force from 2026, so the drafts here are v4 and v5.
			"v3 (new) -> draft system:demo",
			"v3 draft -> approved system:demo",
			"v3 approved -> active system:demo",
			"v4 (new) -> draft local:alice",
			"v5 (new) -> draft local:alice",
			"v5 draft -> in_review local:alice",
			"v5 in_review -> draft local:bob",
			"v5 draft -> in_review local:alice",
			"v5 in_review -> approved local:bob",
			"v5 approved -> active local:alice",
			"v1 approved -> active local:carol",
		}
		if strings.Join(trail, "\n") != strings.Join(want, "\n") {
			t.Errorf("history:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
		}
	})
}
