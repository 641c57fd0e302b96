package triage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var authored = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// spread fills items with maxima so that they add up to total, first items first.
func spread(answers map[string]any, ids []string, maxima []int, total int) {
	for i, id := range ids {
		v := min(maxima[i], total)
		total -= v
		answers[id] = int64(v)
	}
	if total != 0 {
		panic(fmt.Sprintf("total %d too large for %v", total, ids))
	}
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func threes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 3
	}
	return out
}

// mh is a mental-health submission: PHQ-9 total with item 9 given, GAD-7 total, risk answers.
type mh struct {
	phq9, item9, gad7      int
	plan, intent, prevHigh bool
}

func (m mh) submission() *triage.Submission {
	a := map[string]any{}
	spread(a, seq("phq9_", 8), threes(8), m.phq9-m.item9)
	a["phq9_9"] = int64(m.item9)
	spread(a, seq("gad7_", 7), threes(7), m.gad7)
	a["risk_plan"], a["risk_intent"] = m.plan, m.intent
	a["previous_high_intensity_treatment"], a["under_secondary_care"] = m.prevHigh, false
	at := authored
	return &triage.Submission{Form: "mental-health", Subject: triage.Subject{Ref: "t-1", BirthDate: "1980-05-01"}, Answers: a, Authored: &at}
}

var barthelItems = []string{"barthel_bowels", "barthel_bladder", "barthel_grooming", "barthel_toilet", "barthel_feeding",
	"barthel_transfer", "barthel_mobility", "barthel_dressing", "barthel_stairs", "barthel_bathing"}
var barthelMax = []int{2, 2, 1, 2, 2, 3, 3, 2, 2, 1}

// dc is a discharge submission.
type dc struct {
	barthel, cfs                            int
	alone, newNeeds, needs24h, notOptimised bool
}

func (d dc) submission() *triage.Submission {
	a := map[string]any{}
	spread(a, barthelItems, barthelMax, d.barthel)
	a["cfs"] = int64(d.cfs)
	a["usual_residence"], a["lives_alone"], a["has_carer"], a["existing_care_package"] = "own_home", d.alone, false, false
	a["new_care_needs"], a["requires_24h_care"], a["medically_optimised"] = d.newNeeds, d.needs24h, !d.notOptimised
	at := authored
	return &triage.Submission{Form: "discharge", Subject: triage.Subject{Ref: "t-2", Age: ptr(82)}, Answers: a, Authored: &at}
}

func ptr[T any](v T) *T { return &v }

// demo compiles the demo forms and rule sets without a database.
type demo struct {
	forms    map[string]*triage.Form
	programs map[string]*rules.Program // "id vN"
}

func loadDemo(t testing.TB) demo {
	t.Helper()
	forms, err := fixtures.Forms()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := fixtures.Pathways()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, p := range ps {
		known[p.ID] = true
	}
	d := demo{forms: map[string]*triage.Form{}, programs: map[string]*rules.Program{}}
	for _, f := range forms {
		d.forms[f.ID] = f
	}
	sets, err := fixtures.RuleSets()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		p, err := rules.Compile(s.Parsed, d.forms[s.Parsed.Form].Schema(), func(id string) bool { return known[id] })
		if err != nil {
			t.Fatal(err)
		}
		d.programs[fmt.Sprintf("%s v%d", s.Parsed.ID, s.Parsed.Version)] = p
	}
	return d
}

