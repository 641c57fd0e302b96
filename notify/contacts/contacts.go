// Package contacts finds citizens' contact details for GOV.UK Notify in the decisions Carepath
// stored: the contact preference, phone, email and address the assessment's subject gave. It sits
// apart from package notify so that notify needs no storage and triage needs no Notify.
package contacts

import (
	"context"
	"strings"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/notify"
	"github.com/carepath/carepath/triage"
)

// maxLines is the most address lines Notify takes for a letter, the postcode included.
const maxLines = 7

// FromDecisions is a notify.Sender's Contacts that reads the latest decision about the subject.
// A subject with no decision or no stated preference is a notify.PermanentError: asking again
// will not find one. The reasons never quote the details themselves.
func FromDecisions(db *database.DB) func(ctx context.Context, subjectRef string) (notify.Contact, error) {
	return func(ctx context.Context, subjectRef string) (notify.Contact, error) {
		s, err := triage.LatestSubject(ctx, db, subjectRef)
		if err != nil && failure.CodeOf(err) == failure.NotFound {
			return notify.Contact{}, &notify.PermanentError{Reason: "no decision about the citizen is stored"}
		}
		if err != nil {
			return notify.Contact{}, err
		}
		if s.Contact == nil {
			return notify.Contact{}, &notify.PermanentError{Reason: "the citizen's assessment states no contact preference"}
		}
		return Of(s), nil
	}
}

// Of is a subject's contact as Notify takes it. The address lines are the name, the address's
// lines (split at line breaks, or at commas when it has none) and the postcode last; lines beyond
// Notify's seven are joined into the last line before the postcode.
func Of(s triage.Subject) notify.Contact {
	c := notify.Contact{}
	if s.Contact != nil {
		c.Preference = s.Contact.Preference
		c.Phone = strings.TrimSpace(s.Contact.Phone)
		c.Email = strings.TrimSpace(s.Contact.Email)
	}
	c.Address = addressLines(s)
	return c
}

func addressLines(s triage.Subject) []string {
	var lines []string
	if n := strings.TrimSpace(s.Name); n != "" {
		lines = append(lines, n)
	}
	sep := "\n"
	if !strings.Contains(s.Address, "\n") {
		sep = ","
	}
	for l := range strings.SplitSeq(s.Address, sep) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	p := strings.TrimSpace(s.Postcode)
	room := maxLines
	if p != "" {
		room--
	}
	if len(lines) > room {
		lines = append(lines[:room-1], strings.Join(lines[room-1:], ", "))
	}
	if p != "" {
		lines = append(lines, p)
	}
	return lines
}
