package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/privacy"
)

// TestMain gives the package's commands a pseudonym key file and a data directory of their own, so
// no test creates a key or a database in the per-user directories of whoever runs the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "carepath-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	key := filepath.Join(dir, "pseudonym.key")
	if _, err := privacy.CreateKeyFile(key); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(privacy.KeyFileEnv, key)
	// The default database is the per-user one: never the real user's, during tests.
	os.Setenv(cli.DataDirEnv, filepath.Join(dir, "data"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testPseudonyms is the pseudonymiser over the key the commands of these tests use.
func testPseudonyms(t testing.TB) *privacy.Pseudonymiser {
	t.Helper()
	key, err := privacy.LoadKey(os.Getenv(privacy.KeyFileEnv))
	if err != nil {
		t.Fatal(err)
	}
	p, err := privacy.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// identifiers is every identifying string of the inputs, each with where it came from.
type identifiers map[string]string

func (ids identifiers) add(s, from string) {
	if s = strings.TrimSpace(s); len(s) >= 3 {
		ids[s] = from
	}
}

// birthDate adds a birth date in the ways people write it.
func (ids identifiers) birthDate(s, from string) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		ids.add(s, from)
		return
	}
	for _, layout := range []string{time.DateOnly, "02/01/2006", "01/02/2006", "02-01-2006", "2 January 2006", "02.01.2006"} {
		ids.add(d.Format(layout), from+" birth date")
	}
}

// postcode adds a full postcode with and without its space, in both cases.
func (ids identifiers) postcode(s, from string) {
	compact := strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if len(compact) < 5 {
		ids.add(s, from)
		return
	}
	spaced := compact[:len(compact)-3] + " " + compact[len(compact)-3:]
	for _, v := range []string{s, compact, spaced, strings.ToLower(compact), strings.ToLower(spaced)} {
		ids.add(v, from+" postcode")
	}
}

// phone adds a phone number as written, without its spaces, and its last six digits.
func (ids identifiers) phone(s, from string) {
	if s == "" {
		return
	}
	compact := strings.Join(strings.Fields(s), "")
	ids.add(s, from+" phone")
	ids.add(compact, from+" phone")
	if len(compact) >= 6 {
		ids.add(compact[len(compact)-6:], from+" phone")
	}
}

// email adds an email address and the name before its @.
func (ids identifiers) email(s, from string) {
	if s == "" {
		return
	}
	ids.add(s, from+" email")
	local, _, _ := strings.Cut(s, "@")
	ids.add(local, from+" email")
}

var tag = regexp.MustCompile(`<[^>]*>`)

// freeText adds a text and its words of five letters or more (names, places).
func (ids identifiers) freeText(s, from string) {
	s = tag.ReplaceAllString(s, " ")
	ids.add(s, from+" free text")
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) {
		if len(w) >= 5 {
			ids.add(w, from+" free text")
		}
	}
}

// native collects the identifiers of a native submission: the subject and any text answer.
func (ids identifiers) native(t *testing.T, line []byte, from string) {
	t.Helper()
	var in struct {
		Subject struct {
			Ref       string `json:"ref"`
			Name      string `json:"name"`
			Address   string `json:"address"`
			BirthDate string `json:"birth_date"`
			Postcode  string `json:"postcode"`
			Contact   struct {
				Phone string `json:"phone"`
				Email string `json:"email"`
			} `json:"contact"`
		} `json:"subject"`
		Answers map[string]any `json:"answers"`
	}
	if err := json.Unmarshal(line, &in); err != nil {
		t.Fatalf("%s: %v", from, err)
	}
	ids.add(in.Subject.Ref, from+" subject reference")
	if in.Subject.Name != "" {
		ids.add(in.Subject.Name, from+" name")
		ids.freeText(in.Subject.Name, from+" name")
	}
	ids.freeText(in.Subject.Address, from+" address")
	if in.Subject.BirthDate != "" {
		ids.birthDate(in.Subject.BirthDate, from)
	}
	if in.Subject.Postcode != "" {
		ids.postcode(in.Subject.Postcode, from)
	}
	ids.phone(in.Subject.Contact.Phone, from)
	ids.email(in.Subject.Contact.Email, from)
	codes := choiceCodes(t)
	for k, v := range in.Answers {
		// A choice's option code (such as usual_residence "own_home") is coded, not free text.
		if s, ok := v.(string); ok && !codes[k+"="+s] {
			ids.freeText(s, from)
		}
	}
}

