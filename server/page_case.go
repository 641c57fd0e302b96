package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// caseSection is the id of the decision page's case section, where an error summary links to a
// problem that no single input of the step's form can be blamed for.
const caseSection = "case"

// caseView is a decision's case as the decision page shows it: where it stands, its history, and
// a form for each step the signed-in person may record next.
type caseView struct {
	Case        *cases.Case
	StatusLabel string
	Overdue     bool // past its respond-by time while nobody has seen the person
	Steps       []caseStepView
	Forms       []caseStepForm
	// MayRecord says the person may record steps on this case, so a closed case says why there
	// are no forms rather than showing none silently.
	MayRecord bool
}

// caseStepView is one entry of a case's history, in words.
type caseStepView struct {
	Label  string
	Who    string
	At     time.Time
	Reason string
}

// caseStepForm is the form of one step that may be recorded next, with what was posted to it and
// what was wrong when it was refused.
type caseStepForm struct {
	Step        string
	Legend      string
	Button      string
	Hint        string
	Reason      string // "required", "optional" or "" for no reason field
	Appointment bool
	AtHome      bool // a discharge case's outcome: still at home at the follow-up point
	// The values posted to this form, and its field errors, when it was refused.
	ReasonValue, AppointmentValue, AtHomeValue string
	ReasonError, AppointmentError, AtHomeError string
}

// ReasonID, AppointmentID and AtHomeID are the ids of the form's inputs; the error summary links to them.
func (f caseStepForm) ReasonID() string { return "case-" + f.Step + "-reason" }

// AppointmentID is the id of the form's appointment input.
func (f caseStepForm) AppointmentID() string { return "case-" + f.Step + "-appointment" }

// AtHomeID is the id of the first of the form's at-home radios.
func (f caseStepForm) AtHomeID() string { return "case-" + f.Step + "-at-home-yes" }

// caseStatusLabels are the statuses in words.
var caseStatusLabels = map[cases.Status]string{
	cases.Referred:        "Referred",
	cases.Accepted:        "Accepted by the service",
	cases.Declined:        "Declined by the service",
	cases.VisitBooked:     "Visit booked",
	cases.VisitDone:       "Visit done",
	cases.VisitMissed:     "Visit missed",
	cases.OutcomeRecorded: "Outcome recorded",
	cases.Closed:          "Closed",
}

// caseStepLabels are the steps of a case's history in words.
var caseStepLabels = map[cases.Step]string{
	cases.Refer:      "Referred",
	cases.FollowUp:   "Follow-up assessment linked",
	cases.Accept:     "Referral accepted",
	cases.Decline:    "Referral declined",
	cases.Book:       "Visit booked",
	cases.MarkDone:   "Visit done",
	cases.MarkMissed: "Visit missed",
	cases.Outcome:    "Outcome recorded",
	cases.Close:      "Case closed",
}

// caseNotices confirm the step the decision page was redirected back from; the query names the
// step, so no text of the request reaches the page.
var caseNotices = map[string]string{
	"case-" + string(cases.Accept):     "Recorded: the service accepted the referral.",
	"case-" + string(cases.Decline):    "Recorded: the service declined the referral, with your reason.",
	"case-" + string(cases.Book):       "Recorded: a visit is booked.",
	"case-" + string(cases.MarkDone):   "Recorded: the visit took place.",
	"case-" + string(cases.MarkMissed): "Recorded: the visit was missed. Book another or close the case.",
	"case-" + string(cases.Outcome):    "Recorded: the outcome.",
	"case-" + string(cases.Close):      "Recorded: the case is closed.",
}

// caseStepForms are the forms of the steps, by step; which are shown depends on the case's status.
func newCaseStepForm(c *cases.Case, step cases.Step) caseStepForm {
	f := caseStepForm{Step: string(step)}
	switch step {
	case cases.Accept:
		f.Legend, f.Button = "Accept the referral", "Record that the service accepted"
	case cases.Decline:
		f.Legend, f.Button, f.Reason = "Decline the referral", "Record that the service declined", "required"
	case cases.Book:
		f.Legend, f.Button, f.Appointment = "Book a visit", "Record the booked visit", true
		f.AppointmentValue = c.AppointmentID
	case cases.MarkDone:
		f.Legend, f.Button = "The visit took place", "Record the visit as done"
	case cases.MarkMissed:
		f.Legend, f.Button = "Nobody was seen", "Record the visit as missed"
	case cases.Outcome:
		f.Legend, f.Button = "Record the outcome", "Record the outcome"
		if dischargeCase(c) {
			f.AtHome = true
			f.Hint = "Where the person is 91 days after discharge; record it on or after that day."
		} else {
			f.Hint = "Outcome measures are computed from the first assessment and the follow-up assessment on the same form."
		}
	case cases.Close:
		f.Legend, f.Button, f.Reason = "Close the case", "Close the case", "optional"
	}
	return f
}

// dischargeCase reports whether a case's outcome is whether the person is still at home, as the
// case store the server uses decides it (by its default, the form "discharge").
func dischargeCase(c *cases.Case) bool { return c.Form == "discharge" }

