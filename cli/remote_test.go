package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
)

// TestRemoteCommands runs assess and the rule-set lifecycle through a real server on loopback,
// signed in with the demo accounts' API tokens from CAREPATH_TOKEN: the server decides who acts,
// and its refusals exit as the same refusals made locally do.
func TestRemoteCommands(t *testing.T) {
	native, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	eachDSN(t, func(t *testing.T, dsn string) {
		srv := serve(t, dsn)
		users := map[string]string{} // username -> subject id
		for _, u := range usersJSON(t, dsn) {
			users[u.Username] = u.ID
		}
		// as runs a command as the holder of token; the database flag points nowhere, so that
		// only the server can be doing the work.
		as := func(token, stdin string, args ...string) (int, string, string) {
			t.Helper()
			t.Setenv(cli.TokenEnv, token)
			return run(t, stdin, append([]string{"--db", "sqlite:" + filepath.Join(t.TempDir(), "not-used.db")}, args...)...)
		}
		steps := []struct {
			name   string
			token  string
			stdin  string
			args   []string
			code   int
			stdout string
			stderr string
		}{
			{name: "no token", args: []string{"assess", "--server", srv.url, "-"}, stdin: string(native), code: cli.ExitForbidden,
				stderr: "--server needs an API token in the environment variable CAREPATH_TOKEN"},
			{name: "plain http to another machine", token: "cpt_demo_clinician", args: []string{"assess", "--server", "http://carepath.example.org", "-"}, stdin: string(native),
				code: cli.ExitInvalid, stderr: "plain http is allowed only to this machine"},
			{name: "not a URL", token: "cpt_demo_clinician", args: []string{"assess", "--server", "carepath.example.org", "-"}, stdin: string(native),
				code: cli.ExitInvalid, stderr: "want the http:// or https:// URL"},
			{name: "dry run", token: "cpt_demo_clinician", args: []string{"assess", "--server", srv.url, "--dry-run", "-"}, stdin: string(native),
				code: cli.ExitInvalid, stderr: "--dry-run decides on the database directly"},
			{name: "a token that is not one", token: "cpt_made_up", args: []string{"assess", "--server", srv.url, "-"}, stdin: string(native),
				code: cli.ExitForbidden, stderr: "401 Unauthorized: Sign-in required"},
			{name: "an analyst may not submit", token: "cpt_demo_analyst", args: []string{"assess", "--server", srv.url, "-"}, stdin: string(native),
				code: cli.ExitForbidden, stderr: "403 Forbidden: Not allowed"},
			{name: "a clinician submits", token: "cpt_demo_clinician", args: []string{"assess", "--server", srv.url, "--idempotency-key", "k-1", "-"}, stdin: string(native),
				stdout: `"submitted_by": "` + users["demo.clinician"] + `"`},
			{name: "an invalid assessment", token: "cpt_demo_clinician", args: []string{"assess", "--server", srv.url, "-"},
				stdin: strings.Replace(string(native), `"phq9_1"`, `"phq9_10"`, 1),
				code:  cli.ExitInvalid, stderr: "422 Unprocessable Entity: The assessment is not valid"},
			{name: "draft", token: "cpt_demo_policy", args: []string{"rules", "draft", "--server", srv.url, "--reason", "lower caseness", rulesetFile("fixtures/rulesets/mh-triage.v2.yaml")},
				stdout: `"version": 4`},
			{name: "a clinician may not submit rules", token: "cpt_demo_clinician", args: []string{"rules", "submit", "--server", srv.url, "mh-triage", "4"},
				code: cli.ExitForbidden, stderr: "Not allowed"},
			{name: "submit", token: "cpt_demo_policy", args: []string{"rules", "submit", "--server", srv.url, "--reason", "ready", "mh-triage", "4"}, stdout: `"status": "in_review"`},
			{name: "the author approves", token: "cpt_demo_policy", args: []string{"rules", "approve", "--server", srv.url, "--comment", "mine", "mh-triage", "4"},
				code: cli.ExitForbidden, stderr: "so cannot approve it; a second person must"},
			{name: "reject without a reason", token: "cpt_demo_policy2", args: []string{"rules", "reject", "--server", srv.url, "mh-triage", "4"},
				code: cli.ExitInvalid, stderr: "reason: say why the version is sent back"},
			{name: "reject", token: "cpt_demo_policy2", args: []string{"rules", "reject", "--server", srv.url, "--reason", "explain it", "mh-triage", "4"}, stdout: `"status": "draft"`},
			{name: "resubmit", token: "cpt_demo_policy", args: []string{"rules", "submit", "--server", srv.url, "mh-triage", "4"}, stdout: `"status": "in_review"`},
			{name: "a second person approves", token: "cpt_demo_policy2", args: []string{"rules", "approve", "--server", srv.url, "--comment", "checked", "--impact-days", "30", "mh-triage", "4"},
				stdout: `"status": "approved"`},
			{name: "activate in the past", token: "cpt_demo_policy", args: []string{"rules", "activate", "--server", srv.url, "--at", "2026-11-01T00:00:00Z", "mh-triage", "4"},
				code: cli.ExitInvalid, stderr: "in the past"},
			{name: "activate", token: "cpt_demo_policy", args: []string{"rules", "activate", "--server", srv.url, "--at", "2026-12-01T00:00:00Z", "--reason", "December", "mh-triage", "4"},
				stdout: `"status": "active"`},
			{name: "retire the stored v2", token: "cpt_demo_policy2", args: []string{"rules", "retire", "--server", srv.url, "--reason", "superseded", "mh-triage", "2"},
				stdout: `"status": "retired"`},
			{name: "an unknown version", token: "cpt_demo_policy", args: []string{"rules", "submit", "--server", srv.url, "mh-triage", "99"}, code: cli.ExitInvalid, stderr: "404 Not Found"},
		}
		for _, s := range steps {
			code, stdout, stderr := as(s.token, s.stdin, s.args...)
			if code != s.code || !strings.Contains(stdout, s.stdout) || !strings.Contains(stderr, s.stderr) {
				t.Fatalf("%s: %v: exit %d (want %d)\nstdout (want %q): %s\nstderr (want %q): %s", s.name, s.args, code, s.code, s.stdout, stdout, s.stderr, stderr)
			}
		}

		// The trail names the two demo policy officers by their subject ids, never a typed name.
		code, out, stderr := run(t, "", "--db", dsn, "rules", "history", "mh-triage")
		if code != 0 {
			t.Fatalf("history: exit %d %s", code, stderr)
		}
		var trail []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) >= 6 && (f[1] == "v4" || f[1] == "v2") {
				trail = append(trail, strings.Join(f[1:6], " "))
			}
		}
		policy, policy2 := users["demo.policy"], users["demo.policy2"]
		// The demo ships v1 to v3, so the officers' draft is v4.
		want := []string{
			"v2 (new) -> draft system:demo",
			"v2 draft -> approved system:demo",
			"v4 (new) -> draft " + policy,
			"v4 draft -> in_review " + policy,
			"v4 in_review -> draft " + policy2,
			"v4 draft -> in_review " + policy,
			"v4 in_review -> approved " + policy2,
			"v4 approved -> active " + policy,
			"v2 approved -> retired " + policy2,
		}
		if strings.Join(trail, "\n") != strings.Join(want, "\n") {
			t.Errorf("history:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(out, "explain it  [Demo Second Policy Officer (demo)]") {
			t.Errorf("history does not name who sent v4 back:\n%s", out)
		}

		// A retried submission with the same key returns the first decision.
		_, first, _ := as("cpt_demo_clinician", string(native), "assess", "--server", srv.url, "--idempotency-key", "k-1", "-")
		var d1 struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(first), &d1); err != nil || d1.ID == "" {
			t.Fatalf("retry printed %q: %v", first, err)
		}
		if n := countDecisions(t, dsn); n != 1 {
			t.Errorf("%d decisions stored, want 1: the retry stored a second", n)
		}
	})
}
