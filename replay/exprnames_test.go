package replay

import (
	"errors"
	"strings"
	"testing"

	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/triage"
)

// TestExpressionErrorsNameWhatWasWritten: a misspelt name in --where or --group-by is reported
// with the names the person wrote and the closest one that exists, never as the Go types the
// expressions are checked against.
func TestExpressionErrorsNameWhatWasWritten(t *testing.T) {
	forms, err := fixtures.Forms()
	if err != nil {
		t.Fatal(err)
	}
	var mh *triage.Form
	for _, f := range forms {
		if f.ID == "mental-health" {
			mh = f
		}
	}
	for _, tc := range []struct{ where, want string }{
		{`scores.phq9_totl >= 5`, `scores has no score "phq9_totl"; did you mean scores.phq9_total? (1:8)`},
		{`answers.phq_1 > 1`, `answers has no item "phq_1"; did you mean answers.phq9_1?`},
		{`scroes.phq9_total > 1`, `unknown name "scroes"; did you mean scores?`},
		{`outcome.pathwy == "x"`, `outcome has no field "pathwy"; did you mean outcome.pathway?`},
		{`candidate.rul == "x"`, `candidate has no field "rul"; did you mean candidate.rule?`},
		{`subject.ag > 3`, `subject has no field "ag"; did you mean subject.age?`},
		{`subject.xyzzy > 3`, `subject has no field "xyzzy"; it has pseudonym, age, age_band, district`},
		{`scores.phq9_total >= "a"`, `mismatched types int and string`},
	} {
		_, err := newEnvShape(mh, tc.where, "")
		var ee *ExpressionError
		if !errors.As(err, &ee) {
			t.Errorf("%s: %v, want an ExpressionError", tc.where, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "struct {") || strings.Contains(msg, "replay.") && !strings.HasPrefix(msg, "replay: ") {
			t.Errorf("%s:\n got %s\nwant %s", tc.where, msg, tc.want)
		}
		if !strings.Contains(msg, "\n | "+tc.where) {
			t.Errorf("%s: the message lost the pointer to the mistake: %s", tc.where, msg)
		}
	}
}
