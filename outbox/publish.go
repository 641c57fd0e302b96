package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// Publisher writes the events of Carepath's own changes; its methods are the hooks the triage
// engine, the rule lifecycle and the appointment routes call inside their transactions.
type Publisher struct {
	// Now stamps events whose change carries no time of its own.
	Now func() time.Time
	// NewID names events; nil uses UUIDv7.
	NewID func() string
}

func (p *Publisher) append(ctx context.Context, tx *database.Tx, typ, key string, data any, at time.Time) error {
	var raw []byte
	var err error
	if d, ok := data.(*DecisionData); ok {
		raw, err = encodeDecisionData(d)
		if err == nil {
			// Nothing keeps raw once the event is appended: its statement holds a copy.
			defer putEventBuffer(raw)
		}
	} else {
		raw, err = json.Marshal(data)
	}
	if err != nil {
		return fmt.Errorf("outbox: unable to encode %s event: %w", typ, err)
	}
	e := Event{Type: typ, Case: key, Payload: raw, CreatedAt: at}
	if p.NewID != nil {
		e.ID = p.NewID()
	}
	// The type is one of ours and the data was just encoded, so only the fields a caller gave
	// are checked; the whole of checkEvent would parse the JSON again on every decision.
	if key == "" || at.IsZero() {
		return checkEvent(&e)
	}
	return appendTx(ctx, tx, &e)
}

// DecisionData is a decision.made event's data: what a receiving service needs to take the
// referral, without the answers themselves or the explanation.
type DecisionData struct {
	Decision         string             `json:"decision_id"`
	Form             string             `json:"form"`
	FormVersion      int                `json:"form_version"`
	SubjectRef       string             `json:"subject_ref"`
	Team             string             `json:"team,omitempty"`
	Pathway          string             `json:"pathway"`
	Priority         string             `json:"priority"`
	RespondWithin    string             `json:"respond_within"`
	Flags            []string           `json:"flags"`
	Rule             string             `json:"rule"`
	RuleSet          triage.RuleSetRef  `json:"ruleset"`
	Authored         time.Time          `json:"authored"`
	Decided          time.Time          `json:"decided"`
	Services         []ServiceRef       `json:"services"`
	Assignment       *triage.Assignment `json:"assignment"`
	UnassignedReason string             `json:"unassigned_reason,omitempty"`
	ManualAllocation bool               `json:"manual_allocation"`
}

// ServiceRef is a matched service as an event names it.
type ServiceRef struct {
	ID   string `json:"service_id"`
	Name string `json:"service_name"`
}

// NewDecisionData takes an event's data from a stored decision.
func NewDecisionData(d *triage.Decision) DecisionData {
	out := DecisionData{Decision: d.ID, Form: d.Form, FormVersion: d.FormVersion, SubjectRef: d.SubjectRef, Team: d.Team,
		Pathway: d.Outcome.Pathway, Priority: string(d.Outcome.Priority), RespondWithin: d.Outcome.RespondWithin,
		Flags: d.Outcome.Flags, Rule: d.Rule, RuleSet: d.RuleSet, Authored: d.Authored, Decided: d.Decided,
		Services: make([]ServiceRef, len(d.Services)), Assignment: d.Assignment, UnassignedReason: d.UnassignedReason,
		ManualAllocation: d.ManualAllocation}
	if out.Flags == nil {
		out.Flags = []string{}
	}
	for i, c := range d.Services {
		out.Services[i] = ServiceRef{ID: c.ServiceID, Name: c.ServiceName}
	}
	return out
}

// DecisionMade writes decision.made for a decision being stored in tx; it has the shape of
// triage.Booking, so it is the engine's Publish hook.
func (p *Publisher) DecisionMade(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
	data := NewDecisionData(d)
	return p.append(ctx, tx, DecisionMade, d.ID, &data, d.Decided)
}

