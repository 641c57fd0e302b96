package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// genStrings are the string values generated rules compare against and generated inputs take:
// the demo forms' band names and residence options, and one value no rule names.
var genStrings = []string{"minimal", "mild", "moderate", "moderately_severe", "severe", "own_home", "care_home", "other", "zzz"}

// mixedSchema has a field of every kind, so generated rules also cover doubles and strings in
// answers, which the demo forms do not have.
func mixedSchema() Schema {
	return Schema{Form: "mixed", Version: 1,
		Answers: []Field{{"i1", KindInt}, {"i2", KindInt}, {"d1", KindDouble}, {"d2", KindDouble}, {"s1", KindString}, {"b1", KindBool}, {"b2", KindBool}},
		Scores:  []Field{{"total", KindInt}, {"band", KindString}},
	}
}

// ruleGen draws rule sets over one schema: conjunctions of comparisons of one input against
// constants (what an index can use), mixed with conditions it cannot use.
type ruleGen struct {
	rng    *rand.Rand
	schema Schema
	// opaque is the share of rules, from 0 to 1, whose condition the index cannot analyse.
	opaque float64
	fields []Field // "answers.x" / "scores.y" with kinds
	vars   []Field // declared variables, by kind
}

func newRuleGen(rng *rand.Rand, schema Schema, opaque float64) *ruleGen {
	g := &ruleGen{rng: rng, schema: schema, opaque: opaque}
	for _, f := range schema.Answers {
		g.fields = append(g.fields, Field{"answers." + f.Name, f.Kind})
	}
	for _, f := range schema.Scores {
		g.fields = append(g.fields, Field{"scores." + f.Name, f.Kind})
	}
	g.fields = append(g.fields, Field{"subject.age", KindInt})
	return g
}

func (g *ruleGen) field(k Kind) (Field, bool) {
	var of []Field
	for _, f := range g.fields {
		if k == KindNone || f.Kind == k {
			of = append(of, f)
		}
	}
	for _, f := range g.vars {
		if k == KindNone || f.Kind == k {
			of = append(of, f)
		}
	}
	if len(of) == 0 {
		return Field{}, false
	}
	return of[g.rng.IntN(len(of))], true
}

func (g *ruleGen) literal(k Kind) string {
	switch k {
	case KindInt:
		if g.rng.IntN(6) == 0 {
			return "params.limit"
		}
		return fmt.Sprint(g.rng.IntN(30) - 1)
	case KindDouble:
		if g.rng.IntN(6) == 0 {
			return "params.half"
		}
		return fmt.Sprintf("%.1f", float64(g.rng.IntN(200))/10)
	case KindBool:
		return fmt.Sprint(g.rng.IntN(2) == 0)
	}
	if g.rng.IntN(8) == 0 {
		return "params.word"
	}
	return "'" + genStrings[g.rng.IntN(len(genStrings))] + "'"
}

var genOps = []string{"<", "<=", ">", ">=", "==", "!="}

// atom is a condition on one input: a comparison, a list membership, a bare or negated boolean,
// or a disjunction on the same input.
func (g *ruleGen) atom() string {
	f, _ := g.field(KindNone)
	switch f.Kind {
	case KindBool:
		switch g.rng.IntN(4) {
		case 0:
			return f.Name
		case 1:
			return "!" + f.Name
		case 2:
			return f.Name + " == " + g.literal(KindBool)
		}
		return f.Name + " != " + g.literal(KindBool)
	case KindString:
		switch g.rng.IntN(4) {
		case 0:
			return f.Name + " in [" + g.literal(KindString) + ", " + g.literal(KindString) + "]"
		case 1:
			return g.literal(KindString) + " " + genOps[g.rng.IntN(len(genOps))] + " " + f.Name
		}
		return f.Name + " " + genOps[g.rng.IntN(len(genOps))] + " " + g.literal(KindString)
	}
	switch g.rng.IntN(8) {
	case 0:
		return f.Name + " in [" + g.literal(f.Kind) + ", " + g.literal(f.Kind) + ", " + g.literal(f.Kind) + "]"
	case 1:
		return "(" + f.Name + " < " + g.literal(f.Kind) + " || " + f.Name + " > " + g.literal(f.Kind) + ")"
	case 2:
		return "!(" + f.Name + " " + genOps[g.rng.IntN(len(genOps))] + " " + g.literal(f.Kind) + ")"
	case 3:
		return g.literal(f.Kind) + " " + genOps[g.rng.IntN(len(genOps))] + " " + f.Name
	}
	return f.Name + " " + genOps[g.rng.IntN(len(genOps))] + " " + g.literal(f.Kind)
}

