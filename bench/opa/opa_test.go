// Package opa_test holds Carepath's side of the comparison with Open Policy Agent: the demo
// mental-health rule set in force translated to Rego (triage.rego, ILLUSTRATIVE demo policy), the
// sample input both engines decide, a check that both decide alike, and the in-process benchmark
// that `opa bench` is compared with. OPA itself is not a dependency: the equivalence check runs the
// opa binary named by CAREPATH_OPA, which compare.sh installs.
package opa_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// opaEnv names the opa binary that TestEquivalentToOPA runs; unset, that test skips.
const opaEnv = "CAREPATH_OPA"

var authored = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// demo is the mental-health form and the version of mh-triage the demo data puts in force.
type demo struct {
	form    *triage.Form
	program *rules.Program
}

func loadDemo(t testing.TB) demo {
	t.Helper()
	forms, err := fixtures.Forms()
	if err != nil {
		t.Fatal(err)
	}
	var d demo
	for _, f := range forms {
		if f.ID == "mental-health" && (d.form == nil || f.Version > d.form.Version) {
			d.form = f
		}
	}
	pathways, err := fixtures.Pathways()
	if err != nil {
		t.Fatal(err)
	}
	known := func(id string) bool {
		return slices.ContainsFunc(pathways, func(p rules.Pathway) bool { return p.ID == id })
	}
	sets, err := fixtures.RuleSets()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		if s.Parsed.ID == "mh-triage" && s.Parsed.Version == fixtures.Revised()["mh-triage"] {
			if d.program, err = rules.Compile(s.Parsed, d.form.Schema(), known); err != nil {
				t.Fatal(err)
			}
		}
	}
	if d.form == nil || d.program == nil {
		t.Fatal("no mental-health form or mh-triage version in force among the fixtures")
	}
	return d
}

// opaInput is the scored assessment as the Rego policy reads it: what Carepath's rules read,
// keyed by name.
func (d demo) opaInput(a *triage.Assessment) map[string]any {
	s := d.form.Schema()
	answers, scores := map[string]any{}, map[string]any{}
	for i, f := range s.Answers {
		answers[f.Name] = a.Values[i].Any()
	}
	for i, f := range s.Scores {
		scores[f.Name] = a.Scores[i].Any()
	}
	return map[string]any{"answers": answers, "scores": scores}
}

// outcome is what both engines are compared on.
type outcome struct {
	Rule          string   `json:"rule"`
	Pathway       string   `json:"pathway"`
	Priority      string   `json:"priority"`
	RespondWithin string   `json:"respond_within"`
	Flags         []string `json:"flags"`
}

func (d demo) decide(t testing.TB, sub *triage.Submission) (triage.Assessment, outcome) {
	t.Helper()
	a, err := triage.Assess(d.form, sub, authored)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := triage.Decide(&a, d.program)
	if err != nil {
		t.Fatal(err)
	}
	o := dec.Outcome
	return a, outcome{Rule: dec.Rule, Pathway: o.Pathway, Priority: string(o.Priority), RespondWithin: o.RespondWithin, Flags: append([]string{}, o.Flags...)}
}

