package triage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFHIR(t *testing.T) {
	data, err := os.ReadFile("testdata/fhir/mental-health.json")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := ParseSubmission(data)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Form != "mental-health" || sub.FormVersion != 1 {
		t.Errorf("form = %q version %d", sub.Form, sub.FormVersion)
	}
	want := Subject{Ref: "9434765919", BirthDate: "1987-04-12", Postcode: "LS1 4AP", Location: &Location{Lat: 53.7997, Lon: -1.5492}}
	got := sub.Subject
	if got.Ref != want.Ref || got.BirthDate != want.BirthDate || got.Postcode != want.Postcode || got.Location == nil || *got.Location != *want.Location {
		t.Errorf("subject = %+v, want %+v", got, want)
	}
	if sub.Authored == nil || !sub.Authored.Equal(time.Date(2025, 6, 14, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("authored = %v", sub.Authored)
	}
	// Answers keep their linkIds: LOINC with and without "/", and item ids, from inside nested groups.
	for key, want := range map[string]any{
		"44250-9":    Coding{System: loincSystem, Code: "LA6569-3", Display: "Several days"},
		"/44255-8":   Coding{System: loincSystem, Code: "LA6570-1", Display: "More than half the days"},
		"phq9_4":     int64(3),
		"69736-7":    Coding{System: loincSystem, Code: "LA6570-1", Display: "More than half the days"},
		"risk_plan":  false,
		"assessment": nil,
	} {
		if got := sub.Answers[key]; got != want {
			t.Errorf("answers[%q] = %#v, want %#v", key, got, want)
		}
	}
	if len(sub.Answers) != 20 {
		t.Errorf("answers = %d, want 20", len(sub.Answers))
	}
}

func TestParseFHIRSubjectAndValues(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		subject Subject
		answers map[string]any
		form    string
		version int
	}{
		{"plain reference and relative questionnaire",
			`{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"Questionnaire/discharge","subject":{"reference":"Patient/123"},"item":[{"linkId":"cfs","answer":[{"valueInteger":4}]}]}`,
			Subject{Ref: "Patient/123"}, map[string]any{"cfs": int64(4)}, "discharge", 0},
		{"identifier reference, all value types",
			`{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"https://x/Questionnaire/kitchen-sink|3","subject":{"identifier":{"value":"943"}},"item":[` +
				`{"linkId":"weight_kg","answer":[{"valueDecimal":70.5}]},{"linkId":"note","answer":[{"valueString":"hi"}]},` +
				`{"linkId":"seen_on","answer":[{"valueDate":"2024-01-02"}]},{"linkId":"dt","answer":[{"valueDateTime":"2024-01-02T03:04:05Z"}]},` +
				`{"linkId":"g","item":[{"linkId":"q","answer":[{"valueBoolean":true,"item":[{"linkId":"child","answer":[{"valueInteger":1}]}]}]}]}]}`,
			Subject{Ref: "943"}, map[string]any{"weight_kg": 70.5, "note": "hi", "seen_on": "2024-01-02", "dt": "2024-01-02T03:04:05Z", "q": true, "child": int64(1)}, "kitchen-sink", 3},
		{"contained patient without identifier, geolocation on patient",
			`{"resourceType":"QuestionnaireResponse","status":"amended","questionnaire":"mental-health","contained":[{"resourceType":"Organization","id":"p"},{"resourceType":"Patient","id":"p","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/geolocation","extension":[{"url":"longitude","valueDecimal":-2.5},{"url":"latitude","valueDecimal":51}]}]}],"subject":{"reference":"#p"},"authored":"2024-05-01"}`,
			Subject{Ref: "p", Location: &Location{Lat: 51, Lon: -2.5}}, map[string]any{}, "mental-health", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := ParseSubmission([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if sub.Form != tt.form || sub.FormVersion != tt.version {
				t.Errorf("form = %q v%d, want %q v%d", sub.Form, sub.FormVersion, tt.form, tt.version)
			}
			s := sub.Subject
			if s.Ref != tt.subject.Ref || (s.Location == nil) != (tt.subject.Location == nil) || s.Location != nil && *s.Location != *tt.subject.Location {
				t.Errorf("subject = %+v, want %+v", s, tt.subject)
			}
			if len(sub.Answers) != len(tt.answers) {
				t.Errorf("answers = %v, want %v", sub.Answers, tt.answers)
			}
			for k, v := range tt.answers {
				if sub.Answers[k] != v {
					t.Errorf("answers[%s] = %#v, want %#v", k, sub.Answers[k], v)
				}
			}
		})
	}
}

func TestParseFHIRProblems(t *testing.T) {
	const head = `{"resourceType":"QuestionnaireResponse","status":"completed",`
	tests := []struct {
		name, body, field, reasonHas string
	}{
		{"non-integer version", head + `"questionnaire":"https://x/Questionnaire/mental-health|1.0.0"}`, "form_version", `"1.0.0"`},
		{"no questionnaire", head + `"item":[]}`, "questionnaire", "must name the form"},
		{"missing contained patient", head + `"questionnaire":"q","subject":{"reference":"#nope"}}`, "subject.ref", "not a contained Patient"},
		{"two values", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueInteger":1,"valueString":"1"}]}]}`, "answers.a", "more than one value[x]"},
		{"two answers", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueInteger":1},{"valueInteger":2}]}]}`, "answers.a", "more than one answer"},
		{"repeated linkId", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueInteger":1}]},{"linkId":"g","item":[{"linkId":"a","answer":[{"valueInteger":1}]}]}]}`, "answers.a", "more than once"},
		{"unsupported value", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueAttachment":{"url":"x"}}]}]}`, "answers.a", "no supported value"},
		{"quantity without a value", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueQuantity":{"unit":"{score}"}}]}]}`, "answers.a", "valueQuantity needs a numeric value"},
		{"coding without a system", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueCoding":{"code":"3"}}]}]}`, "answers.a", "valueCoding has no system"},
		{"coding without a code", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueCoding":{"system":"http://loinc.org"}}]}]}`, "answers.a", "valueCoding has no code"},
		{"fractional valueInteger", head + `"questionnaire":"q","item":[{"linkId":"a","answer":[{"valueInteger":1.5}]}]}`, "answers.a", "not a whole number"},
		{"bad authored", head + `"questionnaire":"q","authored":"14/06/2025"}`, "authored", "FHIR dateTime"},
		{"half a geolocation", head + `"questionnaire":"q","subject":{"reference":"#p"},"contained":[{"resourceType":"Patient","id":"p","address":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/geolocation","extension":[{"url":"latitude","valueDecimal":51}]}]}]}]}`, "subject.location", "both latitude and longitude"},
		{"wrong item type", head + `"questionnaire":"q","item":{"linkId":"a"}}`, "item", "must be a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSubmission([]byte(tt.body))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if p := ve.Problems[0]; p.Field != tt.field || !strings.Contains(p.Reason, tt.reasonHas) {
				t.Errorf("problem = %+v, want field %s with %q", p, tt.field, tt.reasonHas)
			}
		})
	}
}

// TestNativeAndFHIRCanonicalEqual sends the same assessment both ways; the stored form must not depend on the wire format.
func TestNativeAndFHIRCanonicalEqual(t *testing.T) {
	f := demoForm(t, "mental-health")
	var canon [][]byte
	for _, path := range []string{"testdata/native/mental-health.json", "testdata/fhir/mental-health.json"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := ParseSubmission(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		values, err := f.Validate(sub)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		c, err := f.Canonical(sub, values)
		if err != nil {
			t.Fatal(err)
		}
		canon = append(canon, c)
	}
	if !bytes.Equal(canon[0], canon[1]) {
		t.Errorf("canonical JSON differs:\nnative %s\nFHIR   %s", canon[0], canon[1])
	}
}

// FuzzParseFHIR feeds QuestionnaireResponses to the parser and the mental-health form. Seeds: every
// sample response, the edge cases of the conformance tests, and testdata/fuzz/FuzzParseFHIR.
func FuzzParseFHIR(f *testing.F) {
	samples, err := filepath.Glob(filepath.Join("testdata", "fhir", "*.json"))
	if err != nil || len(samples) == 0 {
		f.Fatalf("no sample responses (%v)", err)
	}
	for _, path := range samples {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	const head = `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"https://carepath.org.uk/fhir/Questionnaire/mental-health|1",`
	for _, seed := range []string{
		`{"resourceType":"QuestionnaireResponse","questionnaire":"mental-health|1","item":[{"linkId":"/44250-9","answer":[{"valueInteger":2}]}]}`,
		`{"resourceType":"QuestionnaireResponse","subject":{"reference":"#p"},"contained":[{"resourceType":"Patient","id":"p","birthDate":"2030-01-01"}]}`,
		head + `"status":"entered-in-error"}`,
		head + `"implicitRules":"x","modifierExtension":[{"url":"m"}],"item":[{"linkId":"g","modifierExtension":[{"url":"m"}],"item":[{"linkId":"a","answer":[{"valueBoolean":true,"modifierExtension":[{"url":"m"}]}]}]}]}`,
		head + `"item":[{"linkId":"/44249-1","item":[{"linkId":"/44249-1/44250-9","answer":[{"valueCoding":{"system":"http://loinc.org","code":"LA6570-1"}}]},{"linkId":"/44249-1/44261-6","answer":[{"valueDecimal":2}]}]},{"linkId":"/69722-7","answer":[{"valueCoding":{"system":"http://loinc.org","code":"LA6573-5"}}]}]}`,
		head + `"item":[{"linkId":"phq9_1","answer":[{"valueCoding":{"system":"http://snomed.info/sct","code":"LA6570-1"}}]},{"linkId":"70274-6","answer":[{"valueQuantity":{"value":3.5}}]}]}`,
		head + `"item":[{"linkId":"phq9_1","answer":[{"valueCoding":{"code":"1"}}]},{"item":[{"linkId":"it's","answer":[{"valueQuantity":{}}]}]}]}`,
	} {
		f.Add([]byte(seed))
	}
	form := demoForm(f, "mental-health")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParseAndValidate(t, form, data)
	})
}

// checkParseAndValidate is the fuzz oracle: errors are always *ValidationError, and whatever validates
// survives a canonical round trip with the same values.
func checkParseAndValidate(t *testing.T, form *Form, data []byte) {
	sub, err := ParseSubmission(data)
	if err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 {
			t.Fatalf("parse error %v is not a *ValidationError with problems", err)
		}
		checkFHIRProblems(t, err)
		return
	}
	values, err := form.Validate(sub)
	if err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 {
			t.Fatalf("validate error %v is not a *ValidationError with problems", err)
		}
		checkFHIRProblems(t, err)
		return
	}
	form.Score(values)
	sub.Subject.AgeAt(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	canon, err := form.Canonical(sub, values)
	if err != nil {
		t.Fatalf("canonical: %v", err)
	}
	back, err := ParseSubmission(canon)
	if err != nil {
		t.Fatalf("canonical does not parse: %v\n%s", err, canon)
	}
	again, err := form.Validate(back)
	if err != nil || !slices.Equal(values, again) {
		t.Fatalf("canonical round trip changed values (%v):\n%v\n%v", err, values, again)
	}
}
