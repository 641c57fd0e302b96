package bulkimport_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/internal/benchsize"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var importNow = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func newImporter(t testing.TB, db *database.DB) *bulkimport.Importer {
	t.Helper()
	store, rs := triage.NewSQLStore(db), rules.NewSQLStore(db)
	if _, err := fixtures.Load(context.Background(), store, rs, importNow); err != nil {
		t.Fatal(err)
	}
	return &bulkimport.Importer{Store: store, RuleStore: rs, Rules: rules.NewRegistry(rs), Now: func() time.Time { return importNow }, BatchSize: 64, Workers: 2}
}

func generated(t testing.TB, form string, n int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, fixtures.Generation{Form: form, Cases: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportStoresBatchesAndReportsBadLines(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(string(generated(t, "mental-health", 300, 3)), "\n"), "\n")
	// Bad lines in the middle of a batch must not stop the rest.
	lines[9] = `{"form":"mental-health","subject":{"ref":"x"},"answers":{"phq9_1":7}}`
	lines[150] = `not json`
	lines = append(lines[:200], append([]string{"", `{"form":"nope","subject":{"ref":"x"},"answers":{}}`}, lines[200:]...)...)
	input := strings.Join(lines, "\n") + "\n"
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		im := newImporter(t, db)
		var rejected []bulkimport.Rejected
		var batches int
		sum, err := im.Import(context.Background(), strings.NewReader(input), func(r bulkimport.Rejected) error {
			rejected = append(rejected, r)
			return nil
		}, func(bulkimport.Summary) { batches++ })
		if err != nil {
			t.Fatal(err)
		}
		want := bulkimport.Summary{Lines: 301, Stored: 298, Rejected: 3, CommittedLine: 302}
		if sum != want {
			t.Errorf("summary %+v, want %+v", sum, want)
		}
		if batches != 5 {
			t.Errorf("%d batches committed, want 5 of at most 64 lines", batches)
		}
		var got []string
		for _, r := range rejected {
			got = append(got, strconv.Itoa(r.Line)+" "+r.Reason)
		}
		wantRejects := []string{
			"10 answers.gad7_1: is required; answers.gad7_2: is required; answers.gad7_3: is required; answers.gad7_4: is required; answers.gad7_5: is required; answers.gad7_6: is required; answers.gad7_7: is required; answers.phq9_1: 7 is not the score of exactly one option; answers.phq9_2: is required; answers.phq9_3: is required; answers.phq9_4: is required; answers.phq9_5: is required; answers.phq9_6: is required; answers.phq9_7: is required; answers.phq9_8: is required; answers.phq9_9: is required; answers.previous_high_intensity_treatment: is required; answers.risk_intent: is required; answers.risk_plan: is required; answers.under_secondary_care: is required",
			"151 body: invalid character 'o' in literal null (expecting 'u')",
			"202 form: form nope is not published",
		}
		if strings.Join(got, "\n") != strings.Join(wantRejects, "\n") {
			t.Errorf("rejects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRejects, "\n"))
		}
		store := im.Store
		n, err := store.CountDecisions(context.Background(), triage.DecisionFilter{RuleSet: "mh-triage"})
		if err != nil || n != 298 {
			t.Fatalf("count %d, %v", n, err)
		}

		// Stored in file order, each decided under the version active when it was authored.
		var seqs []int64
		var refs []string
		err = store.StreamDecisions(context.Background(), triage.DecisionFilter{RuleSet: "mh-triage"}, 50, func(page []triage.StoredCase) error {
			for _, c := range page {
				seqs = append(seqs, c.Seq)
				refs = append(refs, c.SubjectRef)
				if c.RuleSet.Version != 1 || c.Form != "mental-health" || len(c.Input) == 0 || c.InputSHA256 == "" {
					t.Fatalf("stored case %+v", c)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 298 || refs[0] != "syn-3-1" || refs[9] != "syn-3-11" || refs[297] != "syn-3-300" {
			t.Errorf("streamed %d cases, refs %v ... %v", len(refs), refs[:10], refs[len(refs)-1])
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Fatalf("seq not increasing at %d: %v", i, seqs[i-1:i+1])
			}
		}

		// Importing the same file again stores nothing twice; --resume skips without deciding.
		for _, resume := range []bool{false, true} {
			im.Resume = resume
			sum, err = im.Import(context.Background(), strings.NewReader(input), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Stored != 0 || sum.AlreadyStored != 298 || sum.Rejected != 3 {
				t.Errorf("re-import (resume %v): %+v", resume, sum)
			}
		}
	})
}

func TestStreamDecisionsFilters(t *testing.T) {
	input := generated(t, "discharge", 120, 5) // authored over 2025, in order
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		im := newImporter(t, db)
		if _, err := im.Import(context.Background(), bytes.NewReader(input), nil, nil); err != nil {
			t.Fatal(err)
		}
		since := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
		until := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
		for _, tc := range []struct {
			name   string
			filter triage.DecisionFilter
		}{
			{"all", triage.DecisionFilter{}},
			{"ruleset", triage.DecisionFilter{RuleSet: "discharge-pathways"}},
			{"other ruleset", triage.DecisionFilter{RuleSet: "mh-triage"}},
			{"since", triage.DecisionFilter{Since: since}},
			{"until", triage.DecisionFilter{Until: until}},
			{"window", triage.DecisionFilter{RuleSet: "discharge-pathways", Since: since, Until: until}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := 0
				for _, line := range bytes.Split(bytes.TrimSpace(input), []byte("\n")) {
					i := bytes.Index(line, []byte(`"authored":"`)) + len(`"authored":"`)
					at, err := time.Parse(time.RFC3339, string(line[i:i+20]))
					if err != nil {
						t.Fatal(err)
					}
					if tc.filter.RuleSet != "mh-triage" && (tc.filter.Since.IsZero() || !at.Before(tc.filter.Since)) && (tc.filter.Until.IsZero() || at.Before(tc.filter.Until)) {
						want++
					}
				}
				got := 0
				err := im.Store.StreamDecisions(context.Background(), tc.filter, 7, func(page []triage.StoredCase) error {
					for _, c := range page {
						if !tc.filter.Since.IsZero() && c.Authored.Before(tc.filter.Since) || !tc.filter.Until.IsZero() && !c.Authored.Before(tc.filter.Until) {
							t.Errorf("case %s authored %s is outside the filter", c.ID, c.Authored)
						}
					}
					got += len(page)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				n, err := im.Store.CountDecisions(context.Background(), tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				if got != want || n != int64(want) {
					t.Errorf("streamed %d, counted %d, want %d", got, n, want)
				}
			})
		}
	})
}

func TestImportStopsCleanlyWhenCancelled(t *testing.T) {
	input := generated(t, "mental-health", 400, 9)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		im := newImporter(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		sum, err := im.Import(ctx, bytes.NewReader(input), nil, func(s bulkimport.Summary) {
			if s.CommittedLine >= 128 {
				cancel()
			}
		})
		if err == nil || sum.CommittedLine < 128 || sum.CommittedLine >= 400 {
			t.Fatalf("cancelled import: %+v, %v", sum, err)
		}
		stored, err := im.Store.CountDecisions(context.Background(), triage.DecisionFilter{})
		if err != nil || stored != int64(sum.Stored) || stored != int64(sum.CommittedLine) {
			t.Fatalf("%d stored, summary %+v, %v", stored, sum, err)
		}
		im.Resume = true
		rest, err := im.Import(context.Background(), bytes.NewReader(input), nil, nil)
		if err != nil || rest.Stored != 400-sum.Stored || rest.AlreadyStored != sum.Stored {
			t.Fatalf("resumed: %+v, %v", rest, err)
		}
	})
}

// BenchmarkImport generates CAREPATH_BENCH_CASES mental-health cases into a file and imports them
// into a fresh database per iteration, on SQLite and (with CAREPATH_TEST_POSTGRES) PostgreSQL.
func BenchmarkImport(b *testing.B) {
	n := benchsize.FromEnv(b, "CAREPATH_BENCH_CASES", 20000)
	path := filepath.Join(b.TempDir(), "cases.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := fixtures.Generate(f, fixtures.Generation{Form: "mental-health", Cases: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				im := newImporter(b, databasetest.Open(b, dialect))
				im.BatchSize, im.Workers = benchBatch(), 2
				in, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				sum, err := im.Import(context.Background(), in, nil, nil)
				in.Close()
				if err != nil || sum.Stored != n {
					b.Fatalf("%+v %v", sum, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "cases/s")
			benchsize.ReportPeakRSS(b)
		})
	}
}

// benchBatch is CAREPATH_BENCH_BATCH, or 0 for the backend's default batch size.
func benchBatch() int {
	n, _ := strconv.Atoi(os.Getenv("CAREPATH_BENCH_BATCH"))
	return max(n, 0)
}
