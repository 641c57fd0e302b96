package triage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/rules"
)

// EngineVersion is recorded on every decision, so that a later change of engine can be told apart
// from a change of rules when an old decision is examined.
const EngineVersion = "carepath/0.1.0"

// RuleSetRef names the exact rule-set content that decided.
type RuleSetRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
}

// Decision is the stored record of one assessment's triage: what came in, what decided, and why.
type Decision struct {
	ID            string                 `json:"id"`
	Form          string                 `json:"form"`
	FormVersion   int                    `json:"form_version"`
	SubjectRef    string                 `json:"subject_ref"`
	Scores        map[string]rules.Value `json:"scores"`
	RuleSet       RuleSetRef             `json:"ruleset"`
	Outcome       rules.Outcome          `json:"outcome"`
	Rule          string                 `json:"rule"`
	Explanation   rules.Explanation      `json:"explanation"`
	Authored      time.Time              `json:"authored"`
	Decided       time.Time              `json:"decided"`
	EngineVersion string                 `json:"engine_version"`
	Input         json.RawMessage        `json:"input"`
	InputSHA256   string                 `json:"input_sha256"`
	// Team is the team the decision is filed under; SubmittedBy is the subject id of who
	// submitted it. Neither takes part in the decision itself.
	Team        string `json:"team,omitempty"`
	SubmittedBy string `json:"submitted_by,omitempty"`
	// Services are the services able to deliver the pathway to this subject, best first, each
	// with why it was kept; empty when none can, which ManualAllocation then flags.
	Services []directory.Candidate `json:"services"`
	// RejectedServices, recorded only when the submission asked, say why each other service
	// delivering the pathway was not offered.
	RejectedServices []directory.Rejection `json:"rejected_services,omitempty"`
	// Assignment is the practitioner and booked appointment; nil when the pathway has no visit
	// or nobody could be assigned (UnassignedReason then says why).
	Assignment       *Assignment `json:"assignment"`
	UnassignedReason string      `json:"unassigned_reason,omitempty"`
	// ManualAllocation is true when a person must find a service or practitioner for this case.
	ManualAllocation bool `json:"manual_allocation"`
}

// Assignment is who will visit, for which service, and when, with why that practitioner.
type Assignment struct {
	PractitionerID   string          `json:"practitioner_id"`
	PractitionerName string          `json:"practitioner_name,omitempty"`
	ServiceID        string          `json:"service_id"`
	TravelMinutes    float64         `json:"travel_minutes"`
	Appointment      AppointmentSlot `json:"appointment"`
	Continuity       bool            `json:"continuity"`
	Why              string          `json:"why"`
}

// AppointmentSlot is the booked appointment of an assignment.
type AppointmentSlot struct {
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Assessment is a validated and scored submission, ready for the rules.
type Assessment struct {
	Form       *Form
	Submission *Submission
	Values     []rules.Value // aligned with Form.Items
	Scores     []rules.Value // aligned with Form.Scores
	Authored   time.Time
}

// Assess validates and scores a submission against a form; authored defaults to received.
func Assess(f *Form, sub *Submission, received time.Time) (Assessment, error) {
	values, err := f.Validate(sub)
	if err != nil {
		return Assessment{}, err
	}
	authored := received
	if sub.Authored != nil {
		authored = *sub.Authored
	}
	return Assessment{Form: f, Submission: sub, Values: values, Scores: f.Score(values), Authored: authored.UTC()}, nil
}

// Input is what the rules read from this assessment.
func (a *Assessment) Input() rules.Input {
	return rules.Input{Answers: a.Values, Scores: a.Scores, Age: a.Submission.Subject.AgeAt(a.Authored)}
}

// Decide evaluates an assessment under a compiled rule set and builds its decision (without id,
// decided time or canonical input: Record adds those). It does no I/O.
func Decide(a *Assessment, p *rules.Program) (Decision, error) {
	r, err := p.Evaluate(a.Input())
	if err != nil {
		return Decision{}, err
	}
	scores := make(map[string]rules.Value, len(a.Scores))
	for i, s := range a.Form.Scores {
		scores[s.Name] = a.Scores[i]
	}
	rs := p.RuleSet
	return Decision{
		Form:          a.Form.ID,
		FormVersion:   a.Form.Version,
		SubjectRef:    a.Submission.Subject.Ref,
		Scores:        scores,
		RuleSet:       RuleSetRef{ID: rs.ID, Version: rs.Version, SHA256: p.SHA256},
		Outcome:       r.Outcome(),
		Rule:          r.Rule().ID,
		Explanation:   r.Explain(),
		Authored:      a.Authored,
		EngineVersion: EngineVersion,
		Services:      []directory.Candidate{},
	}, nil
}

// Record completes a decision with its id, decided time and canonical input and its hash.
func Record(d *Decision, a *Assessment, id string, decided time.Time) error {
	sub := *a.Submission
	authored := a.Authored
	sub.Authored = &authored // the canonical input always says when, so replays pick the same version
	canon, err := a.Form.Canonical(&sub, a.Values)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(canon)
	d.ID = id
	d.Decided = decided.UTC()
	d.Input = canon
	d.InputSHA256 = hex.EncodeToString(sum[:])
	return nil
}
