package server

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// referenceJSON is what writeJSON sends for v: encoding/json, compact, HTML not escaped.
func referenceJSON(t testing.TB, v any) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// sampleOutcome is a decision with every part filled, its strings and values taken from s, f and i.
func sampleOutcome(s string, f float64, i int64) decideOutcome {
	vals := []rules.NamedValue{{Name: s, Value: rules.String(s)}, {Name: "n", Value: rules.Int(i)}, {Name: "d", Value: rules.Double(f)},
		{Name: "b", Value: rules.Bool(true)}, {Name: "none"}}
	return decideOutcome{
		Form: "mental-health" + s, FormVersion: int(i % 1000), RuleSet: triage.RuleSetRef{ID: s, Version: 3, SHA256: strings.Repeat("ab", 32)},
		Pathway: s, Priority: rules.Priority(s), RespondWithin: "PT4H", Flags: []string{s, "active-risk"}, Rule: s,
		Explanation: rules.Explanation{Rule: s, Because: s + " because",
			Variables: []rules.VariableRun{{Name: "severe", Expr: "a >= b || c < d && e", Value: rules.Bool(false), Values: vals}, {Name: s, Expr: s, Value: rules.Double(f)}},
			Evaluated: []rules.Evaluated{
				{Rule: "r1", When: "answers.risk_plan || answers.risk_intent", Result: false, Values: vals[:2]},
				{Rule: s, When: s, Result: true, Values: vals, Parts: []rules.PartValue{{Op: "||", Expr: s, Value: rules.String(s)}, {Op: "&&", Expr: "x", Value: rules.Double(f)}}},
				{Rule: "r3", When: "true", Result: true},
			}},
		Scores:        map[string]rules.Value{"phq9_total": rules.Int(i), "phq9_band": rules.String(s), s: rules.Double(f), "zz": {}},
		Authored:      time.Date(2026, 11, 20, 10, 15, 0, int(i%1e9+1e9)%1e9, time.UTC),
		EngineVersion: triage.EngineVersion,
	}
}

// TestDecideJSONMatchesEncodingJSON: the fast path writes what encoding/json writes, byte for byte,
// including the corners of JSON strings and numbers, and steps aside for what encoding/json refuses.
func TestDecideJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
		"\x00\x01\x1f\x7f", "é ü 中文 🙂", "\u2028 and \u2029", "bad \xff utf-8 \xe2\x80", "a\xc0b", strings.Repeat("x", 5000)}
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 123.456, 1e20, 1e21, 1e-6, 9.99e-7, 1e-7, 5e-324, math.MaxFloat64, -2.5e-10}
	n := 0
	for _, s := range strs {
		for _, f := range floats {
			for _, i := range []int64{0, -7, math.MaxInt64, math.MinInt64} {
				check(t, sampleOutcome(s, f, i))
				n++
			}
		}
	}
	// Absent parts: no variables, no parts, nil slices and maps, the zero time.
	check(t, decideOutcome{})
	check(t, decideOutcome{Flags: []string{}, Explanation: rules.Explanation{Evaluated: []rules.Evaluated{{Values: []rules.NamedValue{}}}}, Scores: map[string]rules.Value{}})

	for _, o := range []decideOutcome{sampleOutcome("x", math.NaN(), 1), sampleOutcome("x", math.Inf(-1), 1), {Authored: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, {Authored: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		if _, ok := appendDecideOutcome(nil, &o); ok {
			t.Errorf("accepted what encoding/json refuses: %v %v", o.Explanation.Variables, o.Authored)
		}
		if _, err := referenceJSON(t, o); err == nil {
			t.Errorf("encoding/json accepts %v %v, so the fast path need not refuse it", o.Explanation.Variables, o.Authored)
		}
	}
}

func check(t testing.TB, o decideOutcome) {
	t.Helper()
	checkAppended(t, &o, appendDecideOutcome)
}

func FuzzDecideJSON(f *testing.F) {
	f.Add("plain", 1.5, int64(3))
	f.Add("<&>\u2028\xff\"\\\n", 1e-7, int64(-1))
	f.Add("", 1e21, int64(0))
	f.Fuzz(func(t *testing.T, s string, x float64, i int64) {
		o := sampleOutcome(s, x, i)
		fuzzAppended(t, &o, appendDecideOutcome)
	})
}

// BenchmarkDecideJSON compares the response's two encodings on a decision that fell through
// every demo rule.
func BenchmarkDecideJSON(b *testing.B) {
	o := sampleOutcome("watchful-waiting", 0.5, 9)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referenceJSON(b, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf, _ = appendDecideOutcome(buf[:0], &o)
		}
	})
}

// TestReadSized: the body is read whole whatever length was declared, short or long of the truth.
func TestReadSized(t *testing.T) {
	body := strings.Repeat("0123456789", 300)
	for _, declared := range []int64{-1, 0, 1, 100, 2999, 3000, 3001, 10000, 1 << 40} {
		got, err := readSized(iotest.OneByteReader(strings.NewReader(body)), declared, 1<<20)
		if err != nil || string(got) != body {
			t.Errorf("declared %d: %d bytes, %v", declared, len(got), err)
		}
	}
	if _, err := readSized(iotest.ErrReader(io.ErrUnexpectedEOF), 10, 100); err != io.ErrUnexpectedEOF {
		t.Errorf("a failed read: %v", err)
	}
}
