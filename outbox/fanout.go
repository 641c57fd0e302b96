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

// fanOutBatch bounds how many events one fan-out reads; a worker that takes a full batch goes on
// at once, so a backlog is fanned out in rounds of this many.
const fanOutBatch = 1000

// FanOut queues the deliveries of committed events no worker has seen yet, to every subscription
// active now whose filter takes them, and returns how many events it took. The delivery workers
// do its work before a claim whenever a read shows new events; it is exported for operators'
// tools and tests.
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
		n, _, err = d.fanOut(ctx, tx, d.Now())
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

// fanOutPostgres fans a batch out in one statement: it reads the events not yet fanned out,
// queues a delivery to every active subscription whose filter takes each one, and marks them,
// all from one snapshot, so the events marked are exactly those read and an event whose seq is
// lower but which commits later is left for the next round. Matching in the statement means the
// subscriptions are never read into the worker, so an idle deployment with none pays nothing for
// them, and the text never varies, so it is prepared once.
const fanOutPostgres = `WITH ev AS MATERIALIZED (
	SELECT seq, type, case_key FROM outbox_events WHERE NOT fanned ORDER BY seq LIMIT ?
), queued AS (
	INSERT INTO outbox_deliveries (event_seq, subscription_id, case_key, status, attempts, next_attempt_at, last_error)
	SELECT ev.seq, s.id, ev.case_key, 'pending', 0, ?, '' FROM ev JOIN outbox_subscriptions s ON s.active
		AND (s.events = '' OR ev.type = ANY(string_to_array(s.events, ',')))
		AND (s.format <> 'fhir' OR ev.type = ANY(CAST(? AS TEXT[])))
	ON CONFLICT (event_seq, subscription_id) DO NOTHING
	RETURNING 1
), marked AS (
	UPDATE outbox_events SET fanned = true WHERE seq IN (SELECT seq FROM ev) RETURNING 1
)
SELECT (SELECT COUNT(*) FROM marked), (SELECT COUNT(*) FROM queued)`

// fhirTypes is the event types with a FHIR representation as a PostgreSQL array literal; they
// are lower-case words and dots, so need no quoting.
var fhirTypes = func() string {
	var ts []string
	for _, t := range Types {
		if HasFHIR(t) {
			ts = append(ts, t)
		}
	}
	return "{" + strings.Join(ts, ",") + "}"
}()

// fanOut does FanOut's work in tx; it returns how many events it took and how many deliveries it
// queued.
func (d *Deliverer) fanOut(ctx context.Context, tx *database.Tx, now time.Time) (events, queued int, err error) {
	if tx.Dialect == database.Postgres {
		var mine bool
		if err := tx.QueryRowPrepared(ctx, `SELECT pg_try_advisory_xact_lock(?)`, fanOutLock).Scan(&mine); err != nil {
			return 0, 0, fmt.Errorf("outbox: unable to take the fan-out lock: %w", err)
		}
		if !mine {
			return 0, 0, nil // another worker is fanning out; its deliveries are claimed next round
		}
		if err := tx.QueryRowPrepared(ctx, fanOutPostgres, d.fanOutBatch(), database.NewTime(now), fhirTypes).Scan(&events, &queued); err != nil {
			return 0, 0, fmt.Errorf("outbox: unable to fan out new events: %w", err)
		}
		return events, queued, nil
	}
	return d.fanOutSQLite(ctx, tx, now)
}

// fanOutSQLite fans a batch out on SQLite, where statements cost no round trip: it reads the
// events past the cursor and the subscriptions, queues the deliveries one prepared statement at
// a time and moves the cursor. Writers take turns there, so every event up to the last one read
// has committed.
func (d *Deliverer) fanOutSQLite(ctx context.Context, tx *database.Tx, now time.Time) (int, int, error) {
	rows, err := tx.QueryPrepared(ctx, `SELECT seq, type, case_key FROM outbox_events WHERE seq > (SELECT seq FROM outbox_fanout) ORDER BY seq LIMIT ?`, d.fanOutBatch())
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: unable to read new events: %w", err)
	}
	var events []unfanned
	for rows.Next() {
		var e unfanned
		if err := rows.Scan(&e.seq, &e.typ, &e.key); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("outbox: unable to read new events: %w", err)
		}
		events = append(events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("outbox: unable to read new events: %w", err)
	}
	if len(events) == 0 {
		return 0, 0, nil
	}
	subs, err := activeSubscriptions(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	at := database.NewTime(now)
	queued := 0
	for _, e := range events {
		for i := range subs {
			if !subs[i].takes(e.typ) {
				continue
			}
			if _, err := tx.ExecPrepared(ctx, `INSERT INTO outbox_deliveries (event_seq, subscription_id, case_key, status, attempts, next_attempt_at, last_error)
				VALUES (?, ?, ?, 'pending', 0, ?, '') ON CONFLICT (event_seq, subscription_id) DO NOTHING`, e.seq, subs[i].id, e.key, at); err != nil {
				return 0, 0, fmt.Errorf("outbox: unable to queue deliveries: %w", err)
			}
			queued++
		}
	}
	if _, err := tx.ExecPrepared(ctx, `UPDATE outbox_fanout SET seq = ?`, events[len(events)-1].seq); err != nil {
		return 0, 0, fmt.Errorf("outbox: unable to record the fan-out: %w", err)
	}
	return len(events), queued, nil
}

// activeSubscriptions reads the subscriptions events are fanned out to on SQLite. The table is a
// handful of rows, read in process only when there are new events.
func activeSubscriptions(ctx context.Context, tx *database.Tx) ([]fanSubscription, error) {
	rows, err := tx.QueryPrepared(ctx, `SELECT id, events, format FROM outbox_subscriptions WHERE active = ? ORDER BY id`, true)
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
