package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzWithVersion holds the draft-source rewrite to its promise: whatever source is given, it
// either refuses it or returns a source that parses with the new version and differs from the
// input only in that number.
func FuzzWithVersion(f *testing.F) {
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "rulesets", "mh-triage.v2.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src, 7)
	f.Add([]byte("{id: x, version: 1, form: f, description: d, rules: [{id: a, then: {pathway: p, priority: routine, respond_within: P1D}, because: b}]}"), 12)
	f.Fuzz(func(t *testing.T, src []byte, n int) {
		if n < 1 {
			n = -n%1000 + 1
		}
		out, rs, err := withVersion(src, n)
		if err != nil {
			return
		}
		if rs.Version != n {
			t.Fatalf("rewritten source has version %d, want %d", rs.Version, n)
		}
		// Removing the common prefix and suffix must leave only the old and new numbers.
		a, b := src, []byte(out)
		for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
			a, b = a[1:], b[1:]
		}
		for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
			a, b = a[:len(a)-1], b[:len(b)-1]
		}
		if bytes.ContainsAny(a, "\n\r") || bytes.ContainsAny(b, "\n\r") || len(bytes.Trim(b, "0123456789")) != 0 {
			t.Fatalf("rewrite changed more than the version: %q became %q", a, b)
		}
	})
}
