package rules

import (
	"bytes"
	"fmt"
	"slices"

	"cel.dev/cel-go/common/types"
)

// Model is what tests and static checks need to know about a form beyond its Schema: how a test
// case becomes an Input, and the values each input can take.
type Model interface {
	// Schema is the form version's typed inputs.
	Schema() Schema
	// TestInput validates and scores a test case's answers as a submission would be; answers a test
	// leaves out take documented defaults, so a test need only give the answers that matter to it.
	TestInput(tc TestCase) (Input, error)
	// Domain returns the values an input name (answers.x, scores.x, subject.age) can take;
	// complete is false when the values are only representative of a larger domain.
	Domain(name string) (values []Value, complete bool)
}

// TestResult is the outcome of one test case.
type TestResult struct {
	Name     string   `json:"name"`
	Line     int      `json:"line,omitempty"`
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures,omitempty"`
	Rule     string   `json:"rule,omitempty"`
	Outcome  Outcome  `json:"outcome"`
}

// PartCoverage records whether one top-level operand of a condition was seen true and false.
type PartCoverage struct {
	Expr  string `json:"expr"`
	True  bool   `json:"true"`
	False bool   `json:"false"`
}

// RuleCoverage records how often a rule matched and how its condition's operands were seen.
type RuleCoverage struct {
	Rule    string         `json:"rule"`
	Matched int            `json:"matched"`
	Parts   []PartCoverage `json:"parts,omitempty"`
}

// Coverage is what a test run exercised: every rule must match once, and every operand of every
// condition must be seen both true and false while its rule is reached.
type Coverage struct {
	Rules   []RuleCoverage `json:"rules"`
	Goals   int            `json:"goals"`
	Covered int            `json:"covered"`
}

// Percent is the share of coverage goals met; a rule set with no goals is fully covered.
func (c Coverage) Percent() float64 {
	if c.Goals == 0 {
		return 100
	}
	return 100 * float64(c.Covered) / float64(c.Goals)
}

// Gaps lists each unmet coverage goal in words.
func (c Coverage) Gaps() []string {
	var out []string
	for _, r := range c.Rules {
		if r.Matched == 0 {
			out = append(out, fmt.Sprintf("rule %s: never matched", r.Rule))
		}
		for _, p := range r.Parts {
			if !p.True {
				out = append(out, fmt.Sprintf("rule %s: `%s` never seen true", r.Rule, p.Expr))
			}
			if !p.False {
				out = append(out, fmt.Sprintf("rule %s: `%s` never seen false", r.Rule, p.Expr))
			}
		}
	}
	return out
}

// TestReport is the result of running a rule set's tests.
type TestReport struct {
	RuleSet  string       `json:"ruleset"`
	Version  int          `json:"version"`
	File     string       `json:"file"`
	Results  []TestResult `json:"results"`
	Coverage Coverage     `json:"coverage"`
	Required float64      `json:"required_coverage"`
}

// Failed counts the test cases that failed.
func (r *TestReport) Failed() int {
	n := 0
	for _, t := range r.Results {
		if !t.Passed {
			n++
		}
	}
	return n
}

// CoverageMet reports whether the tests reach the rule set's declared coverage.
func (r *TestReport) CoverageMet() bool { return r.Coverage.Percent()+1e-9 >= r.Required }

// OK reports whether every test passed and the required coverage was reached.
func (r *TestReport) OK() bool { return r.Failed() == 0 && r.CoverageMet() }

// RunTests evaluates every test case of the program's rule set and measures coverage.
func RunTests(p *Program, m Model) *TestReport {
	rs := p.RuleSet
	rep := &TestReport{RuleSet: rs.ID, Version: rs.Version, File: rs.File, Required: rs.RequiredCoverage}
	cov := newCoverage(p)
	for _, tc := range rs.Tests {
		res := TestResult{Name: tc.Name, Line: tc.Pos.Line, Passed: true}
		fail := func(format string, args ...any) {
			res.Passed = false
			res.Failures = append(res.Failures, fmt.Sprintf(format, args...))
		}
		in, err := m.TestInput(tc)
		if err != nil {
			fail("input: %v", err)
			rep.Results = append(rep.Results, res)
			continue
		}
		tr, err := p.trace(in)
		if err != nil {
			fail("evaluation failed: %v", err)
			rep.Results = append(rep.Results, res)
			continue
		}
		cov.add(tr)
		rule := &rs.Rules[tr.matched]
		res.Rule, res.Outcome = rule.ID, rule.Then
		if tc.Expect.Pathway != rule.Then.Pathway {
			fail("pathway: want %s, got %s (matched rule %s)", tc.Expect.Pathway, rule.Then.Pathway, rule.ID)
		}
		if tc.Expect.Rule != "" && tc.Expect.Rule != rule.ID {
			fail("rule: want %s, got %s", tc.Expect.Rule, rule.ID)
		}
		if tc.Expect.Priority != "" && tc.Expect.Priority != rule.Then.Priority {
			fail("priority: want %s, got %s (matched rule %s)", tc.Expect.Priority, rule.Then.Priority, rule.ID)
		}
		if tc.Expect.Flags != nil && !sameFlags(tc.Expect.Flags, rule.Then.Flags) {
			fail("flags: want %v, got %v (matched rule %s)", tc.Expect.Flags, rule.Then.Flags, rule.ID)
		}
		rep.Results = append(rep.Results, res)
	}
	rep.Coverage = cov.result()
	return rep
}

