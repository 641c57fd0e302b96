package cli_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestUsageErrors: a mistake in the command line prints one line naming it and a pointer to the
// help on standard error, never the help on standard output (where it would land in a file), and
// exits 2; every error is printed once.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fixtures", "generate", "--cases", "5"}, cli.ExitInvalid, "carepath fixtures generate: --form is required: discharge or mental-health\nRun 'carepath fixtures generate --help' for usage.\n"},
		{[]string{"asess", "x.json"}, cli.ExitInvalid, "carepath: unknown command asess; did you mean assess?\n"},
		{[]string{"rules", "lnt", "x.yaml"}, cli.ExitInvalid, "carepath rules: unknown command lnt; did you mean lint?\n"},
		{[]string{"help", "nope"}, cli.ExitInvalid, "carepath: unknown command nope"},
		{[]string{"assess", "x.json", "--dryrun"}, cli.ExitInvalid, "carepath assess: unknown flag --dryrun; did you mean --dry-run?\n"},
		{[]string{"forms", "export", "mental-health", "--version", "one"}, cli.ExitInvalid, `carepath forms export: --version "one": want a whole number`},
		{[]string{"cases", "import", "x.jsonl", "--rejects"}, cli.ExitInvalid, "carepath cases import: --rejects needs a value"},
		{[]string{"replay", "--ruleset", "mh-triage", "--workers"}, cli.ExitInvalid, "carepath replay: --workers needs a value"},
		{[]string{"completion", "tcsh"}, cli.ExitInvalid, `carepath completion: "tcsh": want bash, zsh or fish`},
		{[]string{"version", "extra"}, cli.ExitInvalid, "carepath version: takes no arguments"},
		{[]string{"--db", "mysql://x", "forms", "list"}, cli.ExitFailure, "carepath: database: unable to open \"mysql://x\": unsupported DSN"},
		{[]string{"forms", "list", "--db", "mysql://x"}, cli.ExitFailure, "carepath: database: unable to open \"mysql://x\": unsupported DSN"},
	} {
		code, out, stderr := run(t, "", tc.args...)
		if code != tc.code || out != "" || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("carepath %s: exit %d (want %d), stdout %q, stderr %q (want %q...)", strings.Join(tc.args, " "), code, tc.code, out, stderr, tc.want)
		}
		if first := strings.SplitN(stderr, "\n", 2)[0]; strings.Count(stderr, first) != 1 {
			t.Errorf("carepath %s: printed more than once: %q", strings.Join(tc.args, " "), stderr)
		}
		if lines := strings.Count(stderr, "\n"); lines > 2 {
			t.Errorf("carepath %s: %d lines on stderr, want the mistake and at most a pointer to --help: %q", strings.Join(tc.args, " "), lines, stderr)
		}
	}
}

