package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/triage"
)

// ResolveEscalation is the step a coordinator records on marking a case's escalation handled.
// It leaves the status as it is: the case still waits for its visit, it is only no longer
// escalated. Carepath records it itself, so it is not in Steps.
const ResolveEscalation Step = "escalation_resolved"

// EscalationNote is the detail of an escalation_resolved step: why the coordinator cleared it.
type EscalationNote struct {
	Note string `json:"note"`
}

// ReassignmentNote is the note of an escalation cleared by a reassignment that booked a visit:
// whom it booked and when, so the trail says how it was handled without anyone writing it.
func ReassignmentNote(a *triage.Assignment) string {
	if a == nil {
		return "cleared by reassignment"
	}
	return "cleared by reassignment: booked " + a.PractitionerID + " " + a.Appointment.Start.UTC().Format(time.RFC3339)
}

// NoteEscalationTx appends an escalation_resolved step with its note to case id in the caller's
// transaction, leaving its status as it is, and reports whether the decision has a case at all:
// decisions made on the assessment page get theirs later, and then only the resolution's event
// and access record say who cleared the escalation. A concurrent step is a conflict.
func (s *Store) NoteEscalationTx(ctx context.Context, tx *database.Tx, id, actor string, at time.Time, note string) (bool, error) {
	c, err := s.read(ctx, tx, id, false)
	if failure.CodeOf(err) == failure.NotFound {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if actor == "" {
		return false, errors.New("cases: resolving an escalation needs the subject of who resolves it")
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET updated_at = ?, revision = revision + 1 WHERE id = ? AND revision = ?`),
		database.NewTime(at), id, c.Revision)
	if err != nil {
		return false, fmt.Errorf("cases: unable to record step %s of case %s: %w", ResolveEscalation, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("cases: unable to record step %s of case %s: %w", ResolveEscalation, id, err)
	} else if n != 1 {
		return false, failure.Errorf(failure.Conflict, "case %s changed while its escalation was resolved; try again", id)
	}
	detail, err := json.Marshal(EscalationNote{Note: note})
	if err != nil {
		return false, fmt.Errorf("cases: unable to encode step %s of case %s: %w", ResolveEscalation, id, err)
	}
	return true, appendStep(ctx, tx, id, ResolveEscalation, c.Status, c.Status, actor, at, detail)
}
