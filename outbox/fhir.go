package outbox

import (
	"encoding/json"
	"fmt"
	"time"
)

// Identifier systems of the FHIR resources Carepath sends. Receivers match on them, so they are
// stable; they name Carepath's own ids, not national ones.
const (
	systemDecision    = "https://carepath.org.uk/id/decision"
	systemSubject     = "https://carepath.org.uk/id/subject"
	systemService     = "https://carepath.org.uk/id/service"
	systemPractioner  = "https://carepath.org.uk/id/practitioner"
	systemAppointment = "https://carepath.org.uk/id/appointment"
	systemPathway     = "https://carepath.org.uk/CodeSystem/pathway"
)

// HasFHIR reports whether events of type typ have a FHIR R4 representation; subscriptions in the
// fhir format receive only these.
func HasFHIR(typ string) bool {
	switch typ {
	case DecisionMade, AppointmentBooked, AppointmentMoved, AppointmentCancelled, CaseEscalated:
		return true
	}
	return false
}

type fhirIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type fhirReference struct {
	Reference  string          `json:"reference,omitempty"`
	Identifier *fhirIdentifier `json:"identifier,omitempty"`
	Display    string          `json:"display,omitempty"`
}

type fhirCoding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type fhirConcept struct {
	Coding []fhirCoding `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type fhirServiceRequest struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id"`
	Identifier   []fhirIdentifier `json:"identifier"`
	Status       string           `json:"status"`
	Intent       string           `json:"intent"`
	Priority     string           `json:"priority"`
	Code         fhirConcept      `json:"code"`
	Subject      fhirReference    `json:"subject"`
	AuthoredOn   string           `json:"authoredOn"`
	Performer    []fhirReference  `json:"performer,omitempty"`
	ReasonCode   []fhirConcept    `json:"reasonCode,omitempty"`
	Note         []fhirNote       `json:"note,omitempty"`
}

type fhirNote struct {
	Text string `json:"text"`
}

type fhirParticipant struct {
	Actor  fhirReference `json:"actor"`
	Status string        `json:"status"`
}

type fhirAppointment struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Identifier   []fhirIdentifier  `json:"identifier"`
	Status       string            `json:"status"`
	ServiceType  []fhirConcept     `json:"serviceType,omitempty"`
	Start        string            `json:"start"`
	End          string            `json:"end"`
	BasedOn      []fhirReference   `json:"basedOn"`
	Participant  []fhirParticipant `json:"participant"`
}

type fhirTask struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Status       string         `json:"status"`
	Intent       string         `json:"intent"`
	Priority     string         `json:"priority"`
	Code         fhirConcept    `json:"code"`
	Description  string         `json:"description,omitempty"`
	Focus        fhirReference  `json:"focus"`
	For          fhirReference  `json:"for"`
	AuthoredOn   string         `json:"authoredOn"`
	Owner        *fhirReference `json:"owner,omitempty"`
}

type fhirBundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp"`
	Entry        []bundleEntry `json:"entry"`
}

type bundleEntry struct {
	FullURL  string `json:"fullUrl"`
	Resource any    `json:"resource"`
}

func fhirTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// fhirPriority maps Carepath's priorities to FHIR's request priority codes.
func fhirPriority(p string) string {
	switch p {
	case "emergency":
		return "stat"
	case "urgent":
		return "urgent"
	}
	return "routine"
}

// fhirID turns an id into one FHIR accepts ([A-Za-z0-9.-]{1,64}); Carepath's ids are UUIDs
// already, others are kept only in identifiers.
func fhirID(id string) string {
	out := make([]byte, 0, len(id))
	for i := 0; i < len(id) && len(out) < 64; i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			out = append(out, c)
		} else {
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return string(out)
}

func subjectRef(ref string) fhirReference {
	return fhirReference{Identifier: &fhirIdentifier{System: systemSubject, Value: ref}}
}

// serviceRequest is the referral of a decided case to its best matched service.
func serviceRequest(d *DecisionData) fhirServiceRequest {
	sr := fhirServiceRequest{ResourceType: "ServiceRequest", ID: fhirID(d.Decision),
		Identifier: []fhirIdentifier{{System: systemDecision, Value: d.Decision}},
		Status:     "active", Intent: "order", Priority: fhirPriority(d.Priority),
		Code:    fhirConcept{Coding: []fhirCoding{{System: systemPathway, Code: d.Pathway}}, Text: d.Pathway},
		Subject: subjectRef(d.SubjectRef), AuthoredOn: fhirTime(d.Decided)}
	for _, s := range d.Services {
		sr.Performer = append(sr.Performer, fhirReference{Identifier: &fhirIdentifier{System: systemService, Value: s.ID}, Display: s.Name})
	}
	if d.Rule != "" {
		sr.ReasonCode = []fhirConcept{{Text: fmt.Sprintf("rule %s of %s v%d", d.Rule, d.RuleSet.ID, d.RuleSet.Version)}}
	}
	if d.RespondWithin != "" {
		sr.Note = []fhirNote{{Text: "respond within " + d.RespondWithin}}
	}
	return sr
}

