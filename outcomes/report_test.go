package outcomes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/internal/benchsize"
	"github.com/carepath/carepath/outcomes"
	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var start = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

func pseudonymiser(t testing.TB) *privacy.Pseudonymiser {
	p, err := privacy.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mentalHealth(subject string, phq9, gad7 int) []byte {
	a := map[string]any{"risk_plan": false, "risk_intent": false, "previous_high_intensity_treatment": false, "under_secondary_care": false}
	fill := func(prefix string, n, total int) {
		for i := 1; i <= n; i++ {
			v := min(3, total)
			total -= v
			a[fmt.Sprintf("%s%d", prefix, i)] = v
		}
	}
	fill("phq9_", 8, phq9)
	a["phq9_9"] = 0
	fill("gad7_", 7, gad7)
	b, _ := json.Marshal(map[string]any{"form": "mental-health", "subject": map[string]any{"ref": subject, "birth_date": "1980-05-01"}, "answers": a})
	return b
}

func TestReport(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		forms, rs := triage.NewSQLStore(db), rules.NewSQLStore(db)
		if _, err := fixtures.Load(ctx, forms, rs, start); err != nil {
			t.Fatal(err)
		}
		now := start
		var n atomic.Int64
		e := &triage.Engine{Store: forms, Rules: rules.NewRegistry(rs), Now: func() time.Time { return now },
			NewID: func() string { return fmt.Sprintf("d-%06d", n.Add(1)) }}
		submit := func(body []byte, team string) *triage.Decision {
			d, _, err := e.Submit(ctx, body, triage.Options{Team: team, SubmittedBy: "u", InTx: cases.OpenInTx})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		submit(mentalHealth("subject-recovers", 16, 12), "central")
		submit(mentalHealth("subject-worsens", 5, 3), "central")
		submit(mentalHealth("subject-unfinished", 14, 9), "south")
		discharge, err := os.ReadFile("../fixtures/examples/discharge.json")
		if err != nil {
			t.Fatal(err)
		}
		dc := submit(discharge, "south")
		now = start.AddDate(0, 0, 60)
		submit(mentalHealth("subject-recovers", 6, 4), "central")
		worse := submit(mentalHealth("subject-worsens", 11, 3), "central")
		_ = worse
		store := &cases.Store{DB: db}
		at := start
		home := true
		for _, s := range []cases.Step{cases.Accept, cases.Book, cases.MarkDone} {
			at = at.Add(time.Hour)
			if _, err := store.Record(ctx, dc.ID, cases.Change{Step: s, Actor: "u", At: at}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.Record(ctx, dc.ID, cases.Change{Step: cases.Outcome, Actor: "u", At: dc.Decided.AddDate(0, 0, 91), AtHome: &home}); err != nil {
			t.Fatal(err)
		}
		pseudo := pseudonymiser(t)
		rep, err := outcomes.Run(ctx, outcomes.Config{Source: store, By: outcomes.ByTeam, Thresholds: outcomes.TalkingTherapies(), Pseudonymiser: pseudo})
		if err != nil {
			t.Fatal(err)
		}
		tot := rep.Total
		if tot.Cases != 4 || tot.Finished != 2 || tot.CasenessAtStart != 1 || tot.Recovered != 1 || tot.ReliableRecovery != 1 ||
			tot.ReliableImprovement != 1 || tot.ReliableDeterioration != 1 || tot.DischargeRecorded != 1 || tot.AtHome != 1 {
			t.Errorf("total %+v", tot)
		}
		if len(rep.Groups) != 2 || rep.Groups[0].Key != "central" || rep.Groups[0].Finished != 2 || rep.Groups[1].AtHome != 1 {
			t.Errorf("groups %+v %+v", rep.Groups[0], rep.Groups[1])
		}
		if want := pseudo.Case("d-000002"); len(rep.Groups[0].Deteriorated) != 1 || rep.Groups[0].Deteriorated[0] != want {
			t.Errorf("deteriorated %v, want [%s]", rep.Groups[0].Deteriorated, want)
		}
		for _, format := range []string{outcomes.FormatText, outcomes.FormatJSON, outcomes.FormatCSV} {
			var buf bytes.Buffer
			if err := rep.Write(&buf, format); err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"subject-", "d-0000", "1980-05-01"} {
				if strings.Contains(buf.String(), secret) {
					t.Errorf("%s report holds %q:\n%s", format, secret, buf.String())
				}
			}
		}
		// Filters narrow the cases read.
		rep, err = outcomes.Run(ctx, outcomes.Config{Source: store, By: outcomes.ByRuleSetVersion, Thresholds: outcomes.TalkingTherapies(),
			Pseudonymiser: pseudo, Filter: cases.OutcomeFilter{Form: "mental-health", Team: "central"}})
		if err != nil || rep.Total.Cases != 2 || len(rep.Groups) != 1 || !strings.HasPrefix(rep.Groups[0].Key, "mh-triage v") {
			t.Errorf("filtered: %+v %v", rep, err)
		}
		if _, err := outcomes.Run(ctx, outcomes.Config{Source: store, By: "week", Pseudonymiser: pseudo}); err == nil {
			t.Error("an unknown grouping was accepted")
		}
	})
}

// BenchmarkOutcomeReport reports outcomes by pathway over CAREPATH_BENCH_CASES stored cases, half of
// them with a follow-up assessment (the import, opening the cases and linking the follow-ups are
// set-up, not timed).
func BenchmarkOutcomeReport(b *testing.B) {
	n := benchsize.FromEnv(b, "CAREPATH_BENCH_CASES", 20000)
	path := filepath.Join(b.TempDir(), "cases.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := fixtures.Generate(f, fixtures.Generation{Form: "mental-health", Cases: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			ctx := context.Background()
			db := databasetest.Open(b, dialect)
			forms, rs := triage.NewSQLStore(db), rules.NewSQLStore(db)
			if _, err := fixtures.Load(ctx, forms, rs, start); err != nil {
				b.Fatal(err)
			}
			in, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			im := &bulkimport.Importer{Store: forms, RuleStore: rs, Rules: rules.NewRegistry(rs), Now: func() time.Time { return start }, Workers: 2}
			if sum, err := im.Import(ctx, in, nil, nil); err != nil || sum.Stored != n {
				b.Fatalf("import: %+v %v", sum, err)
			}
			in.Close()
			store := &cases.Store{DB: db}
			if opened, err := store.Backfill(ctx); err != nil || opened != int64(n) {
				b.Fatalf("backfill: %d %v", opened, err)
			}
			// Every odd case takes the next case's scores as its follow-up.
			if _, err := db.ExecContext(ctx, `UPDATE cases SET followup_id = 'f', end_scores = (SELECT d.scores FROM decisions d WHERE d.seq = cases.seq + 1)
				WHERE cases.seq % 2 = 1 AND cases.seq < (SELECT MAX(seq) FROM decisions)`); err != nil {
				b.Fatal(err)
			}
			cfg := outcomes.Config{Source: store, By: outcomes.ByPathway, Thresholds: outcomes.TalkingTherapies(), Pseudonymiser: pseudonymiser(b)}
			b.ReportAllocs()
			for b.Loop() {
				rep, err := outcomes.Run(ctx, cfg)
				if err != nil || rep.Total.Cases != int64(n) || rep.Total.Finished < int64(n/2)-1 || rep.Unreadable != 0 {
					b.Fatalf("%v %+v", err, rep)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "cases/s")
			benchsize.ReportPeakRSS(b)
		})
	}
}