// choiceCodes lists "item=code" for every option of a choice item on the demo forms.
func choiceCodes(t *testing.T) map[string]bool {
	t.Helper()
	forms, err := fixtures.Forms()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range forms {
		for _, it := range f.Items {
			for _, o := range it.Options {
				out[it.ID+"="+o.Code] = true
			}
		}
	}
	return out
}

// fhir collects the identifiers of a QuestionnaireResponse: the contained patient's identifiers,
// names, birth date, address and postcode, the narrative and any text answer.
func (ids identifiers) fhir(t *testing.T, doc []byte, from string) {
	t.Helper()
	var qr struct {
		Text      struct{ Div string } `json:"text"`
		Subject   struct{ Reference string }
		Contained []struct {
			Identifier []struct{ Value string }
			Name       []struct {
				Family string
				Given  []string
			}
			BirthDate string
			Telecom   []struct{ System, Value string }
			Address   []struct {
				Line       []string
				PostalCode string
			}
		}
	}
	if err := json.Unmarshal(doc, &qr); err != nil {
		t.Fatalf("%s: %v", from, err)
	}
	ids.freeText(qr.Text.Div, from)
	if ref := qr.Subject.Reference; !strings.HasPrefix(ref, "#") {
		ids.add(ref, from+" subject reference")
	}
	for _, p := range qr.Contained {
		for _, id := range p.Identifier {
			ids.add(id.Value, from+" NHS number")
		}
		for _, n := range p.Name {
			ids.add(n.Family, from+" name")
			for _, g := range n.Given {
				ids.add(g, from+" name")
			}
			ids.add(strings.Join(append(append([]string{}, n.Given...), n.Family), " "), from+" name")
		}
		if p.BirthDate != "" {
			ids.birthDate(p.BirthDate, from)
		}
		for _, c := range p.Telecom {
			if c.System == "email" {
				ids.email(c.Value, from)
			} else {
				ids.phone(c.Value, from)
			}
		}
		for _, a := range p.Address {
			for _, l := range a.Line {
				ids.freeText(l, from+" address")
			}
			ids.postcode(a.PostalCode, from)
		}
	}
	var answers []string
	collectStrings(doc, "valueString", &answers)
	for _, s := range answers {
		ids.freeText(s, from)
	}
}

