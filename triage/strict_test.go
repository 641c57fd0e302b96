package triage_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/carepath/carepath/triage"
)

// TestParseSubmissionRefusesAmbiguousInput holds both formats to one reading: a field given twice
// or spelt in another case is refused, naming it, and so is text PostgreSQL cannot store.
func TestParseSubmissionRefusesAmbiguousInput(t *testing.T) {
	native, err := os.ReadFile("testdata/native/mental-health.json")
	if err != nil {
		t.Fatal(err)
	}
	fhir, err := os.ReadFile("testdata/fhir/mental-health.json")
	if err != nil {
		t.Fatal(err)
	}
	n, f := string(native), string(fhir)
	twice := "is given more than once; give each field once, so the answer cannot be read two ways"
	tests := []struct {
		name, body, field, reason string
	}{
		{"native answer twice", strings.Replace(n, `"risk_plan": false`, `"risk_plan": true, "risk_plan": false`, 1), "answers.risk_plan", twice},
		{"native form twice", strings.Replace(n, `"form": "mental-health"`, `"form": "discharge", "form": "mental-health"`, 1), "form", twice},
		{"native subject field twice", strings.Replace(n, `"ref": "9434765919"`, `"ref": "a", "ref": "9434765919"`, 1), "subject.ref", twice},
		{"native FORM", strings.Replace(n, `"form"`, `"FORM"`, 1), "FORM", `is not a field: field names are case-sensitive; write "form"`},
		{"native Subject", strings.Replace(n, `"subject"`, `"Subject"`, 1), "Subject", `is not a field: field names are case-sensitive; write "subject"`},
		{"native location LAT", strings.Replace(n, `"lat"`, `"LAT"`, 1), "subject.location.LAT", `is not a field: field names are case-sensitive; write "lat"`},
		{"native NUL", strings.Replace(n, `"9434765919"`, `"94347\u000065919"`, 1), "subject.ref", "contains the character U+0000, which is not allowed in text"},
		{"native form_version out of range", strings.Replace(n, `"form_version": 1`, `"form_version": 99999999999999`, 1), "form_version",
			"99999999999999 is not a form version: versions run from 1 to 2147483647 (0 or none means the latest)"},
		{"native form_version negative", strings.Replace(n, `"form_version": 1`, `"form_version": -1`, 1), "form_version",
			"-1 is not a form version: versions run from 1 to 2147483647 (0 or none means the latest)"},
		{"FHIR status twice", strings.Replace(f, `"status": "completed"`, `"status": "entered-in-error", "status": "completed"`, 1), "status", twice},
		{"FHIR answer twice", strings.Replace(f, `"code": "LA6569-3"`, `"code": "LA6570-1", "code": "LA6569-3"`, 1), "item[0].item[0].item[0].answer[0].valueCoding.code", twice},
		{"FHIR RESOURCETYPE", strings.Replace(f, `"resourceType": "QuestionnaireResponse"`, `"RESOURCETYPE": "QuestionnaireResponse"`, 1), "RESOURCETYPE",
			`is not a field: field names are case-sensitive; write "resourceType"`},
		{"FHIR LinkId", strings.Replace(f, `"linkId": "44250-9"`, `"LinkId": "44250-9"`, 1), "item[0].item[0].item[0].LinkId",
			`is not a field: field names are case-sensitive; write "linkId"`},
		{"FHIR contained Patient BirthDate", strings.Replace(f, `"birthDate"`, `"BirthDate"`, 1), "contained[0].BirthDate",
			`is not a field: field names are case-sensitive; write "birthDate"`},
		{"FHIR NUL", strings.Replace(f, `"9434765919"`, `"9434765919\u0000"`, 1), "contained[0].identifier[0].value", "contains the character U+0000, which is not allowed in text"},
		{"FHIR questionnaire version out of range", strings.Replace(f, `mental-health|1"`, `mental-health|99999999999999"`, 1), "form_version",
			"99999999999999 is not a form version: versions run from 1 to 2147483647 (0 or none means the latest)"},
	}
	for _, tt := range tests {
		if !strings.Contains(tt.body, tt.field[strings.LastIndexAny(tt.field, ".]")+1:]) && tt.field != "form_version" {
			t.Fatalf("%s: the edit did not apply", tt.name)
		}
		_, err := triage.ParseSubmission([]byte(tt.body))
		var ve *triage.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: %v, want a validation error", tt.name, err)
			continue
		}
		found := false
		for _, p := range ve.Problems {
			found = found || p.Field == tt.field && p.Reason == tt.reason
		}
		if !found {
			t.Errorf("%s: problems %+v, want %s: %s", tt.name, ve.Problems, tt.field, tt.reason)
		}
	}
	// The unchanged documents are accepted, so the refusals above are the edits'.
	for _, body := range []string{n, f} {
		if _, err := triage.ParseSubmission([]byte(body)); err != nil {
			t.Errorf("unchanged: %v", err)
		}
	}
}

// BenchmarkParseSubmission measures decoding a native submission, strict checks included; the
// checks alone are BenchmarkCheck in internal/strictjson.
func BenchmarkParseSubmission(b *testing.B) {
	data, err := os.ReadFile("testdata/native/mental-health.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := triage.ParseSubmission(data); err != nil {
			b.Fatal(err)
		}
	}
}
