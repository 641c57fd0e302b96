package triage

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/rules"
)

func TestParseNative(t *testing.T) {
	data, err := os.ReadFile("testdata/native/mental-health.json")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := ParseSubmission(data)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Form != "mental-health" || sub.FormVersion != 1 || sub.Subject.Ref != "9434765919" || sub.Subject.Location == nil {
		t.Errorf("submission = %+v", sub)
	}
	if want := time.Date(2025, 6, 14, 9, 30, 0, 0, time.UTC); sub.Authored == nil || !sub.Authored.Equal(want) {
		t.Errorf("authored = %v, want %v", sub.Authored, want)
	}
	if sub.Answers["phq9_4"] != "3" || sub.Answers["previous_high_intensity_treatment"] != true {
		t.Errorf("answers = %v", sub.Answers)
	}
}

func TestParseNativeValues(t *testing.T) {
	tests := []struct {
		json string
		want any
	}{
		{`3`, int64(3)},
		{`-3`, int64(-3)},
		{`2.0`, int64(2)},
		{`1e2`, int64(100)},
		{`2.5`, 2.5},
		{`true`, true},
		{`"LA6570-1"`, "LA6570-1"},
		{`{"system":"http://loinc.org","code":"LA6570-1","display":"More than half the days"}`, Coding{System: loincSystem, Code: "LA6570-1", Display: "More than half the days"}},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			sub, err := ParseSubmission([]byte(`{"form":"f","subject":{"ref":"p"},"answers":{"a":` + tt.json + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := sub.Answers["a"]; got != tt.want {
				t.Errorf("answer = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseSubmissionProblems(t *testing.T) {
	tests := []struct {
		name, body, field, reasonHas string
	}{
		{"not JSON", `{"form":`, "body", "unexpected end"},
		{"array body", `[1]`, "body", "must be a JSON object"},
		{"unknown field", `{"form":"f","answerz":{}}`, "body", `unknown field "answerz"`},
		{"unknown subject field", `{"form":"f","subject":{"nhs":"1"}}`, "body", `unknown field "nhs"`},
		{"wrong field type", `{"form":3}`, "form", "must be a JSON string"},
		{"bad authored", `{"form":"f","authored":"yesterday"}`, "body", "parsing time"},
		{"trailing data", `{"form":"f"} {}`, "body", "after top-level value"},
		{"array answer", `{"form":"f","answers":{"a":[1]}}`, "answers.a", "not an array"},
		{"coding without code", `{"form":"f","answers":{"a":{"system":"x"}}}`, "answers.a", "needs a code"},
		{"coding with extra field", `{"form":"f","answers":{"a":{"code":"x","version":"1"}}}`, "answers.a", `unknown field "version"`},
		{"number out of range", `{"form":"f","answers":{"a":1e400}}`, "answers.a", "out of range"},
		{"other FHIR resource", `{"resourceType":"Patient"}`, "resourceType", "must be QuestionnaireResponse"},
		{"too large", `{"form":"` + strings.Repeat("x", MaxSubmissionBytes) + `"}`, "body", "more than the limit"},
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

func TestAgeAt(t *testing.T) {
	at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	n := func(v int) *int { return &v }
	tests := []struct {
		name    string
		subject Subject
		want    rules.Value
	}{
		{"birthday today", Subject{BirthDate: "1990-03-14"}, rules.Int(35)},
		{"birthday tomorrow", Subject{BirthDate: "1990-03-15"}, rules.Int(34)},
		{"birthday last month", Subject{BirthDate: "1990-02-28"}, rules.Int(35)},
		{"leap day birth, non-leap year", Subject{BirthDate: "2000-02-29"}, rules.Int(25)},
		{"born today", Subject{BirthDate: "2025-03-14"}, rules.Int(0)},
		{"not yet born", Subject{BirthDate: "2025-03-15"}, rules.Value{}},
		{"birth date wins over age", Subject{BirthDate: "1990-03-14", Age: n(50)}, rules.Int(35)},
		{"age only", Subject{Age: n(81)}, rules.Int(81)},
		{"bad birth date falls back to age", Subject{BirthDate: "14/03/1990", Age: n(35)}, rules.Int(35)},
		{"unknown", Subject{}, rules.Value{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.subject.AgeAt(at); got != tt.want {
				t.Errorf("AgeAt = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestCanonicalGolden(t *testing.T) {
	f := demoForm(t, "mental-health")
	data, _ := os.ReadFile("testdata/native/mental-health.json")
	sub, err := ParseSubmission(data)
	if err != nil {
		t.Fatal(err)
	}
	values, err := f.Validate(sub)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Canonical(sub, values)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "canonical/mental-health.json", got)
	var compact bytes.Buffer
	if err := json.Compact(&compact, got); err != nil || !bytes.Equal(compact.Bytes(), got) {
		t.Errorf("canonical JSON is not compact (%v): %s", err, got)
	}
}

// TestCanonicalRoundTrip is a property test: canonical JSON parses and validates back to the same values,
// and canonicalising again gives the same bytes, whatever representation the answers arrived in.
func TestCanonicalRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	forms := []*Form{demoForm(t, "mental-health"), demoForm(t, "discharge"), testForm(t, "kitchen-sink")}
	for n := range 300 {
		f := forms[n%len(forms)]
		sub := randomSubmission(rng, f)
		values, err := f.Validate(sub)
		if err != nil {
			t.Fatalf("random submission invalid: %v\n%+v", err, sub)
		}
		canon, err := f.Canonical(sub, values)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSubmission(canon)
		if err != nil {
			t.Fatalf("canonical does not parse: %v\n%s", err, canon)
		}
		again, err := f.Validate(back)
		if err != nil {
			t.Fatalf("canonical does not validate: %v\n%s", err, canon)
		}
		if !slices.Equal(values, again) {
			t.Fatalf("values changed through canonical JSON:\n%v\n%v\n%s", values, again, canon)
		}
		canon2, err := f.Canonical(back, again)
		if err != nil || !bytes.Equal(canon, canon2) {
			t.Fatalf("canonical is not a fixed point (%v):\n%s\n%s", err, canon, canon2)
		}
	}
}

// randomSubmission answers every required item and some optional ones with random valid values.
func randomSubmission(rng *rand.Rand, f *Form) *Submission {
	authored := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	if rng.IntN(2) == 0 {
		authored = authored.In(time.FixedZone("BST", 3600))
	}
	sub := &Submission{Form: f.ID, Subject: Subject{Ref: "p" + string(rune('a'+rng.IntN(26)))}, Answers: map[string]any{}, Authored: &authored}
	if rng.IntN(2) == 0 {
		sub.FormVersion = f.Version
	}
	if rng.IntN(2) == 0 {
		sub.Subject.BirthDate = "19" + string(rune('1'+rng.IntN(9))) + "5-0" + string(rune('1'+rng.IntN(9))) + "-1" + string(rune('0'+rng.IntN(9)))
	}
	if rng.IntN(2) == 0 {
		age := rng.IntN(100)
		sub.Subject.Age = &age
	}
	if rng.IntN(2) == 0 {
		sub.Subject.Name = []string{"Jane Example", " Siân O'Brien-Ng ", "李 明"}[rng.IntN(3)]
		sub.Subject.Address = []string{"12 Acacia Avenue, Leeds", "Flat 3\n1 \"Quoted\" Row ", "<b>&</b>"}[rng.IntN(3)]
	}
	if rng.IntN(2) == 0 {
		sub.Subject.Location = &Location{Lat: 50 + rng.Float64()*8, Lon: -5 + rng.Float64()*6}
		sub.Subject.Postcode = []string{"ls1 4ap", "SW1A1AA", " m1  1ae "}[rng.IntN(3)]
	}
	for _, it := range f.Items {
		if !it.Required && rng.IntN(2) == 0 {
			continue
		}
		lo, hi := -1000.0, 1000.0
		if it.Min != nil {
			lo = *it.Min
		}
		if it.Max != nil {
			hi = *it.Max
		}
		var v any
		switch it.Type {
		case TypeInteger:
			v = int64(lo) + rng.Int64N(int64(hi-lo)+1)
		case TypeDecimal:
			v = lo + rng.Float64()*(hi-lo)
		case TypeBoolean:
			v = rng.IntN(2) == 0
		case TypeString:
			v = []string{"", "a <b> & c", "line\nbreak", "ünïcode"}[rng.IntN(4)]
		case TypeDate:
			v = "2023-0" + string(rune('1'+rng.IntN(9))) + "-2" + string(rune('0'+rng.IntN(9)))
		case TypeChoice:
			o := it.Options[rng.IntN(len(it.Options))]
			v = o.Code
			if o.LOINC != "" && rng.IntN(2) == 0 {
				v = Coding{System: loincSystem, Code: o.LOINC}
			}
		}
		key := it.ID
		if it.LOINC != "" && rng.IntN(2) == 0 {
			key = "/" + it.LOINC
		}
		sub.Answers[key] = v
	}
	return sub
}

func FuzzParseNative(f *testing.F) {
	data, err := os.ReadFile("testdata/native/mental-health.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"form":"mental-health","subject":{"ref":"p","age":40},"answers":{"/44250-9":{"code":"LA6570-1"},"phq9_2":2,"risk_plan":null}}`))
	f.Add([]byte(`{"form":"mental-health","subject":{"ref":"p","birth_date":"2000-02-29"},"authored":"0001-01-01T00:30:00+01:00","answers":{}}`))
	f.Add([]byte(`{"form":"mental-health","answers":{"gad7_1":1e400,"gad7_2":2.5,"gad7_3":[1]}}`))
	f.Add([]byte(`{"form":"mental-health","subject":{"ref":"p","name":" Jane\u0007 ","address":"1 Row\nLeeds","NAME":"x"},"answers":{}}`))
	f.Add([]byte(`{"form":"mental-health","subject":{"ref":"p","contact":{"preference":"sms","phone":"+44 7700 900123","email":" a@b.example "}},"answers":{"phq9_1":1}}`))
	f.Add([]byte(`{"form":"mental-health","subject":{"ref":"p","contact":{"preference":"letter","Phone":"1"},"postcode":" "},"answers":{}}`))
	form := demoForm(f, "mental-health")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParseAndValidate(t, form, data)
	})
}

// TestSubjectNameAndAddress: a subject's name and address arrive natively or in a FHIR Patient,
// are stored trimmed in the canonical input (the same bytes either way), and a bad one is refused
// by field without the value in the reason, since problems reach logs.
func TestSubjectNameAndAddress(t *testing.T) {
	f := demoForm(t, "mental-health")
	answers := `"phq9_1":"1","phq9_2":"2","phq9_3":"1","phq9_4":"3","phq9_5":"0","phq9_6":"2","phq9_7":"1","phq9_8":"1","phq9_9":"1",` +
		`"gad7_1":"2","gad7_2":"3","gad7_3":"1","gad7_4":"2","gad7_5":"0","gad7_6":"1","gad7_7":"2",` +
		`"risk_plan":false,"risk_intent":false,"previous_high_intensity_treatment":true,"under_secondary_care":false`
	native := `{"form":"mental-health","form_version":1,"authored":"2025-06-14T09:30:00Z","subject":{"ref":"9434765919",` +
		`"name":" Jane Quinton Example ","address":"12 Acacia Avenue, Leeds","postcode":"LS1 4AP"},"answers":{` + answers + `}}`
	var items []string
	for _, kv := range strings.Split(answers, ",") {
		k, v, _ := strings.Cut(kv, ":")
		value := `"valueCoding":{"system":"https://carepath.org.uk/fhir/Questionnaire/mental-health","code":` + v + `}`
		if v == "true" || v == "false" {
			value = `"valueBoolean":` + v
		}
		items = append(items, `{"linkId":`+k+`,"answer":[{`+value+`}]}`)
	}
	fhir := `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"https://carepath.org.uk/fhir/Questionnaire/mental-health|1","authored":"2025-06-14T09:30:00Z",` +
		`"contained":[{"resourceType":"Patient","id":"p","identifier":[{"value":"9434765919"}],` +
		`"name":[{"use":"official","family":"Example","given":["Jane","Quinton"]}],` +
		`"address":[{"line":["12 Acacia Avenue"],"city":"Leeds","postalCode":"LS1 4AP"}]}],` +
		`"subject":{"reference":"#p"},"item":[` + strings.Join(items, ",") + `]}`
	var canon [][]byte
	for _, body := range []string{native, fhir} {
		sub, err := ParseSubmission([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		values, err := f.Validate(sub)
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.Canonical(sub, values)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(c, []byte(`"subject":{"address":"12 Acacia Avenue, Leeds","name":"Jane Quinton Example","postcode":"LS1 4AP","ref":"9434765919"}`)) {
			t.Errorf("canonical subject: %s", c)
		}
		canon = append(canon, c)
	}
	if !bytes.Equal(canon[0], canon[1]) {
		t.Errorf("canonical JSON differs:\nnative %s\nFHIR   %s", canon[0], canon[1])
	}

	for _, tt := range []struct {
		subject, field, reason string
	}{
		{`"name":"` + strings.Repeat("é", MaxNameChars+1) + `"`, "subject.name", "must be at most 200 characters"},
		{`"address":"` + strings.Repeat("a", MaxAddressChars+1) + `"`, "subject.address", "must be at most 500 characters"},
		{`"name":"Jane\u0007Secret"`, "subject.name", "must be plain text, without control characters"},
		{`"address":"1 Row\u001bSecret"`, "subject.address", "must be plain text, without control characters"},
	} {
		sub, err := ParseSubmission([]byte(`{"form":"mental-health","subject":{"ref":"p",` + tt.subject + `},"answers":{` + answers + `}}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Validate(sub)
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != tt.field || ve.Problems[0].Reason != tt.reason {
			t.Errorf("%.40s: %v, want %s %s", tt.subject, err, tt.field, tt.reason)
		}
		if err != nil && (strings.Contains(err.Error(), "Secret") || strings.Contains(err.Error(), "éé")) {
			t.Errorf("the problem quotes the value: %v", err)
		}
	}
	// A line break belongs in an address.
	sub, err := ParseSubmission([]byte(`{"form":"mental-health","subject":{"ref":"p","address":"Flat 3\n1 Row"},"answers":{` + answers + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Validate(sub); err != nil {
		t.Errorf("an address over two lines: %v", err)
	}
}
