package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/internal/nhsnumber"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// clinicianPages registers the web pages of the assessment form, decision page and appointment letter.
func (s *Server) clinicianPages(mux *http.ServeMux) {
	s.handlePage(mux, "GET /assessments/new", identity.SubmitAssessment, s.pickFormPage)
	s.handlePage(mux, "GET /assessments/new/{form}", identity.SubmitAssessment, s.assessmentFormPage)
	s.handlePage(mux, "POST /assessments/new/{form}", identity.SubmitAssessment, s.submitAssessmentPage)
	s.handlePage(mux, "GET /decisions/{id}", identity.ReadDecision, s.decisionPage)
	// POST states a reason for breaking the glass, kept out of the address bar and the history.
	s.handlePage(mux, "POST /decisions/{id}", identity.ReadDecision, s.decisionPage)
	s.handlePage(mux, "GET /decisions/{id}/letter", identity.ReadDecision, s.letterPage)
	s.handlePage(mux, "POST /decisions/{id}/case", identity.ManageAppointments, s.caseStepPage)
}

// Form fields of the assessment page besides the answers, which are named "answers.ITEM" as the
// domain names them, so that its validation problems land on their inputs unchanged.
const (
	fieldNHSNumber   = "nhs_number"
	fieldName        = "name"
	fieldAddress     = "address"
	fieldBirthDay    = "birth_date-day"
	fieldBirthMonth  = "birth_date-month"
	fieldBirthYear   = "birth_date-year"
	fieldPostcode    = "postcode"
	fieldContact     = "contact_preference"
	fieldPhone       = "contact_phone"
	fieldEmail       = "contact_email"
	fieldIdempotency = "idempotency_key"
)

// clinicianScripts enhance the clinician's pages: keeping a form's answers through a lost connection.
var clinicianScripts = []string{"offline.js"}

func (s *Server) pickFormPage(w http.ResponseWriter, r *http.Request) {
	forms, err := s.Forms.Forms(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	// The list holds every published version; a clinician starts from the latest of each form.
	latest := map[string]formSummary{}
	var order []string
	for _, f := range forms {
		prev, ok := latest[f.ID]
		if !ok {
			order = append(order, f.ID)
		}
		if !ok || f.Version > prev.Version {
			latest[f.ID] = formSummary{ID: f.ID, Version: f.Version, Title: f.Title, Description: f.Description}
		}
	}
	out := make([]formSummary, 0, len(order))
	for _, id := range order {
		out = append(out, latest[id])
	}
	slices.SortFunc(out, func(a, b formSummary) int { return strings.Compare(a.Title, b.Title) })
	s.render(w, r, http.StatusOK, "assessment-pick", view{Title: "Start an assessment", Data: out})
}

// assessmentForm is the assessment page: the published form laid out as questions, the subject's
// details, what was typed and what is wrong with it.
type assessmentForm struct {
	Form     *triage.Form
	Action   string
	Key      string // the idempotency key of this rendering: a retry of the same answers stores one decision
	Subject  subjectFields
	Sections []formSection
}

// subjectFields are the subject's details as typed.
type subjectFields struct {
	NHSNumber, Name, Day, Month, Year, Address, Postcode         string
	NHSError, NameError, BirthError, AddressError, PostcodeError string
	// How the appointment is sent: the preference (sms, email, letter, none or unanswered) and
	// the details it needs.
	Contact, Phone, Email                string
	ContactError, PhoneError, EmailError string
}

// formSection is a group of the form (or the questions outside any group): an answer grid when
// every item shares the same options, as PHQ-9 and GAD-7 do, else one question after another.
type formSection struct {
	Heading   string
	Grid      *answerGrid
	Questions []question
}

// answerGrid is the familiar questionnaire table: a row per question, a column per answer.
type answerGrid struct {
	Columns []string
	Rows    []question
}

// question is one item as the page shows it.
type question struct {
	Name    string // the input name, "answers.ITEM"
	ID      string // the first input's id, which the error summary links to
	Text    string
	Hint    string
	Kind    string // radios, number, text, date
	Options []choice
	Value   string
	Error   string
	Min     string
	Max     string
}

// choice is one radio button.
type choice struct {
	ID, Value, Label string
	Checked          bool
}

func (s *Server) assessmentFormPage(w http.ResponseWriter, r *http.Request) {
	f, err := s.Forms.Form(r.Context(), r.PathValue("form"), 0)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	page := buildAssessmentForm(f, nil, nil, newPageKey())
	s.render(w, r, http.StatusOK, "assessment-form", view{Title: f.Title, Data: page, Scripts: clinicianScripts})
}

// newPageKey is a fresh idempotency key for one rendering of a form.
func newPageKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "page-" + hex.EncodeToString(b[:])
}

