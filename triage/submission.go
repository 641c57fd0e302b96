package triage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/isodate"
	"github.com/carepath/carepath/rules"
)

// MaxSubmissionBytes is the largest submission body accepted; real assessments are a few kilobytes.
const MaxSubmissionBytes = 1 << 20

// Submission is one completed assessment as a clinician sends it.
type Submission struct {
	Form        string         `json:"form"`
	FormVersion int            `json:"form_version,omitempty"` // 0: latest
	Subject     Subject        `json:"subject"`
	Answers     map[string]any `json:"answers"` // values: int64, float64, bool, string, or Coding
	Authored    *time.Time     `json:"authored,omitempty"`

	fhir *fhirSource // set when the submission was a QuestionnaireResponse
}

// Subject identifies the person assessed and where they are. Name and Address are for the people
// who contact the person (the appointment letter, the practitioner's visit): they are kept in the
// decision's input only, never read by rules, and never shown to analysts.
type Subject struct {
	Ref       string    `json:"ref"`
	Name      string    `json:"name,omitempty"`
	Address   string    `json:"address,omitempty"`
	BirthDate string    `json:"birth_date,omitempty"`
	Age       *int      `json:"age,omitempty"`
	Location  *Location `json:"location,omitempty"`
	Postcode  string    `json:"postcode,omitempty"`
	Contact   *Contact  `json:"contact,omitempty"`
}

// Contact is how the person asked to be sent their appointment: like the name and address, it is
// for the people who contact them and never reaches rules or analysts.
type Contact struct {
	Preference string `json:"preference"` // one of the Preference constants
	Phone      string `json:"phone,omitempty"`
	Email      string `json:"email,omitempty"`
}

// The ways a person may ask to be sent their appointment; PreferNone asks for nothing to be sent.
const (
	PreferSMS    = "sms"
	PreferEmail  = "email"
	PreferLetter = "letter"
	PreferNone   = "none"
)

// Longest name and address accepted, in characters: room for any real one, not for a document.
const (
	MaxNameChars    = 200
	MaxAddressChars = 500
)

// Location is a WGS84 point.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Coding is a coded answer as FHIR and LOINC-aware clients send it.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// ParseSubmission decodes a native JSON or FHIR R4 QuestionnaireResponse body; problems come back as *ValidationError.
func ParseSubmission(data []byte) (*Submission, error) {
	if len(data) > MaxSubmissionBytes {
		return nil, problemError("body", fmt.Sprintf("is %d bytes, more than the limit of %d", len(data), MaxSubmissionBytes))
	}
	if sub, ok := parseNativeOnePass(data); ok {
		if err := checkFormVersion(sub); err != nil {
			return nil, err
		}
		return sub, nil
	}
	return parseFull(data)
}

// parseFull is ParseSubmission for any body: the strict check, then encoding/json. It is the
// reference the one-pass native reader is held to, and the only path that explains a refusal.
func parseFull(data []byte) (*Submission, error) {
	var probe struct {
		ResourceType *string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return nil, problemError("body", "must be a JSON object, not a JSON "+te.Value)
		}
		return nil, problemError(jsonField(err), jsonReason(err))
	}
	if err := checkStrict(data, probe.ResourceType != nil); err != nil {
		return nil, err
	}
	var sub *Submission
	var err error
	if probe.ResourceType != nil {
		if *probe.ResourceType != "QuestionnaireResponse" {
			return nil, problemError("resourceType", fmt.Sprintf("must be QuestionnaireResponse, got %q", *probe.ResourceType))
		}
		sub, err = parseFHIR(data)
	} else {
		sub, err = parseNative(data)
	}
	if err != nil {
		return nil, err
	}
	if err := checkFormVersion(sub); err != nil {
		return nil, err
	}
	return sub, nil
}

