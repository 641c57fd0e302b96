package rules

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// explainReference is the explanation built the straightforward way, input by input, as Explain
// built it before its layout was planned at compile time; Explain must give the same JSON.
func (r *Result) explainReference() Explanation {
	p := r.p
	var values []NamedValue
	var vars []VariableRun
	if len(p.vars) > 0 {
		vars = make([]VariableRun, len(p.vars))
		for i, v := range p.vars {
			vals := []NamedValue{}
			for _, ref := range v.refs {
				vals = append(vals, NamedValue{Name: p.names[ref], Value: r.plain(ref, vars)})
			}
			decl := &p.RuleSet.Variables[i]
			vars[i] = VariableRun{Name: decl.Name, Expr: decl.Expr, Value: plainValue(r.vars[i]), Values: vals}
		}
	}
	steps := make([]Evaluated, r.rule+1)
	for i := range steps {
		rule := &p.RuleSet.Rules[i]
		values = []NamedValue{}
		for _, ref := range p.rules[i].refs {
			values = append(values, NamedValue{Name: p.names[ref], Value: r.plain(ref, vars)})
		}
		when := rule.When
		if when == "" {
			when = "true"
		}
		steps[i] = Evaluated{Rule: rule.ID, When: when, Result: i == r.rule, Values: values}
	}
	if cond := &p.rules[r.rule]; len(cond.parts) > 1 {
		steps[r.rule].Parts = r.partsReference(cond, vars)
	}
	rule := r.Rule()
	return Explanation{Rule: rule.ID, Because: rule.Because, Variables: vars, Evaluated: steps}
}

// partsReference evaluates every operand of the matched condition that is not a plain name by
// CEL, as parts did before comparisons were worked out without it.
func (r *Result) partsReference(cond *compiledExpr, vars []VariableRun) []PartValue {
	out := make([]PartValue, len(cond.parts))
	in := r.in
	a := &activation{p: r.p, in: &in, vars: r.vars}
	for i := range cond.parts {
		part := &cond.parts[i]
		var v Value
		switch {
		case cond.op == "&&":
			v = Bool(true)
		case part.ref >= 0:
			v = r.plain(part.ref, vars)
		default:
			x, _ := evalPart(part, a)
			v = plainValue(x)
		}
		out[i] = PartValue{Op: cond.op, Expr: part.text, Value: v}
	}
	return out
}

// demoSchema reads the typed inputs of a demo form file, so this package's own tests can compile
// the demo rule sets without the triage package (which imports this one).
func demoSchema(t *testing.T, file string) Schema {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "forms", file))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
		Items   []struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Options []struct {
				Score *int `json:"score"`
			} `json:"options"`
		} `json:"items"`
		Scores []struct {
			Name string   `json:"name"`
			Sum  []string `json:"sum"`
		} `json:"scores"`
	}
	if err := json.Unmarshal(src, &f); err != nil {
		t.Fatal(err)
	}
	s := Schema{Form: f.ID, Version: f.Version}
	for _, it := range f.Items {
		k := KindString
		switch it.Type {
		case "integer":
			k = KindInt
		case "boolean":
			k = KindBool
		case "decimal":
			k = KindDouble
		case "choice":
			if len(it.Options) > 0 && it.Options[0].Score != nil {
				k = KindInt
			}
		}
		s.Answers = append(s.Answers, Field{Name: it.ID, Kind: k})
	}
	for _, sc := range f.Scores {
		k := KindString
		if len(sc.Sum) > 0 {
			k = KindInt
		}
		s.Scores = append(s.Scores, Field{Name: sc.Name, Kind: k})
	}
	return s
}

// randomValue draws a value of a kind from a small range, so conditions go both ways; booleans
// are mostly false, so that inputs get past the risk rules to the conditions on scores.
func randomValue(rng *rand.Rand, k Kind, strs []string) Value {
	switch k {
	case KindInt:
		return Int(int64(rng.IntN(28)))
	case KindBool:
		return Bool(rng.IntN(8) == 0)
	case KindDouble:
		return Double(rng.Float64() * 20)
	}
	return String(strs[rng.IntN(len(strs))])
}

