package bulkimport_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// checkFast holds the import's fast decoder to ParseSubmission and Assess: whatever it accepts
// must give the same assessment and the same canonical bytes.
func checkFast(t *testing.T, forms []*triage.Form, data []byte) bool {
	t.Helper()
	// As the store does: a version when one is given, else the latest.
	formFor := func(id string, version int) (*triage.Form, error) {
		var found *triage.Form
		for _, f := range forms {
			if f.ID == id && (version == 0 || version == f.Version) && (found == nil || f.Version > found.Version) {
				found = f
			}
		}
		if found == nil {
			return nil, fmt.Errorf("no form %s", id)
		}
		return found, nil
	}
	fast, ok := bulkimport.FastAssess(data, fastReceived, formFor)
	if !ok {
		return false
	}
	sub, err := triage.ParseSubmission(data)
	if err != nil {
		t.Fatalf("fast path accepted what does not parse (%v): %s", err, data)
	}
	f, _ := formFor(sub.Form, sub.FormVersion)
	full, err := triage.Assess(f, sub, fastReceived)
	if err != nil {
		t.Fatalf("fast path accepted what does not validate (%v): %s", err, data)
	}
	if fast.Form != full.Form || !slices.Equal(fast.Values, full.Values) || !slices.Equal(fast.Scores, full.Scores) ||
		!fast.Authored.Equal(full.Authored) || fast.Authored.Location() != full.Authored.Location() ||
		!reflect.DeepEqual(fast.Submission.Subject, full.Submission.Subject) || fast.Submission.Form != sub.Form ||
		fast.Submission.FormVersion != sub.FormVersion || (fast.Submission.Authored == nil) != (sub.Authored == nil) ||
		sub.Authored != nil && !fast.Submission.Authored.Equal(*sub.Authored) {
		t.Fatalf("fast and full decoders differ on %s:\nfast %+v %+v\nfull %+v %+v", data, fast, fast.Submission, full, full.Submission)
	}
	fc, ferr := fast.Form.Canonical(fast.Submission, fast.Values)
	wc, werr := full.Form.Canonical(full.Submission, full.Values)
	if ferr != nil || werr != nil || !bytes.Equal(fc, wc) {
		t.Fatalf("canonical differs (%v, %v):\nfast %s\nfull %s", ferr, werr, fc, wc)
	}
	return true
}

