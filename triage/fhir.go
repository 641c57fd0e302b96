package triage

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/rules"
)

// The FHIR extension that carries a point on a Patient or its Address.
const geolocationURL = "http://hl7.org/fhir/StructureDefinition/geolocation"

// The OperationOutcome issue types (FHIR R4 IssueType) that Problem.FHIRIssueType gives.
const (
	issueInvalid      = "invalid"
	issueStructure    = "structure"
	issueRequired     = "required"
	issueValue        = "value"
	issueNotSupported = "not-supported"
)

// fhirResponse is the part of a FHIR R4 QuestionnaireResponse that Carepath reads; other elements are ignored,
// except modifiers, which change the meaning of what is read and so are refused when not understood.
type fhirResponse struct {
	ResourceType      string            `json:"resourceType"`
	ImplicitRules     string            `json:"implicitRules"`
	ModifierExtension []fhirModifier    `json:"modifierExtension"`
	Questionnaire     string            `json:"questionnaire"`
	Status            string            `json:"status"`
	Subject           *fhirReference    `json:"subject"`
	Authored          string            `json:"authored"`
	Item              []fhirItem        `json:"item"`
	Contained         []json.RawMessage `json:"contained"`
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
	LinkID            string         `json:"linkId"`
	ModifierExtension []fhirModifier `json:"modifierExtension"`
	Answer            []fhirAnswer   `json:"answer"`
	Item              []fhirItem     `json:"item"`
}

type fhirAnswer struct {
	ModifierExtension []fhirModifier `json:"modifierExtension"`
	ValueInteger      *json.Number   `json:"valueInteger"`
	ValueDecimal      *json.Number   `json:"valueDecimal"`
	ValueBoolean      *bool          `json:"valueBoolean"`
	ValueString       *string        `json:"valueString"`
	ValueDate         *string        `json:"valueDate"`
	ValueDateTime     *string        `json:"valueDateTime"`
	ValueCoding       *Coding        `json:"valueCoding"`
	ValueQuantity     *fhirQuantity  `json:"valueQuantity"`
	Item              []fhirItem     `json:"item"`
}

// fhirQuantity is a valueQuantity answer. LOINC forms send their total scores as quantities; it is kept
// as its own type so that only a total can take one, and an item answered with one says so.
type fhirQuantity struct {
	Value  json.Number `json:"value"`
	Unit   string      `json:"unit"`
	System string      `json:"system"`
	Code   string      `json:"code"`
}

// fhirModifier is a modifier extension; only its url is read, to name it when refusing it.
type fhirModifier struct {
	URL string `json:"url"`
}

type fhirPatient struct {
	ResourceType      string           `json:"resourceType"`
	ID                string           `json:"id"`
	ImplicitRules     string           `json:"implicitRules"`
	ModifierExtension []fhirModifier   `json:"modifierExtension"`
	Identifier        []fhirIdentifier `json:"identifier"`
	Name              []fhirHumanName  `json:"name"`
	BirthDate         string           `json:"birthDate"`
	Address           []fhirAddress    `json:"address"`
	Telecom           []fhirTelecom    `json:"telecom"`
	Extension         []fhirExtension  `json:"extension"`
}

// fhirTelecom is a Patient's ContactPoint: a phone number or email address, rank 1 the preferred.
type fhirTelecom struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use"`
	Rank   int    `json:"rank"`
}

// fhirContact is the subject's contact from a Patient's telecom: the first phone and the first
// email (or the rank 1 one), and the preference the telecom of rank 1 states (sms for a phone,
// email for an email); without one, a letter when there is an address to send it to. A Patient
// without telecom states no preference, so its subject has no contact, as a native one without.
func fhirContact(telecom []fhirTelecom, s *Subject) *Contact {
	if len(telecom) == 0 {
		return nil
	}
	var c Contact
	for _, t := range telecom {
		v := strings.TrimSpace(t.Value)
		if v == "" {
			continue
		}
		var pref string
		switch t.System {
		case "phone", "sms":
			if c.Phone == "" {
				c.Phone = v
			}
			pref = PreferSMS
		case "email":
			if c.Email == "" {
				c.Email = v
			}
			pref = PreferEmail
		}
		if t.Rank == 1 && pref != "" && c.Preference == "" {
			c.Preference = pref
			if pref == PreferSMS {
				c.Phone = v
			} else {
				c.Email = v
			}
		}
	}
	if c.Preference == "" {
		if strings.TrimSpace(s.Address) == "" && strings.TrimSpace(s.Postcode) == "" {
			return nil
		}
		c.Preference = PreferLetter
	}
	return &c
}

