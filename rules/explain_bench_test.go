package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// demoProgram is mh-triage v1, the demo rule set, compiled for the mental-health form.
func demoProgram(tb testing.TB) *Program {
	tb.Helper()
	path := filepath.Join("..", "fixtures", "rulesets", "mh-triage.v1.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := Parse(path, src)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := Compile(rs, mhSchema(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkExplain is the explanation alone of the demo decision for an input that falls
// through every rule, the most steps an explanation of the demo rule set shows.
func BenchmarkExplain(b *testing.B) {
	r, err := demoProgram(b).Evaluate(mhFallThrough())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Explain()
	}
}