// TestHelpGoesToStandardOutput: help that was asked for is output, and names the global flags
// every command takes.
func TestHelpGoesToStandardOutput(t *testing.T) {
	for _, args := range [][]string{{"assess", "--help"}, {"help", "assess"}, {"assess", "-h"}} {
		code, out, stderr := run(t, "", args...)
		if code != 0 || stderr != "" || !strings.Contains(out, "carepath assess") || !strings.Contains(out, "GLOBAL OPTIONS (before or after the command)") ||
			!strings.Contains(out, "--db value") {
			t.Errorf("carepath %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, stderr)
		}
	}
	if code, out, _ := run(t, "", "help", "rules"); code != 0 || !strings.Contains(out, "lint") || !strings.Contains(out, "list") {
		t.Errorf("help rules: exit %d %q", code, out)
	}
}

// TestDefaultDatabaseIsPerUser: without --db the database is the same per-user file whichever
// directory a command runs in; an empty or missing one is named, and never created by a command
// that only reads.
func TestDefaultDatabaseIsPerUser(t *testing.T) {
	data := t.TempDir()
	t.Setenv(cli.DataDirEnv, data)
	t.Setenv("CAREPATH_DB", "") // restored after the test
	os.Unsetenv("CAREPATH_DB")
	path := filepath.Join(data, "carepath", "carepath.db")
	t.Chdir(t.TempDir())

	code, out, stderr := run(t, "", "forms", "list")
	want := "carepath: database sqlite:" + path + " is empty: run carepath migrate, or carepath serve to load the demo"
	if code != cli.ExitFailure || out != "" || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("forms list on no database: exit %d %q %q; want %q", code, out, stderr, want)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("a reading command created the data directory: %v", err)
	}
	if code, _, stderr := run(t, "", "fixtures", "load"); code != 0 {
		t.Fatalf("fixtures load: %s", stderr)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v %v, want mode 0700", st.Mode(), err)
	}
	t.Chdir(t.TempDir())
	if code, out, stderr := run(t, "", "forms", "list"); code != 0 || !strings.Contains(out, "mental-health") {
		t.Errorf("forms list from another directory: exit %d %q %q", code, out, stderr)
	}
	if code, out, _ := run(t, "", "config", "show"); code != 0 || !strings.Contains(out, "dsn: sqlite:"+path+" # CAREPATH_DB") {
		t.Errorf("config show does not name the database in use: %q", out)
	}

	// A database named by the configuration file or CAREPATH_DB is used instead.
	other := filepath.Join(t.TempDir(), "other.db")
	cfg := filepath.Join(t.TempDir(), "carepath.yaml")
	if err := os.WriteFile(cfg, []byte("database:\n  dsn: sqlite:"+other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "", "forms", "list", "--config", cfg); code != cli.ExitFailure || !strings.Contains(stderr, "sqlite:"+other+" is empty") {
		t.Errorf("the configuration file's database: exit %d %q", code, stderr)
	}
	t.Setenv("CAREPATH_DB", "") // an empty variable counts as unset
	if code, _, stderr := run(t, "", "forms", "list", "--config", cfg); code != cli.ExitFailure || !strings.Contains(stderr, "sqlite:"+other+" is empty") {
		t.Errorf("the configuration file's database with CAREPATH_DB empty: exit %d %q", code, stderr)
	}
	t.Setenv("CAREPATH_DB", "sqlite:"+other)
	if code, _, stderr := run(t, "", "forms", "list"); code != cli.ExitFailure || !strings.Contains(stderr, "sqlite:"+other+" is empty") {
		t.Errorf("CAREPATH_DB: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a reading command created %s: %v", other, err)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	code, out, stderr := run(t, "", "version")
	if code != 0 || !regexp.MustCompile(`(?m)^carepath .+\nrevision  .+\ncommitted .+\ngo        go1\.\d+`).MatchString(out) || !strings.Contains(out, "engine    carepath/") {
		t.Errorf("version: exit %d %q %q", code, out, stderr)
	}
	for shell, want := range map[string]string{
		"bash": "complete -o filenames -F _carepath_complete carepath",
		"zsh":  "compdef _carepath carepath",
		"fish": "complete -c carepath",
	} {
		if code, out, _ := run(t, "", "completion", shell); code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, lacks %q", shell, code, want)
		}
	}
	// What the scripts ask: the words that may follow. urfave/cli reads the word being completed
	// from the process's own arguments, so they are set to the command line for the moment.
	complete := func(args ...string) (int, string) {
		saved := os.Args
		defer func() { os.Args = saved }()
		os.Args = append([]string{"carepath"}, args...)
		code, out, _ := run(t, "", args...)
		return code, out
	}
	if code, out := complete("rules", "--generate-bash-completion"); code != 0 || !strings.Contains(out, "lint\n") || !strings.Contains(out, "why-not\n") {
		t.Errorf("completion of rules: exit %d %q", code, out)
	}
	if code, out := complete("assess", "--d", "--generate-bash-completion"); code != 0 || !strings.Contains(out, "--dry-run") {
		t.Errorf("completion of assess flags: exit %d %q", code, out)
	}
}

// TestAssessOutputs: a decision prints as JSON when piped and as text when asked; a dry run has no
// id and says it is one; input that is not JSON is refused with its line and column.
func TestAssessOutputs(t *testing.T) {
	native, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, _, stderr := run(t, "", "fixtures", "load", "--db", dsn); code != 0 {
			t.Fatal(stderr)
		}
		code, out, stderr := run(t, string(native), "assess", "-", "--dry-run", "--db", dsn)
		var d map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
			t.Fatalf("dry run: exit %d %q %q", code, out, stderr)
		}
		if _, ok := d["id"]; ok || d["dry_run"] != true || !strings.HasPrefix(out, "{\n  \"dry_run\": true,\n  \"form\": \"mental-health\",") {
			t.Errorf("dry run JSON: want dry_run true first and no id: %.300s", out)
		}
		if n := countDecisions(t, dsn); n != 0 {
			t.Errorf("the dry run stored %d decisions", n)
		}
		code, out, stderr = run(t, string(native), "assess", "--format", "text", "--dry-run", "-", "--db", dsn)
		if code != 0 {
			t.Fatalf("dry run as text: exit %d %s", code, stderr)
		}
		// The demo rule set's version in force changes as the demo policy does; the output's shape does not.
		golden(t, "assess-dry-run.txt", regexp.MustCompile(`\(mh-triage v\d+\)`).ReplaceAllString(out, "(mh-triage vN)"))

		code, out, stderr = run(t, string(native), "assess", "-", "--format", "text", "--db", dsn)
		if code != 0 || !regexp.MustCompile(`(?m)^decision +[0-9a-f-]{36}\n`).MatchString(out) || !strings.Contains(out, "\nvisit ") || strings.Contains(out, "DRY RUN") {
			t.Errorf("stored decision as text: exit %d %q %q", code, out, stderr)
		}
		if code, _, stderr = run(t, string(native), "assess", "-", "--format", "yaml", "--db", dsn); code != cli.ExitInvalid || !strings.Contains(stderr, `--format "yaml": want json or text`) {
			t.Errorf("--format yaml: exit %d %q", code, stderr)
		}

		bad := "{\n  \"form\": \"mental-health\",\n  \"answers\": {\"phq9_1\": 1,}\n}\n"
		file := filepath.Join(t.TempDir(), "bad.json")
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		for name, args := range map[string][]string{"standard input": {"assess", "-"}, file: {"assess", file}} {
			code, out, stderr = run(t, bad, append(args, "--db", dsn)...)
			if want := name + ":3:27: not valid JSON: invalid character '}'"; code != cli.ExitInvalid || out != "" || !strings.Contains(stderr, want) {
				t.Errorf("%s: exit %d %q, want %q", name, code, stderr, want)
			}
		}
		code, _, stderr = run(t, `{"answers": {"phq9_1": 1}}`, "assess", "-", "--db", dsn)
		if code != cli.ExitInvalid || !strings.Contains(stderr, "form: is missing") || strings.Contains(stderr, "not published") {
			t.Errorf("no form: exit %d %q", code, stderr)
		}
		if n := countDecisions(t, dsn); n != 1 {
			t.Errorf("%d decisions stored, want the one that was not a dry run", n)
		}
	})
}

