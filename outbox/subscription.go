package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Payload formats a subscription may ask for.
const (
	// FormatCarepath is Carepath's own JSON: {id, type, timestamp, case, data}.
	FormatCarepath = "carepath"
	// FormatFHIR is FHIR R4 resources, for NHS receivers: a Bundle with a ServiceRequest (and an
	// Appointment or a Task) for a decision, an Appointment for appointment changes, a Task for
	// an escalation.
	FormatFHIR = "fhir"
	// FormatNotify sends no webhook: a Deliverer's Handlers[FormatNotify] turns each event into
	// a GOV.UK Notify message, with the event id as its reference. Such a subscription has no
	// URL or secret.
	FormatNotify = "notify"
)

// NotifyTypes are the event types a notify subscription takes when it names none: those a
// council's templates are for.
var NotifyTypes = []string{DecisionMade, AppointmentBooked, CaseEscalated}

// Subscription is a receiver of webhooks.
type Subscription struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Secret is the whsec_ signing secret; it is never listed.
	Secret string `json:"-"`
	// Events are the event types sent; empty means all.
	Events    []string   `json:"events"`
	Format    string     `json:"format"`
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"created_at"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
}

// CheckSubscription refuses a subscription that could never be delivered to, naming the field.
// Plain http is allowed only to loopback, so events with personal data are never sent in the clear.
func CheckSubscription(s *Subscription) error {
	if s.Format == FormatNotify {
		return checkNotify(s)
	}
	u, err := url.Parse(s.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return failure.Errorf(failure.Invalid, "url: %q is not an http(s) URL", s.URL)
	case u.User != nil:
		return failure.Errorf(failure.Invalid, "url: must not carry credentials; the receiver checks the signature instead")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return failure.Errorf(failure.Invalid, "url: plain http is allowed only to this machine; use https")
	}
	if _, err := ParseSecret(s.Secret); err != nil {
		return err
	}
	switch s.Format {
	case "":
		s.Format = FormatCarepath
	case FormatCarepath, FormatFHIR:
	default:
		return failure.Errorf(failure.Invalid, "format: %q: want carepath, fhir or notify", s.Format)
	}
	for _, t := range s.Events {
		if !slices.Contains(Types, t) {
			return failure.Errorf(failure.Invalid, "events: %q is not an event type; want some of %s", t, strings.Join(Types, ", "))
		}
		if s.Format == FormatFHIR && !HasFHIR(t) {
			return failure.Errorf(failure.Invalid, "events: %s has no FHIR representation; subscribe to it with --format carepath", t)
		}
	}
	return nil
}

// checkNotify refuses a notify subscription with webhook settings or an event type no message is
// made for, and gives it NotifyTypes when it names none.
func checkNotify(s *Subscription) error {
	switch {
	case s.URL != "":
		return failure.Errorf(failure.Invalid, "url: a notify subscription sends through GOV.UK Notify as configured (notify: in the configuration), not to a URL")
	case s.Secret != "":
		return failure.Errorf(failure.Invalid, "secret: a notify subscription signs nothing; Notify's API key is in the configuration")
	}
	for _, t := range s.Events {
		if !slices.Contains(NotifyTypes, t) {
			return failure.Errorf(failure.Invalid, "events: %q has no notification; want some of %s", t, strings.Join(NotifyTypes, ", "))
		}
	}
	if len(s.Events) == 0 {
		s.Events = slices.Clone(NotifyTypes)
	}
	return nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1" || strings.HasPrefix(host, "127.")
}

// AddSubscription stores a new active subscription; it receives events appended from now on
// (replay sends it older ones).
func AddSubscription(ctx context.Context, db *database.DB, s Subscription) (Subscription, error) {
	if err := CheckSubscription(&s); err != nil {
		return Subscription{}, err
	}
	s.Active, s.CreatedAt = true, database.NewTime(s.CreatedAt).Time
	_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO outbox_subscriptions (id, url, secret, events, format, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		s.ID, s.URL, s.Secret, strings.Join(s.Events, ","), s.Format, true, database.NewTime(s.CreatedAt))
	if database.IsUniqueViolation(err) {
		return Subscription{}, failure.Errorf(failure.Conflict, "subscription %s already exists", s.ID)
	} else if err != nil {
		return Subscription{}, fmt.Errorf("outbox: unable to add subscription: %w", err)
	}
	return s, nil
}

type subscriptionRow struct {
	ID        string         `db:"id"`
	URL       string         `db:"url"`
	Secret    string         `db:"secret"`
	Events    string         `db:"events"`
	Format    string         `db:"format"`
	Active    bool           `db:"active"`
	CreatedAt database.Time  `db:"created_at"`
	RemovedAt *database.Time `db:"removed_at"`
}

func (r subscriptionRow) subscription() Subscription {
	s := Subscription{ID: r.ID, URL: r.URL, Secret: r.Secret, Format: r.Format, Active: r.Active, CreatedAt: r.CreatedAt.Time, Events: []string{}}
	if r.Events != "" {
		s.Events = strings.Split(r.Events, ",")
	}
	if r.RemovedAt != nil {
		t := r.RemovedAt.Time
		s.RemovedAt = &t
	}
	return s
}

// Subscriptions lists every subscription, removed ones too, oldest first.
func Subscriptions(ctx context.Context, db *database.DB) ([]Subscription, error) {
	var rows []subscriptionRow
	if err := db.SelectContext(ctx, &rows, `SELECT id, url, secret, events, format, active, created_at, removed_at FROM outbox_subscriptions ORDER BY created_at, id`); err != nil {
		return nil, fmt.Errorf("outbox: unable to list subscriptions: %w", err)
	}
	out := make([]Subscription, len(rows))
	for i, r := range rows {
		out[i] = r.subscription()
	}
	return out, nil
}

// RemoveSubscription stops a subscription: nothing more is queued or sent to it, and its pending
// deliveries are dead-lettered, where they stay listed. Removing twice is a Conflict.
func RemoveSubscription(ctx context.Context, db *database.DB, id string, now time.Time) error {
	return db.InTx(ctx, func(tx *database.Tx) error {
		if tx.Dialect == database.Postgres {
			// Waits for a fan-out in progress, which may have read the subscription as active.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, fanOutLock); err != nil {
				return fmt.Errorf("outbox: unable to remove subscription %s: %w", id, err)
			}
		}
		var active bool
		err := tx.GetContext(ctx, &active, tx.Rebind(`SELECT active FROM outbox_subscriptions WHERE id = ?`), id)
		if errors.Is(err, sql.ErrNoRows) {
			return failure.Errorf(failure.NotFound, "subscription %s does not exist", id)
		} else if err != nil {
			return fmt.Errorf("outbox: unable to read subscription %s: %w", id, err)
		}
		if !active {
			return failure.Errorf(failure.Conflict, "subscription %s is already removed", id)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE outbox_subscriptions SET active = ?, removed_at = ? WHERE id = ?`), false, database.NewTime(now), id); err != nil {
			return fmt.Errorf("outbox: unable to remove subscription %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE outbox_deliveries SET status = 'dead', last_error = 'subscription removed' WHERE subscription_id = ? AND status = 'pending'`), id); err != nil {
			return fmt.Errorf("outbox: unable to remove subscription %s: %w", id, err)
		}
		return nil
	})
}
