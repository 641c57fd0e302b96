package server

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// The access-audit actions of the case routes.
const (
	actionCaseList     = "case.list"
	actionCaseRead     = "case.read"
	actionCaseStep     = "case.step"
	actionCaseCallback = "case.callback"
)

// maxStepSkew is how far in the future a step's time may lie, for clocks that differ a little.
const maxStepSkew = 5 * time.Minute

// caseRoutes registers the case lifecycle: the worklist, one case with its history, steps taken
// by a coordinator, and the callback through which a service's case system reports its own.
func (s *Server) caseRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /v1/cases", identity.ReadDecision, s.listCases)
	s.handle(mux, "GET /v1/cases/{id}", identity.ReadDecision, s.getCase)
	s.handle(mux, "POST /v1/cases/{id}/steps", identity.ManageAppointments, s.jsonBody(s.postCaseStep))
	s.handle(mux, "POST /v1/cases/{id}/callback", identity.ManageAppointments, s.postCaseCallback)
}

func (s *Server) caseStore(w http.ResponseWriter, r *http.Request) (*cases.Store, bool) {
	if s.DB == nil {
		s.writeProblem(w, r, failure.Errorf(failure.Unavailable, "cases are not available: the server has no database for them"))
		return nil, false
	}
	store := &cases.Store{DB: s.DB}
	if s.Events != nil {
		store.Publish = s.Events.CaseStepped
	}
	return store, true
}

