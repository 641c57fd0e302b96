package rules_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// demoForm returns the latest version of a demo form by id.
func demoForm(t testing.TB, id string) *triage.Form {
	t.Helper()
	forms := demoForms(t, id)
	return forms[len(forms)-1]
}

// demoForms returns every version of a demo form, oldest first.
func demoForms(t testing.TB, id string) []*triage.Form {
	t.Helper()
	forms, err := fixtures.Forms()
	if err != nil {
		t.Fatal(err)
	}
	var out []*triage.Form
	for _, f := range forms {
		if f.ID == id {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no demo form %s", id)
	}
	slices.SortFunc(out, func(a, b *triage.Form) int { return a.Version - b.Version })
	return out
}

// formFor returns the form a rule-set file is checked against: a test form from testdata/forms
// when one has its id (for seeded faults needing shapes the demo forms lack), otherwise the
// latest demo version the rule set accepts.
func formFor(t testing.TB, rs *rules.RuleSet) *triage.Form {
	t.Helper()
	if src, err := os.ReadFile(filepath.Join("testdata", "forms", rs.Form+".json")); err == nil {
		f, err := triage.ParseForm(src)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	forms := demoForms(t, rs.Form)
	for i := len(forms) - 1; i >= 0; i-- {
		if rs.AcceptsFormVersion(forms[i].Version) {
			return forms[i]
		}
	}
	t.Fatalf("no demo version of form %s is accepted by %s v%d", rs.Form, rs.ID, rs.Version)
	return nil
}

// checkFile parses, compiles, lints and tests one rule-set file as `carepath rules lint` and
// `carepath rules test` do, returning both reports' text.
func checkFile(t testing.TB, path string) (lint, tests string, lintErrors int, testsOK bool) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	rs, err := rules.Parse(name, src)
	if err != nil {
		rep := rules.CompileFindings(nil, name, err)
		return string(rep.Text()), "", rep.Errors(), false
	}
	form := formFor(t, rs)
	p, err := rules.Compile(rs, form.Schema(), nil)
	if err != nil {
		rep := rules.CompileFindings(rs, name, err)
		return string(rep.Text()), "", rep.Errors(), false
	}
	m := governance.FormModel{Form: form}
	lr := rules.Lint(p, m, rules.DefaultLintOptions)
	tr := rules.RunTests(p, m)
	return string(lr.Text()), string(tr.Text(false)), lr.Errors(), tr.OK()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", path, got, want)
	}
}

func TestSeededFaultsAreCaught(t *testing.T) {
	tests := []struct {
		file string
		want string // a fragment the lint or test report must contain
	}{
		{"unreachable.yaml", "rule higher: error: unreachable: every input it matches is taken by earlier rules (high)"},
		{"missing-final.yaml", "the last rule must always match"},
		{"type-error.yaml", "rule typo: error: compile: found no matching overload"},
		{"wrong-pathway.yaml", "pathway: want talking-therapies-step3, got watchful-waiting (matched rule otherwise)"},
		{"coverage-gap.yaml", "rule high: `answers.risk_plan` never seen true"},
		{"over-cost.yaml", "rule loops: error: cost: worst-case cost estimate"},
		// A band is absent when its total sums an unanswered optional item.
		{"optional-band.yaml", "rule high: error: totality: evaluation fails for scores.total_band=absent"},
		// Totals inside a narrow band fall between evenly spread samples of a wide total.
		{"narrow-band.yaml", "rule a-little-with-effort: error: totality: evaluation fails for answers.effort=absent scores.activity=1"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			lint, report, lintErrors, testsOK := checkFile(t, filepath.Join("testdata", "faults", tc.file))
			out := lint + report
			if !strings.Contains(out, tc.want) {
				t.Errorf("report lacks %q:\n%s", tc.want, out)
			}
			if lintErrors == 0 && testsOK {
				t.Errorf("fault passed both lint and tests:\n%s", out)
			}
			golden(t, filepath.Join("testdata", "faults", strings.TrimSuffix(tc.file, ".yaml")+".golden"), []byte(out))
		})
	}
}

func TestDemoRuleSetsPassLintAndFullCoverage(t *testing.T) {
	sets, err := fixtures.RuleSets()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		t.Run(filepath.Base(s.Name), func(t *testing.T) {
			lint, report, lintErrors, ok := checkFile(t, filepath.Join("..", "fixtures", s.Name))
			if lintErrors > 0 || !ok || !strings.Contains(report, "coverage: 100.0%") {
				t.Errorf("demo rule set is not clean:\n%s%s", lint, report)
			}
		})
	}
}

