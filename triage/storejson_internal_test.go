package triage

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/carepath/carepath/rules"
)

var jsonValues = []rules.Value{
	{}, rules.Int(0), rules.Int(-7), rules.Int(math.MaxInt64), rules.Int(math.MinInt64),
	rules.Double(0), rules.Double(math.Copysign(0, -1)), rules.Double(1.5), rules.Double(-2.25), rules.Double(1e-7),
	rules.Double(1e-6), rules.Double(123456789e13), rules.Double(1e21), rules.Double(1e300), rules.Double(5e-324),
	rules.Double(0.1 + 0.2), rules.Bool(true), rules.Bool(false), rules.String(""), rules.String("<b>&\"\\\n\u2028\xff"),
}

// TestDecisionColumnsMatchEncodingJSON holds the hand-written columns to json.Marshal's bytes,
// since stored decisions are replayed byte for byte.
func TestDecisionColumnsMatchEncodingJSON(t *testing.T) {
	named := func(vs []rules.Value) []rules.NamedValue {
		out := make([]rules.NamedValue, len(vs))
		for i, v := range vs {
			out[i] = rules.NamedValue{Name: "answers.q" + string(rune('a'+i%26)), Value: v}
		}
		return out
	}
	scores := map[string]rules.Value{}
	for i, v := range jsonValues {
		scores[string(rune('z'-i))+"score"] = v
	}
	decisions := []Decision{
		{},
		{Scores: map[string]rules.Value{}, Outcome: rules.Outcome{Flags: []string{}}, Explanation: rules.Explanation{Evaluated: []rules.Evaluated{}}},
		{Scores: scores, Outcome: rules.Outcome{Flags: []string{"safeguarding", "<risk>"}},
			Explanation: rules.Explanation{Rule: "r1", Because: "total >= 20 & \"severe\"",
				Variables: []rules.VariableRun{{Name: "v", Expr: "a + b", Value: rules.Int(3), Values: named(jsonValues)}, {Name: "w"}},
				Evaluated: []rules.Evaluated{
					{Rule: "r0", When: "x < 3", Result: false, Values: named(jsonValues[:3])},
					{Rule: "r1", When: "a && b", Result: true, Values: []rules.NamedValue{},
						Parts: []rules.PartValue{{Op: "&&", Expr: "a", Value: rules.Bool(true)}, {Op: "&&", Expr: "b"}}},
					{Rule: "r2"},
				}}},
	}
	for i, d := range decisions {
		got, err := encodeDecisionColumns(&d)
		if err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
		flags := d.Outcome.Flags
		if flags == nil {
			flags = []string{}
		}
		for _, c := range []struct {
			name string
			got  string
			v    any
		}{{"scores", got.scores, d.Scores}, {"flags", got.flags, flags}, {"explanation", got.explanation, d.Explanation}} {
			want, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if c.got != string(want) {
				t.Errorf("decision %d %s:\n got %s\nwant %s", i, c.name, c.got, want)
			}
		}
		enc, err := EncodeScores(d.Scores)
		if want, _ := json.Marshal(d.Scores); err != nil || string(enc) != string(want) {
			t.Errorf("decision %d: EncodeScores = %s, %v; want %s", i, enc, err, want)
		}
	}
	for _, v := range jsonValues {
		want, _ := json.Marshal(v)
		if got, ok := AppendValueJSON(nil, v); !ok || string(got) != string(want) {
			t.Errorf("value %#v: got %s, want %s", v, got, want)
		}
	}
}

// TestDecisionColumnsRefuseWhatJSONRefuses keeps json.Marshal's error for numbers JSON cannot hold.
func TestDecisionColumnsRefuseWhatJSONRefuses(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		d := Decision{Scores: map[string]rules.Value{"s": rules.Double(f)}}
		if _, err := encodeDecisionColumns(&d); err == nil {
			t.Errorf("score %v: no error", f)
		}
		d = Decision{Explanation: rules.Explanation{Evaluated: []rules.Evaluated{{Parts: []rules.PartValue{{Value: rules.Double(f)}}}}}}
		if _, err := encodeDecisionColumns(&d); err == nil {
			t.Errorf("part %v: no error", f)
		}
	}
}

// TestExplanationWriterKnowsEveryField fails when a field is added to the explanation's types, so
// that the hand writer is taught it before a stored byte differs from json.Marshal's.
func TestExplanationWriterKnowsEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type]string{
		reflect.TypeFor[rules.Explanation](): "Rule Because Variables Evaluated",
		reflect.TypeFor[rules.VariableRun](): "Name Expr Value Values",
		reflect.TypeFor[rules.Evaluated]():   "Rule When Result Values Parts",
		reflect.TypeFor[rules.PartValue]():   "Op Expr Value",
		reflect.TypeFor[rules.NamedValue]():  "Name Value",
		reflect.TypeFor[rules.Value]():       "S I F Kind B",
	} {
		got := ""
		for i := range typ.NumField() {
			if got != "" {
				got += " "
			}
			got += typ.Field(i).Name
		}
		if got != want {
			t.Errorf("%s has fields %q; the writers in storejson.go know %q", typ, got, want)
		}
	}
	// A kind the writer does not know falls back to json.Marshal rather than write a guess.
	if _, ok := AppendValueJSON(nil, rules.Value{Kind: rules.KindString + 1}); ok {
		t.Errorf("appendValue wrote a kind it does not know")
	}
}

func FuzzAppendValue(f *testing.F) {
	f.Add("s", int64(1), 1.5, false)
	f.Fuzz(func(t *testing.T, s string, i int64, x float64, b bool) {
		for _, v := range []rules.Value{rules.String(s), rules.Int(i), rules.Double(x), rules.Bool(b)} {
			want, err := json.Marshal(v)
			got, ok := AppendValueJSON(nil, v)
			if (err == nil) != ok || (ok && string(got) != string(want)) {
				t.Fatalf("%#v: got %s %v, want %s %v", v, got, ok, want, err)
			}
		}
	})
}
