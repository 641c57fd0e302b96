package triage

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// onePassSeeds are native documents at the edges of the plain shape: the one-pass reader takes
// some and declines the others, and either way ParseSubmission must answer as parseFull does.
var onePassSeeds = []string{
	`{"form":"mental-health","subject":{"ref":"p","age":40},"answers":{"/44250-9":{"code":"LA6570-1"},"phq9_2":2,"risk_plan":null}}`,
	`{"form":"mental-health","subject":{"ref":"p","birth_date":"2000-02-29"},"authored":"0001-01-01T00:30:00+01:00","answers":{}}`,
	`{"form":"mental-health","answers":{"gad7_1":1e400,"gad7_2":2.5,"gad7_3":[1]}}`,
	`{"form":"mental-health","subject":{"ref":"p","name":" Jane\u0007 ","address":"1 Row\nLeeds","NAME":"x"},"answers":{}}`,
	`{"form":"mental-health","subject":{"ref":"p","contact":{"preference":"sms","phone":"+44 7700 900123","email":" a@b.example "}},"answers":{"phq9_1":1}}`,
	`{"form":"mental-health","subject":{"ref":"p","contact":{"preference":"letter","Phone":"1"},"postcode":" "},"answers":{}}`,
	`{"form":"mental-health","subject":{"ref":"p","name":"Zoë Ó Briain","location":{"lat":53.8}},"answers":{"phq9_1":"1","phq9_1":"2"}}`,
	`{"form":"mental-health","form_version":-1,"subject":{"ref":"p"}}`,
	`{"form":"mental-health","form_version":99999999999999999999,"subject":{"ref":"p"}}`,
	`{"form":"mental-health","subject":{"ref":"p"},"answers":{"a":null,"a":null}}`,
	`{"form":"mental-health","subject":{"ref":"p"},"answers":{"a":-0,"b":1.0,"c":-9223372036854775808,"d":123456789012345678}}`,
	`{"form":"mental-health","subject":{"ref":"p"},"answers":{"a":{"code":""},"b":{"code":"x","Code":"y"}}}`,
	`{"resourceType":"Patient"}`,
	`{"form":"mental-health","resourcetype":"QuestionnaireResponse"}`,
	`{"Form":"mental-health"}`,
	`{"form":null,"answers":null}`,
	`{"form":"a\u0000b"}`,
	"{\"form\":\"\xff\"}",
	`{"form":"f"} {}`,
	`[]`,
	` {"form":"f","subject":{"ref":"p","age":7,"location":{"lat":-0,"lon":1e-7}},"authored":"2025-06-14T10:30:00Z"} `,
	`{"form":"f","authored":"2025-13-14T10:30:00Z"}`,
	`{"form":"f","answers":{"x":truex}}`,
	`{"\u0066orm":"f","subject":{"ref":"p\/q","name":"Ren\u00e9e \"Ray\"","address":"1 Row\nLeeds\t\r\b\f\\"},"answers":{"caf\u00E9":"\u2028"}}`,
	`{"form":"f","subject":{"ref":"\ud83d\ude00"}}`,
	`{"form":"f","subject":{"ref":"\u00"}}`,
	`{"form":"f","subject":{"ref":"\x"}}`,
	"{\"form\":\"\\n\xff\"}",
}

// TestOnePassTakesThePlainShape: the one-pass reader takes the documents clients send, so the
// live path does not fall back for them, and declines what only the full path can explain.
func TestOnePassTakesThePlainShape(t *testing.T) {
	native, err := os.ReadFile("testdata/native/mental-health.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body string
		take bool
	}{
		{"sample", string(native), true},
		{"coding, null and numbers", onePassSeeds[0], true},
		{"authored and empty answers", onePassSeeds[1], true},
		{"contact", onePassSeeds[4], true},
		{"non-ASCII name", strings.NewReplacer(`"phq9_1":"2"`, `"phq9_2":"2"`, `{"lat":53.8}`, `{"lat":53.8,"lon":-1.5}`).Replace(onePassSeeds[6]), true},
		// The subject reader shared with the bulk import wants both coordinates; the full path says what is missing.
		{"partial location", strings.Replace(onePassSeeds[6], `"phq9_1":"2"`, `"phq9_2":"2"`, 1), false},
		{"no answers", `{"form":"f","subject":{"ref":"p"}}`, true},
		{"number edges", onePassSeeds[10], true},
		{"subject field in another case", onePassSeeds[3], false},
		{"escapes", onePassSeeds[23], true},
		{"surrogate pair", onePassSeeds[24], false},
		{"short \\u escape", onePassSeeds[25], false},
		{"bad escape", onePassSeeds[26], false},
		{"escape and bad UTF-8", onePassSeeds[27], false},
		{"repeated answer", onePassSeeds[6], false},
		{"repeated null answer", onePassSeeds[9], false},
		{"number out of range", onePassSeeds[2], false},
		{"form_version too long", onePassSeeds[8], false},
		{"empty code", onePassSeeds[11], false},
		{"FHIR", onePassSeeds[12], false},
		{"resourceType in another case", onePassSeeds[13], false},
		{"field in another case", onePassSeeds[14], false},
		{"null field", onePassSeeds[15], false},
		{"bad UTF-8", onePassSeeds[17], false},
		{"trailing data", onePassSeeds[18], false},
		{"not an object", onePassSeeds[19], false},
		{"bad time", onePassSeeds[21], false},
		{"bad literal", onePassSeeds[22], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, took := parseNativeOnePass([]byte(tt.body))
			if took != tt.take {
				t.Errorf("one pass took it: %v, want %v", took, tt.take)
			}
			checkOnePassMatchesFull(t, []byte(tt.body))
		})
	}
}