func TestJUnitGolden(t *testing.T) {
	var reports []*rules.TestReport
	for _, file := range []string{"wrong-pathway.yaml", "coverage-gap.yaml"} {
		src, err := os.ReadFile(filepath.Join("testdata", "faults", file))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Parse(file, src)
		if err != nil {
			t.Fatal(err)
		}
		form := demoForm(t, rs.Form)
		p, err := rules.Compile(rs, form.Schema(), nil)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rules.RunTests(p, governance.FormModel{Form: form}))
	}
	golden(t, filepath.Join("testdata", "junit.golden.xml"), rules.JUnit(reports))
}

func TestDiffGolden(t *testing.T) {
	var sets [2]*rules.RuleSet
	for i, name := range []string{"mh-triage.v1.yaml", "mh-triage.v2.yaml"} {
		src, err := os.ReadFile(filepath.Join("..", "fixtures", "rulesets", name))
		if err != nil {
			t.Fatal(err)
		}
		if sets[i], err = rules.Parse(name, src); err != nil {
			t.Fatal(err)
		}
	}
	changes := rules.Diff(sets[0], sets[1])
	kinds := map[string]int{}
	for _, c := range changes {
		kinds[c.Kind]++
	}
	if kinds["param"] != 1 || kinds["condition"] != 0 || kinds["added"] != 0 {
		t.Errorf("v1 -> v2 changes = %+v, want one param change and no rule change", changes)
	}
	if len(rules.Diff(sets[0], sets[0])) != 0 {
		t.Error("a version differs from itself")
	}
	golden(t, filepath.Join("testdata", "diff-mh-triage-v1-v2.golden"), rules.DiffText(sets[0], sets[1], changes))
}

func TestWhyNotNamesTheFailedCondition(t *testing.T) {
	form := demoForm(t, "mental-health")
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "rulesets", "mh-triage.v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Parse("mh-triage.v1.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rules.Compile(rs, form.Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := governance.FormModel{Form: form}.TestInput(rules.TestCase{Answers: map[string]any{"phq9_1": 2, "phq9_2": 2, "phq9_3": 2, "phq9_4": 2, "phq9_5": 1}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.WhyNot(in, "talking-therapies-step2")
	if err != nil {
		t.Fatal(err)
	}
	if w.Got != "watchful-waiting" || len(w.Rules) != 1 || w.Rules[0].Result || len(w.Rules[0].Parts) != 2 {
		t.Fatalf("why-not = %+v", w)
	}
	if got := w.Rules[0].Parts[0]; got.Value.Any() != false || !strings.Contains(got.Expr, "phq9_total") {
		t.Errorf("first operand = %+v, want phq9_total >= caseness false", got)
	}
	if !strings.Contains(string(w.Text()), "scores.phq9_total = 9") {
		t.Errorf("text lacks the total:\n%s", w.Text())
	}
	r, err := p.Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	// The matched rule has no condition, so only earlier conditions appear; a multi-part match shows parts.
	in2, _ := governance.FormModel{Form: form}.TestInput(rules.TestCase{Answers: map[string]any{"gad7_1": 2, "gad7_2": 2, "gad7_3": 2, "gad7_4": 2}})
	r2, _ := p.Evaluate(in2)
	ex := r2.Explain()
	last := ex.Evaluated[len(ex.Evaluated)-1]
	if last.Rule != "caseness" || len(last.Parts) != 2 || last.Parts[1].Value.Any() != true || last.Parts[0].Value.Any() != false {
		t.Errorf("matched condition parts = %+v", last.Parts)
	}
	_ = r
}

func BenchmarkLintDemo(b *testing.B) {
	sets, err := fixtures.RuleSets()
	if err != nil {
		b.Fatal(err)
	}
	type prepared struct {
		p *rules.Program
		m governance.FormModel
	}
	var ps []prepared
	for _, s := range sets {
		form := formFor(b, s.Parsed)
		p, err := rules.Compile(s.Parsed, form.Schema(), nil)
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, prepared{p, governance.FormModel{Form: form}})
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, x := range ps {
			if rep := rules.Lint(x.p, x.m, rules.DefaultLintOptions); rep.Errors() > 0 {
				b.Fatal(string(rep.Text()))
			}
		}
	}
}
