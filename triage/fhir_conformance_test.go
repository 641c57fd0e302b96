package triage

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/carepath/carepath/rules"
)

const (
	mhURL  = "https://carepath.org.uk/fhir/Questionnaire/mental-health"
	snomed = "http://snomed.info/sct"
	// phq9_1 in the sample response, where it is answered by its LOINC code inside two groups.
	phq9_1Path = "QuestionnaireResponse.item.where(linkId='assessment').item.where(linkId='44249-1').item.where(linkId='44250-9')"
)

// sampleResponse is testdata/fhir/mental-health.json decoded, for a test to edit.
func sampleResponse(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fhir", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// linkItem finds the item with linkID anywhere in doc's items.
func linkItem(t testing.TB, doc map[string]any, linkID string) map[string]any {
	t.Helper()
	var find func(items any) map[string]any
	find = func(items any) map[string]any {
		list, _ := items.([]any)
		for _, x := range list {
			it := x.(map[string]any)
			if it["linkId"] == linkID {
				return it
			}
			if found := find(it["item"]); found != nil {
				return found
			}
		}
		return nil
	}
	it := find(doc["item"])
	if it == nil {
		t.Fatalf("no item %q in the sample", linkID)
	}
	return it
}

// decodeJSON decodes a JSON snippet of a test case.
func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return v
}

func encodeJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// setAnswer replaces the answer of the item with linkID.
func setAnswer(t testing.TB, doc map[string]any, linkID, answer string) {
	t.Helper()
	linkItem(t, doc, linkID)["answer"] = []any{decodeJSON(t, answer)}
}

// addItem appends an item, given as JSON, to the response's top level.
func addItem(t testing.TB, doc map[string]any, item string) {
	t.Helper()
	doc["item"] = append(doc["item"].([]any), decodeJSON(t, item))
}

// assessFHIR parses body and validates it against form, as the engine does before deciding.
func assessFHIR(form *Form, body []byte) ([]rules.Value, error) {
	sub, err := ParseSubmission(body)
	if err != nil {
		return nil, err
	}
	return form.Validate(sub)
}

// fhirCase is one edit of the sample response and what the mental-health form must make of it:
// accepted when field is "", else refused with a problem naming field.
type fhirCase struct {
	name                                string
	edit                                func(t testing.TB, doc map[string]any)
	field, reasonHas, issue, expression string
	notFHIR                             bool // the edit breaks the FHIR schema on purpose
}

// runFHIRCases checks each case, and that every response but those marked notFHIR is valid FHIR R4,
// so the cases test what real FHIR clients can send.
func runFHIRCases(t *testing.T, tests []fhirCase) {
	t.Helper()
	form := demoForm(t, "mental-health")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := sampleResponse(t)
			tt.edit(t, doc)
			body := encodeJSON(t, doc)
			if !tt.notFHIR {
				checkFHIRSchema(t, "QuestionnaireResponse", body)
			}
			_, err := assessFHIR(form, body)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantProblem(t, err, tt.field, tt.reasonHas, tt.issue, tt.expression)
		})
	}
}

// wantProblem fails t unless err is a *ValidationError with a problem naming field, whose reason has
// reasonHas and, when given, whose OperationOutcome issue type and FHIRPath expression are as given.
func wantProblem(t testing.TB, err error, field, reasonHas, issue, expression string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *ValidationError naming %s", err, field)
	}
	for _, p := range ve.Problems {
		if p.Field != field {
			continue
		}
		if !strings.Contains(p.Reason, reasonHas) {
			t.Errorf("%s: reason %q lacks %q", field, p.Reason, reasonHas)
		}
		if issue != "" && p.FHIRIssueType() != issue {
			t.Errorf("%s: issue type %q, want %q", field, p.FHIRIssueType(), issue)
		}
		if expression != "" && p.FHIRExpression() != expression {
			t.Errorf("%s: expression %q, want %q", field, p.FHIRExpression(), expression)
		}
		return
	}
	t.Errorf("no problem names %s: %v", field, err)
}

