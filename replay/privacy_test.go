package replay_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/replay"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// notesForm has a free-text and a date item beside a number, as a council's own form might.
const notesForm = `{"id": "notes", "version": 1, "title": "Notes", "url": "https://carepath.org.uk/fhir/Questionnaire/notes",
 "items": [
  {"id": "level", "text": "Level", "type": "integer", "required": true, "min": 0, "max": 3},
  {"id": "notes", "text": "Anything else", "type": "string"},
  {"id": "seen_on", "text": "Last seen", "type": "date"}
 ]}`

const notesRules = `id: notes-triage
version: 1
form: notes
rules:
  - id: high
    when: answers.level >= 2
    then: {pathway: high, priority: urgent, respond_within: P1D}
    because: high
  - id: low
    then: {pathway: low, priority: routine, respond_within: P7D}
    because: low
`

// notesCase decides one native submission under the notes form and returns it as stored.
func notesCase(t *testing.T, form *triage.Form, p *rules.Program, n int, body string) triage.StoredCase {
	t.Helper()
	sub, err := triage.ParseSubmission([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	a, err := triage.Assess(form, sub, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := triage.Decide(&a, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := triage.Record(&d, &a, "decision-"+strconv.Itoa(n), now); err != nil {
		t.Fatal(err)
	}
	return stored(&d)
}

func stored(d *triage.Decision) triage.StoredCase {
	input := d.Input
	sum := sha256.Sum256(input)
	return triage.StoredCase{ID: d.ID, Form: d.Form, FormVersion: d.FormVersion, SubjectRef: d.SubjectRef, RuleSet: d.RuleSet,
		Outcome: d.Outcome, Rule: d.Rule, Authored: d.Authored, Input: input, InputSHA256: hex.EncodeToString(sum[:])}
}

func notesWorld(t *testing.T) (*triage.Form, *rules.Program, *rules.RuleSet) {
	t.Helper()
	form, err := triage.ParseForm([]byte(notesForm))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Parse("notes.yaml", []byte(notesRules))
	if err != nil {
		t.Fatal(err)
	}
	p, err := rules.Compile(rs, form.Schema(), func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return form, p, rs
}

// TestExpressionsSeeNoIdentifiers: what --where and --group-by can read they can print as a group
// name, so the subject's reference, birth date, postcode and location, and free-text and date
// answers, are not there to read.
func TestExpressionsSeeNoIdentifiers(t *testing.T) {
	form, _, rs := notesWorld(t)
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{`subject.ref`, false},
		{`subject.postcode`, false},
		{`subject.birth_date`, false},
		{`subject.location`, false},
		{`answers.notes`, false},
		{`answers.seen_on`, false},
		{`subject.pseudonym`, true},
		{`subject.age_band`, true},
		{`subject.district`, true},
		{`subject.age`, true},
		{`answers.level`, true},
	} {
		var src replay.Source = replay.Cases{}
		if !tc.ok {
			src = failingSource{t}
		}
		_, err := replay.Run(context.Background(), replay.Config{RuleSet: rs.ID, Source: src, Forms: []*triage.Form{form},
			Candidate: &replay.Draft{RuleSet: rs}, GroupBy: tc.expr, Pseudonymiser: pseudonyms})
		var ee *replay.ExpressionError
		if tc.ok && errors.As(err, &ee) || !tc.ok && !errors.As(err, &ee) {
			t.Errorf("--group-by %s: %v; want it to compile: %v", tc.expr, err, tc.ok)
		}
	}
}

// TestReplayOfFreeTextNamesNoOne replays cases with free text, birth dates and postcodes and
// checks every report format for them, and that the subject is grouped by pseudonym.
func TestReplayOfFreeTextNamesNoOne(t *testing.T) {
	form, p, rs := notesWorld(t)
	bodies := []string{
		`{"form":"notes","subject":{"ref":"NHS-9434765919","birth_date":"1980-02-03","postcode":"LS1 4AP"},"answers":{"level":3,"notes":"Lives with Jane Example at 1 Acacia Avenue","seen_on":"2025-06-01"},"authored":"2025-06-14T09:30:00Z"}`,
		`{"form":"notes","subject":{"ref":"local-77","birth_date":"1942-12-25","postcode":"ng72rd"},"answers":{"level":0,"notes":"Daughter Mary phones daily"},"authored":"2025-06-15T09:30:00Z"}`,
		`{"form":"notes","subject":{"ref":"local-78","age":51},"answers":{"level":1},"authored":"2025-06-16T09:30:00Z"}`,
	}
	var cases replay.Cases
	for i, b := range bodies {
		cases = append(cases, notesCase(t, form, p, i, b))
	}
	// A stored input that no longer validates (as after a stricter release) but whose hash holds:
	// the reason names the field, not the value.
	bad := notesCase(t, form, p, 9, bodies[2])
	bad.Input = []byte(strings.Replace(string(bad.Input), `"age":51`, `"birth_date":"03/02/1980"`, 1))
	sum := sha256.Sum256(bad.Input)
	bad.InputSHA256 = hex.EncodeToString(sum[:])
	cases = append(cases, bad)

	// The candidate flips every decision, so every case is listed.
	flipped := strings.NewReplacer("pathway: high", "pathway: low", "pathway: low", "pathway: high").Replace(notesRules)
	cand, err := rules.Parse("flipped.yaml", []byte(flipped))
	if err != nil {
		t.Fatal(err)
	}
	for _, groupBy := range []string{`subject.pseudonym`, `let s = subject; s.pseudonym`, `subject.district + " " + subject.age_band`} {
		rep, err := replay.Run(context.Background(), replay.Config{RuleSet: rs.ID, Source: cases, Forms: []*triage.Form{form},
			Candidate: &replay.Draft{RuleSet: cand}, GroupBy: groupBy, Pseudonymiser: pseudonyms})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Changed != 3 || rep.NotReplayable != 1 {
			t.Fatalf("changed %d, not replayable %d", rep.Changed, rep.NotReplayable)
		}
		for i, c := range rep.ChangedCases {
			if c.Case != pseudonyms.Case(cases[i].ID) || c.Subject != pseudonyms.Subject(cases[i].SubjectRef) {
				t.Errorf("changed case %d: %+v", i, c)
			}
			want := c.Subject
			if !strings.Contains(groupBy, "pseudonym") {
				want = map[int]string{0: "LS1 45-54", 1: "NG7 75-84", 2: " 45-54"}[i]
			}
			if c.Group != want {
				t.Errorf("--group-by %s: case %d in group %q, want %q", groupBy, i, c.Group, want)
			}
		}
		nr := rep.NotReplayableCases[0]
		if nr.Case != pseudonyms.Case(bad.ID) || nr.Reason != "stored input does not validate: subject.birth_date: must be a date as YYYY-MM-DD (value withheld)" {
			t.Errorf("not replayable: %+v", nr)
		}
		var out bytes.Buffer
		for _, format := range []string{"text", "json", "csv"} {
			if err := rep.Write(&out, format); err != nil {
				t.Fatal(err)
			}
		}
		for _, secret := range []string{"NHS-9434765919", "9434765919", "local-77", "local-78", "decision-", "1980-02-03", "03/02/1980",
			"1942-12-25", "LS1 4AP", "LS14AP", "4AP", "ng72rd", "NG7 2RD", "2RD", "Jane", "Acacia", "Mary", "2025-06-01"} {
			if strings.Contains(out.String(), secret) {
				t.Errorf("--group-by %s: the report contains %q", groupBy, secret)
			}
		}
	}
}
