package outbox_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var fhirSchema = sync.OnceValues(func() (*jsonschema.Compiler, error) {
	raw, err := os.ReadFile(filepath.Join("..", "triage", "testdata", "fhir-r4", "fhir.schema.json"))
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	return c, c.AddResource("https://carepath.test/fhir.schema.json", doc)
})

// checkFHIR fails t unless data is a valid FHIR R4 resource of its resourceType by the official schema.
func checkFHIR(t *testing.T, data []byte) string {
	t.Helper()
	c, err := fhirSchema()
	if err != nil {
		t.Fatalf("FHIR schema: %v", err)
	}
	var head struct{ ResourceType string }
	if err := json.Unmarshal(data, &head); err != nil || head.ResourceType == "" {
		t.Fatalf("not a FHIR resource: %v\n%s", err, data)
	}
	sch, err := c.Compile("https://carepath.test/fhir.schema.json#/definitions/" + head.ResourceType)
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err := sch.Validate(inst); err != nil {
		t.Errorf("not a valid FHIR R4 %s: %v\n%s", head.ResourceType, err, data)
	}
	return head.ResourceType
}

func TestFHIRPayloadsAreValidR4(t *testing.T) {
	start := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	decided := &triage.Decision{ID: "0195a1b2-0000-7000-8000-000000000001", Form: "mental-health", FormVersion: 1, SubjectRef: "NHS:9434765919",
		RuleSet: triage.RuleSetRef{ID: "mh-triage", Version: 3}, Rule: "urgent-risk",
		Outcome: rules.Outcome{Pathway: "mh-urgent", Priority: rules.Urgent, RespondWithin: "P1D", Flags: []string{"risk"}},
		Decided: t0, Authored: t0,
		Services: []directory.Candidate{{ServiceID: "svc-1", ServiceName: "Crisis team"}},
		Assignment: &triage.Assignment{PractitionerID: "p-7", ServiceID: "svc-1",
			Appointment: triage.AppointmentSlot{ID: "0195a1b2-0000-7000-8000-0000000000a1", Start: start, End: start.Add(time.Hour)}}}
	manual := *decided
	manual.ID, manual.Assignment, manual.ManualAllocation, manual.UnassignedReason = "d-manual", nil, true, "no practitioner with the skills"
	payload := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	visit := outbox.AppointmentData{Appointment: "a1", Decision: decided.ID, PractitionerID: "p-7", ServiceID: "svc-1", Pathway: "mh-urgent",
		Start: start, End: start.Add(time.Hour), SubjectRef: "NHS:9434765919", Status: "cancelled"}
	tests := []struct {
		name  string
		e     outbox.Event
		types []string // resource types in the bundle, or the resource
	}{
		{"referral with appointment", outbox.Event{ID: "e1", Type: outbox.DecisionMade, Payload: payload(outbox.NewDecisionData(decided))},
			[]string{"ServiceRequest", "Appointment"}},
		{"referral for manual allocation", outbox.Event{ID: "e2", Type: outbox.DecisionMade, Payload: payload(outbox.NewDecisionData(&manual))},
			[]string{"ServiceRequest", "Task"}},
		{"cancelled appointment", outbox.Event{ID: "e3", Type: outbox.AppointmentCancelled, Payload: payload(visit)}, []string{"Appointment"}},
		{"escalation", outbox.Event{ID: "e4", Type: outbox.CaseEscalated, Payload: payload(outbox.NewDecisionData(&manual))}, []string{"Task"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.e.Case, tt.e.CreatedAt = "c", t0
			body, contentType, err := outbox.Body(&tt.e, outbox.FormatFHIR)
			if err != nil {
				t.Fatal(err)
			}
			if contentType != "application/fhir+json" {
				t.Errorf("content type %s", contentType)
			}
			var got []string
			if checkFHIR(t, body) == "Bundle" {
				var b struct {
					Entry []struct{ Resource json.RawMessage }
				}
				_ = json.Unmarshal(body, &b)
				for _, e := range b.Entry {
					got = append(got, checkFHIR(t, e.Resource))
				}
			} else {
				var head struct{ ResourceType string }
				_ = json.Unmarshal(body, &head)
				got = []string{head.ResourceType}
			}
			if len(got) != len(tt.types) {
				t.Fatalf("resources %v, want %v", got, tt.types)
			}
			for i := range got {
				if got[i] != tt.types[i] {
					t.Errorf("resources %v, want %v", got, tt.types)
				}
			}
		})
	}
	if _, err := outbox.FHIR(&outbox.Event{ID: "e5", Type: outbox.RuleSetActivated, Payload: json.RawMessage(`{}`)}); err == nil {
		t.Error("ruleset.activated rendered as FHIR")
	}
}

func FuzzParseSecret(f *testing.F) {
	f.Add(testSecret)
	f.Add("whsec_")
	f.Add("whsec_====")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := outbox.ParseSecret(s)
		if err == nil && (len(key) < 24 || len(key) > 64) {
			t.Errorf("ParseSecret(%q) accepted a %d-byte key", s, len(key))
		}
	})
}