func TestFHIRStatus(t *testing.T) {
	status := func(s string) func(testing.TB, map[string]any) {
		return func(_ testing.TB, doc map[string]any) {
			if s == "" {
				delete(doc, "status")
			} else {
				doc["status"] = s
			}
		}
	}
	const expr = "QuestionnaireResponse.status"
	runFHIRCases(t, []fhirCase{
		{name: "completed", edit: status("completed")},
		{name: "amended", edit: status("amended")},
		{name: "in progress", edit: status("in-progress"), field: "status", reasonHas: `"in-progress": the response is not finished; only completed or amended`, issue: "value", expression: expr},
		{name: "stopped", edit: status("stopped"), field: "status", reasonHas: `"stopped": the response is not finished`, issue: "value", expression: expr},
		{name: "entered in error", edit: status("entered-in-error"), field: "status", reasonHas: `"entered-in-error": the response was withdrawn and must not be acted on`, issue: "value", expression: expr},
		{name: "missing", edit: status(""), field: "status", reasonHas: "is required: only completed or amended", issue: "required", expression: expr},
		{name: "not a status", edit: status("final"), field: "status", reasonHas: `"final", which is not a QuestionnaireResponse status`, issue: "value", expression: expr, notFHIR: true},
	})
}

func TestFHIRModifiers(t *testing.T) {
	const url = "https://example.org/fhir/StructureDefinition/not-asked"
	mod := `[{"url":"` + url + `","valueBoolean":true}]`
	runFHIRCases(t, []fhirCase{
		{name: "plain extensions are read past", edit: func(t testing.TB, doc map[string]any) {
			doc["extension"] = decodeJSON(t, mod)
			linkItem(t, doc, "44250-9")["extension"] = decodeJSON(t, mod)
		}},
		{name: "on the resource", edit: func(t testing.TB, doc map[string]any) { doc["modifierExtension"] = decodeJSON(t, mod) },
			field: "modifierExtension[0]", reasonHas: `modifier extension "` + url + `" is not understood`, issue: "not-supported",
			expression: "QuestionnaireResponse.modifierExtension[0]"},
		{name: "on a nested item", edit: func(t testing.TB, doc map[string]any) {
			linkItem(t, doc, "44250-9")["modifierExtension"] = decodeJSON(t, mod)
		},
			field:     "item.where(linkId='assessment').item.where(linkId='44249-1').item.where(linkId='44250-9').modifierExtension[0]",
			reasonHas: url, issue: "not-supported", expression: phq9_1Path + ".modifierExtension[0]"},
		{name: "on a group", edit: func(t testing.TB, doc map[string]any) {
			linkItem(t, doc, "assessment")["modifierExtension"] = decodeJSON(t, `[{"url":"a"},{"url":"`+url+`"}]`)
		},
			field: "item.where(linkId='assessment').modifierExtension[1]", reasonHas: url, issue: "not-supported"},
		{name: "on an answer", edit: func(t testing.TB, doc map[string]any) {
			setAnswer(t, doc, "risk_plan", `{"valueBoolean":false,"modifierExtension":`+mod+`}`)
		},
			field: "item.where(linkId='risk_plan').answer[0].modifierExtension[0]", reasonHas: url, issue: "not-supported",
			expression: "QuestionnaireResponse.item.where(linkId='risk_plan').answer[0].modifierExtension[0]"},
		{name: "on the contained patient", edit: func(t testing.TB, doc map[string]any) {
			doc["contained"].([]any)[0].(map[string]any)["modifierExtension"] = decodeJSON(t, mod)
		},
			field: "contained[0].modifierExtension[0]", reasonHas: url, issue: "not-supported"},
		{name: "implicit rules", edit: func(_ testing.TB, doc map[string]any) { doc["implicitRules"] = "https://example.org/rules" },
			field: "implicitRules", reasonHas: `"https://example.org/rules" that Carepath does not understand`, issue: "not-supported",
			expression: "QuestionnaireResponse.implicitRules"},
	})
}

