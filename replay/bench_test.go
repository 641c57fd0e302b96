package replay_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/internal/benchsize"
	"github.com/carepath/carepath/replay"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// cycling streams n cases by cycling over a pool of distinct decided cases, so a million-case
// replay in process measures the replay and not the memory of holding a million inputs.
type cycling struct {
	pool []triage.StoredCase
	n    int
}

func (c cycling) Cases(ctx context.Context, fn func([]triage.StoredCase) error) error {
	for done := 0; done < c.n; {
		k := min(len(c.pool), c.n-done, 1000)
		start := done % len(c.pool)
		k = min(k, len(c.pool)-start)
		if err := fn(c.pool[start : start+k]); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// decidedPool decides generated mental-health cases in process under v1, as an import would store them.
func decidedPool(b *testing.B, n int) ([]triage.StoredCase, *triage.Form, map[int]*rules.Program) {
	forms, err := fixtures.Forms()
	if err != nil {
		b.Fatal(err)
	}
	var form *triage.Form
	for _, f := range forms {
		if f.ID == "mental-health" {
			form = f
		}
	}
	sets, err := fixtures.RuleSets()
	if err != nil {
		b.Fatal(err)
	}
	programs := map[int]*rules.Program{}
	for _, s := range sets {
		if s.Parsed.ID == "mh-triage" {
			if programs[s.Parsed.Version], err = rules.Compile(s.Parsed, form.Schema(), func(string) bool { return true }); err != nil {
				b.Fatal(err)
			}
		}
	}
	path := filepath.Join(b.TempDir(), "pool.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := fixtures.Generate(f, fixtures.Generation{Form: "mental-health", Cases: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	f, _ = os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var pool []triage.StoredCase
	for sc.Scan() {
		sub, err := triage.ParseSubmission(sc.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		a, err := triage.Assess(form, sub, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		d, err := triage.Decide(&a, programs[1])
		if err != nil {
			b.Fatal(err)
		}
		if err := triage.Record(&d, &a, strconv.Itoa(len(pool)+1), time.Time{}); err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(d.Input)
		pool = append(pool, triage.StoredCase{Seq: int64(len(pool) + 1), ID: d.ID, Form: d.Form, FormVersion: d.FormVersion,
			SubjectRef: d.SubjectRef, RuleSet: d.RuleSet, Outcome: d.Outcome, Rule: d.Rule, Authored: d.Authored,
			Input: d.Input, InputSHA256: hex.EncodeToString(sum[:])})
	}
	return pool, form, programs
}

// BenchmarkReplayInProcess replays CAREPATH_BENCH_CASES cases against mh-triage v2 with no
// database: decode the canonical input, check its hash, evaluate, tally. workers-1 is one core.
func BenchmarkReplayInProcess(b *testing.B) {
	n := benchsize.FromEnv(b, "CAREPATH_BENCH_CASES", 20000)
	pool, form, programs := decidedPool(b, min(n, 20000))
	draft := &replay.Draft{RuleSet: programs[2].RuleSet, KnownPathway: func(string) bool { return true }}
	for _, workers := range []int{1, 2} {
		b.Run("workers-"+strconv.Itoa(workers), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rep, err := replay.Run(context.Background(), replay.Config{RuleSet: "mh-triage", Source: cycling{pool, n},
					Forms: []*triage.Form{form}, Candidate: draft, Workers: workers, Pseudonymiser: pseudonyms})
				if err != nil || rep.Replayed != int64(n) {
					b.Fatalf("%v %+v", err, rep)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "cases/s")
			benchsize.ReportPeakRSS(b)
		})
	}
}

// BenchmarkReplayStored replays CAREPATH_BENCH_CASES stored cases end to end from the database
// against mh-triage v2 (the import that stores them is set-up, not timed).
func BenchmarkReplayStored(b *testing.B) {
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
			db := databasetest.Open(b, dialect)
			w := &world{db: db, store: triage.NewSQLStore(db), rules: rules.NewSQLStore(db)}
			w.registry = rules.NewRegistry(w.rules)
			if _, err := fixtures.Load(context.Background(), w.store, w.rules, now); err != nil {
				b.Fatal(err)
			}
			in, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			im := &bulkimport.Importer{Store: w.store, RuleStore: w.rules, Rules: w.registry, Now: func() time.Time { return now }, Workers: 2}
			if sum, err := im.Import(context.Background(), in, nil, nil); err != nil || sum.Stored != n {
				b.Fatalf("import: %+v %v", sum, err)
			}
			in.Close()
			form, err := w.store.Form(context.Background(), "mental-health", 1)
			if err != nil {
				b.Fatal(err)
			}
			w.forms = []*triage.Form{form}
			b.ReportAllocs()
			for b.Loop() {
				rep, err := replay.Run(context.Background(), w.config(2))
				if err != nil || rep.Replayed != int64(n) {
					b.Fatalf("%v %+v", err, rep)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "cases/s")
			benchsize.ReportPeakRSS(b)
		})
	}
}
