package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
)

// TestCaseLifecycleCommands takes a case from its decision to closed through the command line,
// then reports outcomes, on both backends.
func TestCaseLifecycleCommands(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		d := assessDemo(t, dsn)
		var code int
		var out, stderr string
		code, out, stderr = run(t, "", "--db", dsn, "cases", "list", "--status", "referred", "--format", "json")
		var page struct {
			Cases []struct{ ID, Status string }
		}
		if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Cases) != 1 || page.Cases[0].ID != d.ID {
			t.Fatalf("cases list: %d %s %s", code, out, stderr)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "cases", "step", d.ID, "visit_done"); code != cli.ExitInvalid ||
			!strings.Contains(stderr, "is referred") || !strings.Contains(stderr, "visit_done") {
			t.Errorf("an out-of-order step: %d %s", code, stderr)
		}
		for _, step := range []string{"accept", "book", "visit_done", "outcome", "close"} {
			if code, _, stderr := run(t, "", "--db", dsn, "cases", "step", d.ID, step); code != 0 {
				t.Fatalf("step %s: %d %s", step, code, stderr)
			}
		}
		code, out, _ = run(t, "", "--db", dsn, "cases", "show", d.ID)
		if code != 0 || !strings.Contains(out, "closed") || strings.Count(out, "local:tester") != 6 {
			t.Errorf("cases show: %d\n%s", code, out)
		}
		for _, bad := range [][]string{{"cases", "list", "--size", "0"}, {"cases", "list", "--status", "lost"}, {"cases", "step", d.ID, "fly"},
			{"outcomes", "--by", "week"}, {"outcomes", "--format", "xml"}} {
			if code, _, stderr := run(t, "", append([]string{"--db", dsn}, bad...)...); code != cli.ExitInvalid {
				t.Errorf("%v: %d %s", bad, code, stderr)
			}
		}
		code, out, stderr = run(t, "", "--db", dsn, "outcomes", "--by", "team", "--format", "csv")
		if code != 0 || !strings.HasPrefix(out, "team,cases,") || strings.Contains(out, d.ID) || strings.Contains(out, "demo-0001") {
			t.Errorf("outcomes: %d %s %s", code, out, stderr)
		}
	})
}