func TestFHIRCodingSystem(t *testing.T) {
	coding := func(system, code string) func(testing.TB, map[string]any) {
		return func(t testing.TB, doc map[string]any) {
			setAnswer(t, doc, "44250-9", `{"valueCoding":{"system":"`+system+`","code":"`+code+`"}}`)
		}
	}
	runFHIRCases(t, []fhirCase{
		{name: "LOINC answer code", edit: coding(loincSystem, "LA6570-1")},
		{name: "option code in the form's system", edit: coding(mhURL, "2")},
		{name: "option code under LOINC", edit: coding(loincSystem, "2"),
			field: "answers.phq9_1", reasonHas: `coding "2" is not one of the LOINC answer codes LA6568-5, LA6569-3, LA6570-1, LA6571-9 (system http://loinc.org)`,
			issue: "value", expression: phq9_1Path},
		{name: "LOINC answer code under SNOMED", edit: coding(snomed, "LA6570-1"),
			field: "answers.phq9_1", reasonHas: `coding system "http://snomed.info/sct" is not this item's: use http://loinc.org with a LOINC answer code, or ` + mhURL + ` with an option code`,
			issue: "value", expression: phq9_1Path},
		{name: "LOINC answer code in the form's system", edit: coding(mhURL, "LA6570-1"),
			field: "answers.phq9_1", reasonHas: `coding "LA6570-1" is not one of the option codes 0, 1, 2, 3 (system ` + mhURL + `)`},
		{name: "no system", edit: func(t testing.TB, doc map[string]any) {
			setAnswer(t, doc, "44250-9", `{"valueCoding":{"code":"LA6570-1"}}`)
		},
			field: "answers.44250-9", reasonHas: "valueCoding has no system", issue: "value", expression: phq9_1Path + ".answer[0]"},
	})

	// An item without LOINC answer codes takes its option codes in the form's system only.
	ks := testForm(t, "kitchen-sink")
	body := func(system string) []byte {
		return []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"https://carepath.org.uk/fhir/Questionnaire/kitchen-sink|3",
			"subject":{"reference":"Patient/1"},"item":[{"linkId":"visits","answer":[{"valueInteger":2}]},
			{"linkId":"housing","answer":[{"valueCoding":{"system":"` + system + `","code":"rent"}}]}]}`)
	}
	checkFHIRSchema(t, "QuestionnaireResponse", body(ks.URL))
	if _, err := assessFHIR(ks, body(ks.URL)); err != nil {
		t.Errorf("option code in the form's system: %v", err)
	}
	_, err := assessFHIR(ks, body(loincSystem))
	wantProblem(t, err, "answers.housing", `coding "rent" has system http://loinc.org, but this item has no LOINC answer codes; use system `+ks.URL, "value",
		"QuestionnaireResponse.item.where(linkId='housing')")
	_, err = assessFHIR(ks, body(snomed))
	wantProblem(t, err, "answers.housing", `coding system "http://snomed.info/sct" is not this item's: use `+ks.URL+" with one of the option codes own, rent, none", "", "")

	// Native submissions may leave the system out, but one they give is checked too.
	f := demoForm(t, "mental-health")
	for _, tc := range []struct {
		c  Coding
		ok bool
	}{
		{Coding{Code: "3"}, true},
		{Coding{Code: "LA6571-9"}, true},
		{Coding{System: mhURL, Code: "3"}, true},
		{Coding{System: loincSystem, Code: "3"}, false},
		{Coding{System: snomed, Code: "LA6571-9"}, false},
	} {
		sub := validSubmission("mental-health")
		sub.Answers["phq9_1"] = tc.c
		values, err := f.Validate(sub)
		if tc.ok && (err != nil || values[0] != rules.Int(3)) {
			t.Errorf("native %+v: %v %v, want score 3", tc.c, err, values)
		}
		if !tc.ok && err == nil {
			t.Errorf("native %+v accepted", tc.c)
		}
	}
}

