package rules_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/rules"
)

// FuzzParse feeds whole rule-set files, tests section included, through everything a policy
// officer's file reaches before it is stored: parse, content address, diff, compile and its tests.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"mh-triage.v1.yaml", "mh-triage.v2.yaml", "discharge-pathways.v1.yaml"} {
		src, err := os.ReadFile(filepath.Join("..", "fixtures", "rulesets", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	forms := map[string]governance.FormModel{
		"mental-health": {Form: demoForm(f, "mental-health")},
		"discharge":     {Form: demoForm(f, "discharge")},
	}
	known := demoPathways(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		rs, err := rules.Parse("fuzz.yaml", src)
		if err != nil {
			var ce *rules.CompileError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("parse error is not a located CompileError: %v", err)
			}
			return
		}
		if n := len(rs.Rules); n == 0 || rs.Rules[n-1].When != "" && rs.Rules[n-1].When != "true" {
			t.Fatalf("parse accepted a rule set without an always-matching last rule")
		}
		// The content address must not depend on layout: the canonical JSON is itself a YAML
		// document of the same rule set, so parsing it gives the same address.
		again, err := rules.Parse("canonical.json", rs.Canonical())
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, rs.Canonical())
		}
		if !bytes.Equal(again.Canonical(), rs.Canonical()) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", rs.Canonical(), again.Canonical())
		}
		if changes := rules.Diff(rs, again); len(changes) != 0 {
			t.Fatalf("a rule set differs from its own canonical form: %+v", changes)
		}
		m, ok := forms[rs.Form]
		if !ok {
			return
		}
		p, err := rules.Compile(rs, m.Schema(), known)
		if err != nil {
			return
		}
		rep := rules.RunTests(p, m)
		if len(rep.Results) != len(rs.Tests) {
			t.Fatalf("%d tests gave %d results", len(rs.Tests), len(rep.Results))
		}
		_ = rep.Text(true)
		_ = rules.JUnit([]*rules.TestReport{rep})
	})
}
