package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestScriptGolden turns a logged booked decision (captured from a real server on PostgreSQL 15;
// synthetic subject) into the pgbench script, compared with testdata/booked.sql.
func TestScriptGolden(t *testing.T) {
	log, err := os.ReadFile(filepath.Join("testdata", "booked.log"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Script(string(log))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "booked.sql")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("script differs from %s (run with -update after reading the difference)", golden)
	}
	// What makes the script a fair floor, checked on its text rather than trusted to the golden.
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	cmds := []string{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "--") && !strings.HasPrefix(l, `\set`) {
			cmds = append(cmds, l)
		}
	}
	if len(cmds) != 4 || cmds[0] != "BEGIN READ WRITE;" || cmds[3] != "COMMIT;" {
		t.Fatalf("want BEGIN, claim, decision, COMMIT; got %d commands", len(cmds))
	}
	if regexp.MustCompile(`\$\d`).MatchString(cmds[1] + cmds[2]) {
		t.Error("a $n parameter is left in the script")
	}
	for _, want := range []string{"INSERT INTO appointments", "INSERT INTO outbox_events", "INSERT INTO access_audit",
		"INSERT INTO case_steps", "INSERT INTO cases", "INSERT INTO decisions"} {
		if !strings.Contains(cmds[2], want) {
			t.Errorf("the decision's statement lacks %s", want)
		}
	}
	if regexp.MustCompile(`'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'`).MatchString(cmds[2]) {
		t.Error("a logged identifier is kept as a value; it would collide from the second transaction on")
	}
	if strings.Contains(cmds[2], "'syn-11400714819323198485-3'") {
		t.Error("the logged subject is kept as a whole value; every transaction would update one case")
	}
	if !strings.Contains(cmds[1], ":client_id") {
		t.Error("the claim does not take a route of its own per client")
	}
}

func TestParseParams(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[int]string // "<nil>" for NULL
		err  string
	}{
		{in: `$1 = 'a', $2 = NULL, $3 = 'it''s'`, want: map[int]string{1: "a", 2: "<nil>", 3: "it's"}},
		{in: `$1 = ''`, want: map[int]string{1: ""}},
		{in: `$1 = 'a, $2 = b'`, want: map[int]string{1: "a, $2 = b"}},
		{in: `$1 = 'a`, err: "unterminated"},
		{in: `1 = 'a'`, err: "expected $"},
		{in: `$x = 'a'`, err: "bad number"},
		{in: `$1 = 5`, err: "quoted value or NULL"},
		{in: `$1 = 'a' $2 = 'b'`, err: "expected a comma"},
		{in: `$1`, err: "no value"},
	} {
		got, err := parseParams(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one saying %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: %d values, want %d", c.in, len(got), len(c.want))
		}
		for n, w := range c.want {
			v, ok := got[n]
			switch {
			case !ok:
				t.Errorf("%q: no $%d", c.in, n)
			case v == nil && w != "<nil>", v != nil && *v != w:
				t.Errorf("%q: $%d wrong", c.in, n)
			}
		}
	}
}

func TestLiteralKeepsPgbenchOffValues(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:                   `'plain'`,
		`it's`:                    `'it''s'`,
		`{"a":true}`:              `('{"a"' || ':' || 'true}')`,
		"12:30":                   `'12:30'`,
		"two\nlines":              `('two' || chr(10) || 'lines')`,
		`{"continuity":false}x:y`: `('{"continuity"' || ':' || 'false}x' || ':' || 'y')`,
	} {
		if got := literal(&in); got != want {
			t.Errorf("literal(%q) = %s, want %s", in, got, want)
		}
	}
	if literal(nil) != "NULL" {
		t.Error("NULL")
	}
}

func TestScriptRefusesLogWithoutBooking(t *testing.T) {
	log := "2026-12-02 08:27:13.574 UTC [1] u@d LOG:  execute 2: SELECT 1\n"
	if _, err := Script(log); err == nil || !strings.Contains(err.Error(), "no booked decision") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzStatements(f *testing.F) {
	log, err := os.ReadFile(filepath.Join("testdata", "booked.log"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(log))
	f.Add("x LOG:  execute 1: SELECT $1\nx DETAIL:  parameters: $1 = 'a''b', $2 = NULL\n")
	f.Fuzz(func(t *testing.T, s string) {
		sts, err := Statements(s)
		if err != nil {
			return
		}
		for _, st := range sts {
			if st.Params == nil {
				t.Fatal("nil parameter map")
			}
		}
		_, _ = Script(s)
	})
}
