package triage

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/jsonscan"
)

// TestSubjectContact: a contact preference arrives natively or from a FHIR Patient's telecom, is
// stored the same way from both (trimmed, keys sorted, the same bytes every time), is read back by
// the fast subject reader, and a bad one is refused by field without quoting the number or address.
func TestSubjectContact(t *testing.T) {
	f := demoForm(t, "mental-health")
	answers := `"phq9_1":"1","phq9_2":"2","phq9_3":"1","phq9_4":"3","phq9_5":"0","phq9_6":"2","phq9_7":"1","phq9_8":"1","phq9_9":"1",` +
		`"gad7_1":"2","gad7_2":"3","gad7_3":"1","gad7_4":"2","gad7_5":"0","gad7_6":"1","gad7_7":"2",` +
		`"risk_plan":false,"risk_intent":false,"previous_high_intensity_treatment":true,"under_secondary_care":false`
	var items []string
	for _, kv := range strings.Split(answers, ",") {
		k, v, _ := strings.Cut(kv, ":")
		value := `"valueCoding":{"system":"https://carepath.org.uk/fhir/Questionnaire/mental-health","code":` + v + `}`
		if v == "true" || v == "false" {
			value = `"valueBoolean":` + v
		}
		items = append(items, `{"linkId":`+k+`,"answer":[{`+value+`}]}`)
	}
	fhir := func(patient string) string {
		return `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"https://carepath.org.uk/fhir/Questionnaire/mental-health|1","authored":"2025-06-14T09:30:00Z",` +
			`"contained":[{"resourceType":"Patient","id":"p","identifier":[{"value":"9434765919"}],` + patient + `}],` +
			`"subject":{"reference":"#p"},"item":[` + strings.Join(items, ",") + `]}`
	}
	native := func(subject string) string {
		return `{"form":"mental-health","form_version":1,"authored":"2025-06-14T09:30:00Z","subject":{"ref":"9434765919",` + subject + `},"answers":{` + answers + `}}`
	}
	canonical := func(t *testing.T, body string) []byte {
		t.Helper()
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
		return c
	}
	for _, tt := range []struct {
		name, native, fhir, want string
	}{
		{"sms by rank", `"contact":{"phone":" 07700 900123 ","preference":"sms","email":"jq@example.org"}`,
			`"telecom":[{"system":"email","value":"jq@example.org"},{"system":"phone","value":"07700 900123","rank":1},{"system":"phone","value":"0113 496 0000"}]`,
			`"subject":{"contact":{"email":"jq@example.org","phone":"07700 900123","preference":"sms"},"ref":"9434765919"}`},
		{"email by rank", `"contact":{"preference":"email","email":"jq@example.org"}`,
			`"telecom":[{"system":"email","value":"jq@example.org","rank":1}]`,
			`"subject":{"contact":{"email":"jq@example.org","preference":"email"},"ref":"9434765919"}`},
		{"letter without a rank", `"postcode":"LS1 4AP","contact":{"preference":"letter","phone":"+44 7700 900123"}`,
			`"address":[{"postalCode":"LS1 4AP"}],"telecom":[{"system":"phone","value":"+44 7700 900123","rank":2}]`,
			`"subject":{"contact":{"phone":"+44 7700 900123","preference":"letter"},"postcode":"LS1 4AP","ref":"9434765919"}`},
		{"no telecom, no contact", `"postcode":"LS1 4AP"`, `"address":[{"postalCode":"LS1 4AP"}]`,
			`"subject":{"postcode":"LS1 4AP","ref":"9434765919"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, h := canonical(t, native(tt.native)), canonical(t, fhir(tt.fhir))
			if !bytes.Equal(n, h) || !bytes.Equal(n, canonical(t, native(tt.native))) {
				t.Errorf("canonical JSON differs:\nnative %s\nFHIR   %s", n, h)
			}
			if !bytes.Contains(n, []byte(tt.want+"}")) {
				t.Errorf("canonical %s, want %s", n, tt.want)
			}
			// The stored input's subject reads the same through the fast reader as through encoding/json.
			var doc struct {
				Subject json.RawMessage `json:"subject"`
			}
			if err := json.Unmarshal(n, &doc); err != nil {
				t.Fatal(err)
			}
			var slow, fast Subject
			if err := json.Unmarshal(doc.Subject, &slow); err != nil {
				t.Fatal(err)
			}
			if s := jsonscan.New(doc.Subject); !ScanSubject(s, &fast) || !s.AtEnd() || !reflect.DeepEqual(fast, slow) {
				t.Errorf("ScanSubject read %+v, want %+v", fast, slow)
			}
		})
	}

	const phone, email = "07700 900999", "secret.person@example.org"
	for _, tt := range []struct {
		subject, field, reason string
	}{
		{`"contact":{"preference":"sms"}`, "subject.contact.phone", "is required when the preference is sms"},
		{`"contact":{"preference":"email","phone":"` + phone + `"}`, "subject.contact.email", "is required when the preference is email"},
		{`"contact":{"preference":"letter","email":"` + email + `"}`, "subject.contact.preference", "is letter, which needs subject.address or subject.postcode"},
		{`"contact":{"phone":"` + phone + `"}`, "subject.contact.preference", "is required: sms, email, letter or none"},
		{`"contact":{"preference":"pigeon"}`, "subject.contact.preference", `must be sms, email, letter or none, got "pigeon"`},
		{`"contact":{"preference":"none","phone":"07700-900999"}`, "subject.contact.phone", "must be a phone number of 10 to 15 digits, with spaces and a leading + allowed"},
		{`"contact":{"preference":"none","phone":"0770 090"}`, "subject.contact.phone", "must be a phone number of 10 to 15 digits, with spaces and a leading + allowed"},
		{`"contact":{"preference":"none","phone":"44+7700900999"}`, "subject.contact.phone", "must be a phone number of 10 to 15 digits, with spaces and a leading + allowed"},
		{`"contact":{"preference":"none","phone":"+44 7700 900999 12345"}`, "subject.contact.phone", "must be a phone number of 10 to 15 digits, with spaces and a leading + allowed"},
		{`"contact":{"preference":"none","email":"secret person@example.org"}`, "subject.contact.email", "must not contain spaces or control characters"},
		{`"contact":{"preference":"none","email":"secret@person@example.org"}`, "subject.contact.email", "must be an email address with one @ between the name and the domain"},
		{`"contact":{"preference":"none","email":"secret.example.org"}`, "subject.contact.email", "must be an email address with one @ between the name and the domain"},
		{`"contact":{"preference":"none","email":"@example.org"}`, "subject.contact.email", "must be an email address with one @ between the name and the domain"},
		{`"contact":{"preference":"none","email":"secret@` + strings.Repeat("x", MaxEmailChars) + `"}`, "subject.contact.email", "must be at most 254 characters"},
	} {
		sub, err := ParseSubmission([]byte(`{"form":"mental-health","subject":{"ref":"p",` + tt.subject + `},"answers":{` + answers + `}}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Validate(sub)
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != tt.field || ve.Problems[0].Reason != tt.reason {
			t.Errorf("%.60s: %v, want %s %s", tt.subject, err, tt.field, tt.reason)
		}
		if err != nil && (strings.Contains(err.Error(), "900999") || strings.Contains(err.Error(), "secret")) {
			t.Errorf("the problem quotes the value: %v", err)
		}
	}
	// Strict decoding: a key the contact does not have is refused, by name.
	for key, body := range map[string]string{
		"fax":   native(`"contact":{"preference":"sms","phone":"` + phone + `","fax":"1"}`),
		"Phone": native(`"contact":{"preference":"sms","Phone":"` + phone + `"}`),
	} {
		var ve *ValidationError
		if _, err := ParseSubmission([]byte(body)); !errors.As(err, &ve) || !strings.Contains(ve.Problems[0].Field+" "+ve.Problems[0].Reason, key) {
			t.Errorf("%s: %v, want it refused, naming %s", body, err, key)
		}
	}
	// The fast reader declines what it does not know, leaving it to the full decoder.
	for _, doc := range []string{`{"ref":"p","contact":{"preference":"sms","fax":"1"}}`, `{"ref":"p","contact":{"preference":"sms","preference":"none"}}`, `{"ref":"p","contact":"sms"}`} {
		var s Subject
		if ScanSubject(jsonscan.New([]byte(doc)), &s) {
			t.Errorf("ScanSubject took %s", doc)
		}
	}
}