// TestRulesListShowAndDates: the stored versions are listed with the one in force; a version's
// source is printed as written; a date is accepted wherever a time is asked for.
func TestRulesListShowAndDates(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
			t.Fatal(stderr)
		}
		code, text, stderr := run(t, "", "rules", "list", "--db", dsn)
		if code != 0 || !strings.HasPrefix(text, "RULE SET            VERSION  FORM           STATUS    IN FORCE  CREATED               SHA-256\n") {
			t.Errorf("rules list: exit %d\n%s%s", code, text, stderr)
		}
		code, out, _ := run(t, "", "rules", "list", "--format", "json", "--db", dsn)
		var listed struct {
			RuleSets []struct {
				ID      string `json:"id"`
				Version int    `json:"version"`
				Active  bool   `json:"active"`
			} `json:"rulesets"`
		}
		active := map[string]int{}
		if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed.RuleSets) < 3 {
			t.Errorf("rules list --format json: exit %d %q", code, out)
		}
		for _, v := range listed.RuleSets {
			if v.Active {
				active[v.ID] = v.Version
			}
		}
		if len(active) != 2 || active["mh-triage"] == 0 {
			t.Errorf("rules list --format json: in force %v, want one version of each demo rule set", active)
		}
		for _, v := range listed.RuleSets {
			inForce := ""
			if v.Active {
				inForce = "yes"
			}
			row := regexp.MustCompile(fmt.Sprintf(`(?m)^%s +v%d +\S+ +approved +%s +\d{4}-\d\d-\d\dT`, regexp.QuoteMeta(v.ID), v.Version, inForce))
			if !row.MatchString(text) {
				t.Errorf("rules list: no row for %s v%d in force %v:\n%s", v.ID, v.Version, v.Active, text)
			}
		}
		want, err := os.ReadFile(filepath.Join("..", "fixtures", "rulesets", "mh-triage.v2.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"rules", "show", "mh-triage", "2"}, {"rules", "show", "mh-triage:2"}} {
			if code, out, stderr := run(t, "", append(args, "--db", dsn)...); code != 0 || strings.TrimSpace(out) != strings.TrimSpace(string(want)) {
				t.Errorf("%v: exit %d %q %.200q", args, code, stderr, out)
			}
		}
		if code, _, stderr := run(t, "", "rules", "show", "mh-triage", "9", "--db", dsn); code != cli.ExitInvalid || !strings.Contains(stderr, "version 9 is not stored") {
			t.Errorf("show of a missing version: exit %d %q", code, stderr)
		}

		// --at takes a date as well as an RFC 3339 time, after the arguments as before them.
		if code, _, stderr := run(t, "", "rules", "activate", "mh-triage", "2", "--at", "26/12/2027", "--db", dsn); code != cli.ExitInvalid ||
			!strings.Contains(stderr, `--at "26/12/2027": want a date YYYY-MM-DD or an RFC 3339 time`) {
			t.Errorf("activate --at 26/12/2027: exit %d %q", code, stderr)
		}
		if code, out, stderr := run(t, "", "rules", "activate", "mh-triage", "2", "--at", "2027-12-26", "--reason", "new year", "--db", dsn); code != 0 ||
			!strings.Contains(out, "mh-triage v2 is active from 2027-12-26T00:00:00Z") {
			t.Errorf("activate --at 2027-12-26: exit %d %q %q", code, out, stderr)
		}
		if code, out, stderr := run(t, "", "fixtures", "generate", "--form", "discharge", "--cases", "2", "--from", "2025-03-01T08:00:00Z", "--to", "2025-03-02"); code != 0 ||
			strings.Count(out, `"authored":"2025-03-01T`) != 2 {
			t.Errorf("generate --from RFC 3339: exit %d %q %q", code, out, stderr)
		}
	})
}