// fhirHumanName is a Patient's name: its text when given, else the given names and the family name.
type fhirHumanName struct {
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
}

func (n fhirHumanName) String() string {
	if t := strings.TrimSpace(n.Text); t != "" {
		return t
	}
	return strings.TrimSpace(strings.Join(append(n.Given[:len(n.Given):len(n.Given)], n.Family), " "))
}

type fhirAddress struct {
	Text       string          `json:"text"`
	Line       []string        `json:"line"`
	City       string          `json:"city"`
	PostalCode string          `json:"postalCode"`
	Extension  []fhirExtension `json:"extension"`
}

// String is the address without its postcode, which the subject keeps apart: its text when given,
// else its lines and town, one after another.
func (a fhirAddress) String() string {
	if t := strings.TrimSpace(a.Text); t != "" {
		return t
	}
	var parts []string
	for _, l := range append(a.Line[:len(a.Line):len(a.Line)], a.City) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ", ")
}

type fhirExtension struct {
	URL          string          `json:"url"`
	ValueDecimal *json.Number    `json:"valueDecimal"`
	Extension    []fhirExtension `json:"extension"`
}

// fhirSource is what a QuestionnaireResponse said beyond its answers, which only the form can judge:
// the questionnaire it answers, and its items, to locate each problem by linkId.
type fhirSource struct {
	questionnaire string // the canonical URL without its |version
	items         []fhirItem
}

// parseFHIR reads a QuestionnaireResponse into a Submission, keying answers by linkId as given.
func parseFHIR(data []byte) (*Submission, error) {
	var r fhirResponse
	if err := json.Unmarshal(data, &r); err != nil {
		field := jsonField(err)
		p := Problem{Field: field, Reason: jsonReason(err), issue: issueStructure}
		if field != "body" {
			p.expression = "QuestionnaireResponse." + field
		}
		return nil, &ValidationError{Problems: []Problem{p}}
	}
	var problems problemList
	sub := &Submission{Answers: make(map[string]any)}

	fhirStatus(r.Status, &problems)
	fhirModifiers(r.ImplicitRules, r.ModifierExtension, "", &problems)

	canonical, version, hasVersion := strings.Cut(r.Questionnaire, "|")
	sub.fhir = &fhirSource{questionnaire: canonical, items: r.Item}
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

	flattenItems(r.Item, "", sub.Answers, &problems)
	if len(problems) > 0 {
		sub.fhir.annotate(nil, problems)
		return nil, newValidationError(problems)
	}
	return sub, nil
}

// fhirStatus refuses a response that is not finished or was withdrawn: only a completed or amended
// response is a clinician's answer to act on.
func fhirStatus(status string, problems *problemList) {
	switch status {
	case "completed", "amended":
	case "":
		problems.addIssue("status", "is required: only completed or amended responses are decided", issueRequired, "QuestionnaireResponse.status")
	case "in-progress", "stopped":
		problems.addIssue("status", fmt.Sprintf("is %q: the response is not finished; only completed or amended responses are decided", status), issueValue, "QuestionnaireResponse.status")
	case "entered-in-error":
		problems.addIssue("status", `is "entered-in-error": the response was withdrawn and must not be acted on; only completed or amended responses are decided`, issueValue, "QuestionnaireResponse.status")
	default:
		problems.addIssue("status", fmt.Sprintf("is %q, which is not a QuestionnaireResponse status; only completed or amended responses are decided", status), issueValue, "QuestionnaireResponse.status")
	}
}

// fhirModifiers refuses implicit rules and modifier extensions at path: FHIR requires a receiver to
// refuse what it does not understand there, as they may change the meaning of everything else, and
// Carepath understands none.
func fhirModifiers(implicitRules string, mods []fhirModifier, path string, problems *problemList) {
	if implicitRules != "" {
		field := joinPath(path, "implicitRules")
		problems.addIssue(field, fmt.Sprintf("names rules %q that Carepath does not understand; FHIR requires refusing such a resource", implicitRules),
			issueNotSupported, "QuestionnaireResponse."+field)
	}
	for k, m := range mods {
		field := joinPath(path, "modifierExtension["+strconv.Itoa(k)+"]")
		problems.addIssue(field, fmt.Sprintf("modifier extension %q is not understood; FHIR requires refusing a resource with a modifier extension the receiver does not understand", m.URL),
			issueNotSupported, "QuestionnaireResponse."+field)
	}
}