func parseNative(data []byte) (*Submission, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var sub Submission
	if err := dec.Decode(&sub); err != nil {
		return nil, problemError(jsonField(err), jsonReason(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, problemError("body", "has data after the JSON object")
	}
	var problems []Problem
	for key, raw := range sub.Answers {
		v, reason := nativeAnswer(raw)
		switch {
		case reason != "":
			problems = append(problems, Problem{Field: "answers." + key, Reason: reason})
		case v == nil:
			delete(sub.Answers, key) // null means not answered
		default:
			sub.Answers[key] = v
		}
	}
	if len(problems) > 0 {
		return nil, newValidationError(problems)
	}
	if sub.Answers == nil {
		sub.Answers = map[string]any{}
	}
	return &sub, nil
}

// nativeAnswer turns a decoded JSON value into one of the answer types Validate accepts.
func nativeAnswer(raw any) (any, string) {
	switch v := raw.(type) {
	case nil, bool, string:
		return v, ""
	case json.Number:
		return numberValue(v)
	case map[string]any:
		var c Coding
		// Sorted, so that a coding with several bad fields is refused with the same reason every time.
		for _, k := range slices.Sorted(maps.Keys(v)) {
			x := v[k]
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Sprintf("coding field %q must be a string", k)
			}
			switch k {
			case "system":
				c.System = s
			case "code":
				c.Code = s
			case "display":
				c.Display = s
			default:
				return nil, fmt.Sprintf("coding has unknown field %q", k)
			}
		}
		if c.Code == "" {
			return nil, "coding needs a code"
		}
		return c, ""
	case []any:
		return nil, "must be a single value, not an array"
	}
	return nil, fmt.Sprintf("unsupported value of type %T", raw)
}

// numberValue keeps integral numbers as int64 so that integer items can tell 2 from 2.5.
func numberValue(n json.Number) (any, string) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, ""
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Sprintf("number %s is out of range", n)
	}
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return int64(f), ""
	}
	return f, ""
}

func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	return "body"
}

func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("must be a JSON %s, not a JSON %s", jsonKind(te.Type), te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if t == reflect.TypeFor[time.Time]() {
			return "string (RFC 3339 time)"
		}
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	}
	return "number"
}

// AgeAt gives the subject's age in whole years at t: from the birth date when known, else the stated age.
func (s Subject) AgeAt(t time.Time) rules.Value {
	if y, m, d, ok := parseDate(s.BirthDate); ok {
		ty, tm, td := t.Date()
		age := ty - y
		if int(tm) < m || int(tm) == m && td < d {
			age--
		}
		if age < 0 {
			return rules.Value{}
		}
		return rules.Int(int64(age))
	}
	if s.Age != nil && *s.Age >= 0 {
		return rules.Int(int64(*s.Age))
	}
	return rules.Value{}
}

