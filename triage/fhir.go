package triage

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The FHIR extension that carries a point on a Patient or its Address.
const geolocationURL = "http://hl7.org/fhir/StructureDefinition/geolocation"

// fhirResponse is the part of a FHIR R4 QuestionnaireResponse that Carepath reads; other elements are ignored.
type fhirResponse struct {
	ResourceType  string            `json:"resourceType"`
	Questionnaire string            `json:"questionnaire"`
	Subject       *fhirReference    `json:"subject"`
	Authored      string            `json:"authored"`
	Item          []fhirItem        `json:"item"`
	Contained     []json.RawMessage `json:"contained"`
}

type fhirReference struct {
	Reference  string          `json:"reference"`
	Identifier *fhirIdentifier `json:"identifier"`
}

type fhirIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type fhirItem struct {
	LinkID string       `json:"linkId"`
	Answer []fhirAnswer `json:"answer"`
	Item   []fhirItem   `json:"item"`
}

type fhirAnswer struct {
	ValueInteger  *json.Number `json:"valueInteger"`
	ValueDecimal  *json.Number `json:"valueDecimal"`
	ValueBoolean  *bool        `json:"valueBoolean"`
	ValueString   *string      `json:"valueString"`
	ValueDate     *string      `json:"valueDate"`
	ValueDateTime *string      `json:"valueDateTime"`
	ValueCoding   *Coding      `json:"valueCoding"`
	Item          []fhirItem   `json:"item"`
}

type fhirPatient struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id"`
	Identifier   []fhirIdentifier `json:"identifier"`
	BirthDate    string           `json:"birthDate"`
	Address      []fhirAddress    `json:"address"`
	Extension    []fhirExtension  `json:"extension"`
}

type fhirAddress struct {
	PostalCode string          `json:"postalCode"`
	Extension  []fhirExtension `json:"extension"`
}

type fhirExtension struct {
	URL          string          `json:"url"`
	ValueDecimal *json.Number    `json:"valueDecimal"`
	Extension    []fhirExtension `json:"extension"`
}

// parseFHIR reads a QuestionnaireResponse into a Submission, keying answers by linkId as given.
func parseFHIR(data []byte) (*Submission, error) {
	var r fhirResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, problemError(jsonField(err), jsonReason(err))
	}
	var problems problemList
	sub := &Submission{Answers: make(map[string]any)}

	canonical, version, hasVersion := strings.Cut(r.Questionnaire, "|")
	canonical = strings.TrimRight(canonical, "/")
	sub.Form = canonical[strings.LastIndexByte(canonical, '/')+1:]
	if sub.Form == "" {
		problems.add("questionnaire", "must name the form, as a canonical URL such as https://carepath.org.uk/fhir/Questionnaire/mental-health")
	}
	if hasVersion {
		v, err := strconv.Atoi(version)
		if err != nil || v < 1 {
			problems.add("form_version", fmt.Sprintf("questionnaire version %q is not a positive whole number", version))
		} else {
			sub.FormVersion = v
		}
	}

	if r.Authored != "" {
		t, ok := parseFHIRDateTime(r.Authored)
		if !ok {
			problems.add("authored", fmt.Sprintf("must be a FHIR dateTime, got %q", r.Authored))
		} else {
			sub.Authored = &t
		}
	}

	if r.Subject != nil {
		fhirSubject(&r, sub, &problems)
	}

	flattenItems(r.Item, sub.Answers, &problems)
	if len(problems) > 0 {
		return nil, newValidationError(problems)
	}
	return sub, nil
}