func readSubmission(t testing.TB) *triage.Submission {
	t.Helper()
	body, err := os.ReadFile("submission.json")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := triage.ParseSubmission(body)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// TestSampleInput: input.json (what OPA is sent) is submission.json (what Carepath is sent) as
// Carepath's rules read it once validated and scored, and it falls through every rule, the most
// work a decision does in either engine.
func TestSampleInput(t *testing.T) {
	d := loadDemo(t)
	a, got := d.decide(t, readSubmission(t))
	if got.Rule != "otherwise" || len(d.program.RuleSet.Rules) < 2 {
		t.Errorf("the sample matches rule %q; want it to fall through to otherwise", got.Rule)
	}
	raw, err := os.ReadFile("input.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(d.opaInput(&a))
	var a1, a2 any
	_ = json.Unmarshal(want, &a1)
	if err := json.Unmarshal(file.Input, &a2); err != nil {
		t.Fatal(err)
	}
	if w, g := fmt.Sprint(a1), fmt.Sprint(a2); w != g {
		t.Errorf("input.json's input is\n%s\nsubmission.json scores as\n%s", g, w)
	}
}

// TestRegoFollowsRuleSet: triage.rego names the rule set and version in force and has its rules
// in the same order, so a new demo version cannot leave the benchmark deciding an old policy
// unnoticed even where OPA is not installed.
func TestRegoFollowsRuleSet(t *testing.T) {
	d := loadDemo(t)
	src, err := os.ReadFile("triage.rego")
	if err != nil {
		t.Fatal(err)
	}
	rs := d.program.RuleSet
	if head := fmt.Sprintf("rule set %s version %d", rs.ID, rs.Version); !bytes.Contains(src, []byte(head)) {
		t.Errorf("triage.rego does not say it translates %q, the version in force", head)
	}
	if !bytes.Contains(src, []byte("ILLUSTRATIVE demo policy")) {
		t.Error("triage.rego does not say it is illustrative demo policy")
	}
	var got, want []string
	for _, m := range regexp.MustCompile(`"rule": "([^"]+)"`).FindAllSubmatch(src, -1) {
		got = append(got, string(m[1]))
	}
	for _, r := range rs.Rules {
		want = append(want, r.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("triage.rego's rules are %v, the rule set's %v", got, want)
	}
}

// cases are the submissions compared: the synthetic cases of the generator (their realistic mix),
// then uniformly random answers with each yes/no question answered yes one time in six, which
// reach the rarer rules and every score total.
func cases(t testing.TB, d demo, n int) []*triage.Submission {
	t.Helper()
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, fixtures.Generation{Form: "mental-health", Cases: n / 2, Seed: 13}); err != nil {
		t.Fatal(err)
	}
	var out []*triage.Submission
	for line := range bytes.Lines(buf.Bytes()) {
		sub, err := triage.ParseSubmission(line)
		if err != nil {
			t.Fatal(err)
		}
		sub.Authored = &authored
		out = append(out, sub)
	}
	r := rand.New(rand.NewPCG(13, 6))
	for i := len(out); i < n; i++ {
		answers := map[string]any{}
		for _, f := range d.form.Schema().Answers {
			if f.Kind == rules.KindBool {
				answers[f.Name] = r.IntN(6) == 0
			} else {
				answers[f.Name] = int64(r.IntN(4))
			}
		}
		out = append(out, &triage.Submission{Form: "mental-health", Subject: triage.Subject{Ref: "bench-" + strconv.Itoa(i)}, Answers: answers, Authored: &authored})
	}
	return out
}

// TestEquivalentToOPA: for thousands of cases, OPA deciding triage.rego gives the same rule,
// pathway, priority, response time and flags as Carepath's engine deciding the rule set in force
// (the engine behind POST /v1/decide), and the cases reach every rule.
func TestEquivalentToOPA(t *testing.T) {
	bin := os.Getenv(opaEnv)
	if bin == "" {
		t.Skip(opaEnv + " is not set to an opa binary (bench/opa/compare.sh installs one)")
	}
	d := loadDemo(t)
	subs := cases(t, d, 4000)
	inputs := make([]map[string]any, len(subs))
	want := make([]outcome, len(subs))
	reached := map[string]int{}
	for i, sub := range subs {
		a, o := d.decide(t, sub)
		inputs[i], want[i] = d.opaInput(&a), o
		reached[o.Rule]++
	}
	for _, r := range d.program.RuleSet.Rules {
		if reached[r.ID] == 0 {
			t.Errorf("no case reaches rule %s: %v", r.ID, reached)
		}
	}
	in, err := json.Marshal(map[string]any{"cases": inputs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "eval", "--stdin-input", "--format", "raw", "--data", "triage.rego", "--data", "batch.rego", "data.carepath.batch.decisions")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("opa eval: %v: %s", err, stderr.Bytes())
	}
	var got []outcome
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("opa eval: %v: %.300s", err, out)
	}
	if len(got) != len(want) {
		t.Fatalf("OPA decided %d cases of %d", len(got), len(want))
	}
	differ := 0
	for i := range want {
		if !slices.Equal(got[i].Flags, want[i].Flags) || got[i].Rule != want[i].Rule || got[i].Pathway != want[i].Pathway ||
			got[i].Priority != want[i].Priority || got[i].RespondWithin != want[i].RespondWithin {
			if differ++; differ <= 5 {
				in, _ := json.Marshal(inputs[i])
				t.Errorf("case %d %s: Carepath %+v, OPA %+v", i, in, want[i], got[i])
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d cases decided differently", differ, len(want))
	}
	t.Logf("%d cases compared; by rule %v", len(want), reached)
}

// BenchmarkDecide is the in-process figure set beside `opa bench` on input.json: the rules alone
// on the scored input (what OPA is given), the rules with their explanation, and the whole of a
// decision from the parsed submission (validation, scoring, rules, explanation). Nothing is read
// from a database.
func BenchmarkDecide(b *testing.B) {
	d := loadDemo(b)
	sub := readSubmission(b)
	a, err := triage.Assess(d.form, sub, authored)
	if err != nil {
		b.Fatal(err)
	}
	in := a.Input()
	b.Run("rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.program.Evaluate(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rules-explained", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := d.program.Evaluate(in)
			if err != nil {
				b.Fatal(err)
			}
			_ = r.Explain()
		}
	})
	b.Run("validate-score-decide", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a, err := triage.Assess(d.form, sub, authored)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := triage.Decide(&a, d.program); err != nil {
				b.Fatal(err)
			}
		}
	})
}