// relatedCase reports whether p has a legitimate relationship with a case, as with a decision: a
// clinician or coordinator of its team, or the practitioner assigned to it.
func relatedCase(p *identity.Principal, c *cases.Case) bool {
	if (p.Has(identity.Clinician) || p.Has(identity.Coordinator)) && p.InTeam(c.Team) {
		return true
	}
	return p.Has(identity.Practitioner) && p.Practitioner != "" && c.PractitionerID == p.Practitioner
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	store, ok := s.caseStore(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := identity.FromContext(r.Context())
	f := cases.Filter{Now: s.Engine.Now(), Pathway: q.Get("pathway")}
	if p.Has(identity.Clinician) || p.Has(identity.Coordinator) {
		f.Teams = p.Teams
	}
	if p.Has(identity.Practitioner) {
		f.Practitioner = p.Practitioner
	}
	if team := q.Get("team"); team != "" {
		if !slices.Contains(f.Teams, team) {
			s.writeProblem(w, r, failure.Errorf(failure.Forbidden, "team %q: you may list only the cases of your own teams", team))
			return
		}
		f.Teams, f.Practitioner = []string{team}, ""
	}
	var err error
	if v := q.Get("status"); v != "" {
		if f.Status, err = cases.ParseStatus("status", v); err != nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	for name, dst := range map[string]*bool{"overdue": &f.Overdue, "manual_allocation": &f.Manual} {
		switch v := q.Get(name); v {
		case "", "false":
		case "true":
			*dst = true
		default:
			s.writeProblem(w, r, failure.Errorf(failure.Invalid, "%s %q: want true or false", name, v))
			return
		}
	}
	if v := q.Get("size"); v != "" {
		if f.Limit, err = boundedInt("size", v, 1, cases.MaxPage); err != nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	if f.After, err = cases.ParseCursor(q.Get("cursor")); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	page, err := store.List(r.Context(), f)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if len(page.Cases) > 0 {
		ids := make([]string, len(page.Cases))
		for i, c := range page.Cases {
			ids[i] = c.ID
		}
		if !s.settleAccess(w, r, s.accessEntry(r, actionCaseList, ids), nil) {
			return
		}
	}
	s.writeJSON(w, http.StatusOK, page)
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	store, ok := s.caseStore(w, r)
	if !ok {
		return
	}
	c, err := store.Case(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	p := identity.FromContext(r.Context())
	e := s.accessEntry(r, actionCaseRead, []string{c.ID})
	if !relatedCase(p, c) {
		reason := strings.TrimSpace(r.Header.Get(BreakGlassHeader))
		if reason == "" {
			s.settleAccess(w, r, e, failure.Errorf(failure.Forbidden,
				"case %s is not filed under your team or assigned to you; to read it in an emergency, state the reason in the %s header: it will be recorded and reviewed", c.ID, BreakGlassHeader))
			return
		}
		if utf8.RuneCountInString(reason) < minBreakGlassReason || len(reason) > 500 || !utf8.ValidString(reason) {
			s.writeProblem(w, r, failure.Errorf(failure.Invalid, "%s header: state the reason in %d to 500 characters", BreakGlassHeader, minBreakGlassReason))
			return
		}
		e.BreakGlass, e.Purpose = true, reason
	}
	if s.settleAccess(w, r, e, nil) {
		s.writeJSON(w, http.StatusOK, c)
	}
}

// stepBody is a step as sent to the API; At defaults to the time it is received.
type stepBody struct {
	Step          string     `json:"step"`
	At            *time.Time `json:"at,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	AppointmentID string     `json:"appointment_id,omitempty"`
	AtHome        *bool      `json:"at_home,omitempty"`
	ExternalRef   string     `json:"external_ref,omitempty"`
}

func (s *Server) postCaseStep(w http.ResponseWriter, r *http.Request) {
	s.recordCaseStep(w, r, actionCaseStep, false)
}

// postCaseCallback is the inbound callback of a service's case system: the same steps, taken only
// with an API token, and safe to retry: a step the case already took last answers 200 with the case
// unchanged, so a callback sent twice records one step.
func (s *Server) postCaseCallback(w http.ResponseWriter, r *http.Request) {
	if p := identity.FromContext(r.Context()); p == nil || p.Method != identity.MethodToken {
		s.writeProblem(w, r, failure.Errorf(failure.Forbidden, "the case callback is for a service's case system: authenticate with an API token"))
		return
	}
	s.jsonBody(func(w http.ResponseWriter, r *http.Request) { s.recordCaseStep(w, r, actionCaseCallback, true) })(w, r)
}

func (s *Server) recordCaseStep(w http.ResponseWriter, r *http.Request, action string, callback bool) {
	store, ok := s.caseStore(w, r)
	if !ok {
		return
	}
	var body stepBody
	if err := decodeBody(w, r, 8192, &body, false); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	out, replayed, err := s.takeCaseStep(r, store, r.PathValue("id"), body, action, callback)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	s.writeJSON(w, http.StatusOK, out)
}

// takeCaseStep is the one path of a step, whether sent to the API, by a service's callback or from
// the decision page: the step and its time are checked, only a person of the case's team may
// record it (a refusal is recorded in the access audit), and the step and its access record commit
// together. replayed reports a callback's repeat of the step the case already took last.
func (s *Server) takeCaseStep(r *http.Request, store *cases.Store, id string, body stepBody, action string, callback bool) (out *cases.Case, replayed bool, err error) {
	step, err := cases.ParseStep(body.Step)
	if err != nil {
		return nil, false, err
	}
	now := s.Engine.Now()
	at := now
	if body.At != nil {
		at = body.At.UTC()
		if at.After(now.Add(maxStepSkew)) {
			return nil, false, failure.Errorf(failure.Invalid, "at %s: is in the future; record a step once it has happened", at.Format(time.RFC3339))
		}
	}
	if !callback && body.ExternalRef != "" {
		return nil, false, failure.Errorf(failure.Invalid, "external_ref: is sent only by a service's case system, to the callback")
	}
	c, err := store.Case(r.Context(), id)
	if err != nil {
		return nil, false, err
	}
	p := identity.FromContext(r.Context())
	e := s.accessEntry(r, action, []string{c.ID})
	if !p.InTeam(c.Team) {
		e.Outcome = audit.Denied
		if s.Audit != nil {
			if err := s.Audit.Append(r.Context(), e); err != nil {
				return nil, false, err
			}
		}
		return nil, false, failure.Errorf(failure.Forbidden, "case %s is not filed under your team, so you cannot record its steps", c.ID)
	}
	if callback && len(c.Steps) > 0 {
		if last := c.Steps[len(c.Steps)-1]; last.Step == step && last.Actor == p.Subject {
			return c, true, nil
		}
	}
	ch := cases.Change{Step: step, Actor: p.Subject, At: at, Reason: body.Reason, AppointmentID: body.AppointmentID, AtHome: body.AtHome, ExternalRef: body.ExternalRef}
	if callback {
		ch.Source = "callback"
	}
	err = s.DB.InTx(r.Context(), func(tx *database.Tx) error {
		var err error
		if out, err = store.RecordTx(r.Context(), tx, c.ID, ch); err != nil {
			return err
		}
		if s.Audit != nil {
			return audit.AppendTx(r.Context(), tx, e)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, false, nil
}
