package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/replay"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/")

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// pseudonyms is the replay tests' pseudonymiser, under a fixed key so golden reports are stable.
var pseudonyms = func() *privacy.Pseudonymiser {
	p, err := privacy.New([]byte("replay tests: a fixed 32-byte key for golden reports"))
	if err != nil {
		panic(err)
	}
	return p
}()

// world is a database with the demo data and imported synthetic cases.
type world struct {
	db       *database.DB
	store    *triage.SQLStore
	rules    *rules.SQLStore
	registry *rules.Registry
	forms    []*triage.Form
}

func newWorld(t testing.TB, db *database.DB, form string, n int, seed uint64) (*world, []byte) {
	t.Helper()
	w := &world{db: db, store: triage.NewSQLStore(db), rules: rules.NewSQLStore(db)}
	w.registry = rules.NewRegistry(w.rules)
	ctx := context.Background()
	if _, err := fixtures.Load(ctx, w.store, w.rules, now); err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	if err := fixtures.Generate(&lines, fixtures.Generation{Form: form, Cases: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	im := &bulkimport.Importer{Store: w.store, RuleStore: w.rules, Rules: w.registry, Now: func() time.Time { return now }, Workers: 2}
	if sum, err := im.Import(ctx, bytes.NewReader(lines.Bytes()), nil, nil); err != nil || sum.Stored != n {
		t.Fatalf("import: %+v, %v", sum, err)
	}
	f, err := w.store.Form(ctx, form, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.forms = []*triage.Form{f}
	return w, lines.Bytes()
}

func (w *world) config(candidate int) replay.Config {
	return replay.Config{
		RuleSet:   "mh-triage",
		Source:    &replay.SQLSource{Store: w.store, Filter: triage.DecisionFilter{RuleSet: "mh-triage"}, PageSize: 300},
		Forms:     w.forms,
		Candidate: &replay.Version{Registry: w.registry, ID: "mh-triage", Version: candidate},

		Pseudonymiser: pseudonyms,
	}
}

// phq9Total reads the PHQ-9 total of a native input line without the engine's help.
func phq9Total(t testing.TB, line []byte) (ref string, total int) {
	var in struct {
		Subject struct{ Ref string }
		Answers map[string]any
	}
	if err := json.Unmarshal(line, &in); err != nil {
		t.Fatal(err)
	}
	for k, v := range in.Answers {
		if strings.HasPrefix(k, "phq9_") {
			total += int(v.(float64))
		}
	}
	return in.Subject.Ref, total
}

func TestReplayCandidateAgainstRecorded(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w, lines := newWorld(t, db, "mental-health", 3000, 11)
		ctx := context.Background()

		// Independently: the cases whose PHQ-9 total is 9 and that v1 sent to watchful-waiting.
		totals := map[string]int{}
		for _, line := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
			ref, total := phq9Total(t, line)
			totals[ref] = total
		}
		var want []string
		err := w.store.StreamDecisions(ctx, triage.DecisionFilter{}, 1000, func(page []triage.StoredCase) error {
			for _, c := range page {
				if totals[c.SubjectRef] == 9 && c.Outcome.Pathway == "watchful-waiting" {
					want = append(want, pseudonyms.Case(c.ID)+" "+pseudonyms.Subject(c.SubjectRef))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 50 {
			t.Fatalf("only %d cases with PHQ-9 total 9 sent to watchful-waiting: the generator should give more", len(want))
		}

		var reports [][]byte
		for _, workers := range []int{1, 2, 5} {
			cfg := w.config(2)
			cfg.Workers = workers
			rep, err := replay.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range rep.ChangedCases {
				got = append(got, c.Case+" "+c.Subject)
				if c.From != "watchful-waiting" || c.To != "talking-therapies-step2" || c.BaselineRule != "otherwise" || c.CandidateRule != "caseness" {
					t.Errorf("changed case %+v", c)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("workers %d: changed %d cases, want exactly the %d with PHQ-9 total 9 sent to watchful-waiting", workers, len(got), len(want))
			}
			if rep.Read != 3000 || rep.Replayed != 3000 || rep.Changed != int64(len(want)) || rep.Unchanged != 3000-int64(len(want)) || rep.NotReplayable != 0 {
				t.Errorf("counts %+v", rep)
			}
			var buf bytes.Buffer
			for _, format := range []string{"json", "csv", "text"} {
				if err := rep.Write(&buf, format); err != nil {
					t.Fatal(err)
				}
			}
			reports = append(reports, buf.Bytes())
		}
		for i := 1; i < len(reports); i++ {
			if !bytes.Equal(reports[0], reports[i]) {
				t.Fatal("reports differ with the number of workers")
			}
		}

		// v1 against v1 on the same inputs changes nothing, and matches what was recorded.
		cfg := w.config(1)
		cfg.Baseline = &replay.Version{Registry: w.registry, ID: "mh-triage", Version: 1}
		rep, err := replay.Run(ctx, cfg)
		if err != nil || rep.Changed != 0 || rep.Replayed != 3000 {
			t.Fatalf("v1 against v1: %+v, %v", rep, err)
		}
	})
}

func TestReplayWhereAndGroupBy(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w, lines := newWorld(t, db, "mental-health", 1500, 12)
		wantKept := 0
		wantBands := map[string]int64{}
		for _, line := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
			if _, total := phq9Total(t, line); total >= 9 {
				wantKept++
				band := map[bool]string{true: "moderate+", false: "mild"}[total >= 10]
				wantBands[band]++
			}
		}
		cfg := w.config(2)
		cfg.Where = `scores.phq9_total >= 9`
		cfg.GroupBy = `scores.phq9_total >= 10 ? "moderate+" : "mild"`
		rep, err := replay.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Replayed != int64(wantKept) || rep.Filtered != 1500-int64(wantKept) || rep.Read != 1500 {
			t.Errorf("kept %d, filtered %d; want %d kept", rep.Replayed, rep.Filtered, wantKept)
		}
		got := map[string]int64{}
		var changedInModerate int64
		for _, g := range rep.Groups {
			got[g.Key] = g.Replayed
			if g.Key == "moderate+" {
				changedInModerate = g.Changed
			}
		}
		if len(got) != 2 || got["mild"] != wantBands["mild"] || got["moderate+"] != wantBands["moderate+"] {
			t.Errorf("groups %v, want %v", got, wantBands)
		}
		if changedInModerate != 0 {
			t.Errorf("%d cases with PHQ-9 of 10 or more changed; v2 only moves PHQ-9 of 9", changedInModerate)
		}
		for _, c := range rep.ChangedCases {
			if c.Group != "mild" {
				t.Errorf("changed case %s in group %q", c.Case, c.Group)
			}
		}

		// Expressions over the outcome sides and time type-check too.
		cfg.Where = `candidate.pathway != baseline.pathway && authored.Year() == 2025 && subject.age >= 18`
		cfg.GroupBy = `subject.district`
		rep2, err := replay.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep2.Replayed != rep.Changed {
			t.Errorf("where on changed pathways kept %d, want %d", rep2.Replayed, rep.Changed)
		}
	})
}

func TestReplayRefusesBadExpressionsBeforeReading(t *testing.T) {
	w, _ := newWorld(t, databasetest.Open(t, database.SQLite), "mental-health", 10, 1)
	for _, tc := range []struct{ where, group, want string }{
		{`scores.phq9_totl >= 9`, ``, `--where "scores.phq9_totl >= 9" does not compile against form mental-health v1`},
		{`scores.phq9_band`, ``, `--where`},
		{`answers.phq9_1 + "x"`, ``, `--where`},
		{``, `subject.nope`, `--group-by "subject.nope"`},
	} {
		cfg := w.config(2)
		cfg.Where, cfg.GroupBy = tc.where, tc.group
		cfg.Source = failingSource{t}
		_, err := replay.Run(context.Background(), cfg)
		var ee *replay.ExpressionError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("where %q group %q: %v, want an ExpressionError containing %q", tc.where, tc.group, err, tc.want)
		}
	}
}

type failingSource struct{ t *testing.T }

func (s failingSource) Cases(context.Context, func([]triage.StoredCase) error) error {
	s.t.Error("a case was read before the expressions were checked")
	return nil
}

func TestReplayReportsCorruptCasesAndVerifies(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w, _ := newWorld(t, db, "mental-health", 200, 13)
		ctx := context.Background()
		verify := func() *replay.Report {
			cfg := w.config(1)
			cfg.Candidate = &replay.Recorded{Registry: w.registry}
			rep, err := replay.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return rep
		}
		if rep := verify(); rep.Changed != 0 || rep.NotReplayable != 0 || rep.Replayed != 200 {
			t.Fatalf("verify of untouched decisions: %+v", rep)
		}
		var ids, refs []string
		if err := db.Select(&ids, `SELECT id FROM decisions ORDER BY seq LIMIT 3`); err != nil {
			t.Fatal(err)
		}
		if err := db.Select(&refs, `SELECT subject_ref FROM decisions ORDER BY seq LIMIT 3`); err != nil {
			t.Fatal(err)
		}
		// Tamper: an outcome, an input (its hash no longer matches), and an input rewritten with its hash.
		mustExec(t, db, `UPDATE decisions SET pathway = 'crisis-home-treatment' WHERE id = ?`, ids[0])
		mustExec(t, db, `UPDATE decisions SET input = '{"form":"mental-health"' WHERE id = ?`, ids[1])
		mustExec(t, db, `UPDATE decisions SET input = ?, input_sha256 = ? WHERE id = ?`, `{}`, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", ids[2])

		rep := verify()
		if rep.Changed != 1 || rep.ChangedCases[0].Case != pseudonyms.Case(ids[0]) || rep.ChangedCases[0].From != "crisis-home-treatment" {
			t.Errorf("tampered outcome: changed %+v", rep.ChangedCases)
		}
		want := []replay.NotReplayableCase{
			{Case: pseudonyms.Case(ids[1]), Subject: pseudonyms.Subject(refs[1]), Reason: "stored input does not match its recorded SHA-256: it changed after the decision"},
			{Case: pseudonyms.Case(ids[2]), Subject: pseudonyms.Subject(refs[2]), Reason: `stored input is for form "", recorded "mental-health"`},
		}
		if !slices.Equal(rep.NotReplayableCases, want) || rep.NotReplayable != 2 || rep.Read != 200 {
			t.Errorf("not replayable: %+v (%d), want %+v", rep.NotReplayableCases, rep.NotReplayable, want)
		}

		// A candidate that does not accept the form version is a reason per case, not an error.
		rs, err := rules.Parse("draft.yaml", []byte(strings.Replace(mustRead(t, "../fixtures/rulesets/mh-triage.v2.yaml"), "form: mental-health", "form: mental-health\nform_versions: [2]", 1)))
		if err != nil {
			t.Fatal(err)
		}
		cfg := w.config(2)
		cfg.Candidate = &replay.Draft{RuleSet: rs, KnownPathway: func(string) bool { return true }}
		rep, err = replay.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.NotReplayable != 200 || !strings.Contains(rep.NotReplayableCases[5].Reason, "version 1 of form mental-health is not accepted") {
			t.Errorf("draft for form v2 only: %d not replayable, first %+v", rep.NotReplayable, rep.NotReplayableCases[:1])
		}
	})
}

func mustExec(t *testing.T, db *database.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(db.Rebind(q), args...); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReportGolden(t *testing.T) {
	w, _ := newWorld(t, databasetest.Open(t, database.SQLite), "mental-health", 400, 21)
	cfg := w.config(2)
	cfg.GroupBy = `subject.age_band`
	rep, err := replay.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json", "csv"} {
		var buf bytes.Buffer
		if err := rep.Write(&buf, format); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "report."+format+".golden")
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./replay -run Golden -update)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s report differs from %s (rerun with -update if intended):\n%s", format, path, buf.String())
		}
	}
}