// AppointmentData is the data of appointment events.
type AppointmentData struct {
	Appointment    string    `json:"appointment_id"`
	Decision       string    `json:"decision_id"`
	SubjectRef     string    `json:"subject_ref"`
	PractitionerID string    `json:"practitioner_id"`
	ServiceID      string    `json:"service_id"`
	Pathway        string    `json:"pathway"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Status         string    `json:"status"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// AppointmentChanged writes an appointment event (booked, moved or cancelled) for a visit changed
// in tx; the case is the visit's decision, so it is ordered after the decision.made that booked it.
func (p *Publisher) AppointmentChanged(ctx context.Context, tx *database.Tx, typ string, v routing.StoredVisit) error {
	data := AppointmentData{Appointment: v.ID, Decision: v.CaseID, SubjectRef: v.SubjectRef, PractitionerID: v.PractitionerID,
		ServiceID: v.ServiceID, Pathway: v.Pathway, Start: v.Start, End: v.End, Status: v.Status, UpdatedAt: v.UpdatedAt}
	at := v.UpdatedAt
	if at.IsZero() {
		at = p.Now()
	}
	return p.append(ctx, tx, typ, v.CaseID, data, at)
}

// RuleSetData is the data of ruleset.activated.
type RuleSetData struct {
	RuleSet       string    `json:"ruleset"`
	Version       int       `json:"version"`
	EffectiveFrom time.Time `json:"effective_from"`
}

// RuleSetActivated writes ruleset.activated in the activation's transaction; it has the shape of
// rules.Lifecycle's OnActivate hook.
func (p *Publisher) RuleSetActivated(ctx context.Context, tx *database.Tx, id string, version int, effectiveFrom time.Time) error {
	return p.append(ctx, tx, RuleSetActivated, "ruleset:"+id, RuleSetData{RuleSet: id, Version: version, EffectiveFrom: effectiveFrom.UTC()}, p.Now())
}

// stepTypes names the event each recorded case step writes.
var stepTypes = map[cases.Step]string{
	cases.Accept: CaseAccepted, cases.Decline: CaseDeclined, cases.Book: VisitBooked, cases.MarkDone: VisitDone,
	cases.MarkMissed: VisitMissed, cases.Outcome: OutcomeRecorded, cases.Close: CaseClosed,
}

// CaseStepData is the data of the events of case steps (visit.done, outcome.recorded and the
// others): the step, the case as it now stands and who recorded it, without scores or answers.
type CaseStepData struct {
	Decision      string       `json:"decision_id"`
	Step          cases.Step   `json:"step"`
	From          cases.Status `json:"from"`
	Status        cases.Status `json:"status"`
	Actor         string       `json:"actor"`
	At            time.Time    `json:"at"`
	Team          string       `json:"team"`
	Pathway       string       `json:"pathway"`
	ServiceID     string       `json:"service_id,omitempty"`
	AppointmentID string       `json:"appointment_id,omitempty"`
	AtHome        *bool        `json:"at_home,omitempty"`
	// Reason, Source and ExternalRef come from the step's detail: why a referral was declined or
	// a case closed, and "callback" with the service's own reference when its case system
	// recorded the step.
	Reason      string `json:"reason,omitempty"`
	Source      string `json:"source,omitempty"`
	ExternalRef string `json:"external_ref,omitempty"`
}

// CaseStepped writes the event of a case step recorded in tx; it has the shape of cases.Store's
// Publish hook. The case is the decision's id, so the event follows the decision.made.
func (p *Publisher) CaseStepped(ctx context.Context, tx *database.Tx, c *cases.Case, step cases.StepRecord) error {
	typ, ok := stepTypes[step.Step]
	if !ok {
		return nil // steps Carepath records itself (refer, follow_up) have events of their own
	}
	var detail cases.Change
	if len(step.Detail) > 0 {
		if err := json.Unmarshal(step.Detail, &detail); err != nil {
			return fmt.Errorf("outbox: unable to read step %s of case %s: %w", step.Step, c.ID, err)
		}
	}
	data := CaseStepData{Decision: c.ID, Step: step.Step, From: step.From, Status: step.To, Actor: step.Actor, At: step.At.UTC(),
		Team: c.Team, Pathway: c.Pathway, ServiceID: c.ServiceID, AppointmentID: c.AppointmentID, AtHome: c.AtHome,
		Reason: detail.Reason, Source: detail.Source, ExternalRef: detail.ExternalRef}
	return p.append(ctx, tx, typ, c.ID, data, step.At)
}