func TestExplainMatchesReference(t *testing.T) {
	strs := []string{"own_home", "care_home", "other", "minimal", "mild", "moderate", "severe"}
	sets, err := filepath.Glob(filepath.Join("..", "fixtures", "rulesets", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]string{"mental-health": "mental-health.v1.json", "discharge": "discharge.v1.json"}
	if latest, _ := filepath.Glob(filepath.Join("..", "fixtures", "forms", "discharge.v*.json")); len(latest) > 0 {
		forms["discharge"] = filepath.Base(latest[len(latest)-1])
	}
	for _, path := range sets {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := Parse(filepath.Base(path), src)
			if err != nil {
				t.Fatal(err)
			}
			schema := demoSchema(t, forms[rs.Form])
			p, err := Compile(rs, schema, nil)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(9, 9))
			matched := map[int]bool{}
			native := 0 // operands worked out without CEL
			for n := 0; n < 5000; n++ {
				in := Input{Answers: make([]Value, len(schema.Answers)), Scores: make([]Value, len(schema.Scores)), Age: Int(int64(rng.IntN(100)))}
				for i, f := range schema.Answers {
					in.Answers[i] = randomValue(rng, f.Kind, strs)
					if f.Kind == KindInt && rng.IntN(2) == 0 {
						in.Answers[i] = Int(0) // as most item answers are, so item 9 rules do not take every case
					}
				}
				for i, f := range schema.Scores {
					in.Scores[i] = randomValue(rng, f.Kind, strs)
				}
				r, err := p.Evaluate(in)
				if err != nil {
					continue
				}
				matched[r.rule] = true
				if cond := &p.rules[r.rule]; cond.op == "||" {
					for _, part := range cond.parts {
						if part.cmp != nil {
							native++
						}
					}
				}
				got, err := json.Marshal(r.Explain())
				if err != nil {
					t.Fatal(err)
				}
				want, err := json.Marshal(r.explainReference())
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Fatalf("explanation differs from the reference:\n got: %s\nwant: %s", got, want)
				}
			}
			if len(matched) < 2 {
				t.Errorf("only %d rules matched in the sample; the comparison needs more variety", len(matched))
			}
			t.Logf("%d rules matched; %d operands of matched || conditions worked out without CEL", len(matched), native)
		})
	}
}

func TestComparisonsMatchCEL(t *testing.T) {
	schema := Schema{Form: "f", Version: 1, Answers: []Field{{"i", KindInt}, {"d", KindDouble}, {"s", KindString}, {"b", KindBool}}}
	src := `id: cmp
version: 1
form: f
description: d
params: {limit: 3, half: 1.5, word: a}
rules:
  - id: any
    when: >-
      answers.i > params.limit || answers.d <= params.half || answers.s == params.word || answers.b != true ||
      2 < answers.i || answers.d == answers.d || answers.s >= 'b' || answers.i != 7 || answers.b == false ||
      answers.d < 2.5 || answers.s < answers.s || answers.b
    then: {pathway: p, priority: routine, respond_within: P1D}
    because: b
  - id: rest
    then: {pathway: p, priority: routine, respond_within: P1D}
    because: b
`
	rs, err := Parse("cmp.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(rs, schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	native := 0
	for _, part := range p.rules[0].parts {
		if part.cmp != nil {
			native++
		}
	}
	if native != 11 {
		t.Errorf("%d of %d operands are comparisons worked out without CEL, want 11", native, len(p.rules[0].parts))
	}
	nan := Double(0)
	nan.F = nan.F / nan.F
	for _, in := range []Input{
		{Answers: []Value{Int(4), Double(1.5), String("a"), Bool(false)}},
		{Answers: []Value{Int(3), Double(2), String("b"), Bool(true)}},
		{Answers: []Value{Int(7), nan, String("ab"), Bool(true)}},
		{Answers: []Value{{}, Double(-1), {}, Bool(true)}}, // absent answers: CEL decides those operands
		{Answers: []Value{Int(-2), {}, String(""), {}}},
	} {
		r, err := p.Evaluate(in)
		if err != nil {
			t.Fatalf("%v: %v", in, err)
		}
		// Go syntax rather than JSON, which cannot write NaN.
		got, want := fmt.Sprintf("%#v", r.Explain()), fmt.Sprintf("%#v", r.explainReference())
		if got != want {
			t.Errorf("explanation differs from CEL's:\n got: %s\nwant: %s", got, want)
		}
		if !strings.Contains(got, "double(") {
			t.Fatalf("values are not written by GoString, so NaN would not compare: %s", got)
		}
	}
}