// opaqueCond is a condition the index cannot analyse: it relates inputs to each other, does
// arithmetic, or is a disjunction across inputs.
func (g *ruleGen) opaqueCond() string {
	a, _ := g.field(KindInt)
	b, _ := g.field(KindInt)
	switch g.rng.IntN(4) {
	case 0:
		return a.Name + " + " + b.Name + " > " + fmt.Sprint(g.rng.IntN(40))
	case 1:
		return a.Name + " > " + b.Name
	case 2:
		return "(" + g.atom() + " || " + g.atom() + ")"
	}
	s, ok := g.field(KindString)
	if !ok {
		return a.Name + " * 2 >= " + fmt.Sprint(g.rng.IntN(40))
	}
	return "size(" + s.Name + ") > " + fmt.Sprint(g.rng.IntN(8))
}

func (g *ruleGen) condition() string {
	n := 1 + g.rng.IntN(3)
	parts := make([]string, 0, n+1)
	for range n {
		parts = append(parts, g.atom())
	}
	if g.rng.Float64() < g.opaque {
		if g.rng.IntN(3) == 0 {
			return strings.Join(parts, " || ") // a disjunction across inputs
		}
		parts = append(parts, g.opaqueCond())
	}
	return strings.Join(parts, " && ")
}

// ruleSet draws a rule set of n rules, the last always matching, with two variables.
func (g *ruleGen) ruleSet(n int) *RuleSet {
	rs := &RuleSet{ID: "generated", Version: 1, Form: g.schema.Form, Description: "generated",
		Params: map[string]any{"limit": 9, "half": 2.5, "word": "mild"}}
	a, _ := g.field(KindInt)
	b, _ := g.field(KindInt)
	rs.Variables = []Variable{
		{Name: "high", Expr: a.Name + " >= " + fmt.Sprint(g.rng.IntN(20))},
		{Name: "sum", Expr: a.Name + " + " + b.Name},
	}
	g.vars = []Field{{"vars.high", KindBool}, {"vars.sum", KindInt}}
	for i := range n - 1 {
		rs.Rules = append(rs.Rules, g.rule(i, g.condition()))
	}
	rs.Rules = append(rs.Rules, g.rule(n-1, ""))
	return rs
}

func (g *ruleGen) rule(i int, when string) Rule {
	prio := []Priority{Emergency, Urgent, Routine}[i%3]
	return Rule{ID: fmt.Sprintf("r%04d", i), When: when, Because: "generated",
		Then: Outcome{Pathway: fmt.Sprintf("p%d", i%7), Priority: prio, RespondWithin: "P1D", Flags: []string{}}}
}