func TestFHIRQuestionnaireCanonical(t *testing.T) {
	canonical := func(q string) func(testing.TB, map[string]any) {
		return func(_ testing.TB, doc map[string]any) { doc["questionnaire"] = q }
	}
	const expr = "QuestionnaireResponse.questionnaire"
	runFHIRCases(t, []fhirCase{
		{name: "url", edit: canonical(mhURL)},
		{name: "url and version", edit: canonical(mhURL + "|1")},
		{name: "another base", edit: canonical("https://example.org/fhir/Questionnaire/mental-health|1"),
			field: "questionnaire", reasonHas: `must be the form's canonical URL ` + mhURL + `, optionally with |version, got "https://example.org/fhir/Questionnaire/mental-health"`,
			issue: "value", expression: expr},
		{name: "relative", edit: canonical("Questionnaire/mental-health"), field: "questionnaire", reasonHas: `got "Questionnaire/mental-health"`, expression: expr},
		{name: "bare form id", edit: canonical("mental-health"), field: "questionnaire", reasonHas: `got "mental-health"`},
		{name: "trailing slash", edit: canonical(mhURL + "/"), field: "questionnaire", reasonHas: "canonical URL"},
		{name: "other version", edit: canonical(mhURL + "|2"), field: "form_version", reasonHas: "must be 1 or omitted", issue: "value", expression: expr},
	})
}

func TestFHIRDerivedAndExtraItems(t *testing.T) {
	// The sample's PHQ-9 answers add up to 12 and its GAD-7 answers to 11.
	item := func(s string) func(testing.TB, map[string]any) {
		return func(t testing.TB, doc map[string]any) { addItem(t, doc, s) }
	}
	runFHIRCases(t, []fhirCase{
		{name: "PHQ-9 total as LOINC's form sends it", edit: item(`{"linkId":"/44261-6","answer":[{"valueDecimal":12}]}`)},
		{name: "PHQ-9 total as an integer", edit: item(`{"linkId":"44261-6","answer":[{"valueInteger":12}]}`)},
		{name: "GAD-7 total as a quantity", edit: item(`{"linkId":"/69737-5/70274-6","answer":[{"valueQuantity":{"value":11,"unit":"{score}","system":"http://unitsofmeasure.org","code":"{score}"}}]}`)},
		{name: "difficulty item", edit: item(`{"linkId":"/69722-7","answer":[{"valueCoding":{"system":"http://loinc.org","code":"LA6573-5","display":"Somewhat difficult"}}]}`)},
		{name: "unanswered total", edit: item(`{"linkId":"/44261-6","text":"Total"}`)},
		{name: "PHQ-9 total that disagrees", edit: item(`{"linkId":"/44261-6","answer":[{"valueDecimal":13}]}`),
			field: "answers./44261-6", reasonHas: "gives the total phq9_total as 13, but the answers add up to 12", issue: "value",
			expression: "QuestionnaireResponse.item.where(linkId='/44261-6')"},
		{name: "GAD-7 quantity that disagrees", edit: item(`{"linkId":"70274-6","answer":[{"valueQuantity":{"value":10}}]}`),
			field: "answers.70274-6", reasonHas: "gives the total gad7_total as 10, but the answers add up to 11"},
		{name: "fractional total", edit: item(`{"linkId":"/44261-6","answer":[{"valueDecimal":12.5}]}`),
			field: "answers./44261-6", reasonHas: "is the total phq9_total and must be a whole number, got 12.5"},
		{name: "fractional quantity", edit: item(`{"linkId":"/44261-6","answer":[{"valueQuantity":{"value":12.5}}]}`),
			field: "answers./44261-6", reasonHas: "must be a whole number, got a valueQuantity of 12.5"},
		{name: "total as text", edit: item(`{"linkId":"/44261-6","answer":[{"valueString":"12"}]}`),
			field: "answers./44261-6", reasonHas: `is the total phq9_total and must be a number, got "12"`},
		{name: "quantity for a question", edit: func(t testing.TB, doc map[string]any) {
			setAnswer(t, doc, "risk_plan", `{"valueQuantity":{"value":1}}`)
		}, field: "answers.risk_plan", reasonHas: "must be true or false, got a valueQuantity of 1"},
		{name: "other LOINC item", edit: item(`{"linkId":"/44249-1/12345-6","answer":[{"valueInteger":1}]}`),
			field: "answers./44249-1/12345-6", reasonHas: "is not an item on form mental-health version 1", issue: "value",
			expression: "QuestionnaireResponse.item.where(linkId='/44249-1/12345-6')"},
	})

	// A total with answers missing cannot be checked; the missing answer is the problem.
	doc := sampleResponse(t)
	linkItem(t, doc, "44250-9")["answer"] = []any{}
	addItem(t, doc, `{"linkId":"/44261-6","answer":[{"valueInteger":40}]}`)
	_, err := assessFHIR(demoForm(t, "mental-health"), encodeJSON(t, doc))
	wantProblem(t, err, "answers.phq9_1", "is required", "required", "QuestionnaireResponse")
	if ve := (*ValidationError)(nil); errors.As(err, &ve) && len(ve.Problems) != 1 {
		t.Errorf("problems = %v, want only the missing answer", ve.Problems)
	}

	// Native submissions name items by id or LOINC code and carry no totals.
	sub := validSubmission("mental-health")
	sub.Answers["44261-6"] = int64(12)
	_, err = demoForm(t, "mental-health").Validate(sub)
	wantProblem(t, err, "answers.44261-6", "is not an item", "value", "")
}