func joinPath(path, step string) string {
	if path == "" {
		return step
	}
	return path + "." + step
}

// itemStep is the FHIRPath step to the k'th of a list of items: by linkId, which is what a reader
// recognises, or by position when the item has none.
func itemStep(k int, linkID string) string {
	if linkID == "" {
		return "item[" + strconv.Itoa(k) + "]"
	}
	return "item.where(linkId=" + fhirPathString(linkID) + ")"
}

// fhirPathString quotes s as a FHIRPath string literal.
func fhirPathString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
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
	for k, raw := range r.Contained {
		var p fhirPatient
		if err := json.Unmarshal(raw, &p); err != nil {
			problems.addIssue("contained", jsonReason(err), issueStructure, "QuestionnaireResponse.contained["+strconv.Itoa(k)+"]")
			return
		}
		if p.ResourceType != "Patient" || p.ID != id {
			continue
		}
		fhirModifiers(p.ImplicitRules, p.ModifierExtension, "contained["+strconv.Itoa(k)+"]", problems)
		sub.Subject.Ref = p.ID
		if len(p.Identifier) > 0 && p.Identifier[0].Value != "" {
			sub.Subject.Ref = p.Identifier[0].Value
		}
		sub.Subject.BirthDate = p.BirthDate
		if len(p.Name) > 0 {
			sub.Subject.Name = p.Name[0].String()
		}
		exts := p.Extension
		if len(p.Address) > 0 {
			sub.Subject.Address = p.Address[0].String()
			sub.Subject.Postcode = p.Address[0].PostalCode
			exts = append(exts[:len(exts):len(exts)], p.Address[0].Extension...)
		}
		sub.Subject.Contact = fhirContact(p.Telecom, &sub.Subject)
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
// path is the FHIRPath of the list's parent, "" for the resource itself.
func flattenItems(items []fhirItem, path string, answers map[string]any, problems *problemList) {
	for k, it := range items {
		at := joinPath(path, itemStep(k, it.LinkID))
		fhirModifiers("", it.ModifierExtension, at, problems)
		for j, a := range it.Answer {
			fhirModifiers("", a.ModifierExtension, at+".answer["+strconv.Itoa(j)+"]", problems)
		}
		if len(it.Answer) > 0 {
			field := "answers." + it.LinkID
			expr := "QuestionnaireResponse." + at
			if _, dup := answers[it.LinkID]; dup {
				problems.addIssue(field, "linkId appears more than once", issueValue, expr)
			} else if len(it.Answer) > 1 {
				problems.addIssue(field, "has more than one answer; every item takes one", issueValue, expr)
			} else if v, reason := fhirValue(it.Answer[0]); reason != "" {
				problems.addIssue(field, reason, issueValue, expr+".answer[0]")
			} else {
				answers[it.LinkID] = v
			}
			for j, a := range it.Answer {
				flattenItems(a.Item, at+".answer["+strconv.Itoa(j)+"]", answers, problems)
			}
		}
		flattenItems(it.Item, at, answers, problems)
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
	if c := a.ValueCoding; c != nil {
		// A code means something only within its system; without one, "3" could be an option code
		// or a code of any other system.
		switch {
		case c.System == "":
			return nil, "valueCoding has no system: use " + loincSystem + " for a LOINC answer code, or the Questionnaire's url for one of its option codes"
		case c.Code == "":
			return nil, "valueCoding has no code"
		}
		set(*c)
	}
	if q := a.ValueQuantity; q != nil {
		if _, reason := numberValue(q.Value); q.Value == "" || reason != "" {
			return nil, "valueQuantity needs a numeric value"
		}
		set(*q)
	}
	switch n {
	case 0:
		return nil, "answer has no supported value[x] (valueInteger, valueDecimal, valueBoolean, valueString, valueDate, valueDateTime, valueCoding, or valueQuantity for a total score)"
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

// addIssue records a problem with its OperationOutcome issue type and FHIRPath expression.
func (p *problemList) addIssue(field, reason, issue, expression string) {
	*p = append(*p, Problem{Field: field, Reason: reason, issue: issue, expression: expression})
}

// FHIRIssueType is the FHIR R4 IssueType code that fits the problem in an OperationOutcome, such as
// "required" for a missing answer or "not-supported" for a modifier extension.
func (p Problem) FHIRIssueType() string {
	switch {
	case p.issue != "":
		return p.issue
	case p.Field == "body":
		return issueStructure
	case p.Reason == "is required":
		return issueRequired
	case strings.HasPrefix(p.Field, "answers."), p.Field == "form_version":
		return issueValue
	}
	return issueInvalid
}

// FHIRExpression is the FHIRPath of the element at fault in the QuestionnaireResponse that was sent,
// naming items by linkId; "" when the submission was not FHIR or no element can be named.
func (p Problem) FHIRExpression() string {
	return p.expression
}

// annotate gives each problem without one the FHIRPath of the element at fault. f, when known, finds
// items that problems name by item id although the response named them by LOINC code.
func (src *fhirSource) annotate(f *Form, problems []Problem) {
	const root = "QuestionnaireResponse"
	for i := range problems {
		p := &problems[i]
		if p.expression != "" {
			continue
		}
		key, isAnswer := strings.CutPrefix(p.Field, "answers.")
		switch {
		case isAnswer:
			p.expression = root
			if at := src.locate(f, key); at != "" {
				p.expression += "." + at
			}
		case p.Field == "body":
		case p.Field == "questionnaire", p.Field == "form", p.Field == "form_version":
			p.expression = root + ".questionnaire"
		case strings.HasPrefix(p.Field, "subject."):
			p.expression = root + ".subject"
		default:
			p.expression = root + "." + p.Field
		}
	}
}

// locate finds the item answering key, a linkId as sent or, with the form, an item id, as a FHIRPath
// from the resource; "" when no item does.
func (src *fhirSource) locate(f *Form, key string) string {
	want := -1
	if f != nil {
		if i, ok := f.itemByID[key]; ok {
			want = i
		}
	}
	var walk func(items []fhirItem, path string) string
	walk = func(items []fhirItem, path string) string {
		for k, it := range items {
			at := joinPath(path, itemStep(k, it.LinkID))
			if len(it.Answer) > 0 {
				if it.LinkID == key {
					return at
				}
				if want >= 0 {
					if i, ok := f.lookupKey(it.LinkID); ok && i == want {
						return at
					}
				}
			}
			for j, a := range it.Answer {
				if found := walk(a.Item, at+".answer["+strconv.Itoa(j)+"]"); found != "" {
					return found
				}
			}
			if found := walk(it.Item, at); found != "" {
				return found
			}
		}
		return ""
	}
	return walk(src.items, "")
}

// extraLOINCItem reports whether a LOINC item is one that LOINC's own forms add to panels Carepath
// uses but that no Carepath decision reads: PHQ-9's "how difficult have these problems made it"
// (69722-7). Responses from those forms carry it, and refusing them for it would refuse the form.
func extraLOINCItem(code string) bool {
	switch code {
	case "69722-7":
		return true
	}
	return false
}

// lastStep is the last step of a path-style linkId such as "/44249-1/44250-9".
func lastStep(key string) string {
	return key[strings.LastIndexByte(key, '/')+1:]
}

// scoreByLOINC finds the sum score whose LOINC code is the last step of key.
func (f *Form) scoreByLOINC(key string) (int, bool) {
	code := lastStep(key)
	for s := range f.Scores {
		if f.Scores[s].LOINC == code && len(f.sums[s]) > 0 {
			return s, true
		}
	}
	return 0, false
}

// fhirExtraItem reports whether a linkId that is no item of the form may stay in a FHIR response:
// a total the form computes itself, which validateFHIR checks, or an extra LOINC item.
func (f *Form) fhirExtraItem(key string) bool {
	if _, ok := f.scoreByLOINC(key); ok {
		return true
	}
	return extraLOINCItem(lastStep(key))
}

// validateFHIR checks what only a FHIR response carries once the form is known: that it answers this
// form's Questionnaire, and that any total it supplies is the one its answers give; then it locates
// every problem in the response.
func (f *Form) validateFHIR(sub *Submission, values []rules.Value, problems *problemList) {
	src := sub.fhir
	if src.questionnaire != f.URL {
		problems.addIssue("questionnaire", fmt.Sprintf("must be the form's canonical URL %s, optionally with |version, got %q", f.URL, src.questionnaire),
			issueValue, "QuestionnaireResponse.questionnaire")
	}
	for key, raw := range sub.Answers {
		if _, isItem := f.lookupKey(key); isItem {
			continue
		}
		if s, ok := f.scoreByLOINC(key); ok {
			f.checkTotal(key, s, raw, values, problems)
		}
	}
	src.annotate(f, *problems)
}

// checkTotal refuses a supplied total that differs from the sum of the answers: one of them is wrong,
// and a decision must not rest on either. A total that cannot be computed, for want of answers, is
// not checked, as it is never used.
func (f *Form) checkTotal(key string, s int, raw any, values []rules.Value, problems *problemList) {
	total := sumOf(values, f.sums[s])
	if total.Kind != rules.KindInt || raw == nil {
		return
	}
	name := f.Scores[s].Name
	var n int64
	switch v := raw.(type) {
	case int64:
		n = v
	case float64:
		if v != float64(int64(v)) {
			problems.add("answers."+key, fmt.Sprintf("is the total %s and must be a whole number, got %s", name, describe(raw)))
			return
		}
		n = int64(v)
	case fhirQuantity:
		x, reason := numberValue(v.Value)
		i, whole := x.(int64)
		if reason != "" || !whole {
			problems.add("answers."+key, fmt.Sprintf("is the total %s and must be a whole number, got %s", name, describe(raw)))
			return
		}
		n = i
	default:
		problems.add("answers."+key, fmt.Sprintf("is the total %s and must be a number, got %s", name, describe(raw)))
		return
	}
	if n != total.I {
		problems.add("answers."+key, fmt.Sprintf("gives the total %s as %d, but the answers add up to %d", name, n, total.I))
	}
}

// resolveCoding finds the option a coding picks. Its system says which kind of code it is: a LOINC
// answer code under http://loinc.org, an option code under the form's URL, as the Questionnaire
// export writes them. Native submissions may leave the system out, and then either kind matches.
func (f *Form) resolveCoding(i int, c Coding) (int, bool) {
	opts := f.Items[i].Options
	for j := range opts {
		var match bool
		switch c.System {
		case "":
			match = opts[j].Code == c.Code || opts[j].LOINC != "" && opts[j].LOINC == c.Code
		case loincSystem:
			match = opts[j].LOINC != "" && opts[j].LOINC == c.Code
		case f.URL:
			match = opts[j].Code == c.Code
		}
		if match {
			return j, true
		}
	}
	return 0, false
}

// codingReason says why a coding picks no option of choice item i, naming the codes its system allows.
func (f *Form) codingReason(i int, c Coding) string {
	opts := f.Items[i].Options
	codes := make([]string, 0, len(opts))
	answerCodes := make([]string, 0, len(opts))
	for _, o := range opts {
		codes = append(codes, o.Code)
		if o.LOINC != "" {
			answerCodes = append(answerCodes, o.LOINC)
		}
	}
	switch c.System {
	case "":
		return fmt.Sprintf("coding %q is not one of the option codes %s or their LOINC answer codes", c.Code, strings.Join(codes, ", "))
	case loincSystem:
		if len(answerCodes) == 0 {
			return fmt.Sprintf("coding %q has system %s, but this item has no LOINC answer codes; use system %s with one of the option codes %s",
				c.Code, loincSystem, f.URL, strings.Join(codes, ", "))
		}
		return fmt.Sprintf("coding %q is not one of the LOINC answer codes %s (system %s)", c.Code, strings.Join(answerCodes, ", "), loincSystem)
	case f.URL:
		return fmt.Sprintf("coding %q is not one of the option codes %s (system %s)", c.Code, strings.Join(codes, ", "), f.URL)
	}
	if len(answerCodes) == 0 {
		return fmt.Sprintf("coding system %q is not this item's: use %s with one of the option codes %s", c.System, f.URL, strings.Join(codes, ", "))
	}
	return fmt.Sprintf("coding system %q is not this item's: use %s with a LOINC answer code, or %s with an option code", c.System, loincSystem, f.URL)
}