// parseDate reads a birth date, YYYY-MM-DD from year 1 on, without allocating, as it runs on the
// validation hot path.
func parseDate(s string) (y, m, d int, ok bool) {
	if y, m, d, ok = isodate.Date(s); !ok || y < 1 {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// normalPostcode writes UK postcodes one way, so that "sw1a1aa" and "SW1A 1AA" compare equal.
func normalPostcode(p string) string {
	compact := strings.ToUpper(strings.Join(strings.Fields(p), ""))
	if len(compact) < 5 || len(compact) > 7 || !isAlnumASCII(compact) {
		return strings.TrimSpace(p) // not a UK postcode shape: keep what was sent
	}
	return compact[:len(compact)-3] + " " + compact[len(compact)-3:]
}

func isAlnumASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Canonical renders a validated submission as canonical JSON: sorted keys, no spaces, answers by item id,
// so that the same assessment sent natively or as FHIR hashes and stores identically. values must be
// f.Validate(sub)'s result. The bytes are exactly those encoding/json gives for the same document as
// maps (sorted keys, no HTML escaping); it is written directly because a bulk import canonicalises
// every case and the maps cost more than the deciding.
func (f *Form) Canonical(sub *Submission, values []rules.Value) ([]byte, error) {
	if len(values) != len(f.Items) {
		return nil, fmt.Errorf("triage: unable to canonicalise submission: %d values for %d items", len(values), len(f.Items))
	}
	// Answered items in id order, as encoding/json sorts map keys; insertion sort, since forms are
	// small and this keeps the common case off the heap.
	var orderStack [smallForm]int
	order := orderStack[:0]
	if len(f.Items) > smallForm {
		order = make([]int, 0, len(f.Items))
	}
	for i, v := range values {
		if v.Kind == rules.KindNone {
			continue
		}
		order = append(order, i)
		for k := len(order) - 1; k > 0 && f.Items[order[k]].ID < f.Items[order[k-1]].ID; k-- {
			order[k], order[k-1] = order[k-1], order[k]
		}
	}
	b := make([]byte, 0, 256+32*len(order))
	b = append(b, `{"answers":{`...)
	for n, i := range order {
		it := &f.Items[i]
		if n > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, it.ID)
		b = append(b, ':')
		v := values[i]
		if it.Type == TypeChoice {
			opt, ok := f.canonicalOption(sub, i, v)
			if !ok {
				return nil, fmt.Errorf("triage: unable to canonicalise submission: answers.%s: no valid option in the submission", it.ID)
			}
			b = appendJSONString(b, it.Options[opt].Code)
			continue
		}
		var err error
		if b, err = appendJSONValue(b, v); err != nil {
			return nil, fmt.Errorf("triage: unable to canonicalise submission: %w", err)
		}
	}
	b = append(b, '}')
	if sub.Authored != nil {
		b = append(b, `,"authored":`...)
		b = appendJSONString(b, sub.Authored.UTC().Format(time.RFC3339Nano))
	}
	b = append(b, `,"form":`...)
	b = appendJSONString(b, f.ID)
	b = append(b, `,"form_version":`...)
	b = strconv.AppendInt(b, int64(f.Version), 10)
	b = append(b, `,"subject":{`...)
	s := &sub.Subject
	if a := strings.TrimSpace(s.Address); a != "" {
		b = append(b, `"address":`...)
		b = appendJSONString(b, a)
		b = append(b, ',')
	}
	if s.Age != nil {
		b = append(b, `"age":`...)
		b = strconv.AppendInt(b, int64(*s.Age), 10)
		b = append(b, ',')
	}
	if s.BirthDate != "" {
		b = append(b, `"birth_date":`...)
		b = appendJSONString(b, s.BirthDate)
		b = append(b, ',')
	}
	if c := s.Contact; c != nil {
		b = append(b, `"contact":{`...)
		if e := strings.TrimSpace(c.Email); e != "" {
			b = append(b, `"email":`...)
			b = appendJSONString(b, e)
			b = append(b, ',')
		}
		if p := strings.TrimSpace(c.Phone); p != "" {
			b = append(b, `"phone":`...)
			b = appendJSONString(b, p)
			b = append(b, ',')
		}
		b = append(b, `"preference":`...)
		b = appendJSONString(b, c.Preference)
		b = append(b, "},"...)
	}
	if loc := s.Location; loc != nil {
		var err error
		b = append(b, `"location":{"lat":`...)
		if b, err = appendJSONFloat(b, loc.Lat); err != nil {
			return nil, fmt.Errorf("triage: unable to canonicalise submission: %w", err)
		}
		b = append(b, `,"lon":`...)
		if b, err = appendJSONFloat(b, loc.Lon); err != nil {
			return nil, fmt.Errorf("triage: unable to canonicalise submission: %w", err)
		}
		b = append(b, "},"...)
	}
	if n := strings.TrimSpace(s.Name); n != "" {
		b = append(b, `"name":`...)
		b = appendJSONString(b, n)
		b = append(b, ',')
	}
	if p := normalPostcode(s.Postcode); p != "" {
		b = append(b, `"postcode":`...)
		b = appendJSONString(b, p)
		b = append(b, ',')
	}
	b = append(b, `"ref":`...)
	b = appendJSONString(b, s.Ref)
	b = append(b, "}}"...)
	return b, nil
}

// canonicalOption finds the option of choice item i behind its validated value v: the value names
// it when no other option shares its code or score, which spares a search of the submission's
// answers; otherwise the submission says which.
func (f *Form) canonicalOption(sub *Submission, i int, v rules.Value) (int, bool) {
	if j, ok := f.optionOf(i, v); ok {
		return j, true
	}
	return f.chosenOption(sub, i)
}

// optionOf is the one option of choice item i whose code (or, for a scored item, score) is v.
func (f *Form) optionOf(i int, v rules.Value) (int, bool) {
	opts := f.Items[i].Options
	found := -1
	for j := range opts {
		var match bool
		switch v.Kind {
		case rules.KindString:
			match = opts[j].Code == v.S
		case rules.KindInt:
			match = f.scored[i] && int64(*opts[j].Score) == v.I
		}
		if match {
			if found >= 0 {
				return 0, false
			}
			found = j
		}
	}
	return found, found >= 0
}

// appendJSONValue writes an answer value as encoding/json writes the value's Any().
func appendJSONValue(b []byte, v rules.Value) ([]byte, error) {
	switch v.Kind {
	case rules.KindInt:
		return strconv.AppendInt(b, v.I, 10), nil
	case rules.KindDouble:
		return appendJSONFloat(b, v.F)
	case rules.KindBool:
		return strconv.AppendBool(b, v.B), nil
	case rules.KindString:
		return appendJSONString(b, v.S), nil
	}
	return append(b, "null"...), nil
}

// appendJSONFloat writes f as encoding/json does: shortest form, exponent only outside [1e-6, 1e21).
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// encoding/json writes e-7, not e-07.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendJSONString writes s as a JSON string exactly as an encoding/json Encoder without HTML
// escaping does. Printable ASCII is copied; anything else goes through encoding/json itself, so
// its rules for control characters, invalid UTF-8 and U+2028/U+2029 hold without being restated.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// chosenOption finds which option of choice item i the submission picked; scores alone may not say.
func (f *Form) chosenOption(sub *Submission, i int) (int, bool) {
	for key, raw := range sub.Answers {
		if j, ok := f.lookupKey(key); ok && j == i {
			return f.resolveChoice(i, raw)
		}
	}
	return 0, false
}
