package server

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// actionWorklistRead is the access audit's action for listing a team's cases on the worklist.
const actionWorklistRead = "worklist.read"

// dueSoon is how close to its respond-by time a case not booked in time counts as due soon.
const dueSoon = 24 * time.Hour

// coordinatorPages registers the web pages of the team worklist.
func (s *Server) coordinatorPages(mux *http.ServeMux) {
	s.handlePage(mux, "GET /worklist", identity.ManageAppointments, s.worklistPage)
	s.handlePage(mux, "POST /worklist/{id}/reassign", identity.ManageAppointments, s.worklistReassign)
	s.handlePage(mux, "POST /worklist/appointments/{id}/move", identity.ManageAppointments, s.worklistMove)
	s.handlePage(mux, "POST /worklist/appointments/{id}/cancel", identity.ManageAppointments, s.worklistCancel)
	s.handlePage(mux, "POST /worklist/{id}/resolve", identity.ManageAppointments, s.worklistResolve)
}

// teamCases is the store query behind the worklist; the SQL store has it.
type teamCases interface {
	TeamCases(ctx context.Context, teams []string, limit int) ([]triage.TeamCase, error)
}

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// selectField is a labelled select of a filter form, with its error.
type selectField struct {
	ID, Name, Label string
	Options         []option
	Error           string
}

// worklistFilter is the worklist's query: which cases, and in what order.
type worklistFilter struct {
	Status, Pathway, Priority, Sort string
}

var worklistStatuses = []option{
	{"attention", "Needing attention", false}, {"manual", "Needs manual allocation", false},
	{"overdue", "Overdue", false}, {"due-soon", "Due soon", false}, {"unbooked", "Not booked", false},
	{"cancelled", "Appointment cancelled", false}, {"booked", "Booked", false}, {"all", "All cases", false},
}

var worklistSorts = []option{
	{"due", "Respond by, soonest first", false}, {"priority", "Priority, most urgent first", false},
	{"decided", "Decided, newest first", false},
}

var priorities = []option{{"", "Any priority", false}, {string(rules.Emergency), "Emergency", false},
	{string(rules.Urgent), "Urgent", false}, {string(rules.Routine), "Routine", false}}

// parseWorklistFilter reads the filter from a query or a posted form; a value it does not know
// is an error naming the field, and that field falls back to its default.
func parseWorklistFilter(q url.Values, pathways []rules.Pathway) (worklistFilter, []fieldError) {
	f := worklistFilter{Status: q.Get("status"), Pathway: q.Get("pathway"), Priority: q.Get("priority"), Sort: q.Get("sort")}
	var errs []fieldError
	known := func(opts []option, v string) bool {
		return slices.ContainsFunc(opts, func(o option) bool { return o.Value == v })
	}
	if f.Status == "" {
		f.Status = "attention"
	} else if !known(worklistStatuses, f.Status) {
		errs = append(errs, fieldError{Field: "status", ID: "filter-status", Message: "Select a status from the list"})
		f.Status = "attention"
	}
	if f.Pathway != "" && !slices.ContainsFunc(pathways, func(p rules.Pathway) bool { return p.ID == f.Pathway }) {
		errs = append(errs, fieldError{Field: "pathway", ID: "filter-pathway", Message: "Select a pathway from the list"})
		f.Pathway = ""
	}
	if !known(priorities, f.Priority) {
		errs = append(errs, fieldError{Field: "priority", ID: "filter-priority", Message: "Select emergency, urgent or routine"})
		f.Priority = ""
	}
	if f.Sort == "" {
		f.Sort = "due"
	} else if !known(worklistSorts, f.Sort) {
		errs = append(errs, fieldError{Field: "sort", ID: "filter-sort", Message: "Select how to sort the cases from the list"})
		f.Sort = "due"
	}
	return f, errs
}

