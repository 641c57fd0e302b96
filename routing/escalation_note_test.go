package routing_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
)

func TestResolutionNote(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"  Phoned the crisis team \n", "Phoned the crisis team", ""},
		{"line one\r\nline two\tand a tab", "line one\r\nline two\tand a tab", ""},
		{strings.Repeat("é", routing.MaxResolutionNote), strings.Repeat("é", routing.MaxResolutionNote), ""},
		{"", "", "note: is missing"},
		{" \n\t ", "", "note: is missing"},
		{strings.Repeat("é", routing.MaxResolutionNote+1), "", "note: at most 500 characters"},
		{"ok\x00", "", "note: plain text"},
		{"ok\x1b[2J", "", "note: plain text"},
		{"ok\xff", "", "note: is not valid UTF-8"},
	} {
		got, err := routing.ResolutionNote(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || failure.CodeOf(err) != failure.Invalid || !strings.HasPrefix(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an invalid error starting %q", tc.in, err, tc.err)
		}
	}
}

// FuzzResolutionNote: whatever is typed, an accepted note is trimmed, valid UTF-8 plain text
// within the bound, and accepted again unchanged; a refused one names the field.
func FuzzResolutionNote(f *testing.F) {
	for _, s := range []string{"handled", " x ", "", "a\x00b", "\xff", strings.Repeat("x", 501), "line\r\nline"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := routing.ResolutionNote(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "note: ") || failure.CodeOf(err) != failure.Invalid {
				t.Fatalf("%q: %v", in, err)
			}
			return
		}
		if got == "" || got != strings.TrimSpace(got) || !utf8.ValidString(got) || utf8.RuneCountInString(got) > routing.MaxResolutionNote {
			t.Fatalf("%q accepted as %q", in, got)
		}
		if strings.ContainsFunc(got, func(r rune) bool { return unicode.IsControl(r) && !strings.ContainsRune("\r\n\t", r) }) {
			t.Fatalf("%q accepted with a control character", in)
		}
		if again, err := routing.ResolutionNote(got); err != nil || again != got {
			t.Fatalf("%q: not accepted again unchanged: %q %v", got, again, err)
		}
	})
}
