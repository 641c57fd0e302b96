package rules

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Severity says whether a finding blocks review.
type Severity string

// Severities of lint findings: errors block submission for review, warnings do not.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one result of a static check, located like a compile problem.
type Finding struct {
	Problem
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
}

// String formats the finding as file:line:col: rule id: severity: check: message.
func (f Finding) String() string {
	p := f.Problem
	p.Msg = fmt.Sprintf("%s: %s: %s", f.Severity, f.Check, f.Msg)
	return p.String()
}

// LintOptions bound the search for unreachable rules and failing inputs.
type LintOptions struct {
	// MaxPoints is the most input combinations enumerated exhaustively; beyond it Samples are drawn.
	MaxPoints int
	// Samples is how many random combinations are drawn when the domain is too large.
	Samples int
	// Seed makes sampling repeatable.
	Seed uint64
}

// DefaultLintOptions enumerate up to a million combinations, sampling 100,000 beyond that.
var DefaultLintOptions = LintOptions{MaxPoints: 1_000_000, Samples: 100_000, Seed: 1}

// LintReport lists every finding of the static checks, and how the input domain was searched.
type LintReport struct {
	RuleSet  string    `json:"ruleset"`
	Version  int       `json:"version"`
	File     string    `json:"file"`
	Findings []Finding `json:"findings"`
	// Points is how many input combinations were evaluated, of Domain in all; Exhaustive is true
	// when that was every combination of complete domains.
	Points     int     `json:"points"`
	Domain     float64 `json:"domain"`
	Exhaustive bool    `json:"exhaustive"`
}

// Errors counts the findings that block review.
func (r *LintReport) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// Text formats the report one finding a line, then a summary line.
func (r *LintReport) Text() []byte {
	var b bytes.Buffer
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	name := fmt.Sprintf("%s v%d", r.RuleSet, r.Version)
	if r.RuleSet == "" {
		name = r.File
	}
	how := "every combination"
	switch {
	case r.Points == 0:
		fmt.Fprintf(&b, "%s: %d errors, %d warnings; not evaluated\n", name, r.Errors(), len(r.Findings)-r.Errors())
		return b.Bytes()
	case !r.Exhaustive && float64(r.Points) == r.Domain:
		how = "every combination of representative values"
	case !r.Exhaustive:
		how = fmt.Sprintf("a sample of %d of %.0f combinations", r.Points, r.Domain)
	}
	fmt.Fprintf(&b, "%s: %d errors, %d warnings; searched %s (%d evaluated)\n", name,
		r.Errors(), len(r.Findings)-r.Errors(), how, r.Points)
	return b.Bytes()
}

// CompileFindings turns a parse or compile error into findings of the "compile" check.
func CompileFindings(rs *RuleSet, file string, err error) *LintReport {
	rep := &LintReport{File: file}
	if rs != nil {
		rep.RuleSet, rep.Version = rs.ID, rs.Version
	}
	if ce, ok := err.(*CompileError); ok {
		for _, p := range ce.Problems {
			rep.Findings = append(rep.Findings, Finding{Problem: p, Check: "compile", Severity: SeverityError})
		}
		return rep
	}
	rep.Findings = append(rep.Findings, Finding{Problem: Problem{File: file, Msg: err.Error()}, Check: "compile", Severity: SeverityError})
	return rep
}

