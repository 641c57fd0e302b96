package outbox

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
)

// fanOutLock is the PostgreSQL advisory lock under which one worker at a time fans events out, so
// that no replica queues a case's later event while another is still queueing an earlier one.
// SQLite's single write lock does the same there.
const fanOutLock = 0x6f7574626f78 // "outbox"

// fanOutBatch bounds how many events one fan-out reads.
const fanOutBatch = 1000

// FanOut queues the deliveries of committed events no worker has seen yet, to every subscription
// active now whose filter takes them, and returns how many events it took. The delivery workers
// call it at the start of every claim; it is exported for operators' tools and tests.
//
// The set of subscriptions an event goes to is fixed here, when a worker first sees the committed
// event, not when it was written: a subscription added between the commit and the fan-out (well
// under a second while a server runs) gets the event, one removed in between does not. Nothing is
// lost either way: an event is marked as fanned out only in the transaction that queues its
// deliveries.
func (d *Deliverer) FanOut(ctx context.Context) (int, error) {
	d.defaults()
	defer d.serialise()()
	var n int
	err := d.DB.InTx(ctx, func(tx *database.Tx) error {
		var err error
		n, err = d.fanOut(ctx, tx, d.Now())
		return err
	})
	return n, err
}

// fanSubscription is an active subscription as the fan-out matches events to it.
type fanSubscription struct {
	id, format string
	events     []string
}

// takes reports whether the subscription receives events of type typ.
func (s *fanSubscription) takes(typ string) bool {
	if s.format == FormatFHIR && !HasFHIR(typ) {
		return false
	}
	return len(s.events) == 0 || slices.Contains(s.events, typ)
}

type unfanned struct {
	seq      int64
	typ, key string
}

// fanOut does FanOut's work in tx.
func (d *Deliverer) fanOut(ctx context.Context, tx *database.Tx, now time.Time) (int, error) {
	if tx.Dialect == database.Postgres {
		var mine bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, fanOutLock).Scan(&mine); err != nil {
			return 0, fmt.Errorf("outbox: unable to take the fan-out lock: %w", err)
		}
		if !mine {
			return 0, nil // another worker is fanning out; its deliveries are claimed next round
		}
	}
	q := `SELECT seq, type, case_key FROM outbox_events WHERE NOT fanned ORDER BY seq LIMIT $1`
	if tx.Dialect == database.SQLite {
		q = `SELECT seq, type, case_key FROM outbox_events WHERE seq > (SELECT seq FROM outbox_fanout) ORDER BY seq LIMIT ?`
	}
	rows, err := tx.QueryContext(ctx, q, fanOutBatch)
	if err != nil {
		return 0, fmt.Errorf("outbox: unable to read new events: %w", err)
	}
	var events []unfanned
	for rows.Next() {
		var e unfanned
		if err := rows.Scan(&e.seq, &e.typ, &e.key); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox: unable to read new events: %w", err)
		}
		events = append(events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox: unable to read new events: %w", err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	subs, err := activeSubscriptions(ctx, tx)
	if err != nil {
		return 0, err
	}
	at := database.NewTime(now)
	const perRow = 4
	var (
		args []any
		rowN int
	)
	flush := func() error {
		if rowN == 0 {
			return nil
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, 'pending', 0, ?, ''), ", rowN), ", ")
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO outbox_deliveries (event_seq, subscription_id, case_key, status, attempts, next_attempt_at, last_error)
			VALUES `+values+` ON CONFLICT (event_seq, subscription_id) DO NOTHING`), args...)
		args, rowN = args[:0], 0
		if err != nil {
			return fmt.Errorf("outbox: unable to queue deliveries: %w", err)
		}
		return nil
	}
	for _, e := range events {
		for i := range subs {
			if !subs[i].takes(e.typ) {
				continue
			}
			args = append(args, e.seq, subs[i].id, e.key, at)
			if rowN++; rowN*perRow >= 4000 {
				if err := flush(); err != nil {
					return 0, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if err := markFanned(ctx, tx, events); err != nil {
		return 0, err
	}
	return len(events), nil
}

// activeSubscriptions reads the subscriptions events are fanned out to. The table is a handful of
// rows and is read only when there are new events, so it is not cached: a cache would need a
// round trip to learn whether it is stale.
func activeSubscriptions(ctx context.Context, tx *database.Tx) ([]fanSubscription, error) {
	rows, err := tx.QueryContext(ctx, tx.Rebind(`SELECT id, events, format FROM outbox_subscriptions WHERE active = ? ORDER BY id`), true)
	if err != nil {
		return nil, fmt.Errorf("outbox: unable to read subscriptions: %w", err)
	}
	defer rows.Close()
	var out []fanSubscription
	for rows.Next() {
		var (
			s      fanSubscription
			events string
		)
		if err := rows.Scan(&s.id, &events, &s.format); err != nil {
			return nil, fmt.Errorf("outbox: unable to read subscriptions: %w", err)
		}
		if events != "" {
			s.events = strings.Split(events, ",")
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// markFanned records that events have their deliveries. On SQLite, where writers take turns, the
// events read are every committed one up to the last, so the cursor moves to it. On PostgreSQL an
// event with a lower seq may commit after this transaction began, so only the events read are
// marked, by seq, and the late one is taken next round.
func markFanned(ctx context.Context, tx *database.Tx, events []unfanned) error {
	if tx.Dialect == database.SQLite {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox_fanout SET seq = ?`, events[len(events)-1].seq); err != nil {
			return fmt.Errorf("outbox: unable to record the fan-out: %w", err)
		}
		return nil
	}
	seqs := make([]any, len(events))
	for i, e := range events {
		seqs[i] = e.seq
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(events)), ", ")
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE outbox_events SET fanned = true WHERE seq IN (`+marks+`)`), seqs...); err != nil {
		return fmt.Errorf("outbox: unable to mark events fanned out: %w", err)
	}
	return nil
}
