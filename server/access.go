package server

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/triage"
)

// minBreakGlassReason is the shortest reason accepted for reading a record outside one's team:
// long enough that "x" or "test" will not do.
const minBreakGlassReason = 10

// accessEntry describes an access by the request's principal, for the access audit.
func (s *Server) accessEntry(r *http.Request, action string, records []string, outcome audit.Outcome) audit.Access {
	p := identity.FromContext(r.Context())
	e := audit.Access{At: s.Engine.Now(), Action: action, Records: records, Outcome: outcome,
		Client: s.clientAddr(r), RequestID: infoOf(r).id}
	if p != nil {
		e.Subject, e.Team = p.Subject, p.Team()
		for _, role := range p.Roles {
			e.Roles = append(e.Roles, string(role))
		}
	}
	if e.Subject == "" {
		e.Subject = "anonymous"
	}
	return e
}

// recordAccess writes an access record in its own transaction. Personal data is never served
// without its record: when the record cannot be written, the request fails.
func (s *Server) recordAccess(ctx context.Context, e audit.Access) error {
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Append(ctx, e)
}

// recordInTx returns a hook that writes the access record in the transaction storing a decision.
func (s *Server) recordInTx(r *http.Request, action string) triage.Booking {
	if s.Audit == nil {
		return nil
	}
	return func(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
		return audit.AppendTx(ctx, tx, s.accessEntry(r, action, []string{d.ID}, audit.Allowed))
	}
}

// related reports whether p has a legitimate relationship with a decision: a clinician or
// coordinator of the team it is filed under, or the practitioner assigned to it.
func related(p *identity.Principal, d *triage.Decision) bool {
	if (p.Has(identity.Clinician) || p.Has(identity.Coordinator)) && p.InTeam(d.Team) {
		return true
	}
	return p.Has(identity.Practitioner) && p.Practitioner != "" && d.Assignment != nil && d.Assignment.PractitionerID == p.Practitioner
}

// readDecision loads a decision for the principal, checking the legitimate relationship. Without
// one, the request must break the glass: state a reason in the Carepath-Break-Glass header, which
// is allowed, recorded and flagged in the access audit. Every outcome is recorded.
func (s *Server) readDecision(w http.ResponseWriter, r *http.Request, id, action string) (*triage.Decision, bool) {
	d, err := s.Forms.Decision(r.Context(), id)
	if err != nil {
		s.writeProblem(w, r, err)
		return nil, false
	}
	p := identity.FromContext(r.Context())
	e := s.accessEntry(r, action, []string{d.ID}, audit.Allowed)
	if !related(p, d) {
		reason := strings.TrimSpace(r.Header.Get(BreakGlassHeader))
		if reason == "" {
			e.Outcome = audit.Denied
			if err := s.recordAccess(r.Context(), e); err != nil {
				s.writeProblem(w, r, err)
				return nil, false
			}
			s.writeProblem(w, r, failure.Errorf(failure.Forbidden,
				"decision %s is not filed under your team or assigned to you; to read it in an emergency, state the reason in the %s header: it will be recorded and reviewed", d.ID, BreakGlassHeader))
			return nil, false
		}
		if utf8.RuneCountInString(reason) < minBreakGlassReason || len(reason) > 500 || !utf8.ValidString(reason) {
			s.writeProblem(w, r, failure.Errorf(failure.Invalid, "%s header: state the reason in %d to 500 characters", BreakGlassHeader, minBreakGlassReason))
			return nil, false
		}
		e.BreakGlass, e.Purpose = true, reason
	}
	if err := s.recordAccess(r.Context(), e); err != nil {
		s.writeProblem(w, r, err)
		return nil, false
	}
	return d, true
}

// manageDecision checks that a coordinator changing a case's appointments belongs to the team the
// case is filed under; changes are never made by breaking the glass.
func (s *Server) manageDecision(w http.ResponseWriter, r *http.Request, id, action string, records []string) bool {
	d, err := s.Forms.Decision(r.Context(), id)
	if err != nil {
		s.writeProblem(w, r, err)
		return false
	}
	p := identity.FromContext(r.Context())
	e := s.accessEntry(r, action, append([]string{d.ID}, records...), audit.Allowed)
	if !p.InTeam(d.Team) {
		e.Outcome = audit.Denied
		if err := s.recordAccess(r.Context(), e); err != nil {
			s.writeProblem(w, r, err)
			return false
		}
		s.writeProblem(w, r, failure.Errorf(failure.Forbidden, "decision %s is not filed under your team, so you cannot change its appointments", d.ID))
		return false
	}
	if err := s.recordAccess(r.Context(), e); err != nil {
		s.writeProblem(w, r, err)
		return false
	}
	return true
}
