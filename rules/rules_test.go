package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/rules"
)

// mentalHealthSchema mirrors the demo mental-health form so this package's tests need no forms.
func mentalHealthSchema() rules.Schema {
	s := rules.Schema{Form: "mental-health", Version: 1}
	for _, p := range []string{"phq9_", "gad7_"} {
		n := 9
		if p == "gad7_" {
			n = 7
		}
		for i := 1; i <= n; i++ {
			s.Answers = append(s.Answers, rules.Field{Name: p + string(rune('0'+i)), Kind: rules.KindInt})
		}
	}
	for _, b := range []string{"risk_plan", "risk_intent", "previous_high_intensity_treatment", "under_secondary_care"} {
		s.Answers = append(s.Answers, rules.Field{Name: b, Kind: rules.KindBool})
	}
	s.Scores = []rules.Field{
		{Name: "phq9_total", Kind: rules.KindInt}, {Name: "phq9_band", Kind: rules.KindString},
		{Name: "gad7_total", Kind: rules.KindInt}, {Name: "gad7_band", Kind: rules.KindString},
	}
	return s
}

func demoPathways(t testing.TB) func(string) bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "pathways.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := rules.ParsePathways(src)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, p := range ps {
		known[p.ID] = true
	}
	return func(id string) bool { return known[id] }
}

