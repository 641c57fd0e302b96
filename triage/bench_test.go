package triage_test

import (
	"testing"

	"github.com/carepath/carepath/triage"
)

// BenchmarkDecide measures one mental-health assessment in process: validate, score, evaluate the
// rules, and build the explanation. The input falls through every rule, the most work a decision does.
func BenchmarkDecide(b *testing.B) {
	d := loadDemo(b)
	sub := mh{phq9: 9, gad7: 7}.submission()
	form, program := d.forms["mental-health"], d.programs["mh-triage v1"]
	b.ReportAllocs()
	for b.Loop() {
		a, err := triage.Assess(form, sub, authored)
		if err != nil {
			b.Fatal(err)
		}
		dec, err := triage.Decide(&a, program)
		if err != nil {
			b.Fatal(err)
		}
		if dec.Rule != "otherwise" {
			b.Fatal(dec.Rule)
		}
	}
}

// BenchmarkDecideDischarge is the same for the discharge form.
func BenchmarkDecideDischarge(b *testing.B) {
	d := loadDemo(b)
	sub := dc{barthel: 19, cfs: 3}.submission()
	form, program := d.forms["discharge"], d.programs["discharge-pathways v1"]
	b.ReportAllocs()
	for b.Loop() {
		a, err := triage.Assess(form, sub, authored)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := triage.Decide(&a, program); err != nil {
			b.Fatal(err)
		}
	}
}
