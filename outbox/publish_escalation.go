package outbox

import (
	"context"
	"time"

	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// ResolvedData is an escalation.resolved event's data: the escalation, who marked it handled
// (their subject id) and the note they gave.
type ResolvedData struct {
	Decision   string    `json:"decision"`
	Team       string    `json:"team"`
	Pathway    string    `json:"pathway"`
	Priority   string    `json:"priority"`
	Reason     string    `json:"reason"`
	Deadline   time.Time `json:"deadline"`
	Escalated  time.Time `json:"escalated"`
	Resolved   time.Time `json:"resolved"`
	ResolvedBy string    `json:"resolved_by"`
	Note       string    `json:"note"`
}

// EscalationResolved writes escalation.resolved in the transaction that resolves e, so the
// escalation is never cleared without it.
func (p *Publisher) EscalationResolved(ctx context.Context, tx *database.Tx, e routing.Escalation, by, note string) error {
	at := p.Now()
	if e.ResolvedAt != nil {
		at = *e.ResolvedAt
	}
	return p.append(ctx, tx, EscalationResolved, e.DecisionID, ResolvedData{Decision: e.DecisionID, Team: e.Team, Pathway: e.Pathway,
		Priority: e.Priority, Reason: e.Reason, Deadline: e.Deadline.UTC(), Escalated: e.CreatedAt.UTC(), Resolved: at.UTC(),
		ResolvedBy: by, Note: note}, at)
}

// ClearedByReassignment records, in a reassignment's transaction, the escalation its booking
// cleared, as an explicit resolution records one: the case's escalation_resolved step and, with p
// not nil, escalation.resolved, both by by, with a note naming whom it booked and when.
func (p *Publisher) ClearedByReassignment(steps *cases.Store, by string) triage.Cleared {
	return func(ctx context.Context, tx *database.Tx, d *triage.Decision, e routing.Escalation) error {
		note := cases.ReassignmentNote(d.Assignment)
		if _, err := steps.NoteEscalationTx(ctx, tx, d.ID, by, *e.ResolvedAt, note); err != nil {
			return err
		}
		if p == nil {
			return nil
		}
		return p.EscalationResolved(ctx, tx, e, by, note)
	}
}
