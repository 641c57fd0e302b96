package replay

import (
	"testing"

	"github.com/carepath/carepath/fixtures"
)

// TestReadsPseudonym: the HMAC behind subject.pseudonym is computed per case only for expressions
// that may read it, and always for those that may.
func TestReadsPseudonym(t *testing.T) {
	forms, err := fixtures.Forms()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		group string
		want  bool
	}{
		{`subject.district`, false},
		{`subject.age_band + "/" + subject.district`, false},
		{`scores.barthel_total >= 10 ? "high" : "low"`, false},
		{`subject.pseudonym`, true},
		{`subject?.pseudonym`, true},
		{`subject["pseudonym"]`, true},
		{`let s = subject; s.pseudonym`, true},
		{`string(subject)`, true},
		{`$env.subject.pseudonym`, true},
		{`subject.district + subject.pseudonym`, true},
	} {
		sh, err := newEnvShape(forms[0], "", tc.group)
		if err != nil {
			t.Errorf("%s: %v", tc.group, err)
			continue
		}
		if sh.pseudonym != tc.want {
			t.Errorf("%s: reads pseudonym %v, want %v", tc.group, sh.pseudonym, tc.want)
		}
	}
}
