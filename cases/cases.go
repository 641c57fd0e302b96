// Package cases follows what happens after a decision: the receiving service accepts or declines
// the referral, a visit is booked, done or missed, an outcome is recorded and the case is closed.
// Every step says who took it and when, and is kept in an append-only history beside the case's
// current status. A case is opened in the transaction that stores its decision, so a decision
// never exists without its case, and a follow-up assessment on the same form and subject is linked
// to the open case so that outcome measures can compare the first and the last scores.
package cases

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/rules"
)

// Status is where a case stands.
type Status string

// The statuses, in the order a case usually passes through them.
const (
	Referred        Status = "referred"         // the decision referred the person to a service
	Accepted        Status = "accepted"         // the service took the referral on
	Declined        Status = "declined"         // the service refused it; the case can only be closed
	VisitBooked     Status = "visit_booked"     // a visit is booked
	VisitDone       Status = "visit_done"       // the visit took place
	VisitMissed     Status = "visit_missed"     // nobody was seen; book again or close
	OutcomeRecorded Status = "outcome_recorded" // what happened is recorded
	Closed          Status = "closed"           // nothing more happens
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{Referred, Accepted, Declined, VisitBooked, VisitDone, VisitMissed, OutcomeRecorded, Closed}

// ParseStatus returns the status named s, or an invalid error naming the field and the statuses.
func ParseStatus(field, s string) (Status, error) {
	st := Status(strings.TrimSpace(s))
	if slices.Contains(Statuses, st) {
		return st, nil
	}
	return "", failure.Errorf(failure.Invalid, "%s %q: want one of %s", field, s, joinStatuses(Statuses))
}

func joinStatuses(ss []Status) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// Step is something done to a case; each leads to one status.
type Step string

// The steps a person or a service's case system may record. Refer and FollowUp are recorded by
// Carepath itself, when a decision opens a case or a later assessment is linked to it.
const (
	Accept     Step = "accept"
	Decline    Step = "decline"
	Book       Step = "book"
	MarkDone   Step = "visit_done"
	MarkMissed Step = "visit_missed"
	Outcome    Step = "outcome"
	Close      Step = "close"
	Refer      Step = "refer"
	FollowUp   Step = "follow_up"
)

// Steps lists the steps that may be recorded on a case, in lifecycle order.
var Steps = []Step{Accept, Decline, Book, MarkDone, MarkMissed, Outcome, Close}

// leadsTo is the status each recordable step moves a case to.
var leadsTo = map[Step]Status{
	Accept: Accepted, Decline: Declined, Book: VisitBooked, MarkDone: VisitDone, MarkMissed: VisitMissed,
	Outcome: OutcomeRecorded, Close: Closed,
}

// next lists, for each status, the steps allowed from it. A missed visit may be booked again; a
// declined case, a missed visit or a recorded outcome may be closed.
var next = map[Status][]Step{
	Referred:        {Accept, Decline},
	Accepted:        {Book},
	VisitBooked:     {MarkDone, MarkMissed},
	VisitMissed:     {Book, Close},
	VisitDone:       {Outcome},
	OutcomeRecorded: {Close},
	Declined:        {Close},
	Closed:          nil,
}

// ParseStep returns the recordable step named s, or an invalid error naming the steps.
func ParseStep(s string) (Step, error) {
	st := Step(strings.TrimSpace(s))
	if slices.Contains(Steps, st) {
		return st, nil
	}
	names := make([]string, len(Steps))
	for i, x := range Steps {
		names[i] = string(x)
	}
	return "", failure.Errorf(failure.Invalid, "step %q: want one of %s", s, strings.Join(names, ", "))
}

// NextSteps returns the steps that may be recorded on a case in status s.
func NextSteps(s Status) []Step { return slices.Clone(next[s]) }

// transition returns the status step moves a case in status from to, or an invalid error that names
// both the current status and the one wanted, and what may be done instead.
func transition(id string, from Status, step Step) (Status, error) {
	to, ok := leadsTo[step]
	if !ok {
		_, err := ParseStep(string(step))
		return "", err
	}
	if slices.Contains(next[from], step) {
		return to, nil
	}
	allowed := "nothing more: it is closed"
	if n := next[from]; len(n) > 0 {
		names := make([]string, len(n))
		for i, x := range n {
			names[i] = string(x)
		}
		allowed = strings.Join(names, " or ")
	}
	return "", failure.Errorf(failure.Invalid, "step %q: case %s is %s and cannot become %s; from %s the next step is %s", step, id, from, to, from, allowed)
}

// Case is one referral and what has happened to it since.
type Case struct {
	ID               string                 `json:"id"` // the id of the decision that opened it
	Form             string                 `json:"form"`
	SubjectRef       string                 `json:"subject_ref"`
	Team             string                 `json:"team"`
	Pathway          string                 `json:"pathway"`
	Priority         string                 `json:"priority"`
	RuleSet          string                 `json:"ruleset"`
	RuleSetVersion   int                    `json:"ruleset_version"`
	Rule             string                 `json:"rule"`
	ServiceID        string                 `json:"service_id,omitempty"`
	AppointmentID    string                 `json:"appointment_id,omitempty"`
	PractitionerID   string                 `json:"practitioner_id,omitempty"`
	ManualAllocation bool                   `json:"manual_allocation"`
	Status           Status                 `json:"status"`
	RespondBy        *time.Time             `json:"respond_by,omitempty"`
	Opened           time.Time              `json:"opened"`
	Updated          time.Time              `json:"updated"`
	StartScores      map[string]rules.Value `json:"start_scores"`
	FollowUp         string                 `json:"followup_decision,omitempty"`
	EndScores        map[string]rules.Value `json:"end_scores,omitempty"`
	AtHome           *bool                  `json:"at_home,omitempty"`
	Revision         int                    `json:"revision"`
	NextSteps        []Step                 `json:"next_steps"`
	// Steps is the case's history, oldest first; filled only when one case is read.
	Steps []StepRecord `json:"steps,omitempty"`
}

// Overdue reports whether the case has passed its respond-by time at now without anyone having
// seen the person: still referred, accepted, or with a missed visit.
func (c *Case) Overdue(now time.Time) bool {
	return c.RespondBy != nil && !now.Before(*c.RespondBy) && awaitingResponse(c.Status)
}

func awaitingResponse(s Status) bool { return s == Referred || s == Accepted || s == VisitMissed }

// StepRecord is one entry of a case's history.
type StepRecord struct {
	Seq    int64           `json:"seq"`
	Step   Step            `json:"step"`
	From   Status          `json:"from,omitempty"`
	To     Status          `json:"to"`
	Actor  string          `json:"actor"`
	At     time.Time       `json:"at"`
	Detail json.RawMessage `json:"detail"`
}

// Change asks for one step on a case, by whom and when.
type Change struct {
	Step  Step      `json:"step"`
	Actor string    `json:"-"` // the subject id of who records it, never a typed name
	At    time.Time `json:"at"`
	// AppointmentID names the booked visit (book).
	AppointmentID string `json:"appointment_id,omitempty"`
	// AtHome says, for a discharge case's outcome, whether the person is still living at home at
	// the follow-up point (91 days after discharge).
	AtHome *bool `json:"at_home,omitempty"`
	// Reason says why a referral is declined or a case closed; required to decline.
	Reason string `json:"reason,omitempty"`
	// Source names the system that recorded the step when it came from a service's case system,
	// with its own reference for the case.
	Source      string `json:"source,omitempty"`
	ExternalRef string `json:"external_ref,omitempty"`
}

// maxText bounds the free-text fields of a change.
const maxText = 500