func appointment(a *AppointmentData, status string) fhirAppointment {
	return fhirAppointment{ResourceType: "Appointment", ID: fhirID(a.Appointment),
		Identifier: []fhirIdentifier{{System: systemAppointment, Value: a.Appointment}}, Status: status,
		ServiceType: []fhirConcept{{Coding: []fhirCoding{{System: systemPathway, Code: a.Pathway}}}},
		Start:       fhirTime(a.Start), End: fhirTime(a.End),
		BasedOn: []fhirReference{{Reference: "ServiceRequest/" + fhirID(a.Decision)}},
		Participant: []fhirParticipant{
			{Actor: fhirReference{Identifier: &fhirIdentifier{System: systemPractioner, Value: a.PractitionerID}}, Status: "accepted"},
			{Actor: subjectRef(a.SubjectRef), Status: "needs-action"},
		}}
}

// manualAllocation is the task a coordinator picks up when nobody could be assigned.
func manualAllocation(d *DecisionData) fhirTask {
	return fhirTask{ResourceType: "Task", ID: fhirID("allocate-" + d.Decision), Status: "requested", Intent: "order",
		Priority: fhirPriority(d.Priority), Code: fhirConcept{Text: "allocate manually"}, Description: d.UnassignedReason,
		Focus: fhirReference{Reference: "ServiceRequest/" + fhirID(d.Decision)}, For: subjectRef(d.SubjectRef), AuthoredOn: fhirTime(d.Decided)}
}

// FHIR renders an event as FHIR R4 JSON: a collection Bundle for decision.made (the
// ServiceRequest, with the booked Appointment or a Task for manual allocation), an Appointment for
// appointment events, a Task for an escalation.
func FHIR(e *Event) ([]byte, error) {
	switch e.Type {
	case DecisionMade:
		var d DecisionData
		if err := json.Unmarshal(e.Payload, &d); err != nil {
			return nil, fmt.Errorf("outbox: event %s: %w", e.ID, err)
		}
		sr := serviceRequest(&d)
		b := fhirBundle{ResourceType: "Bundle", ID: fhirID(e.ID), Type: "collection", Timestamp: fhirTime(e.CreatedAt),
			Entry: []bundleEntry{{FullURL: "urn:uuid:" + e.ID + "-referral", Resource: sr}}}
		if a := d.Assignment; a != nil {
			ap := appointment(&AppointmentData{Appointment: a.Appointment.ID, Decision: d.Decision, SubjectRef: d.SubjectRef,
				PractitionerID: a.PractitionerID, ServiceID: a.ServiceID, Pathway: d.Pathway, Start: a.Appointment.Start, End: a.Appointment.End}, "booked")
			b.Entry = append(b.Entry, bundleEntry{FullURL: "urn:uuid:" + e.ID + "-appointment", Resource: ap})
		}
		if d.ManualAllocation {
			b.Entry = append(b.Entry, bundleEntry{FullURL: "urn:uuid:" + e.ID + "-task", Resource: manualAllocation(&d)})
		}
		return json.Marshal(b)
	case AppointmentBooked, AppointmentMoved, AppointmentCancelled:
		var a AppointmentData
		if err := json.Unmarshal(e.Payload, &a); err != nil {
			return nil, fmt.Errorf("outbox: event %s: %w", e.ID, err)
		}
		status := "booked"
		if e.Type == AppointmentCancelled {
			status = "cancelled"
		}
		return json.Marshal(appointment(&a, status))
	case CaseEscalated:
		var d DecisionData
		if err := json.Unmarshal(e.Payload, &d); err != nil {
			return nil, fmt.Errorf("outbox: event %s: %w", e.ID, err)
		}
		t := manualAllocation(&d)
		t.ID, t.Code, t.Priority = fhirID("escalate-"+e.ID), fhirConcept{Text: "escalated case"}, "urgent"
		return json.Marshal(t)
	}
	return nil, fmt.Errorf("outbox: event type %s has no FHIR representation", e.Type)
}
