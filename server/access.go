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

// accessEntry describes an allowed access by the request's principal, for the access audit.
func (s *Server) accessEntry(r *http.Request, action string, records []string) audit.Access {
	p := identity.FromContext(r.Context())
	e := audit.Access{At: s.Engine.Now(), Action: action, Records: records, Outcome: audit.Allowed,
		Client: s.clientAddr(r), RequestID: infoOf(r).id}
	if p != nil {
		e.Subject, e.Team, e.Roles = p.Subject, p.Team(), identity.RoleNames(p.Roles)
	}
	if e.Subject == "" {
		e.Subject = "anonymous"
	}
	return e
}

// recordInTx returns a hook that writes the access record in the transaction storing a decision.
func (s *Server) recordInTx(r *http.Request, action string) triage.Booking {
	if s.Audit == nil {
		return nil
	}
	return func(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
		return audit.AppendTx(ctx, tx, s.accessEntry(r, action, []string{d.ID}))
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
	return s.admitDecision(w, r, d, action)
}

// admitDecision is readDecision for a decision already read, so that a page which looked at it
// first need not read it twice.
func (s *Server) admitDecision(w http.ResponseWriter, r *http.Request, d *triage.Decision, action string) (*triage.Decision, bool) {
	p := identity.FromContext(r.Context())
	e := s.accessEntry(r, action, []string{d.ID})
	if !related(p, d) {
		reason := strings.TrimSpace(breakGlassReason(r))
		if reason == "" {
			s.settleAccess(w, r, e, failure.Errorf(failure.Forbidden,
				"decision %s is not filed under your team or assigned to you; to read it in an emergency, state the reason in the %s header: it will be recorded and reviewed", d.ID, BreakGlassHeader))
			return nil, false
		}
		if utf8.RuneCountInString(reason) < minBreakGlassReason || len(reason) > 500 || !utf8.ValidString(reason) {
			s.writeProblem(w, r, failure.Errorf(failure.Invalid, "%s header: state the reason in %d to 500 characters", BreakGlassHeader, minBreakGlassReason))
			return nil, false
		}
		e.BreakGlass, e.Purpose = true, reason
	}
	return d, s.settleAccess(w, r, e, nil)
}

// breakGlassField is the form field in which a page states the reason for breaking the glass.
const breakGlassField = "break_glass_reason"

// breakGlassReason is the stated reason for breaking the glass: the header from an API client, or
// the field of the form a page posts.
func breakGlassReason(r *http.Request) string {
	if reason := r.Header.Get(BreakGlassHeader); reason != "" || !isPage(r) || r.Method != http.MethodPost {
		return reason
	}
	return r.PostFormValue(breakGlassField)
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
	e := s.accessEntry(r, action, append([]string{d.ID}, records...))
	var refusal error
	if !p.InTeam(d.Team) {
		refusal = failure.Errorf(failure.Forbidden, "decision %s is not filed under your team, so you cannot change its appointments", d.ID)
	}
	return s.settleAccess(w, r, e, refusal)
}

// settleAccess records an access and reports whether the request may go on. With a refusal, the
// access is recorded as denied and the request refused with it; an access whose record cannot be
// written is refused too, because personal data is never served unrecorded.
func (s *Server) settleAccess(w http.ResponseWriter, r *http.Request, e audit.Access, refusal error) bool {
	if refusal != nil {
		e.Outcome = audit.Denied
	}
	if s.Audit != nil {
		if err := s.Audit.Append(r.Context(), e); err != nil {
			s.writeProblem(w, r, err)
			return false
		}
	}
	if refusal != nil {
		s.writeProblem(w, r, refusal)
		return false
	}
	return true
}