// fhirSubject fills the subject from a contained Patient, or takes a plain reference as the subject's ref.
func fhirSubject(r *fhirResponse, sub *Submission, problems *problemList) {
	ref := r.Subject.Reference
	id, contained := strings.CutPrefix(ref, "#")
	if !contained {
		sub.Subject.Ref = ref
		if ref == "" && r.Subject.Identifier != nil {
			sub.Subject.Ref = r.Subject.Identifier.Value
		}
		return
	}
	for _, raw := range r.Contained {
		var p fhirPatient
		if err := json.Unmarshal(raw, &p); err != nil {
			problems.add("contained", jsonReason(err))
			return
		}
		if p.ResourceType != "Patient" || p.ID != id {
			continue
		}
		sub.Subject.Ref = p.ID
		if len(p.Identifier) > 0 && p.Identifier[0].Value != "" {
			sub.Subject.Ref = p.Identifier[0].Value
		}
		sub.Subject.BirthDate = p.BirthDate
		exts := p.Extension
		if len(p.Address) > 0 {
			sub.Subject.Postcode = p.Address[0].PostalCode
			exts = append(exts[:len(exts):len(exts)], p.Address[0].Extension...)
		}
		for _, e := range exts {
			if e.URL != geolocationURL {
				continue
			}
			loc, reason := geolocation(e)
			if reason != "" {
				problems.add("subject.location", reason)
			} else {
				sub.Subject.Location = &loc
			}
			break
		}
		return
	}
	problems.add("subject.ref", fmt.Sprintf("refers to contained resource %q, which is not a contained Patient", ref))
}

func geolocation(e fhirExtension) (Location, string) {
	var lat, lon *float64
	for _, sub := range e.Extension {
		if sub.ValueDecimal == nil {
			continue
		}
		x, err := sub.ValueDecimal.Float64()
		if err != nil {
			return Location{}, fmt.Sprintf("%s %s is not a number", sub.URL, sub.ValueDecimal)
		}
		switch sub.URL {
		case "latitude":
			lat = &x
		case "longitude":
			lon = &x
		}
	}
	if lat == nil || lon == nil {
		return Location{}, "geolocation extension needs both latitude and longitude"
	}
	return Location{Lat: *lat, Lon: *lon}, ""
}

// flattenItems walks nested groups and answers' nested items; group structure carries no meaning for scoring.
func flattenItems(items []fhirItem, answers map[string]any, problems *problemList) {
	for _, it := range items {
		if len(it.Answer) > 0 {
			field := "answers." + it.LinkID
			if _, dup := answers[it.LinkID]; dup {
				problems.add(field, "linkId appears more than once")
			} else if len(it.Answer) > 1 {
				problems.add(field, "has more than one answer; every item takes one")
			} else if v, reason := fhirValue(it.Answer[0]); reason != "" {
				problems.add(field, reason)
			} else {
				answers[it.LinkID] = v
			}
			for _, a := range it.Answer {
				flattenItems(a.Item, answers, problems)
			}
		}
		flattenItems(it.Item, answers, problems)
	}
}

// fhirValue takes the single value[x] of an answer; more than one is malformed.
func fhirValue(a fhirAnswer) (any, string) {
	var v any
	n := 0
	set := func(x any) { v = x; n++ }
	if a.ValueInteger != nil {
		i, err := strconv.ParseInt(string(*a.ValueInteger), 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("valueInteger %s is not a whole number", *a.ValueInteger)
		}
		set(i)
	}
	if a.ValueDecimal != nil {
		x, err := a.ValueDecimal.Float64()
		if err != nil {
			return nil, fmt.Sprintf("valueDecimal %s is not a number", *a.ValueDecimal)
		}
		set(x)
	}
	if a.ValueBoolean != nil {
		set(*a.ValueBoolean)
	}
	if a.ValueString != nil {
		set(*a.ValueString)
	}
	if a.ValueDate != nil {
		set(*a.ValueDate)
	}
	if a.ValueDateTime != nil {
		set(*a.ValueDateTime)
	}
	if a.ValueCoding != nil {
		set(*a.ValueCoding)
	}
	switch n {
	case 0:
		return nil, "answer has no supported value[x] (valueInteger, valueDecimal, valueBoolean, valueString, valueDate, valueDateTime, valueCoding)"
	case 1:
		return v, ""
	}
	return nil, "answer has more than one value[x]"
}

// parseFHIRDateTime accepts the FHIR dateTime forms that pin a day; a bare date is read as midnight UTC.
func parseFHIRDateTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