func sameFlags(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// trace is one evaluation with every operand of every reached condition evaluated.
type trace struct {
	matched int
	parts   [][]int8 // parts[rule][part]: 1 true, 0 false, -1 not a boolean or failed
}

// trace evaluates like Evaluate, and also evaluates every operand of each condition it reaches,
// without short-circuit, so coverage sees operands that first-match evaluation would skip.
func (p *Program) trace(in Input) (trace, error) {
	r, err := p.Evaluate(in)
	if err != nil {
		return trace{}, err
	}
	a := activation{p: p, in: &in, vars: r.vars}
	t := trace{matched: r.rule, parts: make([][]int8, r.rule+1)}
	for i := 0; i <= r.rule; i++ {
		cond := &p.rules[i]
		if p.always[i] {
			continue
		}
		t.parts[i] = make([]int8, len(cond.parts))
		for k := range cond.parts {
			v, ok := evalPart(&cond.parts[k], &a)
			switch {
			case ok && v == types.True:
				t.parts[i][k] = 1
			case ok && v == types.False:
				t.parts[i][k] = 0
			default:
				t.parts[i][k] = -1
			}
		}
	}
	return t, nil
}

type coverageCounter struct {
	p     *Program
	rules []RuleCoverage
}

func newCoverage(p *Program) *coverageCounter {
	c := &coverageCounter{p: p, rules: make([]RuleCoverage, len(p.rules))}
	for i, r := range p.RuleSet.Rules {
		c.rules[i].Rule = r.ID
		for _, part := range p.rules[i].parts {
			c.rules[i].Parts = append(c.rules[i].Parts, PartCoverage{Expr: part.text})
		}
	}
	return c
}

func (c *coverageCounter) add(t trace) {
	c.rules[t.matched].Matched++
	for i, parts := range t.parts {
		for k, v := range parts {
			switch v {
			case 1:
				c.rules[i].Parts[k].True = true
			case 0:
				c.rules[i].Parts[k].False = true
			}
		}
	}
}

func (c *coverageCounter) result() Coverage {
	cov := Coverage{Rules: c.rules}
	for _, r := range c.rules {
		cov.Goals++
		if r.Matched > 0 {
			cov.Covered++
		}
		for _, p := range r.Parts {
			cov.Goals += 2
			if p.True {
				cov.Covered++
			}
			if p.False {
				cov.Covered++
			}
		}
	}
	return cov
}

// Text formats the report in the style of go test: a line a test, the failures indented under
// it, then coverage with each gap, then ok or FAIL.
func (r *TestReport) Text(verbose bool) []byte {
	var b bytes.Buffer
	name := fmt.Sprintf("%s v%d", r.RuleSet, r.Version)
	for _, t := range r.Results {
		if t.Passed {
			if verbose {
				fmt.Fprintf(&b, "--- PASS: %s/%s (rule %s)\n", name, t.Name, t.Rule)
			}
			continue
		}
		fmt.Fprintf(&b, "--- FAIL: %s/%s\n", name, t.Name)
		for _, f := range t.Failures {
			fmt.Fprintf(&b, "    %s:%d: %s\n", r.File, t.Line, f)
		}
	}
	fmt.Fprintf(&b, "coverage: %.1f%% of %d goals (required %.1f%%)\n", r.Coverage.Percent(), r.Coverage.Goals, r.Required)
	if !r.CoverageMet() || verbose {
		for _, g := range r.Coverage.Gaps() {
			fmt.Fprintf(&b, "    %s\n", g)
		}
	}
	switch {
	case r.OK():
		fmt.Fprintf(&b, "ok  \t%s\t%d tests\n", name, len(r.Results))
	case r.Failed() > 0:
		fmt.Fprintf(&b, "FAIL\t%s\t%d of %d tests failed\n", name, r.Failed(), len(r.Results))
	default:
		fmt.Fprintf(&b, "FAIL\t%s\tcoverage %.1f%% is below the required %.1f%%\n", name, r.Coverage.Percent(), r.Required)
	}
	return b.Bytes()
}