// query is the filter as a query string, keeping only what differs from the defaults.
func (f worklistFilter) query() url.Values {
	q := url.Values{}
	for _, kv := range [][3]string{{"status", f.Status, "attention"}, {"pathway", f.Pathway, ""}, {"priority", f.Priority, ""}, {"sort", f.Sort, "due"}} {
		if kv[1] != kv[2] {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// worklistRow is one case as the worklist shows it.
type worklistRow struct {
	ID           string
	Pathway      string
	Priority     rules.Priority
	Decided      time.Time
	State        triage.CaseState
	Practitioner string // of the standing appointment
	HasServices  bool
	// MoveValue is the move form's value: the standing appointment's start as a datetime-local
	// input shows it, or what was typed in a refused move.
	MoveValue string
}

// matches reports whether the row's case is in the filter's status.
func (r worklistRow) matches(status string) bool {
	st := r.State
	switch status {
	case "all":
		return true
	case "manual":
		return st.Manual
	case "overdue":
		return st.Overdue
	case "due-soon":
		return st.DueSoon
	case "unbooked":
		return st.Unbooked
	case "cancelled":
		return st.Cancelled
	case "booked":
		return st.Booked != nil
	}
	return st.Manual || st.Overdue || st.DueSoon || st.Unbooked || st.Cancelled
}

// worklistData is the worklist page's content.
type worklistData struct {
	Filter     worklistFilter
	FilterForm url.Values // the filter as hidden fields of each action's form
	Selects    []selectField
	Teams      []string
	Rows       []worklistRow
	Read       int  // cases of the teams read
	Truncated  bool // the teams have more cases than one worklist reads
	CanMove    bool // routing is configured
	// Escalated counts the teams' escalated cases, whatever the filter: they head the list.
	Escalated int
	// MoveFor and MoveValue keep a refused move's input beside its appointment.
	MoveFor, MoveValue string
}

func priorityRank(p rules.Priority) int {
	switch p {
	case rules.Emergency:
		return 0
	case rules.Urgent:
		return 1
	case rules.Routine:
		return 2
	}
	return 3
}

// compareDue orders by respond-by, soonest first, cases without one last.
func compareDue(a, b worklistRow) int {
	az, bz := a.State.RespondBy.IsZero(), b.State.RespondBy.IsZero()
	if az != bz {
		if az {
			return 1
		}
		return -1
	}
	return a.State.RespondBy.Compare(b.State.RespondBy)
}

// sortRows orders the rows by the chosen sort, escalated cases first whatever it is: nobody
// could be booked for them before their deadline, so someone must act now.
func sortRows(rows []worklistRow, by string) {
	slices.SortStableFunc(rows, func(a, b worklistRow) int {
		if a.State.Escalated != b.State.Escalated {
			if a.State.Escalated {
				return -1
			}
			return 1
		}
		var c int
		switch by {
		case "priority":
			c = cmp.Or(cmp.Compare(priorityRank(a.Priority), priorityRank(b.Priority)), compareDue(a, b))
		case "decided":
			c = b.Decided.Compare(a.Decided)
		default:
			c = cmp.Or(compareDue(a, b), cmp.Compare(priorityRank(a.Priority), priorityRank(b.Priority)))
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	})
}

func (s *Server) worklistPage(w http.ResponseWriter, r *http.Request) {
	s.showWorklist(w, r, r.URL.Query(), http.StatusOK, nil, "", "")
}

// showWorklist renders the worklist for the filter in q, with errors (at status) from a refused
// action or filter, and a notice of what the last action did.
func (s *Server) showWorklist(w http.ResponseWriter, r *http.Request, q url.Values, status int, errs []fieldError, moveFor, moveValue string) {
	ctx := r.Context()
	who := identity.FromContext(ctx)
	pathways, err := s.Rules.Pathways(ctx)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	f, filterErrs := parseWorklistFilter(q, pathways)
	if len(filterErrs) > 0 {
		errs = append(errs, filterErrs...)
		if status == http.StatusOK {
			status = http.StatusUnprocessableEntity
		}
	}
	store, ok := s.Forms.(teamCases)
	if !ok {
		s.pageProblem(w, r, failure.Errorf(failure.Unavailable, "the worklist needs the SQL store"))
		return
	}
	cases, err := store.TeamCases(ctx, who.Teams, triage.MaxTeamCases)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	names := map[string]string{}
	for _, p := range pathways {
		names[p.ID] = p.Name
	}
	staff := map[string]string{}
	place := s.Engine.Placement
	if place != nil {
		if roster, err := place.Routing.Practitioners(ctx); err == nil {
			for _, p := range roster {
				staff[p.ID] = p.Name
			}
		} else {
			s.pageProblem(w, r, err)
			return
		}
	}
	open, err := openEscalations(ctx, place, who.Teams)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	now := s.Engine.Now()
	data := worklistData{Filter: f, FilterForm: f.query(), Teams: who.Teams, Read: len(cases),
		Truncated: len(cases) == triage.MaxTeamCases, CanMove: place != nil, MoveFor: moveFor, MoveValue: moveValue}
	var shown []string
	for _, c := range cases {
		d := c.Decision
		row := worklistRow{ID: d.ID, Pathway: cmp.Or(names[d.Outcome.Pathway], d.Outcome.Pathway), Priority: d.Outcome.Priority,
			Decided: d.Decided, State: c.State(now, dueSoon), HasServices: len(d.Services) > 0}
		if row.State.Escalated && open != nil {
			// The routing store says which escalations are still open, and why.
			reason, ok := open[d.ID]
			row.State.Escalated = ok
			row.State.Reason = cmp.Or(reason, row.State.Reason)
		}
		if row.State.Escalated {
			data.Escalated++
		}
		if b := row.State.Booked; b != nil {
			row.Practitioner = cmp.Or(staff[b.PractitionerID], b.PractitionerID)
			row.MoveValue = b.Start.In(s.location()).Format("2006-01-02T15:04")
			if b.ID == moveFor {
				row.MoveValue = moveValue
			}
		}
		if !row.matches(f.Status) || (f.Pathway != "" && d.Outcome.Pathway != f.Pathway) || (f.Priority != "" && string(d.Outcome.Priority) != f.Priority) {
			continue
		}
		data.Rows = append(data.Rows, row)
		shown = append(shown, d.ID)
	}
	sortRows(data.Rows, f.Sort)
	pathwayOpts := []option{{Value: "", Label: "Any pathway", Selected: f.Pathway == ""}}
	for _, p := range pathways {
		pathwayOpts = append(pathwayOpts, option{Value: p.ID, Label: p.Name, Selected: p.ID == f.Pathway})
	}
	errorFor := func(field string) string {
		for _, e := range errs {
			if e.Field == field {
				return e.Message
			}
		}
		return ""
	}
	data.Selects = []selectField{
		{ID: "filter-status", Name: "status", Label: "Status", Options: selected(worklistStatuses, f.Status), Error: errorFor("status")},
		{ID: "filter-pathway", Name: "pathway", Label: "Pathway", Options: pathwayOpts, Error: errorFor("pathway")},
		{ID: "filter-priority", Name: "priority", Label: "Priority", Options: selected(priorities, f.Priority), Error: errorFor("priority")},
		{ID: "filter-sort", Name: "sort", Label: "Sort by", Options: selected(worklistSorts, f.Sort), Error: errorFor("sort")},
	}
	if len(shown) > 0 && s.Audit != nil {
		if err := s.Audit.Append(ctx, s.accessEntry(r, actionWorklistRead, shown)); err != nil {
			s.pageProblem(w, r, err)
			return
		}
	}
	v := view{Title: "Worklist", Errors: errs, Data: data, Notice: worklistNotice(q, cases)}
	s.render(w, r, status, "worklist", v)
}

// escalationLister is the routing store's list of a team's open escalations.
type escalationLister interface {
	Escalations(ctx context.Context, team string) ([]routing.Escalation, error)
}

// openEscalations returns the reasons of the teams' open escalations by decision, or nil when
// routing keeps no list of them (the decisions alone then say which cases were escalated).
func openEscalations(ctx context.Context, place *triage.Placement, teams []string) (map[string]string, error) {
	if place == nil {
		return nil, nil
	}
	lister, ok := place.Routing.(escalationLister)
	if !ok {
		return nil, nil
	}
	open := map[string]string{}
	for _, team := range teams {
		list, err := lister.Escalations(ctx, team)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			open[e.DecisionID] = e.Reason
		}
	}
	return open, nil
}

// selected copies opts with the one of value v selected.
func selected(opts []option, v string) []option {
	out := slices.Clone(opts)
	for i := range out {
		out[i].Selected = out[i].Value == v
	}
	return out
}

// worklistNotice confirms the action the worklist was redirected from; the notice is built
// here from a fixed set, never taken from the query.
func worklistNotice(q url.Values, cases []triage.TeamCase) string {
	id := q.Get("case")
	if id == "" || !slices.ContainsFunc(cases, func(c triage.TeamCase) bool { return c.Decision.ID == id }) {
		return ""
	}
	switch q.Get("done") {
	case "reassigned":
		for _, c := range cases {
			if c.Decision.ID == id && c.Decision.ManualAllocation {
				return "Case " + id + " has no other practitioner available: it now needs manual allocation."
			}
		}
		return "Case " + id + " has been reassigned to another practitioner."
	case "moved":
		return "The appointment of case " + id + " has been moved."
	case "cancelled":
		return "The appointment of case " + id + " has been cancelled."
	case "resolved":
		return "The escalation of case " + id + " has been marked handled."
	}
	return ""
}

// afterAction sends the browser back to the worklist it acted from, saying what was done.
func afterAction(w http.ResponseWriter, r *http.Request, done, caseID string) {
	pathways := []rules.Pathway{{ID: r.PostFormValue("pathway")}} // the filter is checked again on the way back
	f, _ := parseWorklistFilter(r.PostForm, pathways)
	q := f.query()
	q.Set("done", done)
	q.Set("case", caseID)
	http.Redirect(w, r, "/worklist?"+q.Encode(), http.StatusSeeOther)
}

// actionRefused shows the worklist again with why an action could not be done: bad input (422)
// or a conflict with the case's state (409), each naming the field where there is one. Anything
// else is an error page.
func (s *Server) actionRefused(w http.ResponseWriter, r *http.Request, err error, fieldID func(string) string, moveFor, moveValue string) {
	status := http.StatusUnprocessableEntity
	switch failure.CodeOf(err) {
	case failure.Invalid:
	case failure.Conflict:
		status = http.StatusConflict
	default:
		s.pageProblem(w, r, err)
		return
	}
	errs := fieldErrors(err, fieldID)
	if failure.CodeOf(err) == failure.Conflict && len(errs) == 1 && errs[0].Field == "" {
		if field, reason, ok := strings.Cut(errs[0].Message, ": "); ok && field == "start" && moveFor != "" {
			errs[0] = fieldError{Field: field, ID: fieldID(field), Message: reason}
		}
	}
	s.showWorklist(w, r, r.PostForm, status, errs, moveFor, moveValue)
}

func (s *Server) worklistReassign(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		s.pageProblem(w, r, failure.Errorf(failure.Invalid, "form: %v", err))
		return
	}
	if !s.manageDecision(w, r, id, audit.ActionDecisionReassign, nil) {
		return
	}
	if _, err := s.reassignCase(r.Context(), id); err != nil {
		s.actionRefused(w, r, err, nil, "", "")
		return
	}
	afterAction(w, r, "reassigned", id)
}

// appointmentToManage loads the appointment named in the path and checks, as the API does, that
// its case is filed under one of the coordinator's teams, recording the access.
func (s *Server) appointmentToManage(w http.ResponseWriter, r *http.Request, action string) (routing.StoredVisit, *triage.Placement, bool) {
	p := s.Engine.Placement
	if p == nil {
		s.pageProblem(w, r, failure.Errorf(failure.Unavailable, "routing is not configured"))
		return routing.StoredVisit{}, nil, false
	}
	v, err := p.Routing.Visit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.pageProblem(w, r, err)
		return routing.StoredVisit{}, nil, false
	}
	if !s.manageDecision(w, r, v.CaseID, action, []string{v.ID}) {
		return routing.StoredVisit{}, nil, false
	}
	return v, p, true
}

// parseLocalStart reads a move's new start: a date and time as a datetime-local input sends it,
// in the council's time zone, or an RFC 3339 time.
func parseLocalStart(value string, loc *time.Location) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, invalid("start", "enter the new date and time of the appointment")
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, value, loc); err == nil {
			return t, checkDate("start", t)
		}
	}
	return time.Time{}, invalid("start", "enter the date and time as a real date and a time, such as 2026-11-27 10:00")
}

