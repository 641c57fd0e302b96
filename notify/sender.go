package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Config is one council's notifications: which Notify templates each event uses and who is told.
// Template ids are Notify's UUIDs; an empty id turns that message off.
type Config struct {
	// AppointmentConfirmation is sent to the citizen when a visit is booked, through the channel
	// they said they prefer.
	AppointmentConfirmation Channels `yaml:"appointment_confirmation" json:"appointment_confirmation"`
	// UrgentCase is a text message to the on-call practitioner for a new emergency or urgent case.
	UrgentCase  string `yaml:"urgent_case" json:"urgent_case"`
	OnCallPhone string `yaml:"on_call_phone" json:"on_call_phone"`
	// Escalation is an email to the coordinator when a case is escalated.
	Escalation       string `yaml:"escalation" json:"escalation"`
	CoordinatorEmail string `yaml:"coordinator_email" json:"coordinator_email"`
}

// Channels are one message's template per channel.
type Channels struct {
	SMS    string `yaml:"sms" json:"sms"`
	Email  string `yaml:"email" json:"email"`
	Letter string `yaml:"letter" json:"letter"`
}

// Contact is how a citizen wants to be reached: Preference is "sms", "email" or "letter", or
// "none" for a citizen who asked to be sent nothing.
type Contact struct {
	Preference string
	Phone      string
	Email      string
	Address    []string // postal address lines, the last the postcode; at most 7
}

// Event is an outbox event as the Sender reads it: its stable id (sent to Notify as the
// reference), its type and its JSON data.
type Event struct {
	ID      string
	Type    string
	Payload json.RawMessage
}

// The event types the Sender acts on; it ignores the others.
const (
	eventDecisionMade      = "decision.made"
	eventAppointmentBooked = "appointment.booked"
	eventCaseEscalated     = "case.escalated"
)

// Sender turns events into Notify messages. Plug it into the outbox's delivery as a subscriber
// kind: for each claimed delivery call Send, mark it delivered on nil, retry it with backoff when
// Retryable(err), and dead-letter it otherwise.
type Sender struct {
	Client *Client
	Config Config
	// Contacts finds a citizen's contact details and stated preference by subject reference;
	// Carepath stores none, so they come from the council's own records.
	Contacts func(ctx context.Context, subjectRef string) (Contact, error)
	// Location is the time zone appointment times are written in (UTC when nil).
	Location *time.Location
}

// eventData is the part of an event's data the messages use.
type eventData struct {
	Decision   string    `json:"decision_id"`
	SubjectRef string    `json:"subject_ref"`
	Team       string    `json:"team"`
	Pathway    string    `json:"pathway"`
	Priority   string    `json:"priority"`
	Start      time.Time `json:"start"`
	Reason     string    `json:"reason"`
}

// Send sends the message an event calls for, if any. The event id is the Notify reference, so a
// message can be traced back to its event. Errors say, through Retryable, whether to try again.
func (s *Sender) Send(ctx context.Context, e Event) error {
	switch e.Type {
	case eventDecisionMade, eventAppointmentBooked, eventCaseEscalated:
	default:
		return nil
	}
	var d eventData
	if err := json.Unmarshal(e.Payload, &d); err != nil {
		return &PermanentError{Reason: fmt.Sprintf("event %s: data does not parse: %v", e.ID, err)}
	}
	switch e.Type {
	case eventDecisionMade:
		if d.Priority != "emergency" && d.Priority != "urgent" || s.Config.UrgentCase == "" {
			return nil
		}
		if s.Config.OnCallPhone == "" {
			return &PermanentError{Reason: "urgent case: no on-call phone number is configured"}
		}
		_, err := s.Client.SendSMS(ctx, SMS{PhoneNumber: s.Config.OnCallPhone, TemplateID: s.Config.UrgentCase, Reference: e.ID,
			Personalisation: map[string]string{"case": d.Decision, "pathway": d.Pathway, "priority": d.Priority, "team": d.Team}})
		return err
	case eventCaseEscalated:
		if s.Config.Escalation == "" {
			return nil
		}
		if s.Config.CoordinatorEmail == "" {
			return &PermanentError{Reason: "escalation: no coordinator email address is configured"}
		}
		_, err := s.Client.SendEmail(ctx, Email{EmailAddress: s.Config.CoordinatorEmail, TemplateID: s.Config.Escalation, Reference: e.ID,
			Personalisation: map[string]string{"case": d.Decision, "pathway": d.Pathway, "priority": d.Priority, "team": d.Team, "reason": d.Reason}})
		return err
	}
	return s.confirm(ctx, e, d)
}

// confirm sends the citizen their appointment confirmation through their stated preference.
func (s *Sender) confirm(ctx context.Context, e Event, d eventData) error {
	t := s.Config.AppointmentConfirmation
	if t == (Channels{}) {
		return nil
	}
	if s.Contacts == nil {
		return &PermanentError{Reason: "appointment confirmation: no source of citizens' contact details is configured"}
	}
	c, err := s.Contacts(ctx, d.SubjectRef)
	if err != nil {
		return fmt.Errorf("notify: event %s: unable to find the citizen's contact details: %w", e.ID, err)
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	start := d.Start.In(loc)
	personal := map[string]string{"appointment_date": start.Format("Monday 2 January 2006"), "appointment_time": start.Format("3:04pm"), "case": d.Decision}
	switch strings.ToLower(c.Preference) {
	case "none":
		return nil // asked for nothing: done, not a failure to retry or dead-letter
	case "sms":
		if t.SMS == "" || c.Phone == "" {
			return &PermanentError{Reason: "appointment confirmation by text: no template or no phone number"}
		}
		_, err = s.Client.SendSMS(ctx, SMS{PhoneNumber: c.Phone, TemplateID: t.SMS, Personalisation: personal, Reference: e.ID})
	case "email":
		if t.Email == "" || c.Email == "" {
			return &PermanentError{Reason: "appointment confirmation by email: no template or no email address"}
		}
		_, err = s.Client.SendEmail(ctx, Email{EmailAddress: c.Email, TemplateID: t.Email, Personalisation: personal, Reference: e.ID})
	case "letter":
		if t.Letter == "" || len(c.Address) < 3 || len(c.Address) > 7 {
			return &PermanentError{Reason: "appointment confirmation by letter: no template, or an address of other than 3 to 7 lines"}
		}
		for i, line := range c.Address {
			personal[fmt.Sprintf("address_line_%d", i+1)] = line
		}
		_, err = s.Client.SendLetter(ctx, Letter{TemplateID: t.Letter, Personalisation: personal, Reference: e.ID})
	default:
		return &PermanentError{Reason: fmt.Sprintf("appointment confirmation: stated preference %q is not sms, email or letter", c.Preference)}
	}
	return err
}