// input draws an input; now and then an answer is absent, or a double is not a number, so that
// conditions fail to evaluate as well as going both ways.
func (g *ruleGen) input() Input {
	val := func(k Kind) Value {
		switch g.rng.IntN(40) {
		case 0:
			return Value{}
		case 1:
			if k == KindDouble {
				return Double(math.NaN())
			}
		}
		switch k {
		case KindInt:
			return Int(int64(g.rng.IntN(30) - 1))
		case KindDouble:
			if g.rng.IntN(4) == 0 {
				return Double(float64(g.rng.IntN(200)) / 10)
			}
			return Double(g.rng.Float64() * 20)
		case KindBool:
			return Bool(g.rng.IntN(2) == 0)
		}
		return String(genStrings[g.rng.IntN(len(genStrings))])
	}
	in := Input{Answers: make([]Value, len(g.schema.Answers)), Scores: make([]Value, len(g.schema.Scores)), Age: val(KindInt)}
	for i, f := range g.schema.Answers {
		in.Answers[i] = val(f.Kind)
	}
	for i, f := range g.schema.Scores {
		in.Scores[i] = val(f.Kind)
	}
	return in
}

// compileGenerated compiles a generated rule set, failing the test with the source on error.
func compileGenerated(t testing.TB, rs *RuleSet, schema Schema) *Program {
	t.Helper()
	p, err := Compile(rs, schema, nil)
	if err != nil {
		t.Fatalf("generated rule set does not compile: %v", err)
	}
	return p
}

// mhSchema mirrors the demo mental-health form (as demoSchema reads it), for benchmarks.
func mhSchema() Schema {
	s := Schema{Form: "mental-health", Version: 1}
	for i := 1; i <= 9; i++ {
		s.Answers = append(s.Answers, Field{fmt.Sprintf("phq9_%d", i), KindInt})
	}
	for i := 1; i <= 7; i++ {
		s.Answers = append(s.Answers, Field{fmt.Sprintf("gad7_%d", i), KindInt})
	}
	for _, b := range []string{"risk_plan", "risk_intent", "previous_high_intensity_treatment", "under_secondary_care"} {
		s.Answers = append(s.Answers, Field{b, KindBool})
	}
	s.Scores = []Field{{"phq9_total", KindInt}, {"phq9_band", KindString}, {"gad7_total", KindInt}, {"gad7_band", KindString}}
	return s
}

// mhFallThrough is a mental-health input below caseness with no risk answers: PHQ-9 9, GAD-7 7.
func mhFallThrough() Input {
	in := Input{Answers: make([]Value, 20), Scores: make([]Value, 4), Age: Int(40)}
	for i := range 16 {
		in.Answers[i] = Int(0)
	}
	in.Answers[0], in.Answers[1], in.Answers[2] = Int(3), Int(3), Int(3)
	in.Answers[9], in.Answers[10], in.Answers[11] = Int(3), Int(3), Int(1)
	for i := 16; i < 20; i++ {
		in.Answers[i] = Bool(false)
	}
	in.Scores = []Value{Int(9), String("mild"), Int(7), String("mild")}
	return in
}

// fallThroughRuleSet draws n rules none of which matches in (each condition evaluates to false
// rather than failing), the last always matching: the most work one evaluation can do.
func fallThroughRuleSet(t testing.TB, seed uint64, schema Schema, in Input, n int, opaque float64) *RuleSet {
	t.Helper()
	g := newRuleGen(rand.New(rand.NewPCG(seed, 1)), schema, opaque)
	out := g.ruleSet(1)
	out.Rules = out.Rules[:0]
	for len(out.Rules) < n-1 {
		batch := g.ruleSet(n)
		batch.Variables = out.Variables
		p := compileGenerated(t, batch, schema)
		r := Result{p: p, in: in}
		a := activation{p: p, in: &r.in}
		a.vars = make([]ref.Val, len(p.vars))
		for i := range p.vars {
			v, err := p.vars[i].eval(&a)
			if err != nil {
				t.Fatal(err)
			}
			a.vars[i] = v
		}
		for i := range len(batch.Rules) - 1 {
			if v, err := p.rules[i].eval(&a); err == nil && v == types.False && len(out.Rules) < n-1 {
				rule := batch.Rules[i]
				rule.ID = fmt.Sprintf("r%04d", len(out.Rules))
				out.Rules = append(out.Rules, rule)
			}
		}
	}
	out.Rules = append(out.Rules, g.rule(n-1, ""))
	return out
}