// buildCaseView puts a case into words for p; a refused step's form keeps what was posted to it
// and says what was wrong, by field.
func (s *Server) buildCaseView(ctx context.Context, p *identity.Principal, c *cases.Case, posted *stepBody, errs []fieldError) *caseView {
	cv := &caseView{Case: c, StatusLabel: caseStatusLabels[c.Status], Overdue: c.Overdue(s.Engine.Now())}
	if cv.StatusLabel == "" {
		cv.StatusLabel = string(c.Status)
	}
	names := s.actorNames(ctx, c.Steps)
	for _, st := range c.Steps {
		v := caseStepView{Label: caseStepLabels[st.Step], Who: names[st.Actor], At: st.At}
		if v.Label == "" {
			v.Label = string(st.Step)
		}
		if v.Who == "" {
			v.Who = st.Actor
		}
		var detail struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(st.Detail, &detail) == nil {
			v.Reason = detail.Reason
		}
		cv.Steps = append(cv.Steps, v)
	}
	cv.MayRecord = p.Can(identity.ManageAppointments) && p.InTeam(c.Team)
	if !cv.MayRecord {
		return cv
	}
	for _, step := range c.NextSteps {
		f := newCaseStepForm(c, step)
		if posted != nil && posted.Step == string(step) {
			f.ReasonValue, f.AppointmentValue = posted.Reason, posted.AppointmentID
			if posted.AtHome != nil {
				f.AtHomeValue = map[bool]string{true: "yes", false: "no"}[*posted.AtHome]
			}
			for _, e := range errs {
				switch e.Field {
				case "reason":
					f.ReasonError = e.Message
				case "appointment_id":
					f.AppointmentError = e.Message
				case "at_home":
					f.AtHomeError = e.Message
				}
			}
		}
		cv.Forms = append(cv.Forms, f)
	}
	return cv
}

// actorNames maps the subjects who took steps to their names, where the identity store knows
// them; a subject it does not know (a service's system, Carepath itself) is shown as it is.
func (s *Server) actorNames(ctx context.Context, steps []cases.StepRecord) map[string]string {
	names := map[string]string{"system:carepath": "Carepath"}
	if s.Auth == nil || s.Auth.Store == nil || len(steps) == 0 {
		return names
	}
	users, err := s.Auth.Store.Users(ctx)
	if err != nil {
		s.Logger.Warn("unable to name the people who took a case's steps", "error", err)
		return names
	}
	for _, u := range users {
		if u.Name != "" {
			names[u.ID] = u.Name
		}
	}
	return names
}

// pageCase reads the case a decision opened, for the decision page; a decision stored before
// cases existed has none, and its page simply has no case section.
func (s *Server) pageCase(ctx context.Context, id string) (*cases.Case, error) {
	if s.DB == nil {
		return nil, nil
	}
	c, err := (&cases.Store{DB: s.DB}).Case(ctx, id)
	if failure.CodeOf(err) == failure.NotFound {
		return nil, nil
	}
	return c, err
}

// caseStepPage records a step from the decision page through the API's own path (takeCaseStep),
// so that the same team rule, checks, events and access audit apply: back to the decision with a
// notice, or the page again naming the field or the conflict.
func (s *Server) caseStepPage(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8192)
	if err := r.ParseForm(); err != nil {
		s.pageProblem(w, r, failure.Errorf(failure.Invalid, "form: %v", err))
		return
	}
	if s.DB == nil {
		s.pageProblem(w, r, failure.Errorf(failure.Unavailable, "cases are not available: the server has no database for them"))
		return
	}
	store := &cases.Store{DB: s.DB}
	if s.Events != nil {
		store.Publish = s.Events.CaseStepped
	}
	id := r.PathValue("id")
	body := stepBody{Step: r.PostForm.Get("step"), Reason: strings.TrimSpace(r.PostForm.Get("reason")),
		AppointmentID: strings.TrimSpace(r.PostForm.Get("appointment_id"))}
	var errs []fieldError
	switch v := r.PostForm.Get("at_home"); v {
	case "yes", "no":
		home := v == "yes"
		body.AtHome = &home
	case "":
	default:
		errs = append(errs, fieldError{Field: "at_home", Message: "Choose yes or no"})
	}
	var err error
	if len(errs) == 0 {
		if _, _, err = s.takeCaseStep(r, store, id, body, actionCaseStep, false); err == nil {
			http.Redirect(w, r, "/decisions/"+id+"?notice=case-"+body.Step, http.StatusSeeOther)
			return
		}
	}
	status := http.StatusUnprocessableEntity
	switch {
	case len(errs) > 0:
	case failure.CodeOf(err) == failure.Invalid:
		errs = fieldErrors(err, nil)
	case failure.CodeOf(err) == failure.Conflict:
		status, errs = http.StatusConflict, []fieldError{{Message: personDetail(err)}}
	default:
		s.pageProblem(w, r, err)
		return
	}
	for i := range errs {
		errs[i].ID = caseFieldID(body.Step, errs[i].Field)
		if errs[i].Message != "" {
			errs[i].Message = sentence(errs[i].Message)
		}
	}
	d, ok := s.pageDecision(w, r, audit.ActionDecisionRead, "/decisions/"+id)
	if !ok {
		return
	}
	dv, err := s.explainDecision(r, d)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	c, err := store.Case(r.Context(), id)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	dv.Case = s.buildCaseView(r.Context(), identity.FromContext(r.Context()), c, &body, errs)
	s.render(w, r, status, "decision", view{Title: dv.Pathway.Name, Data: dv, Errors: errs, Scripts: clinicianScripts})
}

// caseFieldID is the input a step's field problem links to; a problem of the step itself (a
// transition the status does not allow, a time, a field the step's form does not have) links to
// the case section.
func caseFieldID(step, field string) string {
	f := caseStepForm{Step: step}
	switch {
	case field == "reason" && (step == string(cases.Decline) || step == string(cases.Close)):
		return f.ReasonID()
	case field == "appointment_id" && step == string(cases.Book):
		return f.AppointmentID()
	case field == "at_home" && step == string(cases.Outcome):
		return f.AtHomeID()
	}
	return caseSection
}
