package jsonappend

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// unescapedHTML is v as an Encoder with SetEscapeHTML(false) writes it, without the newline.
func unescapedHTML(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

var strs = []string{
	"", "a", "plain text", `quote " and \ backslash`, "<script>&</script>", "\x00\x01\x1f\x7f",
	"\b\f\n\r\t", "héllo wörld", "emoji 🙂", "\u2028\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
	"mixed \u2028 < \xff \"", strings.Repeat("long ", 100), "\u00e9\u4e16\U0001F600",
}

func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range strs {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
		if got, want := Quote(nil, s, false), unescapedHTML(t, s); string(got) != want {
			t.Errorf("Quote(%q, false) = %s, want %s", s, got, want)
		}
	}
	for b := 0; b < 256; b++ {
		s := string([]byte{'x', byte(b), 'y'})
		want, _ := json.Marshal(s)
		if got := String([]byte("prefix"), s); string(got) != "prefix"+string(want) {
			t.Errorf("byte %#x: got %s, want %s", b, got, want)
		}
		if got, want := Quote([]byte("prefix"), s, false), unescapedHTML(t, s); string(got) != "prefix"+want {
			t.Errorf("byte %#x, HTML unescaped: got %s, want %s", b, got, want)
		}
	}
}

func TestStringsMatchesEncodingJSON(t *testing.T) {
	for _, ss := range [][]string{nil, {}, {""}, {"a"}, strs, {"x", "<y>"}} {
		want, _ := json.Marshal(ss)
		if got := Strings(nil, ss); string(got) != string(want) {
			t.Errorf("Strings(%q) = %s, want %s", ss, got, want)
		}
		if got, want := QuoteAll(nil, ss, false), unescapedHTML(t, ss); string(got) != want {
			t.Errorf("QuoteAll(%q, false) = %s, want %s", ss, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range strs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String(nil, s); string(got) != string(want) {
			t.Fatalf("String(%q) = %s, want %s", s, got, want)
		}
		if got, want := Quote(nil, s, false), unescapedHTML(t, s); string(got) != want {
			t.Fatalf("Quote(%q, false) = %s, want %s", s, got, want)
		}
		wantArr, _ := json.Marshal([]string{s, s})
		if got := Strings(nil, []string{s, s}); string(got) != string(wantArr) {
			t.Fatalf("Strings = %s, want %s", got, wantArr)
		}
	})
}

func BenchmarkStrings(b *testing.B) {
	ss := []string{"decision-0190a1b2-c3d4", "safeguarding"}
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = Strings(buf[:0], ss)
	}
}

func TestFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1 + 0.2, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789e13,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -1e-300, 12.345} {
		want, _ := json.Marshal(f)
		if got, ok := Float(nil, f); !ok || string(got) != string(want) {
			t.Errorf("Float(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got, ok := Float([]byte("x"), f); ok || string(got) != "x" {
			t.Errorf("Float(%v) = %s, %v; want refused", f, got, ok)
		}
	}
}

func FuzzFloat(f *testing.F) {
	f.Add(1.5)
	f.Add(1e-7)
	f.Fuzz(func(t *testing.T, x float64) {
		want, err := json.Marshal(x)
		got, ok := Float(nil, x)
		if (err == nil) != ok || (ok && string(got) != string(want)) {
			t.Fatalf("Float(%v) = %s %v, want %s %v", x, got, ok, want, err)
		}
	})
}

func TestTimeMatchesEncodingJSON(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 9, 0, 0, 123456789, time.UTC),
		time.Date(2026, 12, 2, 9, 0, 0, 120000000, time.FixedZone("BST", 3600)),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.FixedZone("", -(13*3600+30*60))),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),                   // refused: year
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),                      // refused: year
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)), // refused: offset
	} {
		want, err := json.Marshal(tm)
		got, ok := Time([]byte("x"), tm)
		if err != nil {
			if ok || string(got) != "x" {
				t.Errorf("%v: json.Marshal refuses it (%v), Time wrote %q, %v", tm, err, got, ok)
			}
			continue
		}
		if !ok || string(got) != "x"+string(want) {
			t.Errorf("%v: Time wrote %q, %v; want %s", tm, got, ok, want)
		}
	}
}

func FuzzTime(f *testing.F) {
	f.Add(int64(1764666000), int64(123456789), 3600)
	f.Add(int64(-62135596800), int64(0), 0)
	f.Add(int64(253402300800), int64(1), -86400)
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("", offset%200000))
		want, err := json.Marshal(tm)
		got, ok := Time(nil, tm)
		if (err == nil) != ok || ok && !bytes.Equal(got, want) {
			t.Fatalf("%v: Time %q %v, json.Marshal %q %v", tm, got, ok, want, err)
		}
	})
}