func (d demo) decide(t testing.TB, sub *triage.Submission, program string) triage.Decision {
	t.Helper()
	a, err := triage.Assess(d.forms[sub.Form], sub, authored)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := triage.Decide(&a, d.programs[program])
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

func TestMentalHealthRulesAtBoundaries(t *testing.T) {
	d := loadDemo(t)
	tests := []struct {
		name     string
		in       mh
		v1, v2   string // pathways under mh-triage v1 and v2
		rule     string // rule matched under v1
		priority rules.Priority
	}{
		{"plan outranks everything", mh{phq9: 27, item9: 3, gad7: 21, plan: true}, "crisis-home-treatment", "crisis-home-treatment", "risk-plan-or-intent", rules.Emergency},
		{"intent with low scores", mh{intent: true}, "crisis-home-treatment", "crisis-home-treatment", "risk-plan-or-intent", rules.Emergency},
		{"item 9 at 1, total 1", mh{phq9: 1, item9: 1}, "adult-mental-health-team", "adult-mental-health-team", "phq9-item9", rules.Urgent},
		{"item 9 at 0 total 0", mh{}, "watchful-waiting", "watchful-waiting", "otherwise", rules.Routine},
		{"phq9 15 after high intensity", mh{phq9: 15, prevHigh: true}, "specialist-psychological-therapy", "specialist-psychological-therapy", "severe-after-high-intensity", rules.Routine},
		{"gad7 15 after high intensity", mh{gad7: 15, prevHigh: true}, "specialist-psychological-therapy", "specialist-psychological-therapy", "severe-after-high-intensity", rules.Routine},
		{"phq9 14 after high intensity", mh{phq9: 14, prevHigh: true}, "talking-therapies-step2", "talking-therapies-step2", "caseness", rules.Routine},
		{"phq9 15", mh{phq9: 15}, "talking-therapies-step3", "talking-therapies-step3", "severe", rules.Routine},
		{"gad7 15", mh{gad7: 15}, "talking-therapies-step3", "talking-therapies-step3", "severe", rules.Routine},
		{"phq9 14 gad7 14", mh{phq9: 14, gad7: 14}, "talking-therapies-step2", "talking-therapies-step2", "caseness", rules.Routine},
		{"phq9 10", mh{phq9: 10}, "talking-therapies-step2", "talking-therapies-step2", "caseness", rules.Routine},
		{"phq9 9: v2 caseness", mh{phq9: 9}, "watchful-waiting", "talking-therapies-step2", "otherwise", rules.Routine},
		{"phq9 8", mh{phq9: 8}, "watchful-waiting", "watchful-waiting", "otherwise", rules.Routine},
		{"gad7 8", mh{gad7: 8}, "talking-therapies-step2", "talking-therapies-step2", "caseness", rules.Routine},
		{"gad7 7 phq9 9", mh{phq9: 9, gad7: 7}, "watchful-waiting", "talking-therapies-step2", "otherwise", rules.Routine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got1 := d.decide(t, tt.in.submission(), "mh-triage v1")
			got2 := d.decide(t, tt.in.submission(), "mh-triage v2")
			if got1.Outcome.Pathway != tt.v1 || got1.Rule != tt.rule || got1.Outcome.Priority != tt.priority {
				t.Errorf("v1: %s %s by %s, want %s %s by %s", got1.Outcome.Pathway, got1.Outcome.Priority, got1.Rule, tt.v1, tt.priority, tt.rule)
			}
			if got2.Outcome.Pathway != tt.v2 {
				t.Errorf("v2: %s by %s, want %s", got2.Outcome.Pathway, got2.Rule, tt.v2)
			}
			if got := got1.Scores["phq9_total"].I; got != int64(tt.in.phq9) {
				t.Errorf("phq9_total %d, want %d", got, tt.in.phq9)
			}
			if got1.Outcome.Priority == rules.Emergency || got1.Rule == "phq9-item9" {
				if len(got1.Outcome.Flags) != 1 || got1.Outcome.Flags[0] != "same_day_clinician_review" {
					t.Errorf("risk outcome without same-day review flag: %v", got1.Outcome.Flags)
				}
			}
		})
	}
}

