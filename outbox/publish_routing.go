package outbox

import (
	"context"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// EscalationData is a case.escalated event's data: the decision as decision.made carries it, and
// why nobody, on call included, could be booked before the deadline.
type EscalationData struct {
	DecisionData
	Reason string `json:"reason"`
}

// ReassignedData is a decision.reassigned event's data: the decision with its new placement, and
// whom it was taken from.
type ReassignedData struct {
	DecisionData
	FromPractitionerIDs []string  `json:"from_practitioner_ids"`
	Reassigned          time.Time `json:"reassigned"`
}

// Decided writes decision.made for a decision being stored in tx and, in the same transaction,
// appointment.booked for the visit booked with it or case.escalated when it was escalated; it has
// the shape of triage.Booking, so it is the engine's Publish hook.
func (p *Publisher) Decided(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
	if err := p.DecisionMade(ctx, tx, d); err != nil {
		return err
	}
	return p.placed(ctx, tx, d, d.Decided)
}

// placed writes the event of a decision's placement: its booked visit, or its escalation.
func (p *Publisher) placed(ctx context.Context, tx *database.Tx, d *triage.Decision, at time.Time) error {
	if a := d.Assignment; a != nil && a.Appointment.ID != "" {
		return p.AppointmentChanged(ctx, tx, AppointmentBooked, routing.StoredVisit{
			Visit: routing.Visit{ID: a.Appointment.ID, CaseID: d.ID, PractitionerID: a.PractitionerID, ServiceID: a.ServiceID,
				Pathway: d.Outcome.Pathway, Start: a.Appointment.Start, End: a.Appointment.End},
			SubjectRef: d.SubjectRef, Status: routing.StatusBooked, UpdatedAt: at,
		})
	}
	if reason, ok := d.Escalated(); ok {
		return p.append(ctx, tx, CaseEscalated, d.ID, EscalationData{DecisionData: NewDecisionData(d), Reason: reason}, at)
	}
	return nil
}

// DecisionReassigned writes, in the reassignment's transaction, appointment.cancelled for each
// visit it cancelled, decision.reassigned, and appointment.booked for the new visit or
// case.escalated; it has the shape of triage.Reassigned.
func (p *Publisher) DecisionReassigned(ctx context.Context, tx *database.Tx, d *triage.Decision, cancelled []routing.StoredVisit) error {
	// The cancellations carry the reassignment's time; without any, the publisher's clock does.
	var at time.Time
	from := make([]string, 0, len(cancelled))
	for _, v := range cancelled {
		if err := p.AppointmentChanged(ctx, tx, AppointmentCancelled, v); err != nil {
			return err
		}
		from = append(from, v.PractitionerID)
		at = v.UpdatedAt
	}
	if at.IsZero() && p.Now != nil {
		at = p.Now()
	}
	if err := p.append(ctx, tx, DecisionReassigned, d.ID, ReassignedData{DecisionData: NewDecisionData(d), FromPractitionerIDs: from, Reassigned: at}, at); err != nil {
		return err
	}
	return p.placed(ctx, tx, d, at)
}