func (s *Server) worklistMove(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.pageProblem(w, r, failure.Errorf(failure.Invalid, "form: %v", err))
		return
	}
	apptID := r.PathValue("id")
	fieldID := func(string) string { return "start-" + apptID }
	value := r.PostFormValue("start")
	loc := s.location()
	if s.Engine.Placement != nil && s.Engine.Placement.Loc != nil {
		loc = s.Engine.Placement.Loc
	}
	start, err := parseLocalStart(value, loc)
	if err != nil {
		s.actionRefused(w, r, err, fieldID, apptID, value)
		return
	}
	v, p, ok := s.appointmentToManage(w, r, audit.ActionAppointmentMove)
	if !ok {
		return
	}
	if _, err := s.moveVisit(r.Context(), p, v.ID, start, r.PostFormValue("override_window") == "yes"); err != nil {
		s.actionRefused(w, r, err, fieldID, apptID, value)
		return
	}
	afterAction(w, r, "moved", v.CaseID)
}

func (s *Server) worklistCancel(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.pageProblem(w, r, failure.Errorf(failure.Invalid, "form: %v", err))
		return
	}
	v, p, ok := s.appointmentToManage(w, r, audit.ActionAppointmentCancel)
	if !ok {
		return
	}
	if _, err := s.cancelVisit(r.Context(), p, v.ID); err != nil {
		s.actionRefused(w, r, err, nil, "", "")
		return
	}
	afterAction(w, r, "cancelled", v.CaseID)
}