// TestLOINCFormResponse sends PHQ-9 as LOINC's own form lays it out: path-style linkIds under the
// panel, its difficulty item and its total, and the GAD-7 total as a quantity. It must decide as
// the plain response does.
func TestLOINCFormResponse(t *testing.T) {
	f := demoForm(t, "mental-health")
	var canon [][]byte
	for _, path := range []string{"testdata/fhir/mental-health.json", "testdata/fhir/mental-health-loinc-phq9.json"} {
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
		scores := f.Score(values)
		if scores[0] != rules.Int(12) || scores[2] != rules.Int(11) {
			t.Errorf("%s: scores %v, want PHQ-9 12 and GAD-7 11", path, scores)
		}
		c, err := f.Canonical(sub, values)
		if err != nil {
			t.Fatal(err)
		}
		canon = append(canon, c)
	}
	if !bytes.Equal(canon[0], canon[1]) {
		t.Errorf("canonical JSON differs:\nplain %s\nLOINC %s", canon[0], canon[1])
	}
}

// TestFHIRProblemsLocated checks that problems Validate names by item id point at the item as sent.
func TestFHIRProblemsLocated(t *testing.T) {
	f := demoForm(t, "mental-health")
	doc := sampleResponse(t)
	setAnswer(t, doc, "/44255-8", `{"valueCoding":{"system":"http://loinc.org","code":"LA9999-9"}}`)
	setAnswer(t, doc, "risk_plan", `{"valueString":"no"}`)
	linkItem(t, doc, "69736-7")["answer"] = []any{}
	doc["subject"] = map[string]any{"reference": "#nobody"}
	_, err := assessFHIR(f, encodeJSON(t, doc))
	wantProblem(t, err, "subject.ref", "not a contained Patient", "invalid", "QuestionnaireResponse.subject")

	doc = sampleResponse(t)
	setAnswer(t, doc, "/44255-8", `{"valueCoding":{"system":"http://loinc.org","code":"LA9999-9"}}`)
	setAnswer(t, doc, "risk_plan", `{"valueString":"no"}`)
	linkItem(t, doc, "69736-7")["answer"] = []any{}
	_, err = assessFHIR(f, encodeJSON(t, doc))
	wantProblem(t, err, "answers.phq9_2", "LA9999-9", "value", "QuestionnaireResponse.item.where(linkId='assessment').item.where(linkId='44249-1').item.where(linkId='/44255-8')")
	wantProblem(t, err, "answers.risk_plan", "true or false", "value", "QuestionnaireResponse.item.where(linkId='risk_plan')")
	wantProblem(t, err, "answers.gad7_7", "is required", "required", "QuestionnaireResponse")

	// Items nested in an answer, items without a linkId, and quotes in a linkId.
	body := []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"` + mhURL + `",
		"item":[{"item":[{"linkId":"it's","answer":[{"valueBoolean":true,"item":[{"linkId":"x","answer":[{"valueInteger":1},{"valueInteger":2}]}]}]}]}]}`)
	_, err = ParseSubmission(body)
	wantProblem(t, err, "answers.x", "more than one answer", "value", `QuestionnaireResponse.item[0].item.where(linkId='it\'s').answer[0].item.where(linkId='x')`)
	_, err = ParseSubmission([]byte(`{"resourceType":"QuestionnaireResponse","status":"completed","item":{"linkId":"a"}}`))
	wantProblem(t, err, "item", "must be a JSON array", "structure", "QuestionnaireResponse.item")
	_, err = ParseSubmission([]byte(`{"resourceType":"QuestionnaireResponse","status":"completed",`))
	wantProblem(t, err, "body", "", "structure", "")
}

// TestFHIRConformsToSchema validates what Carepath writes (Questionnaires) and the FHIR inputs its
// tests and fixtures use against the official FHIR R4 JSON schema.
func TestFHIRConformsToSchema(t *testing.T) {
	for _, f := range []*Form{demoForm(t, "mental-health"), demoForm(t, "discharge"), testForm(t, "kitchen-sink")} {
		t.Run("Questionnaire "+f.ID, func(t *testing.T) {
			q, err := f.Questionnaire()
			if err != nil {
				t.Fatal(err)
			}
			checkFHIRSchema(t, "Questionnaire", q)
		})
	}
	responses, err := filepath.Glob(filepath.Join("testdata", "fhir", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	others, err := filepath.Glob(filepath.Join("..", "cli", "testdata", "*", "*.fhir.json"))
	if err != nil {
		t.Fatal(err)
	}
	responses = append(responses, others...)
	if len(responses) < 2 {
		t.Fatalf("only %d sample responses found", len(responses))
	}
	form := demoForm(t, "mental-health")
	for _, path := range responses {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkFHIRSchema(t, "QuestionnaireResponse", data)
			if _, err := assessFHIR(form, data); err != nil {
				t.Errorf("sample refused: %v", err)
			}
		})
	}
}

// checkFHIRProblems is the fuzz oracle's part for FHIR input: every problem maps to an issue type
// of FHIR R4's IssueType value set and, when located, to an expression within the resource.
func checkFHIRProblems(t *testing.T, err error) {
	fhirIssueTypes := []string{"invalid", "structure", "required", "value", "invariant", "security", "login", "unknown", "expired",
		"forbidden", "suppressed", "processing", "not-supported", "duplicate", "multiple-matches", "not-found", "deleted", "too-long",
		"code-invalid", "extension", "too-costly", "business-rule", "conflict", "transient", "lock-error", "no-store", "exception",
		"timeout", "incomplete", "throttled", "informational"}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return
	}
	for _, p := range ve.Problems {
		if !slices.Contains(fhirIssueTypes, p.FHIRIssueType()) {
			t.Fatalf("problem %+v has issue type %q", p, p.FHIRIssueType())
		}
		if e := p.FHIRExpression(); e != "" && !strings.HasPrefix(e, "QuestionnaireResponse") {
			t.Fatalf("problem %+v has expression %q", p, e)
		}
	}
}
