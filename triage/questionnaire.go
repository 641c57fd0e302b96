package triage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// FHIR and LOINC identifiers used in the Questionnaire export.
const (
	loincSystem     = "http://loinc.org"
	ordinalValueURL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
	minValueURL     = "http://hl7.org/fhir/StructureDefinition/minValue"
	maxValueURL     = "http://hl7.org/fhir/StructureDefinition/maxValue"
)

type fhirQuestionnaire struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	URL          string      `json:"url"`
	Version      string      `json:"version"`
	Name         string      `json:"name"`
	Title        string      `json:"title"`
	Status       string      `json:"status"`
	Description  string      `json:"description,omitempty"`
	Copyright    string      `json:"copyright,omitempty"`
	Item         []fhirQItem `json:"item"`
}

type fhirQItem struct {
	Extension    []fhirQExtension `json:"extension,omitempty"`
	LinkID       string           `json:"linkId"`
	Code         []Coding         `json:"code,omitempty"`
	Text         string           `json:"text"`
	Type         string           `json:"type"`
	Required     bool             `json:"required,omitempty"`
	AnswerOption []fhirQOption    `json:"answerOption,omitempty"`
	Item         []fhirQItem      `json:"item,omitempty"`
}

type fhirQOption struct {
	ValueCoding fhirQCoding `json:"valueCoding"`
}

type fhirQCoding struct {
	Extension []fhirQExtension `json:"extension,omitempty"`
	System    string           `json:"system"`
	Code      string           `json:"code"`
	Display   string           `json:"display"`
}

type fhirQExtension struct {
	URL          string      `json:"url"`
	ValueInteger *int64      `json:"valueInteger,omitempty"`
	ValueDecimal json.Number `json:"valueDecimal,omitempty"`
}

// Questionnaire renders the form as an indented FHIR R4 Questionnaire, for FHIR clients that build their own screens.
func (f *Form) Questionnaire() ([]byte, error) {
	q := fhirQuestionnaire{
		ResourceType: "Questionnaire",
		ID:           f.ID,
		URL:          f.URL,
		Version:      strconv.Itoa(f.Version),
		Name:         fhirName(f.ID),
		Title:        f.Title,
		Status:       "active",
		Description:  f.Description,
		Copyright:    f.Notice,
	}
	groupOf := make(map[string]int)
	for g, grp := range f.Groups {
		for _, id := range grp.Items {
			groupOf[id] = g
		}
	}
	emitted := make([]bool, len(f.Groups))
	// Items keep form order; a group appears where its first item would, so panels stay in reading order.
	for i := range f.Items {
		g, inGroup := groupOf[f.Items[i].ID]
		if !inGroup {
			q.Item = append(q.Item, f.questionnaireItem(i))
			continue
		}
		if emitted[g] {
			continue
		}
		emitted[g] = true
		grp := f.Groups[g]
		gi := fhirQItem{LinkID: grp.ID, Text: grp.Text, Type: "group", Code: loincCode(grp.LOINC)}
		for _, id := range grp.Items {
			gi.Item = append(gi.Item, f.questionnaireItem(f.itemByID[id]))
		}
		q.Item = append(q.Item, gi)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(q); err != nil {
		return nil, fmt.Errorf("triage: unable to render questionnaire %s: %w", f.ID, err)
	}
	return buf.Bytes(), nil
}

func (f *Form) questionnaireItem(i int) fhirQItem {
	it := f.Items[i]
	qi := fhirQItem{LinkID: it.ID, Text: it.Text, Type: string(it.Type), Required: it.Required, Code: loincCode(it.LOINC)}
	for _, b := range []struct {
		url string
		v   *float64
	}{{minValueURL, it.Min}, {maxValueURL, it.Max}} {
		if b.v == nil {
			continue
		}
		e := fhirQExtension{URL: b.url}
		if it.Type == TypeInteger {
			n := int64(*b.v)
			e.ValueInteger = &n
		} else {
			e.ValueDecimal = json.Number(strconv.FormatFloat(*b.v, 'g', -1, 64))
		}
		qi.Extension = append(qi.Extension, e)
	}
	for _, o := range it.Options {
		c := fhirQCoding{System: f.URL, Code: o.Code, Display: o.Display}
		if o.LOINC != "" {
			c.System, c.Code = loincSystem, o.LOINC
		}
		if o.Score != nil {
			c.Extension = []fhirQExtension{{URL: ordinalValueURL, ValueDecimal: json.Number(strconv.Itoa(*o.Score))}}
		}
		qi.AnswerOption = append(qi.AnswerOption, fhirQOption{ValueCoding: c})
	}
	return qi
}

func loincCode(code string) []Coding {
	if code == "" {
		return nil
	}
	return []Coding{{System: loincSystem, Code: code}}
}

// fhirName turns a form id such as "mental-health" into the computable name FHIR expects, "MentalHealth".
func fhirName(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	name := b.String()
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "Form" + name
	}
	return name
}