// resolveFor marks, in showWorklist's moveFor, a refused resolution of the case that follows, so
// that its note and error are shown beside its form.
const resolveFor = "resolve:"

func (s *Server) worklistResolve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.pageProblem(w, r, failure.Errorf(failure.Invalid, "form: %v", err))
		return
	}
	id := r.PathValue("id")
	fieldID := func(string) string { return "note-" + id }
	value := r.PostFormValue("note")
	note, err := routing.ResolutionNote(value)
	if err != nil {
		err = failure.Errorf(failure.Invalid, "note: %s", noteMessage(value))
	} else {
		_, err = s.resolveEscalation(r, s.Engine.Placement, id, note)
	}
	if err != nil {
		s.actionRefused(w, r, err, fieldID, resolveFor+id, value)
		return
	}
	afterAction(w, r, "resolved", id)
}

// noteMessage words a refused note for the person at the form, as the other forms word theirs.
func noteMessage(value string) string {
	switch n := utf8.RuneCountInString(strings.TrimSpace(value)); {
	case n == 0:
		return "Enter how the escalation was handled"
	case n > routing.MaxResolutionNote:
		return fmt.Sprintf("Enter at most %d characters; this note has %d", routing.MaxResolutionNote, n)
	}
	return "Enter the note as plain text, without control characters"
}
