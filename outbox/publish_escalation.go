package outbox

import (
	"context"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/routing"
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
