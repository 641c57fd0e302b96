package outcomes

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzWholeNumber holds the report's score reader to encoding/json: wherever it reads a score, the
// decoded object holds that whole number under that name.
func FuzzWholeNumber(f *testing.F) {
	for _, s := range []string{`{"gad7_band":"moderate","gad7_total":12,"phq9_band":"moderate","phq9_total":14}`,
		`{"phq9_total":-3}`, `{"xphq9_total":1,"phq9_total":2}`, `{"phq9_total": 7}`, `{"phq9_total":1.5}`, `{"a":"phq9_total","phq9_total":4}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, obj string) {
		n, ok := wholeNumber([]byte(obj), "phq9_total")
		if !ok {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(obj), &m); err != nil {
			return // the report reads only objects encoding/json wrote
		}
		var v float64
		if raw, found := m["phq9_total"]; !found || json.Unmarshal(raw, &v) != nil || v != float64(n) || math.Trunc(v) != v {
			t.Errorf("%s: read %d, encoding/json has %s", obj, n, m["phq9_total"])
		}
	})
}

func TestWholeNumber(t *testing.T) {
	for obj, want := range map[string]int{`{"phq9_total":14}`: 14, `{"a":1,"phq9_total":0}`: 0, `{"xphq9_total":9,"phq9_total":3}`: 3} {
		if n, ok := wholeNumber([]byte(obj), "phq9_total"); !ok || n != want {
			t.Errorf("%s: %d %v, want %d", obj, n, ok, want)
		}
	}
	for _, obj := range []string{`{}`, `{"phq9_total":"x"}`, `{"phq9_total":1.5}`, `{"phq9_total":}`} {
		if _, ok := wholeNumber([]byte(obj), "phq9_total"); ok {
			t.Errorf("%s: read a number", obj)
		}
	}
}