func TestDischargeRulesAtBoundaries(t *testing.T) {
	d := loadDemo(t)
	tests := []struct {
		name string
		in   dc
		want string
		rule string
	}{
		{"not optimised outranks 24h care", dc{barthel: 3, cfs: 8, needs24h: true, notOptimised: true}, "not-ready-for-discharge", "not-medically-optimised"},
		{"24h care", dc{barthel: 20, cfs: 2, needs24h: true}, "discharge-pathway-3", "needs-24h-care"},
		{"barthel 9", dc{barthel: 9, cfs: 3}, "discharge-pathway-2", "bed-based-rehab"},
		{"barthel 10", dc{barthel: 10, cfs: 3}, "discharge-pathway-1", "home-with-support"},
		{"cfs 7 alone", dc{barthel: 20, cfs: 7, alone: true}, "discharge-pathway-2", "bed-based-rehab"},
		{"cfs 6 alone", dc{barthel: 20, cfs: 6, alone: true}, "discharge-pathway-1", "home-with-support"},
		{"cfs 7 not alone", dc{barthel: 20, cfs: 7}, "discharge-pathway-0", "simple-discharge"},
		{"barthel 17", dc{barthel: 17, cfs: 3}, "discharge-pathway-1", "home-with-support"},
		{"barthel 18", dc{barthel: 18, cfs: 3}, "discharge-pathway-0", "simple-discharge"},
		{"new care needs", dc{barthel: 20, cfs: 1, newNeeds: true}, "discharge-pathway-1", "home-with-support"},
		{"cfs 5 alone", dc{barthel: 20, cfs: 5, alone: true}, "discharge-pathway-1", "home-with-support"},
		{"cfs 4 alone", dc{barthel: 20, cfs: 4, alone: true}, "discharge-pathway-0", "simple-discharge"},
		{"barthel 0", dc{barthel: 0, cfs: 9}, "discharge-pathway-2", "bed-based-rehab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.decide(t, tt.in.submission(), "discharge-pathways v1")
			if got.Outcome.Pathway != tt.want || got.Rule != tt.rule {
				t.Errorf("%s by %s, want %s by %s", got.Outcome.Pathway, got.Rule, tt.want, tt.rule)
			}
			if got.Scores["barthel_total"].I != int64(tt.in.barthel) {
				t.Errorf("barthel_total %v, want %d", got.Scores["barthel_total"], tt.in.barthel)
			}
		})
	}
}

// clock is a settable clock for the engine.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time  { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) set(t time.Time) { c.t.Store(t.UnixNano()) }

func newEngine(t *testing.T, db *database.DB) (*triage.Engine, *triage.SQLStore, *rules.SQLStore, *clock) {
	t.Helper()
	forms := triage.NewSQLStore(db)
	rs := rules.NewSQLStore(db)
	c := &clock{}
	c.set(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC))
	if _, err := fixtures.Load(context.Background(), forms, rs, c.now()); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	e := &triage.Engine{Store: forms, Rules: rules.NewRegistry(rs), Now: c.now,
		NewID: func() string { return fmt.Sprintf("d-%06d", n.Add(1)) }}
	return e, forms, rs, c
}

func body(t testing.TB, sub *triage.Submission) []byte {
	t.Helper()
	b, err := json.Marshal(sub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func countDecisions(t *testing.T, db *database.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSubmitStoresAndReproduces(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		e, forms, _, _ := newEngine(t, db)
		d, created, err := e.Submit(ctx, body(t, mh{phq9: 12, gad7: 3}.submission()), triage.Options{})
		if err != nil || !created {
			t.Fatalf("submit: created %v, err %v", created, err)
		}
		got, err := forms.Decision(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(d)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Errorf("stored decision differs from the one returned:\n%s\n%s", a, b)
		}
		// Authored in 2026: the demo's revised version is in force.
		if got.RuleSet.ID != "mh-triage" || got.RuleSet.Version != fixtures.Revised()["mh-triage"] || len(got.RuleSet.SHA256) != 64 {
			t.Errorf("ruleset %+v", got.RuleSet)
		}
		if _, err := e.Reproduce(ctx, got); err != nil {
			t.Errorf("reproduce: %v", err)
		}
		// A record whose outcome was tampered with no longer reproduces.
		got.Outcome.Pathway = "watchful-waiting"
		if _, err := e.Reproduce(ctx, got); err == nil {
			t.Error("reproduce accepted a tampered outcome")
		}
		if _, err := forms.Decision(ctx, "nope"); failure.CodeOf(err) != failure.NotFound {
			t.Errorf("missing decision: %v", err)
		}
	})
}

func TestSubmitIsDeterministic(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e, _, _, _ := newEngine(t, db)
		in := body(t, mh{phq9: 16, gad7: 9, item9: 1}.submission())
		first, _, err := e.Submit(context.Background(), in, triage.Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		second, _, err := e.Submit(context.Background(), in, triage.Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		second.ID = first.ID
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(second)
		if string(a) != string(b) {
			t.Errorf("same input, different decisions:\n%s\n%s", a, b)
		}
	})
}

func TestSubmitRefusesBadInputAndStoresNothing(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e, _, _, _ := newEngine(t, db)
		bad := mh{phq9: 12}.submission()
		bad.Answers["phq9_3"] = int64(7)
		delete(bad.Answers, "gad7_1")
		bad.Answers["phq9_99"] = int64(1)
		tests := []struct {
			name   string
			body   []byte
			fields []string
		}{
			{"malformed", []byte(`{"form": "mental-health",`), []string{"body"}},
			{"unknown form", []byte(`{"form":"nope","subject":{"ref":"x"},"answers":{}}`), []string{"form"}},
			{"unknown version", []byte(`{"form":"mental-health","form_version":9,"subject":{"ref":"x"},"answers":{}}`), []string{"form_version"}},
			{"several problems", body(t, bad), []string{"answers.gad7_1", "answers.phq9_3", "answers.phq9_99"}},
		}
		for _, tt := range tests {
			_, _, err := e.Submit(context.Background(), tt.body, triage.Options{})
			var ve *triage.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%s: want a ValidationError, got %v", tt.name, err)
			}
			fields := map[string]bool{}
			for _, p := range ve.Problems {
				fields[p.Field] = true
				if p.Reason == "" {
					t.Errorf("%s: problem on %s without a reason", tt.name, p.Field)
				}
			}
			for _, f := range tt.fields {
				if !fields[f] {
					t.Errorf("%s: no problem names %s: %v", tt.name, f, ve.Problems)
				}
			}
		}
		if n := countDecisions(t, db); n != 0 {
			t.Errorf("%d decisions stored after refused input", n)
		}
	})
}

