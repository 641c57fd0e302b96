package rules

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// unindexed is p evaluated by plain first-match, every rule in order.
func unindexed(p *Program) *Program {
	q := *p
	q.index = nil
	return &q
}

// sameEvaluation evaluates in under the indexed and the unindexed program and fails unless the
// error, the matched rule and the explanation agree byte for byte. It reports the matched rule.
func sameEvaluation(t testing.TB, indexed, plain *Program, in Input) int {
	t.Helper()
	got, gerr := indexed.Evaluate(in)
	want, werr := plain.Evaluate(in)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("input %#v:\nindexed error %v\nplain error   %v", in, gerr, werr)
	}
	if werr != nil {
		return -1
	}
	if got.rule != want.rule {
		t.Fatalf("input %#v: indexed matched %s (%s), plain %s (%s)", in,
			got.Rule().ID, got.Rule().When, want.Rule().ID, want.Rule().When)
	}
	// Go syntax rather than JSON, which cannot write NaN.
	g, w := fmt.Sprintf("%#v", got.Explain()), fmt.Sprintf("%#v", want.Explain())
	if g != w {
		t.Fatalf("input %#v: explanations differ:\nindexed %s\nplain   %s", in, g, w)
	}
	return want.rule
}

// perturb redraws a few of in's values, so that inputs near one that falls through every rule
// match rules all along the list.
func perturb(g *ruleGen, in Input) Input {
	out := Input{Answers: append([]Value(nil), in.Answers...), Scores: append([]Value(nil), in.Scores...), Age: in.Age}
	fresh := g.input()
	for range 1 + g.rng.IntN(3) {
		switch k := g.rng.IntN(len(out.Answers) + len(out.Scores) + 1); {
		case k < len(out.Answers):
			out.Answers[k] = fresh.Answers[k]
		case k < len(out.Answers)+len(out.Scores):
			out.Scores[k-len(out.Answers)] = fresh.Scores[k-len(out.Answers)]
		default:
			out.Age = fresh.Age
		}
	}
	return out
}

// TestIndexMatchesFirstMatch holds evaluation with the rule index to plain first-match evaluation
// over generated rule sets of 100 to 1,000 rules on the demo forms' schemas and one with every
// kind: the same decision, error and explanation for every input.
func TestIndexMatchesFirstMatch(t *testing.T) {
	schemas := map[string]Schema{
		"mental-health": demoSchema(t, "mental-health.v1.json"),
		"discharge.v1":  demoSchema(t, "discharge.v1.json"),
		"discharge.v2":  demoSchema(t, "discharge.v2.json"),
		"mixed":         mixedSchema(),
	}
	sizes := []int{100, 1000}
	inputs := 3000
	if testing.Short() {
		sizes, inputs = []int{100}, 500
	}
	seed := uint64(0)
	for _, name := range []string{"mental-health", "discharge.v1", "discharge.v2", "mixed"} {
		schema := schemas[name]
		for _, n := range sizes {
			seed++
			t.Run(fmt.Sprintf("%s/rules-%d", name, n), func(t *testing.T) {
				g := newRuleGen(rand.New(rand.NewPCG(seed, 2)), schema, 0.15)
				// The rules all fall through for one input, whose neighbours then match rules deep
				// in the list; freely drawn inputs match early ones, or fail.
				base := g.input()
				for i := range base.Answers {
					if base.Answers[i].Kind == KindNone {
						base.Answers[i] = randomValue(g.rng, schema.Answers[i].Kind, genStrings)
					}
				}
				rs := fallThroughRuleSet(t, seed, schema, base, n, 0.15)
				p := compileGenerated(t, rs, schema)
				if p.index == nil || p.index.indexed < n/2 {
					t.Fatalf("the index covers too few rules: %+v", p.index)
				}
				plain := unindexed(p)
				deepest, errs := 0, 0
				for k := range inputs {
					in := g.input()
					if k%2 == 0 {
						in = perturb(g, base)
					}
					switch r := sameEvaluation(t, p, plain, in); {
					case r < 0:
						errs++
					default:
						deepest = max(deepest, r)
					}
				}
				t.Logf("%d of %d rules indexed on %d inputs; deepest match %d; %d inputs failed alike", p.index.indexed, n, len(p.index.inputs), deepest, errs)
				if deepest < n/10 {
					t.Errorf("no input matched past rule %d of %d: the comparison needs deeper matches", deepest, n)
				}
			})
		}
	}
}

// TestIndexDemoRuleSets holds the demo rule sets to the same property on random inputs.
func TestIndexDemoRuleSets(t *testing.T) {
	forms := map[string]string{"mental-health": "mental-health.v1.json", "discharge": "discharge.v2.json"}
	sets, err := filepath.Glob(filepath.Join("..", "fixtures", "rulesets", "*.yaml"))
	if err != nil {
		t.Fatal(err)
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
			rs.FormVersions = nil
			schema.Version = 1
			p := compileGenerated(t, rs, schema)
			if p.index == nil {
				t.Fatal("no index for a demo rule set")
			}
			g := newRuleGen(rand.New(rand.NewPCG(3, 3)), schema, 0)
			for range 3000 {
				sameEvaluation(t, p, unindexed(p), g.input())
			}
		})
	}
}

// TestIndexRegions checks the placing of values among constants and predicates on regions,
// against the comparisons themselves.
func TestIndexRegions(t *testing.T) {
	ii := indexedInput{kind: KindInt, ints: []int64{-1, 3, 7}}
	for x := int64(-3); x <= 9; x++ {
		r, ok := ii.region(Int(x))
		if !ok {
			t.Fatal("int not placed")
		}
		for _, c := range ii.ints {
			for _, op := range genOps {
				want := map[string]bool{"<": x < c, "<=": x <= c, ">": x > c, ">=": x >= c, "==": x == c, "!=": x != c}[op]
				if got := ii.holds(&predicate{op: op, lit: Int(c)}, r); got != want {
					t.Errorf("%d %s %d: region %d says %v", x, op, c, r, got)
				}
			}
		}
	}
	for _, v := range []Value{{}, String("1"), Double(1)} {
		if _, ok := ii.region(v); ok {
			t.Errorf("%#v placed among int constants", v)
		}
	}
}

// FuzzIndexMatchesFirstMatch draws a rule set from the seed and inputs from the data, and holds
// indexed evaluation to plain first-match evaluation.
func FuzzIndexMatchesFirstMatch(f *testing.F) {
	f.Add(uint64(1), []byte("inputs"))
	f.Add(uint64(2), []byte{0, 1, 2, 3, 250, 251, 252, 253})
	schema := mixedSchema()
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		g := newRuleGen(rand.New(rand.NewPCG(seed, 4)), schema, 0.2)
		rs := g.ruleSet(2 + int(seed%40))
		p, err := Compile(rs, schema, nil)
		if err != nil {
			t.Fatalf("generated rule set does not compile: %v", err)
		}
		plain := unindexed(p)
		var s1, s2 uint64
		for i, b := range data {
			if i%2 == 0 {
				s1 = s1<<8 | uint64(b)
			} else {
				s2 = s2<<8 | uint64(b)
			}
		}
		g.rng = rand.New(rand.NewPCG(s1, s2))
		for range 1 + len(data)%64 {
			sameEvaluation(t, p, plain, g.input())
		}
	})
}