// Lint runs the static checks on a compiled program: the cost bound, unreachable rules and
// totality, the last two by evaluating every combination of the values of the inputs the rules
// read (or a sample, said so, when there are too many).
//
// Scores are treated as independent of the answers they sum, an over-approximation of the valid
// inputs: a rule reported unreachable is unreachable for every valid input, but a rule matched only
// by impossible combinations is not reported.
func Lint(p *Program, m Model, opts LintOptions) *LintReport {
	rs := p.RuleSet
	rep := &LintReport{RuleSet: rs.ID, Version: rs.Version, File: rs.File}
	add := func(rule string, pos Pos, check string, sev Severity, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{
			Problem: Problem{File: rs.File, Rule: rule, Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf(format, args...)},
			Check:   check, Severity: sev,
		})
	}
	for i, v := range p.vars {
		if !v.bounded {
			add("", rs.Variables[i].Pos, "cost", SeverityError, "variables.%s: worst-case cost estimate %d is over the bound of %d; bound the input or avoid the loop", rs.Variables[i].Name, v.cost.Max, CostLimit)
		}
	}
	for i, r := range p.rules {
		if !p.always[i] && !r.bounded {
			add(rs.Rules[i].ID, rs.Rules[i].WhenPos, "cost", SeverityError, "worst-case cost estimate %d is over the bound of %d; bound the input or avoid the loop", r.cost.Max, CostLimit)
		}
	}

	inputs := p.readInputs()
	domains := make([][]Value, len(inputs))
	complete := true
	size := 1.0
	for k, i := range inputs {
		vals, ok := m.Domain(p.names[i])
		if len(vals) == 0 {
			vals, ok = []Value{{}}, false
		}
		domains[k] = vals
		complete = complete && ok
		size *= float64(len(vals))
	}
	rep.Domain = size
	schema := p.Schema
	in := Input{Answers: make([]Value, len(schema.Answers)), Scores: make([]Value, len(schema.Scores))}
	set := func(k int, v Value) {
		s := p.slots[inputs[k]]
		switch s.src {
		case fromAnswer:
			in.Answers[s.i] = v
		case fromScore:
			in.Scores[s.i] = v
		case fromAge:
			in.Age = v
		}
	}

	matched := make([]int, len(p.rules))
	everTrue := make([]bool, len(p.rules))
	takenBy := make([]map[int]bool, len(p.rules))
	example := make([]string, len(p.rules))
	failed := map[string]bool{}
	visit := func() {
		rep.Points++
		first := -1
		vars, err := p.evalVars(&in)
		if err != nil {
			if !failed[err.Error()] && len(failed) < 5 {
				failed[err.Error()] = true
				add("", Pos{}, "totality", SeverityError, "evaluation fails for %s: %v", p.describe(inputs, &in), err)
			}
			return
		}
		act := activation{p: p, in: &in, vars: vars}
		for i := range p.rules {
			var ok bool
			if p.always[i] {
				ok = true
			} else {
				out, err := p.rules[i].eval(&act)
				if err != nil {
					if first < 0 {
						key := rs.Rules[i].ID + err.Error()
						if !failed[key] && len(failed) < 5 {
							failed[key] = true
							add(rs.Rules[i].ID, rs.Rules[i].WhenPos, "totality", SeverityError, "evaluation fails for %s: %v", p.describe(inputs, &in), err)
						}
						return
					}
					continue
				}
				ok = out == types.True
			}
			if !ok {
				continue
			}
			everTrue[i] = true
			if first < 0 {
				first = i
				matched[i]++
				continue
			}
			if takenBy[i] == nil {
				takenBy[i] = map[int]bool{}
			}
			takenBy[i][first] = true
			if example[i] == "" {
				example[i] = p.describe(inputs, &in)
			}
		}
		if first < 0 {
			add("", Pos{}, "totality", SeverityError, "no rule matches %s", p.describe(inputs, &in))
		}
	}

	// Every combination when there are few enough, even of representative values of a domain too
	// wide to list: that is deterministic and reaches every value listed, band edges included,
	// where random draws might not.
	if size <= float64(opts.MaxPoints) {
		rep.Exhaustive = complete
		idx := make([]int, len(inputs))
		for k := range inputs {
			set(k, domains[k][0])
		}
		for {
			visit()
			k := len(idx) - 1
			for ; k >= 0; k-- {
				idx[k]++
				if idx[k] < len(domains[k]) {
					set(k, domains[k][idx[k]])
					break
				}
				idx[k] = 0
				set(k, domains[k][0])
			}
			if k < 0 {
				break
			}
		}
		if !complete {
			add("", Pos{}, "domain", SeverityWarning, "some inputs the rules read are too wide to list, so every combination of representative values was evaluated (%.0f); unreachable rules and failing inputs between them may be missed", size)
		}
	} else {
		rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed))
		for n := 0; n < opts.Samples; n++ {
			for k := range inputs {
				set(k, domains[k][rng.IntN(len(domains[k]))])
			}
			visit()
		}
		add("", Pos{}, "domain", SeverityWarning, "the inputs the rules read have %.0f combinations%s; %d were sampled, so unreachable rules and failing inputs may be missed",
			size, map[bool]string{true: "", false: " (some domains are unbounded)"}[complete], opts.Samples)
	}

	for i, r := range rs.Rules {
		// The final always-true rule is the guard of totality; earlier rules catching every input is fine.
		if matched[i] > 0 || p.always[i] && i == len(rs.Rules)-1 {
			continue
		}
		sev := SeverityError
		qual := "for any valid input"
		if !rep.Exhaustive {
			sev, qual = SeverityWarning, "in any sampled input"
		}
		if !everTrue[i] {
			add(r.ID, r.Pos, "unreachable", sev, "condition is never true %s, so the rule never matches", qual)
			continue
		}
		var by []string
		for j := range rs.Rules[:i] {
			if takenBy[i][j] {
				by = append(by, rs.Rules[j].ID)
			}
		}
		add(r.ID, r.Pos, "unreachable", sev, "every input it matches is taken by earlier rules (%s), for example %s", strings.Join(by, ", "), example[i])
	}
	return rep
}

// readInputs lists, in declaration order, the answers, scores and age that any variable or rule reads.
func (p *Program) readInputs() []int {
	read := make([]bool, len(p.names))
	mark := func(refs []int) {
		for _, r := range refs {
			read[r] = true
		}
	}
	for _, v := range p.vars {
		mark(v.refs)
	}
	for _, r := range p.rules {
		mark(r.refs)
	}
	var out []int
	for i, ok := range read {
		if s := p.slots[i].src; ok && (s == fromAnswer || s == fromScore || s == fromAge) {
			out = append(out, i)
		}
	}
	return out
}

// evalVars evaluates the program's variables for an input.
func (p *Program) evalVars(in *Input) ([]ref.Val, error) {
	if len(p.vars) == 0 {
		return nil, nil
	}
	a := activation{p: p, in: in, vars: make([]ref.Val, len(p.vars))}
	for i := range p.vars {
		out, err := p.vars[i].eval(&a)
		if err != nil {
			return nil, &EvalError{RuleSet: p.RuleSet.ID, Version: p.RuleSet.Version, Var: p.RuleSet.Variables[i].Name, Err: err}
		}
		a.vars[i] = out
	}
	return a.vars, nil
}

// describe names the values of the given inputs, for examples in findings; an optional answer
// left empty, and a score it leaves empty, read "absent".
func (p *Program) describe(inputs []int, in *Input) string {
	a := activation{p: p, in: in}
	parts := make([]string, len(inputs))
	for k, i := range inputs {
		v, ok := a.value(i)
		if !ok {
			parts[k] = p.names[i] + "=absent"
			continue
		}
		parts[k] = fmt.Sprintf("%s=%v", p.names[i], plainValue(v).Any())
	}
	return strings.Join(parts, " ")
}
