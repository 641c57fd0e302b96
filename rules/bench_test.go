package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"
)

// BenchmarkLargeRuleSet evaluates 1,000 generated rules over the mental-health form for an input
// that falls through all but the last, the most work one evaluation does; "analysable" is the
// share of rules whose condition the index can use. "unindexed" is plain first-match evaluation.
func BenchmarkLargeRuleSet(b *testing.B) {
	in := mhFallThrough()
	for _, n := range []int{100, 1000} {
		for _, share := range []int{100, 90} {
			rs := fallThroughRuleSet(b, 7, mhSchema(), in, n, 1-float64(share)/100)
			p := compileGenerated(b, rs, mhSchema())
			for _, c := range []struct {
				name    string
				p       *Program
				explain bool
			}{
				{"indexed", p, false},
				{"indexed-explained", p, true},
				{"unindexed", unindexed(p), false},
			} {
				b.Run(fmt.Sprintf("rules-%d/analysable-%d%%/%s", n, share, c.name), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						r, err := c.p.Evaluate(in)
						if err != nil {
							b.Fatal(err)
						}
						if r.rule != n-1 {
							b.Fatalf("matched %s, want the last rule", r.Rule().ID)
						}
						if c.explain {
							_ = r.Explain()
						}
					}
				})
			}
		}
	}
}

// BenchmarkCompileLarge compiles 1,000 generated rules.
func BenchmarkCompileLarge(b *testing.B) {
	rs := fallThroughRuleSet(b, 7, mhSchema(), mhFallThrough(), 1000, 0.1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(rs, mhSchema(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCELFloor is what the demo decision's CEL alone costs: the same compiled programs of
// mh-triage v1, evaluated in order directly by cel-go with an activation prepared once, for the
// input of BenchmarkDecide (which falls through every rule). It is the floor the engine's own
// evaluation and explanation are measured against.
func BenchmarkCELFloor(b *testing.B) {
	path := filepath.Join("..", "fixtures", "rulesets", "mh-triage.v1.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := Parse(path, src)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(rs, mhSchema(), nil)
	if err != nil {
		b.Fatal(err)
	}
	run := celFloor(b, p, mhFallThrough())
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
}

// celFloor prepares the floor of BenchmarkCELFloor: every program of p evaluated by cel-go
// directly, with an activation made once from in.
func celFloor(b *testing.B, p *Program, in Input) func() {
	vals := map[string]any{}
	for i, name := range p.names {
		if p.slots[i].src == fromVar {
			continue
		}
		a := activation{p: p, in: &in}
		if v, ok := a.value(i); ok {
			vals[name] = v
		}
	}
	act, err := interpreter.NewActivation(vals)
	if err != nil {
		b.Fatal(err)
	}
	var prgs []cel.Program
	for i, v := range p.vars {
		out, _, err := v.prg.Eval(act)
		if err != nil {
			b.Fatal(err)
		}
		vals[p.names[len(p.names)-len(p.vars)+i]] = out
		prgs = append(prgs, v.prg)
	}
	if act, err = interpreter.NewActivation(vals); err != nil {
		b.Fatal(err)
	}
	for i, r := range p.rules {
		if !p.always[i] {
			prgs = append(prgs, r.prg)
		}
	}
	return func() {
		for _, prg := range prgs {
			if _, _, err := prg.Eval(act); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDemoRatios runs, in each iteration, the CEL floor, plain evaluation and evaluation
// with its explanation of the demo decision one after another, and reports their ratios: on a
// shared machine the drift falls on all three alike, which separate benchmarks cannot promise.
func BenchmarkDemoRatios(b *testing.B) {
	path := filepath.Join("..", "fixtures", "rulesets", "mh-triage.v1.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := Parse(path, src)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(rs, mhSchema(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    *Program
	}{{"indexed", p}, {"unindexed", unindexed(p)}} {
		b.Run(c.name, func(b *testing.B) {
			in := mhFallThrough()
			floor := celFloor(b, c.p, in)
			var tFloor, tPlain, tExplained time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				floor()
				t1 := time.Now()
				if _, err := c.p.Evaluate(in); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				r, err := c.p.Evaluate(in)
				if err != nil {
					b.Fatal(err)
				}
				_ = r.Explain()
				t3 := time.Now()
				tFloor, tPlain, tExplained = tFloor+t1.Sub(t0), tPlain+t2.Sub(t1), tExplained+t3.Sub(t2)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tFloor.Nanoseconds())/n, "floor-ns")
			b.ReportMetric(float64(tPlain.Nanoseconds())/n, "plain-ns")
			b.ReportMetric(float64(tExplained.Nanoseconds())/n, "explained-ns")
			b.ReportMetric(float64(tExplained)/float64(tFloor), "explained/floor")
			b.ReportMetric(float64(tExplained)/float64(tPlain), "explained/plain")
		})
	}
}
