package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/database"
)

// TestGenerateImportReplay runs the analyst's workflow through the command line on both backends:
// generate synthetic cases, import them, replay mh-triage v2 against what v1 decided, verify.
func TestGenerateImportReplay(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
			t.Fatal(stderr)
		}
		code, lines, stderr := run(t, "", "fixtures", "generate", "--form", "mental-health", "--cases", "1200", "--seed", "5")
		if code != 0 {
			t.Fatal(stderr)
		}
		if code, again, _ := run(t, "", "fixtures", "generate", "--form", "mental-health", "--cases", "1200", "--seed", "5"); code != 0 || again != lines {
			t.Fatal("generate is not deterministic")
		}
		// Two bad lines among good ones: reported with their numbers, the rest stored.
		all := strings.Split(strings.TrimSuffix(lines, "\n"), "\n")
		all = append(all[:100], append([]string{`{"form":"mental-health"}`, `{`}, all[100:]...)...)
		file := filepath.Join(dir, "cases.jsonl")
		if err := os.WriteFile(file, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rejects := filepath.Join(dir, "rejects.jsonl")
		// The README's order: the file, then the flags.
		code, out, stderr := run(t, "", "cases", "import", file, "--batch", "250", "--rejects", rejects, "--db", dsn)
		if code != cli.ExitInvalid || !strings.Contains(out, "read 1202 lines: stored 1200, already stored 0, refused 2") ||
			!strings.Contains(stderr, "line 101: answers.gad7_1: is required") || !strings.Contains(stderr, "line 102: body:") {
			t.Fatalf("import: exit %d\n%s\n%s", code, out, stderr)
		}
		rej, err := os.ReadFile(rejects)
		if err != nil || strings.Count(string(rej), "\n") != 2 || !strings.Contains(string(rej), `"line":102`) {
			t.Errorf("rejects file: %q %v", rej, err)
		}
		if n := countDecisions(t, dsn); n != 1200 {
			t.Fatalf("%d decisions stored", n)
		}
		code, out, _ = run(t, "", "--db", dsn, "cases", "import", "--resume", file)
		if code != cli.ExitInvalid || !strings.Contains(out, "stored 0, already stored 1200, refused 2") {
			t.Errorf("resume: %d %s", code, out)
		}

		code, out, stderr = run(t, "", "--db", dsn, "replay", "--ruleset", "mh-triage", "--candidate", "2", "--format", "json", "--workers", "3")
		if code != 0 {
			t.Fatalf("replay: %d %s", code, stderr)
		}
		var rep struct {
			Read, Changed int
			ChangedCases  []struct{ ID, From, To string } `json:"changed_cases"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Read != 1200 || rep.Changed == 0 || len(rep.ChangedCases) != rep.Changed {
			t.Errorf("replay report: %+v", rep)
		}
		// The same report whatever the number of workers, also written to a file.
		outFile := filepath.Join(dir, "report.json")
		if code, _, stderr = run(t, "", "--db", dsn, "replay", "--ruleset", "mh-triage", "--candidate", "2", "--format", "json", "--workers", "1", "--out", outFile); code != 0 {
			t.Fatal(stderr)
		}
		if b, err := os.ReadFile(outFile); err != nil || string(b) != out {
			t.Error("report differs with --workers 1")
		}

		// A draft file as candidate, filtered and grouped.
		code, out, stderr = run(t, "", "--db", dsn, "replay", "--ruleset", "mh-triage", "--candidate", filepath.Join("..", "fixtures", "rulesets", "mh-triage.v2.yaml"),
			"--baseline", "1", "--where", "scores.phq9_total == 9", "--group-by", "subject.district", "--format", "csv", "--since", "2025-01-01", "--until", "2026-01-01")
		if code != 0 || !strings.HasPrefix(out, "record,group,key,baseline,candidate,count,reason,subject\n") || !strings.Contains(out, "summary,NG1,replayed,") {
			t.Errorf("draft replay: %d %s %.400s", code, stderr, out)
		}

		for _, args := range [][]string{
			{"--candidate", "2", "--where", "scores.nope > 1"},
			{"--candidate", "9"},
			{"--candidate", "2", "--format", "xml"},
			{"--candidate", "2", "--since", "yesterday"},
			{},
		} {
			code, _, stderr := run(t, "", append([]string{"--db", dsn, "replay", "--ruleset", "mh-triage"}, args...)...)
			if code != cli.ExitInvalid || stderr == "" {
				t.Errorf("replay %v: exit %d, %q", args, code, stderr)
			}
		}

		if code, _, stderr = run(t, "", "--db", dsn, "replay", "--ruleset", "mh-triage", "--verify"); code != 0 || !strings.Contains(stderr, "all 1200 stored decisions") {
			t.Fatalf("verify: %d %s", code, stderr)
		}
		db, err := database.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(`UPDATE decisions SET pathway = 'watchful-waiting' WHERE seq = (SELECT MIN(seq) FROM decisions WHERE pathway <> 'watchful-waiting')`)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if code, out, stderr = run(t, "", "--db", dsn, "replay", "--ruleset", "mh-triage", "--verify"); code != cli.ExitFailure || !strings.Contains(stderr, "1 of 1200 stored decisions") || !strings.Contains(out, "changed      1") && !strings.Contains(out, "changed") {
			t.Errorf("verify after tampering: %d %s %s", code, stderr, out)
		}
	})
}

func TestGenerateRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--form", "nope", "--cases", "1"},
		{"--form", "discharge", "--cases", "1", "--from", "2025-13-01"},
	} {
		code, out, stderr := run(t, "", append([]string{"fixtures", "generate"}, args...)...)
		if code != cli.ExitInvalid || out != "" || stderr == "" {
			t.Errorf("%v: exit %d, %q, %q", args, code, out, stderr)
		}
	}
}

func TestImportWithBooking(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
			t.Fatal(stderr)
		}
		code, lines, stderr := run(t, "", "fixtures", "generate", "--form", "discharge", "--cases", "40", "--seed", "9")
		if code != 0 {
			t.Fatal(stderr)
		}
		code, out, stderr := run(t, lines+"{\n", "--db", dsn, "cases", "import", "--book", "-")
		if code != cli.ExitInvalid || !strings.Contains(out, "read 41 lines: stored 40 (") || !strings.Contains(stderr, "line 41: ") {
			t.Fatalf("import --book: exit %d\n%s\n%s", code, out, stderr)
		}
		db, err := database.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var decisions, withVisit, appointments int
		if err := db.Get(&decisions, `SELECT COUNT(*) FROM decisions`); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&withVisit, `SELECT COUNT(*) FROM decisions WHERE assignment <> 'null'`); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&appointments, `SELECT COUNT(*) FROM appointments WHERE status = 'booked'`); err != nil {
			t.Fatal(err)
		}
		if decisions != 40 || withVisit == 0 || appointments != withVisit {
			t.Errorf("%d decisions, %d with a visit, %d appointments booked", decisions, withVisit, appointments)
		}
		if !strings.Contains(out, fmt.Sprintf("(%d with a booked visit)", withVisit)) {
			t.Errorf("summary %q does not count %d booked visits", out, withVisit)
		}
		// A second run stores and books nothing more.
		code, out, _ = run(t, lines, "--db", dsn, "cases", "import", "--book", "-")
		if code != 0 || !strings.Contains(out, "stored 0 (0 with a booked visit), already stored 40, refused 0") {
			t.Errorf("second run: %d %s", code, out)
		}
		if err := db.Get(&appointments, `SELECT COUNT(*) FROM appointments WHERE status = 'booked'`); err != nil || appointments != withVisit {
			t.Errorf("second run booked again: %d appointments", appointments)
		}
	})
}
