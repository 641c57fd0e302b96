// Package outbox records every state change as an event in the transaction that makes it, and
// delivers the events to subscribed receivers as signed webhooks, at least once and in order per
// case, from any number of server replicas.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Event types: what changed, named object.verb.
const (
	DecisionMade         = "decision.made"
	CaseEscalated        = "case.escalated"
	EscalationResolved   = "escalation.resolved"
	DecisionReassigned   = "decision.reassigned"
	AppointmentBooked    = "appointment.booked"
	AppointmentMoved     = "appointment.moved"
	AppointmentCancelled = "appointment.cancelled"
	VisitDone            = "visit.done"
	OutcomeRecorded      = "outcome.recorded"
	RuleSetActivated     = "ruleset.activated"
	// The steps of a case's lifecycle after the decision, recorded by the service or by staff.
	CaseAccepted = "case.accepted"
	CaseDeclined = "case.declined"
	VisitBooked  = "visit.booked"
	VisitMissed  = "visit.missed"
	CaseClosed   = "case.closed"
)

// Types lists the event types Carepath writes, for subscription filters and help text.
var Types = []string{DecisionMade, CaseEscalated, EscalationResolved, DecisionReassigned, AppointmentBooked, AppointmentMoved, AppointmentCancelled,
	CaseAccepted, CaseDeclined, VisitBooked, VisitDone, VisitMissed, OutcomeRecorded, CaseClosed, RuleSetActivated}

// typePattern is the shape of an event type: lower-case words joined by dots. Underscores are
// left out because the subscription filter matches with LIKE, where _ is a wildcard.
var typePattern = regexp.MustCompile(`^[a-z]+(\.[a-z]+)+$`)

// Event is one state change as the outbox keeps it.
type Event struct {
	// ID is stable across redeliveries, so receivers drop duplicates by it; AppendTx makes a
	// UUIDv7 when it is empty.
	ID   string `json:"id"`
	Type string `json:"type"`
	// Case keys the events that must reach a receiver in order: the decision id for a case's
	// events, "ruleset:ID" for a rule set's.
	Case      string          `json:"case"`
	Payload   json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
	// Seq orders events as they were written; set when read back.
	Seq int64 `json:"seq,omitempty"`
}

// checkEvent refuses an event that would be stored malformed.
func checkEvent(e *Event) error {
	switch {
	case !typePattern.MatchString(e.Type):
		return failure.Errorf(failure.Invalid, "type: %q is not an event type such as decision.made", e.Type)
	case strings.TrimSpace(e.Case) == "":
		return failure.Errorf(failure.Invalid, "case: is missing; events are ordered per case")
	case e.CreatedAt.IsZero():
		return failure.Errorf(failure.Invalid, "created_at: is missing")
	case !json.Valid(e.Payload):
		return failure.Errorf(failure.Invalid, "data: is not JSON")
	}
	return nil
}

// appendQuery is the one statement an event costs its change's transaction; the deliveries are
// fanned out later by the delivery workers (see Deliverer.FanOut).
const appendQuery = `INSERT INTO outbox_events (id, type, case_key, payload, created_at) VALUES (?, ?, ?, ?, ?)`

// AppendTx writes an event in the caller's transaction, so that the event exists exactly when the
// change it describes committed. It is sent to every subscription whose filter takes it and that
// is active when a delivery worker first sees the committed event.
func AppendTx(ctx context.Context, tx *database.Tx, e Event) error {
	if err := checkEvent(&e); err != nil {
		return err
	}
	return appendTx(ctx, tx, &e)
}

// appendTx writes a checked event.
func appendTx(ctx context.Context, tx *database.Tx, e *Event) error {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	if err := tx.Defer(ctx, appendQuery, e.ID, e.Type, e.Case, string(e.Payload), database.NewTime(e.CreatedAt)); err != nil {
		return fmt.Errorf("outbox: unable to append %s event: %w", e.Type, err)
	}
	return nil
}
