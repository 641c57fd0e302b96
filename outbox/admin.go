package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Delivery is one event's delivery to one subscription, as listed for operators.
type Delivery struct {
	ID            int64      `json:"id" db:"id"`
	EventID       string     `json:"event_id" db:"event_id"`
	Type          string     `json:"type" db:"type"`
	Case          string     `json:"case" db:"case_key"`
	Subscription  string     `json:"subscription" db:"subscription_id"`
	Status        string     `json:"status" db:"status"`
	Attempts      int        `json:"attempts" db:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at" db:"-"`
	LastError     string     `json:"last_error,omitempty" db:"last_error"`
	CreatedAt     time.Time  `json:"created_at" db:"-"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty" db:"-"`
}

// Filter narrows a listing of deliveries.
type Filter struct {
	Status string // pending, delivered or dead; empty for all
	Limit  int    // newest first; 0 for 100
}

// Deliveries lists deliveries, newest event first.
func Deliveries(ctx context.Context, db *database.DB, f Filter) ([]Delivery, error) {
	switch f.Status {
	case "", StatusPending, StatusDelivered, StatusDead:
	default:
		return nil, failure.Errorf(failure.Invalid, "status: %q: want pending, delivered or dead", f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT d.id, e.id, e.type, d.case_key, d.subscription_id, d.status, d.attempts, d.next_attempt_at, d.last_error, e.created_at, d.delivered_at
		FROM outbox_deliveries d JOIN outbox_events e ON e.seq = d.event_seq`
	args := []any{}
	if f.Status != "" {
		q += ` WHERE d.status = ?`
		args = append(args, f.Status)
	}
	q += ` ORDER BY d.event_seq DESC, d.id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.QueryContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: unable to list deliveries: %w", err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var (
			d             Delivery
			next, created database.Time
			delivered     *database.Time
		)
		if err := rows.Scan(&d.ID, &d.EventID, &d.Type, &d.Case, &d.Subscription, &d.Status, &d.Attempts, &next, &d.LastError, &created, &delivered); err != nil {
			return nil, fmt.Errorf("outbox: unable to list deliveries: %w", err)
		}
		d.NextAttemptAt, d.CreatedAt = next.Time, created.Time
		if delivered != nil {
			t := delivered.Time
			d.DeliveredAt = &t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Retry puts an event's dead deliveries (to active subscriptions) back in the queue, due now,
// with their attempts counted afresh; it returns how many. An event with nothing dead is a
// Conflict, an unknown one NotFound.
func Retry(ctx context.Context, db *database.DB, eventID string, now time.Time) (int, error) {
	var n int64
	err := db.InTx(ctx, func(tx *database.Tx) error {
		var seq int64
		if err := tx.GetContext(ctx, &seq, tx.Rebind(`SELECT seq FROM outbox_events WHERE id = ?`), eventID); err != nil {
			return failure.Errorf(failure.NotFound, "event %s does not exist", eventID)
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE outbox_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, last_error = ''
			WHERE event_seq = ? AND status = 'dead' AND subscription_id IN (SELECT id FROM outbox_subscriptions WHERE active = ?)`),
			database.NewTime(now), seq, true)
		if err != nil {
			return fmt.Errorf("outbox: unable to retry event %s: %w", eventID, err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("outbox: unable to retry event %s: %w", eventID, err)
		}
		if n == 0 {
			return failure.Errorf(failure.Conflict, "event %s has no dead delivery to an active subscription", eventID)
		}
		return nil
	})
	return int(n), err
}

// Replay queues again every event created at or after since for subscription (every active
// subscription whose filter takes the event when empty): delivered and dead deliveries go back to
// pending, and subscriptions added after an event get it for the first time. Notify subscriptions
// are replayed only when named, since a replay to them texts, emails or writes to people again.
// Events not yet fanned out are left to the fan-out. Receivers see the
// same event ids again, so an idempotent receiver can rebuild from a replay. It returns how many
// deliveries were queued.
func Replay(ctx context.Context, db *database.DB, since time.Time, subscription string, now time.Time) (int, error) {
	var n int64
	err := db.InTx(ctx, func(tx *database.Tx) error {
		if subscription != "" {
			var active bool
			if err := tx.GetContext(ctx, &active, tx.Rebind(`SELECT active FROM outbox_subscriptions WHERE id = ?`), subscription); err != nil {
				return failure.Errorf(failure.NotFound, "subscription %s does not exist", subscription)
			}
			if !active {
				return failure.Errorf(failure.Conflict, "subscription %s is removed", subscription)
			}
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO outbox_deliveries (event_seq, subscription_id, case_key, status, attempts, next_attempt_at, last_error)
			SELECT e.seq, s.id, e.case_key, 'pending', 0, ?, '' FROM outbox_events e CROSS JOIN outbox_subscriptions s
			WHERE e.created_at >= ? AND `+fannedOut(tx.Dialect)+` AND s.active = ? AND (? = '' OR s.id = ?)
			AND (s.events = '' OR ',' || s.events || ',' LIKE '%,' || e.type || ',%')
			AND (s.format <> 'fhir' OR e.type IN ('decision.made', 'appointment.booked', 'appointment.moved', 'appointment.cancelled', 'case.escalated'))
			AND (s.format <> 'notify' OR s.id = ?)
			ORDER BY e.seq
			ON CONFLICT (event_seq, subscription_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, last_error = ''`),
			database.NewTime(now), database.NewTime(since), true, subscription, subscription, subscription)
		if err != nil {
			return fmt.Errorf("outbox: unable to replay events: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Depth counts deliveries waiting to be sent (an event not yet fanned out counting as one) and
// dead-lettered ones, for the queue-depth metric and for waiting until the queue is empty.
func Depth(ctx context.Context, db *database.DB) (pending, dead int, err error) {
	err = db.QueryRowContext(ctx, `SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) FROM outbox_deliveries WHERE status <> 'delivered'`).Scan(&pending, &dead)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: unable to count deliveries: %w", err)
	}
	// An event not yet fanned out has no delivery rows yet, but is still waiting to go out: each
	// counts as one pending, so that a queue that looks empty is empty.
	var unfanned int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events e WHERE NOT (`+fannedOut(db.Dialect)+`)`).Scan(&unfanned); err != nil {
		return 0, 0, fmt.Errorf("outbox: unable to count events not yet fanned out: %w", err)
	}
	return pending + unfanned, dead, nil
}

// fannedOut is the condition on outbox_events e that its deliveries have been queued.
func fannedOut(dialect database.Dialect) string {
	if dialect == database.SQLite {
		return `e.seq <= (SELECT seq FROM outbox_fanout)`
	}
	return `e.fanned`
}