// collectStrings finds every string value under key anywhere in a JSON document.
func collectStrings(doc []byte, key string, out *[]string) {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == key {
					*out = append(*out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// leaks lists the identifiers an output contains, sorted. It looks up every substring of each
// identifier length, which stays fast for tens of thousands of identifiers and megabytes of output.
func (ids identifiers) leaks(output string) []string {
	lengths := map[int]bool{}
	for s := range ids {
		lengths[len(s)] = true
	}
	seen := map[string]bool{}
	var found []string
	for n := range lengths {
		for i := 0; i+n <= len(output); i++ {
			s := output[i : i+n]
			if from, ok := ids[s]; ok && !seen[s] {
				seen[s] = true
				found = append(found, fmt.Sprintf("%q (%s)", s, from))
			}
		}
	}
	sort.Strings(found)
	return found
}

// TestAnalystOutputsNameNoOne loads the demo, stores the example assessments (native and FHIR,
// each way one with a named patient and their address) and generated cases, and runs every analyst
// output: replay reports in text, JSON and CSV with case lists and groupings, the outcomes report,
// the impact preview an approver is shown (and its stored copy), a shadow report, and a verify run
// with changed and not-replayable cases. None
// may contain a subject reference, NHS number, name, birth date, postcode, free text or decision
// id of the inputs.
func TestAnalystOutputsNameNoOne(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		p := testPseudonyms(t)
		ids := identifiers{}
		dir := t.TempDir()
		mustRun := func(stdin string, args ...string) string {
			t.Helper()
			code, out, stderr := run(t, stdin, append([]string{"--db", dsn}, args...)...)
			if code != 0 {
				t.Fatalf("%v: exit %d\n%s", args, code, stderr)
			}
			return out
		}
		mustRun("", "fixtures", "load")

		// The example assessments, each through `carepath assess`.
		examples, err := filepath.Glob(filepath.Join("..", "fixtures", "examples", "*.json"))
		if err != nil || len(examples) == 0 {
			t.Fatalf("no examples: %v", err)
		}
		for _, name := range examples {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			ids.native(t, b, filepath.Base(name))
			mustRun("", "assess", name)
		}
		for _, name := range []string{filepath.Join("..", "triage", "testdata", "fhir", "mental-health.json"), filepath.Join("testdata", "privacy", "named-patient.fhir.json")} {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			ids.fhir(t, b, filepath.Base(name))
			mustRun("", "assess", name)
		}
		// A native submission with the name and address a clinician's form sends.
		nativeNamed := filepath.Join("testdata", "privacy", "named-patient.native.json")
		b, err := os.ReadFile(nativeNamed)
		if err != nil {
			t.Fatal(err)
		}
		ids.native(t, b, filepath.Base(nativeNamed))
		mustRun("", "assess", nativeNamed)

		// Generated cases of both forms, imported in bulk.
		var phq9Nine []string
		for _, g := range []struct {
			form, cases string
		}{{"mental-health", "1500"}, {"discharge", "300"}} {
			lines := mustRun("", "fixtures", "generate", "--form", g.form, "--cases", g.cases, "--seed", "8")
			for i, line := range strings.Split(strings.TrimSpace(lines), "\n") {
				ids.native(t, []byte(line), fmt.Sprintf("generated %s line %d", g.form, i+1))
				if g.form == "mental-health" && phq9Total(t, line) == 9 && len(phq9Nine) < 3 {
					phq9Nine = append(phq9Nine, line)
				}
			}
			file := filepath.Join(dir, g.form+".jsonl")
			if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
				t.Fatal(err)
			}
			mustRun("", "cases", "import", file)
		}
		if len(phq9Nine) < 3 {
			t.Fatal("the generator gave fewer than three cases with PHQ-9 total 9")
		}

		db, err := database.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var stored []struct {
			ID  string `db:"id"`
			Ref string `db:"subject_ref"`
		}
		if err := db.Select(&stored, `SELECT id, subject_ref FROM decisions`); err != nil {
			t.Fatal(err)
		}
		if len(stored) != 2+3+1500+300 {
			t.Fatalf("%d decisions stored", len(stored))
		}
		for _, d := range stored {
			ids.add(d.ID, "decision id")
			ids.add(d.Ref, "stored subject reference")
		}
		if ids["4010232137"] == "" || ids["03/02/1980"] == "" || ids["NG72RD"] == "" || ids["Quinton"] == "" || ids["Acacia"] == "" ||
			ids["Zephyrine"] == "" || ids["Quillwort"] == "" || ids["Marrowgate"] == "" ||
			ids["900527"] == "" || ids["quillwort.z@thistlebury.example"] == "" || ids["900318"] == "" || ids["acacia.jq"] == "" {
			t.Fatal("the named patient's identifiers were not collected")
		}

		outputs := map[string]string{}
		replayCmd := func(name string, args ...string) {
			for _, format := range []string{"text", "json", "csv"} {
				outputs[name+" "+format] = mustRun("", append([]string{"replay", "--format", format}, args...)...)
			}
		}
		replayCmd("replay mh-triage v2", "--ruleset", "mh-triage", "--candidate", "2")
		replayCmd("replay by district", "--ruleset", "mh-triage", "--candidate", "2", "--group-by", "subject.district")
		replayCmd("replay by age band", "--ruleset", "mh-triage", "--candidate", "2", "--where", "subject.age >= 18", "--group-by", "subject.age_band")
		replayCmd("replay by person", "--ruleset", "mh-triage", "--candidate", "2", "--group-by", "subject.pseudonym")
		for _, format := range []string{"text", "json", "csv"} {
			outputs["outcomes "+format] = mustRun("", "outcomes", "--open-imported", "--by", "team", "--format", format)
		}
		replayCmd("replay discharge", "--ruleset", "discharge-pathways", "--candidate", "1", "--baseline", "1",
			"--group-by", `subject.district + " " + subject.age_band + " " + outcome.pathway`)

		// The changed cases are listed by pseudonym, and only by pseudonym.
		var rep struct {
			Changed      int `json:"changed"`
			ChangedCases []struct {
				Case, Subject, Group string
			} `json:"changed_cases"`
		}
		if err := json.Unmarshal([]byte(outputs["replay by person json"]), &rep); err != nil {
			t.Fatal(err)
		}
		byCase := map[string]string{}
		for _, d := range stored {
			byCase[p.Case(d.ID)] = p.Subject(d.Ref)
		}
		if rep.Changed < 40 || len(rep.ChangedCases) != rep.Changed {
			t.Fatalf("replay changed %d cases, listed %d", rep.Changed, len(rep.ChangedCases))
		}
		for _, c := range rep.ChangedCases {
			if subject, ok := byCase[c.Case]; !ok || c.Subject != subject || c.Group != subject {
				t.Fatalf("changed case %+v is not the pseudonym of a stored decision and its subject", c)
			}
		}

		// The impact preview an approver is shown, through the lifecycle as two local accounts.
		if code, _, stderr := runAs(t, "author", "", "--db", dsn, "rules", "draft", filepath.Join("..", "fixtures", "rulesets", "mh-triage.v2.yaml")); code != 0 {
			t.Fatalf("draft: %s", stderr)
		}
		if code, _, stderr := runAs(t, "author", "", "--db", dsn, "rules", "submit", "--reason", "caseness at 9", "mh-triage", "4"); code != 0 {
			t.Fatalf("submit: %s", stderr)
		}
		code, out, stderr := runAs(t, "reviewer", "", "--db", dsn, "rules", "approve", "--comment", "checked", "--impact-days", "3650", "mh-triage", "4")
		if code != 0 {
			t.Fatalf("approve: exit %d %s", code, stderr)
		}
		outputs["impact preview (approve)"] = out
		var impact string
		if err := db.Get(&impact, db.Rebind(`SELECT impact FROM ruleset_approvals WHERE ruleset_id = ? AND version = ?`), "mh-triage", 4); err != nil {
			t.Fatal(err)
		}
		outputs["impact preview (stored with the approval)"] = impact
		var imp struct {
			Changed int
			Flows   []struct{ Examples []string }
		}
		if err := json.Unmarshal([]byte(impact), &imp); err != nil || imp.Changed < 40 || len(imp.Flows) == 0 || len(imp.Flows[0].Examples) == 0 {
			t.Fatalf("stored impact %s: %v", impact, err)
		}
		for _, e := range imp.Flows[0].Examples {
			if _, ok := byCase[e]; !ok {
				t.Errorf("impact example %q is not the pseudonym of a stored decision", e)
			}
		}

		// A shadow report of v4 (the approved draft, caseness 9) beside live decisions that it moves.
		mustRun("", "rules", "shadow", "start", "mh-triage", "4")
		for _, line := range phq9Nine {
			var d struct{ ID string }
			if err := json.Unmarshal([]byte(mustRun(line, "assess", "-")), &d); err != nil {
				t.Fatal(err)
			}
			ids.add(d.ID, "decision id")
		}
		outputs["shadow report"] = mustRun("", "rules", "shadow", "report", "mh-triage")
		if !strings.Contains(outputs["shadow report"], `"case_`) {
			t.Errorf("the shadow report lists no case:\n%s", outputs["shadow report"])
		}

		// Tampered decisions: a changed outcome, an input that no longer matches its hash, and the
		// named patient's input rewritten (with its hash) so that it no longer validates.
		var named struct {
			ID    string `db:"id"`
			Input string `db:"input"`
		}
		if err := db.Get(&named, db.Rebind(`SELECT id, input FROM decisions WHERE subject_ref = ?`), "4010232137"); err != nil {
			t.Fatal(err)
		}
		bad := strings.Replace(named.Input, `"birth_date":"1980-02-03"`, `"birth_date":"03/02/1980"`, 1)
		if bad == named.Input {
			t.Fatalf("stored input has no birth date to rewrite: %s", named.Input)
		}
		sum := sha256.Sum256([]byte(bad))
		mustExec(t, db, `UPDATE decisions SET input = ?, input_sha256 = ? WHERE id = ?`, bad, hex.EncodeToString(sum[:]), named.ID)
		mustExec(t, db, `UPDATE decisions SET input = ? WHERE id = (SELECT MIN(id) FROM decisions WHERE subject_ref LIKE 'syn-%' AND form_id = 'mental-health')`, `{"form":"mental-health"}`)
		mustExec(t, db, `UPDATE decisions SET pathway = 'crisis-home-treatment' WHERE id = (SELECT MAX(id) FROM decisions WHERE subject_ref LIKE 'syn-%' AND form_id = 'mental-health')`)
		for _, format := range []string{"text", "json", "csv"} {
			code, out, stderr := run(t, "", "--db", dsn, "replay", "--ruleset", "mh-triage", "--verify", "--format", format)
			if code != cli.ExitFailure {
				t.Fatalf("verify after tampering: exit %d %s", code, stderr)
			}
			outputs["verify "+format] = out + stderr
		}
		if v := outputs["verify json"]; !strings.Contains(v, `"not_replayable": 2`) || !strings.Contains(v, `"changed": 1`) ||
			!strings.Contains(v, "subject.birth_date: must be a date as YYYY-MM-DD (value withheld)") || !strings.Contains(v, p.Case(named.ID)) {
			t.Errorf("verify report does not list the tampered cases by pseudonym:\n%s", v)
		}

		names := make([]string, 0, len(outputs))
		for name := range outputs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if outputs[name] == "" {
				t.Errorf("%s: empty output", name)
			}
			if leaks := ids.leaks(outputs[name]); len(leaks) > 0 {
				t.Errorf("%s contains %d identifiers of the inputs, such as %s", name, len(leaks), strings.Join(leaks[:min(len(leaks), 5)], ", "))
			}
		}
		t.Logf("%d identifiers checked in %d outputs", len(ids), len(outputs))
	})
}

