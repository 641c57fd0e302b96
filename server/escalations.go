package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// The access audit's actions for escalations.
const (
	actionEscalationList    = "escalation.list"
	actionEscalationResolve = "escalation.resolve"
)

// escalationRoutes registers the API of escalated cases: those nobody could be booked for in time.
func (s *Server) escalationRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /v1/escalations", identity.ManageAppointments, s.placed(s.listEscalations))
	s.handle(mux, "POST /v1/escalations/{id}/resolve", identity.ManageAppointments, s.jsonBody(s.placed(s.postResolveEscalation)))
}

// escalationStore is the routing store's escalations, or an unavailable error without the SQL store.
func escalationStore(p *triage.Placement) (*routing.SQLStore, error) {
	if p != nil {
		if store, ok := p.Routing.(*routing.SQLStore); ok {
			return store, nil
		}
	}
	return nil, failure.Errorf(failure.Unavailable, "escalations need the SQL routing store")
}

func (s *Server) listEscalations(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	store, err := escalationStore(p)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	who := identity.FromContext(r.Context())
	teams := who.Teams
	if team := r.URL.Query().Get("team"); team != "" {
		if !slices.Contains(who.Teams, team) {
			s.writeProblem(w, r, failure.Errorf(failure.Forbidden, "team %q: you may list only the escalations of your own teams", team))
			return
		}
		teams = []string{team}
	}
	out := []routing.Escalation{}
	for _, team := range teams {
		list, err := store.Escalations(r.Context(), team)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		out = append(out, list...)
	}
	slices.SortStableFunc(out, func(a, b routing.Escalation) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		return strings.Compare(a.DecisionID, b.DecisionID)
	})
	if len(out) > 0 {
		ids := make([]string, len(out))
		for i, e := range out {
			ids[i] = e.DecisionID
		}
		if !s.settleAccess(w, r, s.accessEntry(r, actionEscalationList, ids), nil) {
			return
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"escalations": out})
}

// resolveBody is the body of a resolution.
type resolveBody struct {
	Note string `json:"note"`
}

// ResolvedEscalation is an escalation as its resolution returns it: who resolved it and why.
type ResolvedEscalation struct {
	routing.Escalation
	ResolvedBy string `json:"resolved_by"`
	Note       string `json:"note"`
	// CaseStep says whether the resolution was recorded in the case's history; a decision made
	// on the assessment page has no case yet.
	CaseStep bool `json:"case_step"`
}

func (s *Server) postResolveEscalation(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	var body resolveBody
	err := decodeBody(w, r, 4096, &body, false)
	if err == nil {
		body.Note, err = routing.ResolutionNote(body.Note)
	}
	if err != nil {
		if failure.CodeOf(err) != failure.Invalid {
			s.writeProblem(w, r, err)
			return
		}
		field, reason := "body", personDetail(err)
		if fp := fieldProblems(err); len(fp) == 1 {
			field, reason = fp[0].Field, fp[0].Reason
		}
		s.writeFieldProblem(w, r, http.StatusBadRequest, field, reason)
		return
	}
	out, err := s.resolveEscalation(r, p, r.PathValue("id"), body.Note)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// resolveEscalation resolves decision id's escalation as the request's principal, who must be a
// coordinator of the team it is filed under: the resolution, the case's step, the
// escalation.resolved event and the access record commit together, so nothing clears it
// silently. A refusal for the team is recorded as a denied access; one the escalation's state
// causes (never escalated, already resolved) as an access, since it told the caller so.
func (s *Server) resolveEscalation(r *http.Request, p *triage.Placement, id, note string) (ResolvedEscalation, error) {
	ctx := r.Context()
	store, err := escalationStore(p)
	if err == nil && s.DB == nil {
		err = failure.Errorf(failure.Unavailable, "escalations are not available: the server has no database for them")
	}
	if err != nil {
		return ResolvedEscalation{}, err
	}
	d, err := s.Forms.Decision(ctx, id)
	if err != nil {
		return ResolvedEscalation{}, err
	}
	who := identity.FromContext(ctx)
	entry := s.accessEntry(r, actionEscalationResolve, []string{d.ID})
	if !who.InTeam(d.Team) {
		entry.Outcome = audit.Denied
		return ResolvedEscalation{}, s.recordRefusal(r, entry, failure.Errorf(failure.Forbidden,
			"decision %s is not filed under your team, so you cannot resolve its escalation", d.ID))
	}
	now := s.Engine.Now()
	out := ResolvedEscalation{ResolvedBy: who.Subject, Note: note}
	err = s.DB.InTx(ctx, func(tx *database.Tx) error {
		e, err := store.ResolveEscalationTx(ctx, tx, d.ID, now)
		if err != nil {
			return err
		}
		out.Escalation = e
		if out.CaseStep, err = (&cases.Store{DB: s.DB}).NoteEscalationTx(ctx, tx, d.ID, who.Subject, now, note); err != nil {
			return err
		}
		if s.Events != nil {
			if err := s.Events.EscalationResolved(ctx, tx, e, who.Subject, note); err != nil {
				return err
			}
		}
		if s.Audit != nil {
			return audit.AppendTx(ctx, tx, entry)
		}
		return nil
	})
	if failure.CodeOf(err) == failure.Conflict {
		return ResolvedEscalation{}, s.recordRefusal(r, entry, err)
	}
	if err != nil {
		return ResolvedEscalation{}, err
	}
	return out, nil
}

// recordRefusal records the access a refused request made and returns why it was refused, or
// the failure to record it.
func (s *Server) recordRefusal(r *http.Request, e audit.Access, refusal error) error {
	if s.Audit != nil {
		if err := s.Audit.Append(r.Context(), e); err != nil {
			return err
		}
	}
	return refusal
}