func TestVersionInForceAtAuthoredTime(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		e, _, rs, c := newEngine(t, db)
		switchAt := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		// The activation is scheduled as of before the switch, by a second person's approved
		// version (v2 ships approved), through the lifecycle as any activation is.
		lc := &rules.Lifecycle{Store: rs, Now: func() time.Time { return switchAt.Add(-time.Hour) }}
		if err := lc.Activate(ctx, rules.Actor{Subject: "test-officer"}, "mh-triage", 2, switchAt, "switch"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			at      time.Time
			version int
			pathway string
		}{
			// Before the switch the demo's revised version (caseness 10, like v1) is in force.
			{switchAt.Add(-time.Second), fixtures.Revised()["mh-triage"], "watchful-waiting"},
			{switchAt, 2, "talking-therapies-step2"},
		} {
			sub := mh{phq9: 9}.submission()
			sub.Authored = &tt.at
			d, _, err := e.Submit(ctx, body(t, sub), triage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d.RuleSet.Version != tt.version || d.Outcome.Pathway != tt.pathway {
				t.Errorf("authored %s: v%d %s, want v%d %s", tt.at, d.RuleSet.Version, d.Outcome.Pathway, tt.version, tt.pathway)
			}
		}
		// Without an authored time the received time decides: the clock is before the switch.
		sub := mh{phq9: 9}.submission()
		sub.Authored = nil
		d, _, err := e.Submit(ctx, body(t, sub), triage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d.RuleSet.Version != fixtures.Revised()["mh-triage"] || !d.Authored.Equal(c.now()) {
			t.Errorf("received-time decision used v%d, authored %s", d.RuleSet.Version, d.Authored)
		}
		// Before any activation there is no version in force: a clear error, nothing stored.
		before := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
		sub.Authored = &before
		n := countDecisions(t, db)
		if _, _, err := e.Submit(ctx, body(t, sub), triage.Options{}); failure.CodeOf(err) != failure.Unavailable {
			t.Errorf("authored before any activation: %v", err)
		}
		if countDecisions(t, db) != n {
			t.Error("a decision was stored without a version in force")
		}
	})
}

func TestIdempotentSubmissionsRace(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		e, _, _, _ := newEngine(t, db)
		in := body(t, mh{phq9: 11}.submission())
		const n = 16
		var wg sync.WaitGroup
		ids := make([]string, n)
		createdCount := atomic.Int32{}
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, created, err := e.Submit(ctx, in, triage.Options{IdempotencyKey: "retry-me"})
				errs[i] = err
				if err == nil {
					ids[i] = d.ID
					if created {
						createdCount.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("retries returned different decisions: %v", ids)
			}
		}
		if createdCount.Load() != 1 || countDecisions(t, db) != 1 {
			t.Errorf("created %d, stored %d; want exactly one", createdCount.Load(), countDecisions(t, db))
		}
		other := body(t, mh{phq9: 12}.submission())
		if _, _, err := e.Submit(ctx, other, triage.Options{IdempotencyKey: "retry-me"}); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("same key, other body: %v", err)
		}
	})
}
