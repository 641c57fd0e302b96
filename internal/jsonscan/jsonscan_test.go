package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/carepath/carepath/internal/jsonscan"
)

func TestObject(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want map[string]any
	}{
		{`{"a": 1, "b": true, "c": "x", "d": -2.5e3}`, true, map[string]any{"a": int64(1), "b": true, "c": "x", "d": -2500.0}},
		{` { } `, true, map[string]any{}},
		{`{"a": 01}`, false, nil},
		{`{"a": "\u00e9"}`, false, nil},
		{`{"a": "é"}`, false, nil},
		{`{"a": 1,}`, false, nil},
		{`{"a" 1}`, false, nil},
		{`{"a": 1} x`, false, nil},
		{`{"a": 1.}`, false, nil},
		{`{"a": 123456789012345678901}`, false, nil},
	}
	for _, tt := range tests {
		s := jsonscan.New([]byte(tt.in))
		got := map[string]any{}
		ok := s.Object(func(key []byte) bool {
			var v any
			var ok bool
			switch s.Peek() {
			case '"':
				var b []byte
				b, ok = s.Str()
				v = string(b)
			case 't', 'f':
				v, ok = s.Boolean()
			default:
				if tok, integral, good := s.Number(); good && integral {
					v, ok = jsonscan.New(tok).Integer()
				} else if good {
					v, ok = jsonscan.New(tok).Float()
				}
			}
			got[string(key)] = v
			return ok
		}) && s.AtEnd()
		if ok != tt.ok {
			t.Errorf("%s: ok %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if ok {
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: %s = %#v, want %#v", tt.in, k, got[k], v)
				}
			}
		}
	}
}

// FuzzScanner holds the scanner to encoding/json: whatever it accepts as a string or number,
// encoding/json reads as the same value.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`"abc"`, `-12`, `3.5e-2`, `0`, `"a\"b"`, `01`, `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, ok := jsonscan.New(b).Str(); ok {
			var want string
			lit := bytes.TrimLeft(b, " \t\r\n")[:len(v)+2]
			if err := json.Unmarshal(lit, &want); err != nil || want != string(v) {
				t.Fatalf("Str(%q) = %q, encoding/json: %q %v", b, v, want, err)
			}
		}
		s := jsonscan.New(b)
		if tok, _, ok := s.Number(); ok && s.AtEnd() {
			if !json.Valid(tok) {
				t.Fatalf("Number accepted %q, which is not JSON", tok)
			}
			var want float64
			got, fok := jsonscan.New(b).Float()
			if err := json.Unmarshal(tok, &want); fok && (err != nil || got != want) {
				t.Fatalf("Float(%q) = %v, encoding/json %v %v", b, got, want, err)
			}
		}
	})
}