// checkOnePassMatchesFull holds ParseSubmission to parseFull, the path it had before the one-pass
// reader: the same submission, or the same problems, and the same canonical bytes.
func checkOnePassMatchesFull(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := ParseSubmission(data)
	want, wantErr := parseFull(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("ParseSubmission(%q): %v; full path: %v", data, gotErr, wantErr)
	}
	if wantErr != nil {
		var gv, wv *ValidationError
		if gotErr.Error() != wantErr.Error() || !errors.As(gotErr, &gv) || !errors.As(wantErr, &wv) || !reflect.DeepEqual(gv.Problems, wv.Problems) {
			t.Fatalf("ParseSubmission(%q): %#v; full path: %#v", data, gotErr, wantErr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseSubmission(%q) =\n%#v\nfull path:\n%#v", data, got, want)
	}
	for _, form := range onePassForms(t) {
		gv, gerr := form.Validate(got)
		wv, werr := form.Validate(want)
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("%s: Validate: %v; full path: %v", form.ID, gerr, werr)
		}
		if gerr != nil {
			continue
		}
		gc, gerr := form.Canonical(got, gv)
		wc, werr := form.Canonical(want, wv)
		if !bytes.Equal(gc, wc) || (gerr == nil) != (werr == nil) {
			t.Fatalf("%s: canonical %s (%v); full path %s (%v)", form.ID, gc, gerr, wc, werr)
		}
	}
}

var onePassFormCache []*Form

func onePassForms(tb testing.TB) []*Form {
	if onePassFormCache == nil {
		onePassFormCache = []*Form{demoForm(tb, "mental-health"), demoForm(tb, "discharge")}
	}
	return onePassFormCache
}

// FuzzParseSubmissionOnePass holds the one-pass native reader to the full path on arbitrary
// bytes: the same submission with the same canonical bytes, or the same error text and problems.
func FuzzParseSubmissionOnePass(f *testing.F) {
	for _, name := range []string{"testdata/native/mental-health.json", "testdata/fhir/mental-health.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range onePassSeeds {
		f.Add([]byte(s))
	}
	onePassForms(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOnePassMatchesFull(t, data)
	})
}

// BenchmarkParseSubmissionPaths compares ParseSubmission, which takes the one-pass reader for a
// plain native body, with the full path it replaced (strict check, probe, encoding/json).
func BenchmarkParseSubmissionPaths(b *testing.B) {
	native, err := os.ReadFile("testdata/native/mental-health.json")
	if err != nil {
		b.Fatal(err)
	}
	coded := []byte(`{"form":"mental-health","form_version":1,"subject":{"ref":"9434765919","name":"Zoë Ó Briain","age":38,"postcode":"LS1 4AP",` +
		`"contact":{"preference":"sms","phone":"+44 7700 900123"}},"answers":{"/44250-9":{"system":"http://loinc.org","code":"LA6570-1"},` +
		`"phq9_2":2,"phq9_3":1,"phq9_4":3,"phq9_5":0,"phq9_6":2,"phq9_7":1,"phq9_8":1,"phq9_9":1,"risk_plan":false,"risk_intent":null}}`)
	for _, doc := range []struct {
		name string
		data []byte
	}{{"sample", native}, {"coded", coded}} {
		for _, path := range []struct {
			name  string
			parse func([]byte) (*Submission, error)
		}{{"one-pass", ParseSubmission}, {"full", parseFull}} {
			b.Run(doc.name+"/"+path.name, func(b *testing.B) {
				b.SetBytes(int64(len(doc.data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := path.parse(doc.data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