func compileFile(t testing.TB, name string, schema rules.Schema) *rules.Program {
	t.Helper()
	path := filepath.Join("..", "fixtures", "rulesets", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Parse(path, src)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rules.Compile(rs, schema, demoPathways(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mhInput builds an input: the PHQ-9 items are spread to reach phq9 total, then GAD-7 likewise.
func mhInput(phq9, gad7 int, item9 int, plan, intent, prevHigh bool) rules.Input {
	in := rules.Input{Answers: make([]rules.Value, 20), Scores: make([]rules.Value, 4), Age: rules.Int(40)}
	spread := func(off, n, total int) {
		for i := 0; i < n; i++ {
			v := min(3, total)
			total -= v
			in.Answers[off+i] = rules.Int(int64(v))
		}
	}
	spread(0, 8, phq9-item9)
	in.Answers[8] = rules.Int(int64(item9))
	spread(9, 7, gad7)
	in.Answers[16] = rules.Bool(plan)
	in.Answers[17] = rules.Bool(intent)
	in.Answers[18] = rules.Bool(prevHigh)
	in.Answers[19] = rules.Bool(false)
	in.Scores[0] = rules.Int(int64(phq9))
	in.Scores[1] = rules.String("x")
	in.Scores[2] = rules.Int(int64(gad7))
	in.Scores[3] = rules.String("x")
	return in
}

func TestEvaluateMentalHealthDemo(t *testing.T) {
	v1 := compileFile(t, "mh-triage.v1.yaml", mentalHealthSchema())
	v2 := compileFile(t, "mh-triage.v2.yaml", mentalHealthSchema())
	tests := []struct {
		name         string
		in           rules.Input
		v1, v2, rule string
	}{
		{"plan", mhInput(0, 0, 0, true, false, false), "crisis-home-treatment", "crisis-home-treatment", "risk-plan-or-intent"},
		{"intent", mhInput(27, 21, 3, false, true, true), "crisis-home-treatment", "crisis-home-treatment", "risk-plan-or-intent"},
		{"item9 at 1", mhInput(1, 0, 1, false, false, false), "adult-mental-health-team", "adult-mental-health-team", "phq9-item9"},
		{"phq9 15 after high intensity", mhInput(15, 0, 0, false, false, true), "specialist-psychological-therapy", "specialist-psychological-therapy", "severe-after-high-intensity"},
		{"gad7 15 after high intensity", mhInput(0, 15, 0, false, false, true), "specialist-psychological-therapy", "specialist-psychological-therapy", "severe-after-high-intensity"},
		{"phq9 14 after high intensity", mhInput(14, 0, 0, false, false, true), "talking-therapies-step2", "talking-therapies-step2", "caseness"},
		{"phq9 15", mhInput(15, 0, 0, false, false, false), "talking-therapies-step3", "talking-therapies-step3", "severe"},
		{"gad7 15", mhInput(0, 15, 0, false, false, false), "talking-therapies-step3", "talking-therapies-step3", "severe"},
		{"phq9 14", mhInput(14, 0, 0, false, false, false), "talking-therapies-step2", "talking-therapies-step2", "caseness"},
		{"gad7 14", mhInput(0, 14, 0, false, false, false), "talking-therapies-step2", "talking-therapies-step2", "caseness"},
		{"phq9 10", mhInput(10, 0, 0, false, false, false), "talking-therapies-step2", "talking-therapies-step2", "caseness"},
		{"phq9 9", mhInput(9, 0, 0, false, false, false), "watchful-waiting", "talking-therapies-step2", ""},
		{"phq9 8", mhInput(8, 0, 0, false, false, false), "watchful-waiting", "watchful-waiting", "otherwise"},
		{"gad7 8", mhInput(0, 8, 0, false, false, false), "talking-therapies-step2", "talking-therapies-step2", "caseness"},
		{"gad7 7", mhInput(0, 7, 0, false, false, false), "watchful-waiting", "watchful-waiting", "otherwise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				p    *rules.Program
				want string
			}{{v1, tt.v1}, {v2, tt.v2}} {
				r, err := c.p.Evaluate(tt.in)
				if err != nil {
					t.Fatal(err)
				}
				if got := r.Outcome().Pathway; got != c.want {
					t.Errorf("v%d: pathway %s, want %s (rule %s)", c.p.RuleSet.Version, got, c.want, r.Rule().ID)
				}
				if tt.rule != "" && r.Rule().ID != tt.rule {
					t.Errorf("v%d: rule %s, want %s", c.p.RuleSet.Version, r.Rule().ID, tt.rule)
				}
				ex := r.Explain()
				last := ex.Evaluated[len(ex.Evaluated)-1]
				if !last.Result || last.Rule != r.Rule().ID || ex.Because == "" {
					t.Errorf("explanation does not end in the matched rule: %+v", ex)
				}
				for _, e := range ex.Evaluated[:len(ex.Evaluated)-1] {
					if e.Result {
						t.Errorf("explanation: rule %s before the match is true", e.Rule)
					}
				}
			}
		})
	}
}

func TestExplanationValues(t *testing.T) {
	p := compileFile(t, "mh-triage.v1.yaml", mentalHealthSchema())
	r, err := p.Evaluate(mhInput(12, 3, 0, false, false, false))
	if err != nil {
		t.Fatal(err)
	}
	ex := r.Explain()
	var names []string
	for _, e := range ex.Evaluated {
		if e.Rule == "caseness" {
			for _, v := range e.Values {
				names = append(names, v.Name+"="+string(must(v.Value.MarshalJSON())))
			}
		}
	}
	got := strings.Join(names, ",")
	// The order follows declaration order: scores, then params sorted by name.
	want := "scores.phq9_total=12,scores.gad7_total=3,params.gad7_caseness=8,params.phq9_caseness=10"
	if got != want {
		t.Errorf("values of rule caseness: %s, want %s", got, want)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestCompileErrors(t *testing.T) {
	base := `id: t
version: 1
form: mental-health
description: d
rules:
`
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"misspelt item", "  - id: a\n    when: answers.phq9_x >= 1\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n  - id: z\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n",
			[]string{"t.yaml:7:18: rule a: undeclared reference to 'answers.phq9_x'"}},
		{"type error", "  - id: a\n    when: answers.risk_plan >= 1\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n  - id: z\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n",
			[]string{"t.yaml:7:", "rule a: found no matching overload for '_>=_' applied to '(bool, int)'"}},
		{"not boolean", "  - id: a\n    when: scores.phq9_total + 1\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n  - id: z\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n",
			[]string{"rule a: when must be a boolean condition, but it is int"}},
		{"unknown pathway", "  - id: z\n    then: {pathway: nowhere, priority: routine, respond_within: P1D}\n    because: b\n",
			[]string{"t.yaml:6:5: rule z: then.pathway \"nowhere\" is not in the pathway catalogue"}},
		{"no final rule", "  - id: a\n    when: answers.risk_plan\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n",
			[]string{"t.yaml:6:5: rule a: the last rule must always match"}},
		{"bad priority and duration", "  - id: z\n    then: {pathway: watchful-waiting, priority: soon, respond_within: P1M}\n    because: b\n",
			[]string{"rule z: then.priority \"soon\"", "rule z: then.respond_within: duration \"P1M\": years and months"}},
		{"misspelt key", "  - id: z\n    wen: true\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n",
			[]string{"field wen not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := rules.Parse("t.yaml", []byte(base+tt.body))
			if err == nil {
				_, err = rules.Compile(rs, mentalHealthSchema(), demoPathways(t))
			}
			var ce *rules.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("want a CompileError, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"PT4H", "4h0m0s", true}, {"P7D", "168h0m0s", true}, {"P28D", "672h0m0s", true}, {"PT24H", "24h0m0s", true},
		{"P1DT12H", "36h0m0s", true}, {"P1W", "168h0m0s", true}, {"PT90M", "1h30m0s", true}, {"PT30S", "30s", true},
		{"P1M", "", false}, {"P1Y", "", false}, {"PT", "", false}, {"P", "", false}, {"4H", "", false},
		{"PT4H4H", "", false}, {"PT4M4H", "", false}, {"P0D", "", false}, {"PTH", "", false}, {"P1DT", "", false},
	}
	for _, tt := range tests {
		d, err := rules.ParseDuration(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && d.String() != tt.want {
			t.Errorf("%s: %s, want %s", tt.in, d, tt.want)
		}
	}
}

func TestCanonicalIgnoresLayout(t *testing.T) {
	a := "id: x\nversion: 1\nform: f\ndescription: d\nrules:\n  - id: z\n    then: {pathway: p, priority: routine, respond_within: P1D}\n    because: b\n"
	b := "# a comment\nform: f\nid: x\nversion: 1\ndescription: d\nrules:\n- id: z\n  because: b\n  then:\n    respond_within: P1D\n    priority: routine\n    pathway: p\n"
	ra, err := rules.Parse("a", []byte(a))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := rules.Parse("b", []byte(b))
	if err != nil {
		t.Fatal(err)
	}
	if ra.SHA256() != rb.SHA256() {
		t.Errorf("same content, different hashes:\n%s\n%s", ra.Canonical(), rb.Canonical())
	}
	rc, _ := rules.Parse("c", []byte(strings.Replace(a, "P1D", "P2D", 1)))
	if rc.SHA256() == ra.SHA256() {
		t.Error("different content, same hash")
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, name := range []string{"mh-triage.v1.yaml", "discharge-pathways.v1.yaml"} {
		path := filepath.Join("..", "fixtures", "rulesets", name)
		src, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		schema := mentalHealthSchema()
		if strings.HasPrefix(name, "discharge") {
			schema = dischargeSchema()
		}
		known := demoPathways(b)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs, err := rules.Parse(path, src)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rules.Compile(rs, schema, known); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func dischargeSchema() rules.Schema {
	s := rules.Schema{Form: "discharge", Version: 1}
	for _, n := range []string{"barthel_bowels", "barthel_bladder", "barthel_grooming", "barthel_toilet", "barthel_feeding", "barthel_transfer", "barthel_mobility", "barthel_dressing", "barthel_stairs", "barthel_bathing", "cfs"} {
		s.Answers = append(s.Answers, rules.Field{Name: n, Kind: rules.KindInt})
	}
	for _, n := range []string{"lives_alone", "has_carer", "existing_care_package", "new_care_needs", "requires_24h_care", "medically_optimised"} {
		s.Answers = append(s.Answers, rules.Field{Name: n, Kind: rules.KindBool})
	}
	s.Scores = []rules.Field{{Name: "barthel_total", Kind: rules.KindInt}}
	return s
}

func BenchmarkEvaluate(b *testing.B) {
	p := compileFile(b, "mh-triage.v1.yaml", mentalHealthSchema())
	for _, c := range []struct {
		name string
		in   rules.Input
	}{
		{"", mhInput(9, 5, 0, false, false, false)},          // falls through every rule: the most steps
		{"-caseness", mhInput(5, 8, 0, false, false, false)}, // matches an || by its second operand: parts shown
	} {
		b.Run("outcome"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Evaluate(c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("explained"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := p.Evaluate(c.in)
				if err != nil {
					b.Fatal(err)
				}
				_ = r.Explain()
			}
		})
	}
}

func FuzzCompile(f *testing.F) {
	for _, name := range []string{"mh-triage.v1.yaml", "mh-triage.v2.yaml"} {
		src, err := os.ReadFile(filepath.Join("..", "fixtures", "rulesets", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("id: x\nversion: 1\nform: mental-health\ndescription: d\nrules:\n  - id: z\n    when: answers.phq9_1 > 1 && [1,2].exists(x, x > scores.phq9_total)\n    then: {pathway: watchful-waiting, priority: routine, respond_within: P1D}\n    because: b\n"))
	schema := mentalHealthSchema()
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
		p, err := rules.Compile(rs, schema, known)
		if err != nil {
			return
		}
		// Whatever compiled must evaluate to an outcome or a named error, never panic.
		if r, err := p.Evaluate(mhInput(9, 5, 0, false, false, false)); err == nil {
			_ = r.Explain()
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT4H", "P7D", "P1DT12H", "P1W", "PT90M", "P1M", "PTH"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := rules.ParseDuration(s)
		if err == nil && d <= 0 {
			t.Fatalf("%q parsed to non-positive %v", s, d)
		}
	})
}