var fastReceived = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func TestFastNativeMatchesFullPath(t *testing.T) {
	forms := fixtureForms(t)
	for _, form := range []string{"mental-health", "discharge"} {
		var buf bytes.Buffer
		if err := fixtures.Generate(&buf, fixtures.Generation{Form: form, Cases: 500, Seed: 2}); err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(buf.Bytes()) {
			if !checkFast(t, forms, bytes.TrimSpace(line)) {
				t.Fatalf("generated line took the full path: %s", line)
			}
		}
	}
	line := `{"form":"mental-health","form_version":1,"authored":"2025-01-01T00:31:12Z","subject":{"ref":"syn-1-1","birth_date":"1987-01-12","postcode":"NG5 1AB","location":{"lat":52.99,"lon":-1.16}},"answers":{"phq9_1":1,"phq9_2":0,"phq9_3":0,"phq9_4":1,"phq9_5":0,"phq9_6":0,"phq9_7":0,"phq9_8":0,"phq9_9":0,"gad7_1":0,"gad7_2":1,"gad7_3":0,"gad7_4":0,"gad7_5":0,"gad7_6":0,"gad7_7":0,"risk_plan":false,"risk_intent":false,"previous_high_intensity_treatment":false,"under_secondary_care":false}}`
	if !checkFast(t, forms, []byte(line)) {
		t.Fatal("plain line took the full path")
	}
	for _, tc := range []struct{ name, data string }{
		{"key in another case", strings.Replace(line, `"form":`, `"Form":`, 1)},
		{"duplicate key", strings.Replace(line, `"form_version":1`, `"form_version":1,"form_version":1`, 1)},
		{"unknown answer", strings.Replace(line, `"phq9_1":1`, `"phq9_1":1,"nope":1`, 1)},
		{"missing answer", strings.Replace(line, `"phq9_1":1,`, ``, 1)},
		{"score of no option", strings.Replace(line, `"phq9_1":1`, `"phq9_1":7`, 1)},
		{"decimal answer", strings.Replace(line, `"phq9_1":1`, `"phq9_1":1.0`, 1)},
		{"escaped string", strings.Replace(line, `"syn-1-1"`, `"syn-1-\u0031"`, 1)},
		{"null answer", strings.Replace(line, `"phq9_1":1`, `"phq9_1":null`, 1)},
		{"trailing data", line + `{}`},
		{"birth after authored", strings.Replace(line, `1987-01-12`, `2027-01-12`, 1)},
		{"authored not RFC 3339", strings.Replace(line, `2025-01-01T00:31:12Z`, `2025-01-01 00:31:12Z`, 1)},
		{"FHIR", `{"resourceType":"QuestionnaireResponse"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if checkFast(t, forms, []byte(tc.data)) {
				t.Errorf("fast path took %s", tc.data)
			}
		})
	}
}

func FuzzFastNative(f *testing.F) {
	for _, name := range []string{"../fixtures/examples/mental-health.json", "../fixtures/examples/discharge.json", "../triage/testdata/native/mental-health.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, fixtures.Generation{Form: "discharge", Cases: 1, Seed: 1}); err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.TrimSpace(buf.Bytes()))
	forms := fixtureForms(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, forms, data)
	})
}

// TestRowEncodingMatchesJSON holds the bulk row's JSON columns to json.Marshal, which triage's
// SaveDecision writes and Decision reads.
func TestRowEncodingMatchesJSON(t *testing.T) {
	sets, err := fixtures.RuleSets()
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{"mental-health", "discharge"} {
		fm := fixtureForm(t, form)
		var buf bytes.Buffer
		if err := fixtures.Generate(&buf, fixtures.Generation{Form: form, Cases: 400, Seed: 4}); err != nil {
			t.Fatal(err)
		}
		var programs []*rules.Program
		for _, s := range sets {
			if s.Parsed.Form == form && s.Parsed.AcceptsFormVersion(fm.Version) {
				p, err := rules.Compile(s.Parsed, fm.Schema(), func(string) bool { return true })
				if err != nil {
					t.Fatal(err)
				}
				programs = append(programs, p)
			}
		}
		if len(programs) == 0 {
			t.Fatalf("no rule set for %s", form)
		}
		for line := range bytes.Lines(buf.Bytes()) {
			sub, err := triage.ParseSubmission(line)
			if err != nil {
				t.Fatal(err)
			}
			a, err := triage.Assess(fm, sub, fastReceived)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range programs {
				d, err := triage.Decide(&a, p)
				if err != nil {
					t.Fatal(err)
				}
				d.Outcome.Flags = append(d.Outcome.Flags, "a<b&c")
				checkRow(t, &d)
			}
		}
	}
	var none triage.Decision
	checkRow(t, &none)
	awkward := triage.Decision{Scores: map[string]rules.Value{"b": rules.String("x<y"), "a": rules.Double(1e-7), "c": {}}}
	awkward.Outcome.Flags = []string{"caf\u00e9", "tab\t"}
	awkward.Explanation = rules.Explanation{Rule: "r", Because: "caf\u00e9 \"q\" <x>", Variables: []rules.VariableRun{{Name: "v", Expr: "a && b", Value: rules.Double(1e-7)}},
		Evaluated: []rules.Evaluated{{Rule: "r", When: "x\ty", Values: []rules.NamedValue{{Name: "n", Value: rules.String("\u2028")}}, Parts: []rules.PartValue{{Op: "&&", Expr: "e"}}}}}
	checkRow(t, &awkward)
}

func checkRow(t *testing.T, d *triage.Decision) {
	t.Helper()
	wantScores, _ := json.Marshal(d.Scores)
	wantFlags := []byte("[]")
	if len(d.Outcome.Flags) > 0 {
		wantFlags, _ = json.Marshal(d.Outcome.Flags)
	}
	wantExpl, _ := json.Marshal(d.Explanation)
	scores, flags, expl, err := bulkimport.EncodeRow(d)
	if err != nil || scores != string(wantScores) || flags != string(wantFlags) || expl != string(wantExpl) {
		t.Fatalf("row encoding (%v):\n %s %s %s\nwant %s %s %s", err, scores, flags, expl, wantScores, wantFlags, wantExpl)
	}
}

func fixtureForms(tb testing.TB) []*triage.Form {
	tb.Helper()
	forms, err := fixtures.Forms()
	if err != nil {
		tb.Fatal(err)
	}
	return forms
}

// fixtureForm returns the latest version of a demo form, the one the generator writes.
func fixtureForm(tb testing.TB, id string) *triage.Form {
	tb.Helper()
	var found *triage.Form
	for _, f := range fixtureForms(tb) {
		if f.ID == id && (found == nil || f.Version > found.Version) {
			found = f
		}
	}
	if found == nil {
		tb.Fatalf("no demo form %s", id)
	}
	return found
}