// buildAssessmentForm lays out f with the values posted (nil for a blank form) and the errors found.
func buildAssessmentForm(f *triage.Form, posted map[string][]string, errs []fieldError, key string) *assessmentForm {
	get := func(name string) string {
		if v := posted[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	msg := func(field string) string {
		for _, e := range errs {
			if e.Field == field {
				return e.Message
			}
		}
		return ""
	}
	page := &assessmentForm{Form: f, Action: "/assessments/new/" + f.ID, Key: key, Subject: subjectFields{
		NHSNumber: get(fieldNHSNumber), Name: get(fieldName), Day: get(fieldBirthDay), Month: get(fieldBirthMonth), Year: get(fieldBirthYear),
		Address: get(fieldAddress), Postcode: get(fieldPostcode),
		NHSError: msg("subject.ref"), NameError: msg("subject.name"), BirthError: msg("subject.birth_date"),
		AddressError: msg("subject.address"), PostcodeError: msg("subject.postcode"),
		Contact: get(fieldContact), Phone: get(fieldPhone), Email: get(fieldEmail),
		ContactError: msg("subject.contact.preference"), PhoneError: msg("subject.contact.phone"), EmailError: msg("subject.contact.email"),
	}}
	inGroup := map[string]bool{}
	for _, g := range f.Groups {
		sec := formSection{Heading: g.Text}
		var qs []question
		for _, id := range g.Items {
			if i, ok := f.ItemIndex(id); ok {
				inGroup[id] = true
				qs = append(qs, buildQuestion(&f.Items[i], get("answers."+id), msg("answers."+id)))
			}
		}
		if cols, ok := sharedOptions(f, g.Items); ok && len(qs) > 1 {
			sec.Grid = &answerGrid{Columns: cols, Rows: qs}
		} else {
			sec.Questions = qs
		}
		page.Sections = append(page.Sections, sec)
	}
	rest := formSection{Heading: "Other questions"}
	for i := range f.Items {
		if it := &f.Items[i]; !inGroup[it.ID] {
			rest.Questions = append(rest.Questions, buildQuestion(it, get("answers."+it.ID), msg("answers."+it.ID)))
		}
	}
	if len(rest.Questions) > 0 {
		if len(page.Sections) == 0 {
			rest.Heading = ""
		}
		page.Sections = append(page.Sections, rest)
	}
	return page
}

// sharedOptions returns the option labels when every item is a choice with the same options.
func sharedOptions(f *triage.Form, ids []string) ([]string, bool) {
	var cols []string
	var first []triage.Option
	for n, id := range ids {
		i, ok := f.ItemIndex(id)
		if !ok || f.Items[i].Type != triage.TypeChoice {
			return nil, false
		}
		opts := f.Items[i].Options
		if n == 0 {
			first = opts
			for _, o := range opts {
				cols = append(cols, o.Display)
			}
			continue
		}
		if !slices.EqualFunc(first, opts, func(a, b triage.Option) bool { return a.Code == b.Code && a.Display == b.Display }) {
			return nil, false
		}
	}
	return cols, len(cols) > 0
}

func buildQuestion(it *triage.Item, value, errMsg string) question {
	q := question{Name: "answers." + it.ID, ID: "answers-" + it.ID, Text: it.Text, Value: value, Error: errMsg}
	radios := func(opts []choice) {
		q.Kind = "radios"
		for j := range opts {
			opts[j].ID = q.ID
			if j > 0 {
				opts[j].ID = q.ID + "-" + strconv.Itoa(j+1)
			}
			opts[j].Checked = opts[j].Value == value
		}
		q.Options = opts
	}
	switch it.Type {
	case triage.TypeChoice:
		opts := make([]choice, len(it.Options))
		for j, o := range it.Options {
			opts[j] = choice{Value: o.Code, Label: o.Display}
		}
		radios(opts)
	case triage.TypeBoolean:
		radios([]choice{{Value: "true", Label: "Yes"}, {Value: "false", Label: "No"}})
	case triage.TypeInteger:
		if head, levels, ok := describedLevels(it); ok {
			q.Text = head
			radios(levels)
			return q
		}
		q.Kind = "number"
	case triage.TypeDecimal:
		q.Kind = "number"
	case triage.TypeDate:
		q.Kind, q.Hint = "date", "For example, 2026-03-27"
	default:
		q.Kind = "text"
	}
	if it.Min != nil {
		q.Min = strconv.FormatFloat(*it.Min, 'f', -1, 64)
	}
	if it.Max != nil {
		q.Max = strconv.FormatFloat(*it.Max, 'f', -1, 64)
	}
	if q.Kind == "number" && q.Min != "" && q.Max != "" {
		q.Hint = "A number from " + q.Min + " to " + q.Max
	}
	return q
}

// describedLevels reads an integer item whose text describes each level, as the Barthel items
// do ("Bowels: 0 incontinent, 1 occasional accident, 2 continent"), into one radio per level, so
// that the clinician picks a description rather than recalls a number. ok is false when the text
// does not name every level from Min to Max in order.
func describedLevels(it *triage.Item) (head string, levels []choice, ok bool) {
	if it.Min == nil || it.Max == nil || *it.Max-*it.Min > 10 || *it.Min != float64(int(*it.Min)) {
		return "", nil, false
	}
	head, rest, found := strings.Cut(it.Text, ": ")
	if !found {
		return "", nil, false
	}
	lo, hi := int(*it.Min), int(*it.Max)
	for n := lo; n <= hi; n++ {
		prefix := strconv.Itoa(n) + " "
		if !strings.HasPrefix(rest, prefix) {
			return "", nil, false
		}
		rest = rest[len(prefix):]
		end := len(rest)
		if n < hi {
			end = strings.Index(rest, ", "+strconv.Itoa(n+1)+" ")
			if end < 0 {
				return "", nil, false
			}
		}
		levels = append(levels, choice{Value: strconv.Itoa(n), Label: strconv.Itoa(n) + ": " + rest[:end]})
		rest = strings.TrimPrefix(rest[end:], ", ")
	}
	return head, levels, true
}

// pageSubmission is the submission a page builds, the same document the API takes.
type pageSubmission struct {
	Form    string         `json:"form"`
	Subject triage.Subject `json:"subject"`
	Answers map[string]any `json:"answers"`
}

func (s *Server) submitAssessmentPage(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, triage.MaxSubmissionBytes)
	if err := r.ParseForm(); err != nil {
		s.pageProblem(w, r, failure.Errorf(failure.Invalid, "form: %v", err))
		return
	}
	f, err := s.Forms.Form(r.Context(), r.PathValue("form"), 0)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	key, err := pageIdempotencyKey(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	body, pageErrs := submissionFromForm(f, r.PostForm, s.Engine.Now().In(s.location()))
	fail := func(status int, errs []fieldError, key string) {
		errs = inFormOrder(f, errs)
		page := buildAssessmentForm(f, r.PostForm, errs, key)
		s.render(w, r, status, "assessment-form", view{Title: f.Title, Data: page, Errors: errs, Scripts: clinicianScripts})
	}
	if len(pageErrs) > 0 {
		// The answers are checked too, so that one round trip names every field to put right.
		if sub, err := triage.ParseSubmission(body); err == nil {
			if _, err := f.Validate(sub); err != nil {
				pageErrs = append(pageErrs, answerErrors(err)...)
			}
		}
		fail(http.StatusUnprocessableEntity, pageErrs, key)
		return
	}
	p := identity.FromContext(r.Context())
	opts := triage.Options{IdempotencyKey: key, Team: p.Team(), SubmittedBy: p.Subject, IncludeRejected: true,
		InTx: cases.Then(s.recordInTx(r, audit.ActionDecisionCreate), cases.OpenInTx)}
	d, created, err := s.Engine.Submit(r.Context(), body, opts)
	var ve *triage.ValidationError
	switch {
	case errors.As(err, &ve):
		fail(http.StatusUnprocessableEntity, answerErrors(err), key)
		return
	case failure.CodeOf(err) == failure.Conflict && key != "":
		// These answers differ from those first sent with this page's key, which made a decision
		// already: say so, and give the page a new key should the clinician mean a second one.
		fail(http.StatusConflict, []fieldError{{Message: "These answers were already sent once from this page and a decision made; " +
			"the changes since were not saved. Send them again only if this is a new assessment."}}, newPageKey())
		return
	case err != nil:
		s.pageProblem(w, r, err)
		return
	}
	if created {
		s.Metrics.decided(d)
	}
	http.Redirect(w, r, "/decisions/"+d.ID, http.StatusSeeOther)
}

// pageIdempotencyKey takes the key from the Idempotency-Key header, as the API does, or else from
// the form's hidden field, which the page generated when it was rendered.
func pageIdempotencyKey(r *http.Request) (string, error) {
	if r.Header.Get("Idempotency-Key") != "" {
		return idempotencyKey(r)
	}
	return idempotencyKey(&http.Request{Header: http.Header{"Idempotency-Key": {r.PostForm.Get(fieldIdempotency)}}})
}

// submissionFromForm builds the JSON submission from the posted fields, and the problems only the
// page can see: the NHS number's check digit and the three parts of the birth date. Answers are
// passed on as typed, so that the domain's validation judges them exactly as it judges the API's.
func submissionFromForm(f *triage.Form, form map[string][]string, now time.Time) ([]byte, []fieldError) {
	get := func(name string) string {
		if v := form[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	var errs []fieldError
	sub := pageSubmission{Form: f.ID, Answers: map[string]any{}}
	if ref, err := nhsnumber.Parse(get(fieldNHSNumber)); err != nil {
		errs = append(errs, fieldError{Field: "subject.ref", ID: fieldNHSNumber, Message: sentence(err.Error())})
		sub.Subject.Ref = "unchecked" // validation goes on to the answers
	} else {
		sub.Subject.Ref = ref
	}
	if name := get(fieldName); name == "" {
		errs = append(errs, fieldError{Field: "subject.name", ID: fieldName, Message: "Enter the person's full name"})
	} else {
		sub.Subject.Name = name
	}
	if birth, reason := birthDate(get(fieldBirthDay), get(fieldBirthMonth), get(fieldBirthYear), now); reason != "" {
		errs = append(errs, fieldError{Field: "subject.birth_date", ID: fieldBirthDay, Message: reason})
	} else {
		sub.Subject.BirthDate = birth
	}
	// A letter needs an address or at least a postcode; the postcode also finds the nearest service.
	sub.Subject.Address, sub.Subject.Postcode = get(fieldAddress), get(fieldPostcode)
	if sub.Subject.Address == "" && sub.Subject.Postcode == "" {
		errs = append(errs, fieldError{Field: "subject.address", ID: fieldAddress, Message: "Enter the person's address or postcode"})
	}
	// The appointment's channel is optional; the details it needs are judged by the domain.
	if pref := get(fieldContact); pref != "" {
		sub.Subject.Contact = &triage.Contact{Preference: pref, Phone: get(fieldPhone), Email: get(fieldEmail)}
	}
	for i := range f.Items {
		it := &f.Items[i]
		v := get("answers." + it.ID)
		if v == "" {
			continue
		}
		switch it.Type {
		case triage.TypeBoolean:
			if b, err := strconv.ParseBool(v); err == nil {
				sub.Answers[it.ID] = b
				continue
			}
		case triage.TypeInteger:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				sub.Answers[it.ID] = n
				continue
			}
		case triage.TypeDecimal:
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				sub.Answers[it.ID] = x
				continue
			}
		}
		sub.Answers[it.ID] = v
	}
	body, err := json.Marshal(sub)
	if err != nil {
		errs = append(errs, fieldError{Message: "The answers could not be read: " + err.Error()})
	}
	return body, errs
}

// birthDate joins the three fields of a date input into YYYY-MM-DD, or says what is wrong.
func birthDate(day, month, year string, now time.Time) (string, string) {
	if day == "" && month == "" && year == "" {
		return "", "Enter the person's date of birth"
	}
	d, errD := strconv.Atoi(day)
	m, errM := strconv.Atoi(month)
	y, errY := strconv.Atoi(year)
	if errD != nil || errM != nil || errY != nil || len(year) != 4 {
		return "", "Date of birth must be a real date, with a day, month and four-digit year, such as 27 3 1980"
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m || t.Year() != y {
		return "", "Date of birth must be a real date, with a day, month and four-digit year, such as 27 3 1980"
	}
	if t.After(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)) {
		return "", "Date of birth must be today or in the past"
	}
	return t.Format(time.DateOnly), ""
}

// answerErrors turns the domain's validation problems into the error summary, with plain
// messages: "is required" on a question reads "Answer ..." as a clinician would say it.
func answerErrors(err error) []fieldError {
	var out []fieldError
	var ve *triage.ValidationError
	if !errors.As(err, &ve) {
		return fieldErrors(err, nil)
	}
	for _, p := range ve.Problems {
		fe := fieldError{Field: p.Field, Message: p.Reason}
		switch {
		case strings.HasPrefix(p.Field, "answers."):
			item := strings.TrimPrefix(p.Field, "answers.")
			fe.ID = "answers-" + item
			if p.Reason == "is required" {
				fe.Message = "Answer this question: " + item
			} else {
				fe.Message = item + ": " + p.Reason
			}
		case p.Field == "subject.ref":
			fe.ID, fe.Message = fieldNHSNumber, "NHS number "+p.Reason
		case p.Field == "subject.name":
			fe.ID, fe.Message = fieldName, "Full name "+p.Reason
		case p.Field == "subject.birth_date":
			fe.ID, fe.Message = fieldBirthDay, "Date of birth "+p.Reason
		case p.Field == "subject.address":
			fe.ID, fe.Message = fieldAddress, "Address "+p.Reason
		case p.Field == "subject.postcode":
			fe.ID, fe.Message = fieldPostcode, "Postcode "+p.Reason
		case p.Field == "subject.contact.preference":
			fe.ID, fe.Message = fieldContact+"-sms", "How to send the appointment letter "+p.Reason
		case p.Field == "subject.contact.phone":
			fe.ID, fe.Message = fieldPhone, "Mobile phone number "+p.Reason
		case p.Field == "subject.contact.email":
			fe.ID, fe.Message = fieldEmail, "Email address "+p.Reason
		default:
			fe.Message = p.Field + " " + p.Reason
		}
		out = append(out, fe)
	}
	return out
}

// inFormOrder sorts the error summary into the order of the fields on the page, naming each
// question by its text rather than its id.
func inFormOrder(f *triage.Form, errs []fieldError) []fieldError {
	rank := func(field string) int {
		switch field {
		case "subject.ref":
			return 0
		case "subject.name":
			return 1
		case "subject.birth_date":
			return 2
		case "subject.address":
			return 3
		case "subject.postcode":
			return 4
		case "subject.contact.preference":
			return 5
		case "subject.contact.phone":
			return 6
		case "subject.contact.email":
			return 7
		case "":
			return -1
		}
		if i, ok := f.ItemIndex(strings.TrimPrefix(field, "answers.")); ok {
			return 8 + i
		}
		return 8 + len(f.Items)
	}
	out := slices.Clone(errs)
	for i := range out {
		if id, ok := strings.CutPrefix(out[i].Field, "answers."); ok {
			if j, ok := f.ItemIndex(id); ok {
				out[i].Message = strings.Replace(out[i].Message, id, "“"+itemLabel(&f.Items[j])+"”", 1)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b fieldError) int { return rank(a.Field) - rank(b.Field) })
	return out
}

// sentence starts s with a capital letter.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// decisionView is a decision as a clinician reads it: what happens, how soon, why, and who.
type decisionView struct {
	D              *triage.Decision
	Pathway        rules.Pathway
	PriorityLabel  string
	PriorityTag    string // the tag's colour modifier
	RespondBy      time.Time
	RespondWithin  string
	ClinicianToday bool     // a risk answer: a clinician reviews the case today, whatever else follows
	OtherFlags     []string // other flags, in words
	Because        string
	Mattered       []mattered
	Services       []directory.Candidate
	Rejected       []rejection
	Letter         bool      // an appointment was booked, so there is a letter to print
	Case           *caseView // the case the decision opened; nil for a decision stored without one
}

// mattered is one answer, score or threshold the deciding rule read, in words.
type mattered struct {
	Label, Value string
}

// rejection is a service not offered, in words.
type rejection struct {
	Name, Reason string
}

// breakGlassView is the page offered instead of a decision outside one's team.
type breakGlassView struct {
	ID, Reason, Action string
	Min                int
}

func (s *Server) decisionPage(w http.ResponseWriter, r *http.Request) {
	d, ok := s.pageDecision(w, r, audit.ActionDecisionRead, "/decisions/"+r.PathValue("id"))
	if !ok {
		return
	}
	dv, err := s.explainDecision(r, d)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	c, err := s.pageCase(r.Context(), d.ID)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if c != nil {
		dv.Case = s.buildCaseView(r.Context(), identity.FromContext(r.Context()), c, nil, nil)
	}
	s.render(w, r, http.StatusOK, "decision", view{Title: dv.Pathway.Name, Data: dv, Notice: caseNotices[r.URL.Query().Get("notice")], Scripts: clinicianScripts})
}

// pageDecision reads a decision through readDecision, so that the relationship check, breaking the
// glass and the access audit are the API's own. Outside their team, a person gets a page asking
// for the reason instead of a bare refusal; the refusal is recorded as the API records it.
func (s *Server) pageDecision(w http.ResponseWriter, r *http.Request, action, glassAction string) (*triage.Decision, bool) {
	id := r.PathValue("id")
	p := identity.FromContext(r.Context())
	d, err := s.Forms.Decision(r.Context(), id)
	if err != nil {
		s.pageProblem(w, r, err)
		return nil, false
	}
	if !related(p, d) && r.Header.Get(BreakGlassHeader) == "" {
		reason := strings.TrimSpace(breakGlassReason(r))
		if n := utf8.RuneCountInString(reason); r.Method != http.MethodPost || n < minBreakGlassReason || len(reason) > 500 {
			var errs []fieldError
			status := http.StatusForbidden
			if r.Method == http.MethodPost {
				status = http.StatusUnprocessableEntity
				errs = []fieldError{{Field: breakGlassField, ID: breakGlassField,
					Message: fmt.Sprintf("Give the reason in %d to 500 characters", minBreakGlassReason)}}
			}
			e := s.accessEntry(r, action, []string{d.ID})
			e.Outcome = audit.Denied
			if s.Audit != nil {
				if err := s.Audit.Append(r.Context(), e); err != nil {
					s.pageProblem(w, r, err)
					return nil, false
				}
			}
			s.render(w, r, status, "decision-break-glass", view{Title: "This case is not filed under your team", Errors: errs,
				Data: breakGlassView{ID: d.ID, Reason: reason, Action: glassAction, Min: minBreakGlassReason}})
			return nil, false
		}
	}
	return s.admitDecision(w, r, d, action)
}

// explainDecision puts a decision into words: the pathway's name, the deadline, and the answers
// and scores the deciding rule read, by their text on the form.
func (s *Server) explainDecision(r *http.Request, d *triage.Decision) (*decisionView, error) {
	dv := &decisionView{D: d, Pathway: s.pathway(r.Context(), d.Outcome.Pathway), Because: d.Explanation.Because,
		Services: d.Services, Letter: d.Assignment != nil}
	switch d.Outcome.Priority {
	case rules.Emergency:
		dv.PriorityLabel, dv.PriorityTag = "Emergency", "red"
	case rules.Urgent:
		dv.PriorityLabel, dv.PriorityTag = "Urgent", "orange"
	default:
		dv.PriorityLabel, dv.PriorityTag = "Routine", "grey"
	}
	if within, err := rules.ParseDuration(d.Outcome.RespondWithin); err == nil {
		dv.RespondBy, dv.RespondWithin = d.Decided.Add(within), durationWords(within)
	}
	for _, fl := range d.Outcome.Flags {
		if fl == triage.SameDayReviewFlag {
			dv.ClinicianToday = true
			continue
		}
		dv.OtherFlags = append(dv.OtherFlags, sentence(strings.NewReplacer("_", " ", "-", " ").Replace(fl)))
	}
	f, err := s.Forms.Form(r.Context(), d.Form, d.FormVersion)
	if err != nil {
		return nil, err
	}
	dv.Mattered = matteredValues(f, d)
	for _, rj := range d.RejectedServices {
		reason := rj.Detail
		if reason == "" {
			reason = strings.ReplaceAll(string(rj.Reason), "_", " ")
		}
		dv.Rejected = append(dv.Rejected, rejection{Name: rj.ServiceName, Reason: sentence(reason)})
	}
	return dv, nil
}

// matteredValues lists what the deciding rule read, by the form's words. A risk answer is shown as
// the answer given, never as a number: a risk is a reason for a clinician, not a score.
func matteredValues(f *triage.Form, d *triage.Decision) []mattered {
	var values []rules.NamedValue
	for _, ev := range d.Explanation.Evaluated {
		if ev.Rule == d.Rule {
			values = ev.Values
		}
	}
	if len(values) == 0 {
		// The rule that decided reads nothing, as a last "otherwise" does: what mattered is the
		// scores that kept the rules before it from matching.
		for _, ev := range d.Explanation.Evaluated {
			for _, nv := range ev.Values {
				if strings.HasPrefix(nv.Name, "scores.") {
					values = append(values, nv)
				}
			}
		}
	}
	var out []mattered
	seen := map[string]bool{}
	add := func(label, value string) {
		if !seen[label] {
			seen[label] = true
			out = append(out, mattered{Label: label, Value: value})
		}
	}
	for _, nv := range values {
		kind, name, _ := strings.Cut(nv.Name, ".")
		switch kind {
		case "answers":
			if i, ok := f.ItemIndex(name); ok {
				add(itemLabel(&f.Items[i]), answerWords(&f.Items[i], nv.Value))
			}
		case "scores":
			add(scoreLabel(f, name), valueWords(nv.Value))
		case "params":
			add("Threshold: "+strings.ReplaceAll(name, "_", " "), valueWords(nv.Value))
		case "vars":
			// A variable combines the values above; the rule's own words say what it means.
			for _, vr := range d.Explanation.Variables {
				if vr.Name == name {
					for _, in := range vr.Values {
						sub := triage.Decision{Rule: "v", Explanation: rules.Explanation{Evaluated: []rules.Evaluated{{Rule: "v", Values: []rules.NamedValue{in}}}}}
						for _, m := range matteredValues(f, &sub) {
							add(m.Label, m.Value)
						}
					}
				}
			}
		}
	}
	return out
}

// itemLabel is an item's question, without the levels a Barthel item lists after its heading.
func itemLabel(it *triage.Item) string {
	if head, _, ok := describedLevels(it); ok {
		return head
	}
	return it.Text
}

// answerWords is an answer as the form offered it: the option's words, or yes and no.
func answerWords(it *triage.Item, v rules.Value) string {
	x := v.Any()
	switch it.Type {
	case triage.TypeBoolean:
		if b, ok := x.(bool); ok {
			if b {
				return "Yes"
			}
			return "No"
		}
	case triage.TypeChoice:
		for _, o := range it.Options {
			if o.Score != nil && fmt.Sprint(*o.Score) == fmt.Sprint(x) || o.Code == fmt.Sprint(x) {
				return o.Display
			}
		}
	case triage.TypeInteger:
		if _, levels, ok := describedLevels(it); ok {
			for _, l := range levels {
				if l.Value == fmt.Sprint(x) {
					return l.Label
				}
			}
		}
	}
	return valueWords(v)
}

func valueWords(v rules.Value) string {
	switch x := v.Any().(type) {
	case nil:
		return "not answered"
	case bool:
		if x {
			return "Yes"
		}
		return "No"
	case string:
		return sentence(strings.ReplaceAll(x, "_", " "))
	default:
		return fmt.Sprint(x)
	}
}

// scoreLabel names a score by the group it sums: "PHQ-9 total" for the sum of the group whose
// heading starts "PHQ-9:", "PHQ-9 severity" for its band.
func scoreLabel(f *triage.Form, name string) string {
	i, ok := f.ScoreIndex(name)
	if !ok {
		return sentence(strings.ReplaceAll(name, "_", " "))
	}
	sc := f.Scores[i]
	suffix := " total"
	if sc.BandOf != "" {
		if j, ok := f.ScoreIndex(sc.BandOf); ok {
			sc, suffix = f.Scores[j], " severity"
		}
	}
	for _, g := range f.Groups {
		if slices.Equal(g.Items, sc.Sum) {
			head, _, found := strings.Cut(g.Text, ":")
			if !found {
				head = g.Text
			}
			return head + suffix
		}
	}
	return sentence(strings.ReplaceAll(name, "_", " "))
}

// durationWords says a response time as people do: "4 hours", "7 days".
func durationWords(d time.Duration) string {
	count := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d%(24*time.Hour) == 0:
		return count(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return count(int(d/time.Hour), "hour")
	default:
		return count(int(d/time.Minute), "minute")
	}
}

// letterView is an appointment letter: the service's own words and the appointment.
type letterView struct {
	D         *triage.Decision
	NHSNumber string
	To        letterRecipient
	Pathway   rules.Pathway
	Service   *letterService
}

// letterRecipient is whom a letter is addressed to, as the clinician's form gave them.
type letterRecipient struct {
	Name     string
	Lines    []string // the address, a line each
	Postcode string
}

// recipientOf reads the person's name and address from the decision's stored input, the only
// place they are kept; a submission from before they were asked for has neither.
func recipientOf(input []byte) letterRecipient {
	var in struct {
		Subject struct {
			Name     string `json:"name"`
			Address  string `json:"address"`
			Postcode string `json:"postcode"`
		} `json:"subject"`
	}
	if json.Unmarshal(input, &in) != nil {
		return letterRecipient{}
	}
	to := letterRecipient{Name: in.Subject.Name, Postcode: in.Subject.Postcode}
	for _, l := range strings.FieldsFunc(in.Subject.Address, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			to.Lines = append(to.Lines, l)
		}
	}
	return to
}

// letterService is what a letter says of the service: its name, what it does, and who runs it,
// read through the service's HSDS document, which carries the organisation's name.
type letterService struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	Organization *struct {
		Name string `json:"name"`
	} `json:"organization"`
}

func (s *Server) letterPage(w http.ResponseWriter, r *http.Request) {
	d, ok := s.pageDecision(w, r, audit.ActionDecisionRead, "/decisions/"+r.PathValue("id"))
	if !ok {
		return
	}
	if d.Assignment == nil {
		s.pageProblem(w, r, failure.Errorf(failure.NotFound, "decision %s has no appointment booked, so there is no letter to print", d.ID))
		return
	}
	lv := letterView{D: d, NHSNumber: spacedNHSNumber(d.SubjectRef), To: recipientOf(d.Input), Pathway: s.pathway(r.Context(), d.Outcome.Pathway),
		Service: s.letterService(r.Context(), d.Assignment.ServiceID)}
	s.render(w, r, http.StatusOK, "letter", view{Title: "Appointment letter", Data: lv, Scripts: []string{"print.js", "offline.js"}})
}

// spacedNHSNumber prints an NHS number in its usual 3-3-4 groups; any other reference as it is.
func spacedNHSNumber(ref string) string {
	if n, err := nhsnumber.Parse(ref); err == nil {
		return n[:3] + " " + n[3:6] + " " + n[6:]
	}
	return ref
}