// phq9Total is the PHQ-9 total of a generated mental-health line.
func phq9Total(t *testing.T, line string) int {
	t.Helper()
	var in struct{ Answers map[string]any }
	if err := json.Unmarshal([]byte(line), &in); err != nil {
		t.Fatal(err)
	}
	total := 0
	for k, v := range in.Answers {
		if n, ok := v.(float64); ok && strings.HasPrefix(k, "phq9_") {
			total += int(n)
		}
	}
	return total
}

func mustExec(t *testing.T, db *database.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(db.Rebind(q), args...); err != nil {
		t.Fatal(err)
	}
}

// TestPseudonymKeyFile: without a configured key the command line creates one (mode 0600) in the
// per-user configuration directory on first use and keeps using it; a named key file must exist;
// the configuration file's setting is honoured; and another key gives other pseudonyms.
func TestPseudonymKeyFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("HOME", home)
	t.Setenv("AppData", filepath.Join(home, "config"))
	t.Setenv(privacy.KeyFileEnv, "")
	t.Setenv("CAREPATH_PRIVACY_PSEUDONYM_KEY_FILE", "")
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "carepath.db")
	if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, phq9Case(9, "key-file-subject"), "--db", dsn, "assess", "-"); code != 0 {
		t.Fatal(stderr)
	}
	replayJSON := func() (int, string, string) {
		return run(t, "", "--db", dsn, "replay", "--ruleset", "mh-triage", "--candidate", "2", "--format", "json")
	}
	code, first, stderr := replayJSON()
	if code != 0 || !strings.Contains(stderr, "created the pseudonym key") || !strings.Contains(first, `"subject": "psn_`) {
		t.Fatalf("first replay: exit %d\n%s\n%s", code, stderr, first)
	}
	userDir, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(userDir, "carepath", "pseudonym.key")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no key file at %s: %v", path, err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	code, second, stderr := replayJSON()
	if code != 0 || strings.Contains(stderr, "created") || second != first {
		t.Errorf("second replay: exit %d, %q; same report: %v", code, stderr, second == first)
	}

	// A key file that is named must exist: a new key would give everyone new pseudonyms.
	t.Setenv(privacy.KeyFileEnv, filepath.Join(home, "missing.key"))
	if code, _, stderr := replayJSON(); code != cli.ExitInvalid || !strings.Contains(stderr, "missing.key") || !strings.Contains(stderr, privacy.KeyFileEnv) {
		t.Errorf("missing key file: exit %d %q", code, stderr)
	}
	// The configuration file's setting wins, and another key gives other pseudonyms.
	other := filepath.Join(home, "other.key")
	if _, err := privacy.CreateKeyFile(other); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(home, "carepath.yaml")
	if err := os.WriteFile(conf, []byte("privacy:\n  pseudonym_key_file: "+other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, third, stderr := run(t, "", "--config", conf, "--db", dsn, "replay", "--ruleset", "mh-triage", "--candidate", "2", "--format", "json")
	if code != 0 || third == first || !bytes.Contains([]byte(third), []byte(`"subject": "psn_`)) {
		t.Errorf("replay with the configured key: exit %d %s\n%s", code, stderr, third)
	}
}
