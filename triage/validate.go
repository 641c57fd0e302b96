package triage

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/carepath/carepath/rules"
)

// Problem is one reason a submission was refused, named by the field at fault.
type Problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`

	// Set for FHIR input: the OperationOutcome issue type when the default does not fit, and
	// where in the QuestionnaireResponse the problem lies (see FHIRIssueType, FHIRExpression).
	issue, expression string
}

// ValidationError carries every problem found in a submission, so a clinician can fix them all at once.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("triage: invalid submission:")
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.Field)
		b.WriteString(": ")
		b.WriteString(p.Reason)
	}
	return b.String()
}

// newValidationError sorts problems by field so the same submission always reports the same way.
func newValidationError(problems []Problem) *ValidationError {
	slices.SortFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Reason, b.Reason))
	})
	return &ValidationError{Problems: slices.Compact(problems)}
}

func problemError(field, reason string) *ValidationError {
	return &ValidationError{Problems: []Problem{{Field: field, Reason: reason}}}
}

// smallForm is the item count up to which Validate keeps its bookkeeping on the stack.
const smallForm = 128

// Validate checks a submission against the form and returns its answers as typed values aligned with
// the form's items; every problem found is returned together in a *ValidationError.
func (f *Form) Validate(sub *Submission) ([]rules.Value, error) {
	var problems problemList
	if sub.Form != f.ID {
		problems.add("form", "must be "+strconv.Quote(f.ID)+", got "+strconv.Quote(sub.Form))
	}
	if sub.FormVersion != 0 && sub.FormVersion != f.Version {
		problems.add("form_version", "must be "+strconv.Itoa(f.Version)+" or omitted, got "+strconv.Itoa(sub.FormVersion))
	}
	f.validateSubject(sub, &problems)
	if sub.Authored != nil {
		// Canonical JSON writes authored in UTC as RFC 3339, which has room for four-digit years only.
		if y := sub.Authored.UTC().Year(); y < 1 || y > 9999 {
			problems.add("authored", "must be between years 0001 and 9999 in UTC")
		}
	}

	values := make([]rules.Value, len(f.Items))
	var seenStack [smallForm]uint8 // answers per item, capped at 2: a duplicate
	var seen []uint8
	if len(f.Items) <= smallForm {
		seen = seenStack[:len(f.Items)]
	} else {
		seen = make([]uint8, len(f.Items))
	}
	for key, raw := range sub.Answers {
		i, ok := f.lookupKey(key)
		if !ok {
			if sub.fhir == nil || !f.fhirExtraItem(key) {
				problems.add("answers."+key, "is not an item on form "+f.ID+" version "+strconv.Itoa(f.Version))
			}
			continue
		}
		if raw == nil {
			continue // an explicit null is no answer
		}
		it := &f.Items[i]
		seen[i] = min(seen[i]+1, 2)
		v, reason := f.answerValue(i, raw)
		if reason != "" {
			problems.add("answers."+it.ID, reason)
			continue
		}
		values[i] = v
	}
	for i := range f.Items {
		if seen[i] > 1 {
			problems.add("answers."+f.Items[i].ID, "is answered more than once (by id and by LOINC code)")
		}
		if f.Items[i].Required && seen[i] == 0 {
			problems.add("answers."+f.Items[i].ID, "is required")
		}
	}
	if sub.fhir != nil {
		f.validateFHIR(sub, values, &problems)
	}
	if problems != nil {
		return nil, newValidationError(problems)
	}
	return values, nil
}

// problemList collects problems without a closure, keeping the success path free of allocations.
type problemList []Problem

func (p *problemList) add(field, reason string) {
	*p = append(*p, Problem{Field: field, Reason: reason})
}

func (f *Form) validateSubject(sub *Submission, problems *problemList) {
	s := &sub.Subject
	if strings.TrimSpace(s.Ref) == "" {
		problems.add("subject.ref", "is required")
	}
	if s.BirthDate != "" {
		y, m, d, ok := parseDate(s.BirthDate)
		switch {
		case !ok:
			problems.add("subject.birth_date", "must be a date as YYYY-MM-DD, got "+strconv.Quote(s.BirthDate))
		case sub.Authored != nil:
			ay, am, ad := sub.Authored.Date()
			if y > ay || y == ay && (m > int(am) || m == int(am) && d > ad) {
				problems.add("subject.birth_date", "is after the assessment was authored")
			}
		}
	}
	// The reasons never quote a name or an address: problems reach logs and analysts' reports.
	for _, t := range [...]struct {
		field, value string
		max          int
	}{{"subject.name", s.Name, MaxNameChars}, {"subject.address", s.Address, MaxAddressChars}} {
		switch {
		case t.value == "":
		case !storableText(t.value) || strings.ContainsFunc(t.value, isControl):
			problems.add(t.field, "must be plain text, without control characters")
		case utf8.RuneCountInString(t.value) > t.max:
			problems.add(t.field, "must be at most "+strconv.Itoa(t.max)+" characters")
		}
	}
	validateContact(s, problems)
	if s.Age != nil && (*s.Age < 0 || *s.Age > 150) {
		problems.add("subject.age", "must be between 0 and 150, got "+strconv.Itoa(*s.Age))
	}
	if loc := s.Location; loc != nil {
		if !(loc.Lat >= -90 && loc.Lat <= 90) {
			problems.add("subject.location.lat", "must be between -90 and 90")
		}
		if !(loc.Lon >= -180 && loc.Lon <= 180) {
			problems.add("subject.location.lon", "must be between -180 and 180")
		}
	}
}

// MaxEmailChars is the longest email address accepted, as RFC 5321 bounds a path.
const MaxEmailChars = 254

// validateContact checks the stated preference and the details it needs. Like those for the name
// and address, the reasons never quote a phone number or an email address.
func validateContact(s *Subject, problems *problemList) {
	c := s.Contact
	if c == nil {
		return
	}
	phone, email := strings.TrimSpace(c.Phone), strings.TrimSpace(c.Email)
	if phone != "" && !ukPhone(phone) {
		problems.add("subject.contact.phone", "must be a phone number of 10 to 15 digits, with spaces and a leading + allowed")
	}
	if email != "" {
		if reason := emailProblem(email); reason != "" {
			problems.add("subject.contact.email", reason)
		}
	}
	switch c.Preference {
	case PreferSMS:
		if phone == "" {
			problems.add("subject.contact.phone", "is required when the preference is sms")
		}
	case PreferEmail:
		if email == "" {
			problems.add("subject.contact.email", "is required when the preference is email")
		}
	case PreferLetter:
		if strings.TrimSpace(s.Address) == "" && strings.TrimSpace(s.Postcode) == "" {
			problems.add("subject.contact.preference", "is letter, which needs subject.address or subject.postcode")
		}
	case PreferNone:
	case "":
		problems.add("subject.contact.preference", "is required: sms, email, letter or none")
	default:
		problems.add("subject.contact.preference", "must be sms, email, letter or none, got "+strconv.Quote(c.Preference))
	}
}

// ukPhone accepts digits and spaces with an optional leading +, 10 to 15 digits in all, which
// covers UK numbers written nationally (07700 900123) and internationally (+44 7700 900123).
func ukPhone(p string) bool {
	digits := 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ':
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return digits >= 10 && digits <= 15
}

// emailProblem is why e is not an email address Notify could send to, or "".
func emailProblem(e string) string {
	switch local, domain, _ := strings.Cut(e, "@"); {
	case len(e) > MaxEmailChars:
		return "must be at most " + strconv.Itoa(MaxEmailChars) + " characters"
	case !storableText(e) || strings.ContainsFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return "must not contain spaces or control characters"
	case strings.Count(e, "@") != 1 || local == "" || domain == "":
		return "must be an email address with one @ between the name and the domain"
	}
	return ""
}

// isControl is a control character other than the line breaks an address may carry.
func isControl(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r'
}

// answerValue converts one raw answer to item i's kind, or says why it cannot.
func (f *Form) answerValue(i int, raw any) (rules.Value, string) {
	it := &f.Items[i]
	switch it.Type {
	case TypeInteger:
		var n int64
		switch v := raw.(type) {
		case int64:
			n = v
		case float64:
			if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
				return rules.Value{}, "must be a whole number, got " + strconv.FormatFloat(v, 'g', -1, 64)
			}
			n = int64(v)
		default:
			return rules.Value{}, "must be a whole number, got " + describe(raw)
		}
		if reason := it.checkRange(float64(n)); reason != "" {
			return rules.Value{}, reason
		}
		return rules.Int(n), ""
	case TypeDecimal:
		var x float64
		switch v := raw.(type) {
		case int64:
			x = float64(v)
		case float64:
			x = v
		default:
			return rules.Value{}, "must be a number, got " + describe(raw)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return rules.Value{}, "must be a finite number"
		}
		if reason := it.checkRange(x); reason != "" {
			return rules.Value{}, reason
		}
		return rules.Double(x), ""
	case TypeBoolean:
		if b, ok := raw.(bool); ok {
			return rules.Bool(b), ""
		}
		return rules.Value{}, "must be true or false, got " + describe(raw)
	case TypeChoice:
		j, ok := f.resolveChoice(i, raw)
		if !ok {
			return rules.Value{}, f.choiceReason(i, raw)
		}
		if f.scored[i] {
			return rules.Int(int64(*it.Options[j].Score)), ""
		}
		return rules.String(it.Options[j].Code), ""
	case TypeString:
		if s, ok := raw.(string); ok {
			return rules.String(s), ""
		}
		return rules.Value{}, "must be text, got " + describe(raw)
	case TypeDate:
		if s, ok := raw.(string); ok {
			if _, _, _, ok := parseDate(s); ok {
				return rules.String(s), ""
			}
		}
		return rules.Value{}, "must be a date as YYYY-MM-DD, got " + describe(raw)
	}
	return rules.Value{}, "has an unsupported item type"
}

func (it *Item) checkRange(x float64) string {
	if it.Min != nil && x < *it.Min || it.Max != nil && x > *it.Max {
		return "must be between " + bound(it.Min, "-∞") + " and " + bound(it.Max, "∞") + ", got " + strconv.FormatFloat(x, 'g', -1, 64)
	}
	return ""
}

func bound(b *float64, none string) string {
	if b == nil {
		return none
	}
	return strconv.FormatFloat(*b, 'g', -1, 64)
}

// resolveChoice finds the option an answer picks: by code, by Coding (option or LOINC answer code, per its system), or by a unique score.
func (f *Form) resolveChoice(i int, raw any) (int, bool) {
	opts := f.Items[i].Options
	switch v := raw.(type) {
	case string:
		for j := range opts {
			if opts[j].Code == v {
				return j, true
			}
		}
	case Coding:
		return f.resolveCoding(i, v)
	case int64, float64:
		if !f.scored[i] {
			return 0, false
		}
		var n int64
		if x, ok := v.(float64); ok {
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return 0, false
			}
			n = int64(x)
		} else {
			n = v.(int64)
		}
		found := -1
		for j := range opts {
			if int64(*opts[j].Score) == n {
				if found >= 0 {
					return 0, false
				}
				found = j
			}
		}
		return found, found >= 0
	}
	return 0, false
}

func (f *Form) choiceReason(i int, raw any) string {
	codes := make([]string, len(f.Items[i].Options))
	for j, o := range f.Items[i].Options {
		codes[j] = o.Code
	}
	switch v := raw.(type) {
	case string:
		return fmt.Sprintf("%q is not one of the option codes %s", v, strings.Join(codes, ", "))
	case Coding:
		return f.codingReason(i, v)
	case int64, float64:
		if f.scored[i] {
			return fmt.Sprintf("%v is not the score of exactly one option", v)
		}
		return "must be one of the option codes " + strings.Join(codes, ", ") + ", got a number"
	}
	return "must be one of the option codes " + strings.Join(codes, ", ") + ", got " + describe(raw)
}

func describe(raw any) string {
	switch v := raw.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case string:
		return strconv.Quote(v)
	case Coding:
		return "a coding " + strconv.Quote(v.Code)
	case fhirQuantity:
		return "a valueQuantity of " + string(v.Value)
	}
	return fmt.Sprintf("a value of type %T", raw)
}
