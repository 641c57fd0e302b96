package outbox

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carepath/carepath/database"
)

// Delivery statuses as stored.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusDead      = "dead"
)

// Deliverer sends due deliveries to their subscribers. Any number of Deliverers, in one process or
// in several replicas, may run against one database: each claim takes rows nobody else holds
// (FOR UPDATE SKIP LOCKED on PostgreSQL, the single write lock on SQLite) and leases them, so each
// delivery is sent by one of them at a time; a sender that dies leaves its lease to expire and the
// delivery is sent again with the same event id.
type Deliverer struct {
	DB     *database.DB
	Client *http.Client
	Now    func() time.Time
	// Rand returns a number in [0, 1) for the jitter of retry delays; it is called under a lock.
	Rand func() float64
	// BatchSize is how many deliveries one claim takes; Senders how many of them are sent at once.
	BatchSize int
	Senders   int
	// Workers is how many claim-send-complete loops Run keeps going.
	Workers int
	// BackoffBase and BackoffMax bound the delay before retry n: a uniformly random time in
	// [0, min(BackoffMax, BackoffBase·2ⁿ⁻¹)) ("full jitter").
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxAttempts is how many failed sends dead-letter a delivery.
	MaxAttempts int
	// Lease is how long a claim holds a delivery; it must exceed the client's timeout.
	Lease time.Duration
	// Poll is how long Run waits when there was nothing to send and nobody called Notify.
	Poll time.Duration
	// Gather is how long Run waits after a Notify before its round, so that on a busy server the
	// events committed meanwhile share one round's transactions instead of taking one each.
	Gather time.Duration
	Logger *slog.Logger
	// Observe, when set, is told of every send (for metrics).
	Observe func(r Result)
	// Handlers send events to subscriptions whose format names them rather than a webhook, such
	// as FormatNotify. A replica claims only deliveries it can send, so deliveries for a format
	// no replica has a handler for wait, counted in the queue depth, rather than fail.
	Handlers map[string]Handler

	mu sync.Mutex
	// writing takes turns between this Deliverer's own claims and completions on SQLite, whose
	// busy handler would otherwise make them wait for each other in sleeps of up to 100 ms.
	writing sync.Mutex
	keys    sync.Map // secret → decoded key
	wake    chan struct{}
	once    sync.Once
	// fanOutN overrides fanOutBatch when positive (tests make it small).
	fanOutN int
	// checks counts the reads made to learn whether a round has anything to do.
	checks atomic.Int64
}

// Handler sends one event to a subscription of its format. An error whose Retryable method
// answers false dead-letters the delivery at once; any other error is tried again with backoff.
type Handler func(ctx context.Context, e *Event) error

// Result is the outcome of one send.
type Result struct {
	Type   string
	Status string // delivered, pending (to retry) or dead
	// Latency is from the event's creation to a successful send.
	Latency time.Duration
	Err     error
}

func (d *Deliverer) defaults() {
	d.once.Do(func() {
		if d.BatchSize <= 0 {
			d.BatchSize = 100
		}
		if d.Senders <= 0 {
			d.Senders = 16
		}
		if d.Workers <= 0 {
			d.Workers = 2
		}
		if d.BackoffBase <= 0 {
			d.BackoffBase = time.Second
		}
		if d.BackoffMax <= 0 {
			d.BackoffMax = time.Hour
		}
		if d.MaxAttempts <= 0 {
			d.MaxAttempts = 10
		}
		if d.Lease <= 0 {
			d.Lease = time.Minute
		}
		if d.Poll <= 0 {
			d.Poll = time.Second
		}
		if d.Gather <= 0 {
			d.Gather = 20 * time.Millisecond
		}
		if d.Client == nil {
			d.Client = &http.Client{Timeout: 10 * time.Second}
		}
		if d.Logger == nil {
			d.Logger = slog.New(slog.DiscardHandler)
		}
		d.wake = make(chan struct{}, 1)
	})
}

// Notify wakes a waiting Run at once, so an event committed in this process is sent without
// waiting for the next poll.
func (d *Deliverer) Notify() {
	d.defaults()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends; errors of one round are logged and the round retried after Poll.
func (d *Deliverer) Run(ctx context.Context) {
	d.defaults()
	var wg sync.WaitGroup
	for range d.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				// A round in progress finishes (each send is bounded by the client's timeout), so
				// its outcomes are recorded rather than left to the lease.
				sent, full, err := d.round(context.WithoutCancel(ctx))
				if err != nil && ctx.Err() == nil {
					d.Logger.Warn("outbox delivery round failed", "error", err)
				}
				if err == nil && full {
					continue
				}
				if err == nil && sent > 0 {
					// Sending a case's event makes its next one due; the events committed
					// meanwhile are gathered into the same round.
					d.gather(ctx)
					continue
				}
				t := time.NewTimer(d.Poll)
				select {
				case <-ctx.Done():
				case <-d.wake:
					d.gather(ctx)
				case <-t.C:
				}
				t.Stop()
			}
		})
	}
	wg.Wait()
}

// gather waits Gather for more events to commit after a Notify, then drops the Notifies that
// arrived meanwhile: the round about to start sees every event committed before them.
func (d *Deliverer) gather(ctx context.Context) {
	t := time.NewTimer(d.Gather)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	select {
	case <-d.wake:
	default:
	}
}

// claim is one delivery taken for sending.
type claim struct {
	delivery int64
	attempts int
	event    Event
	url      string
	secret   string
	format   string
}

// claimColumns are read by claim, in this order.
const claimColumns = `d.id AS delivery, d.attempts, e.seq, e.id AS event_id, e.type, e.case_key, e.payload, e.created_at, s.url, s.secret, s.format`

// claimQuery finds due deliveries that are first in their case's queue to their subscription:
// none of the same case to the same subscription with an earlier event is still pending, whether
// waiting, leased to a sender or backing off.
const claimQuery = `SELECT ` + claimColumns + `
FROM outbox_deliveries d
JOIN outbox_events e ON e.seq = d.event_seq
JOIN outbox_subscriptions s ON s.id = d.subscription_id
WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND s.active = ? AND s.format IN (%s)
AND NOT EXISTS (SELECT 1 FROM outbox_deliveries p WHERE p.subscription_id = d.subscription_id AND p.case_key = d.case_key
	AND p.status = 'pending' AND p.event_seq < d.event_seq)
ORDER BY d.event_seq
LIMIT ?`

// claimPostgres claims and leases in one statement: the claimed rows stay locked (SKIP LOCKED
// passes over those another worker holds) until the lease is written in the same snapshot.
const claimPostgres = `WITH c AS (` + claimQuery + ` FOR UPDATE OF d SKIP LOCKED
), leased AS (
	UPDATE outbox_deliveries SET attempts = outbox_deliveries.attempts + 1, next_attempt_at = ? FROM c WHERE outbox_deliveries.id = c.delivery
)
SELECT * FROM c ORDER BY seq`

// workQuery tells, from a read outside any transaction, whether a round has anything to do:
// events not yet fanned out, or deliveries this Deliverer could send that are due.
const workQuery = `SELECT EXISTS (SELECT 1 FROM outbox_events e WHERE %s),
	EXISTS (SELECT 1 FROM outbox_deliveries d JOIN outbox_subscriptions s ON s.id = d.subscription_id
		WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND s.active = ? AND s.format IN (%s))`

// DeliverOnce claims one batch, sends it and records the outcomes; it returns how many it sent.
func (d *Deliverer) DeliverOnce(ctx context.Context) (int, error) {
	d.defaults()
	n, _, err := d.round(ctx)
	return n, err
}

// round fans new events out and claims, sends and completes one batch; full reports that a
// fan-out or a claim took as many as it could, so that a backlog is worked through without
// waiting. When a read finds nothing to do it writes nothing, so an idle poll, or a Notify about
// events already handled, costs one read and stays out of SQLite's writer.
func (d *Deliverer) round(ctx context.Context) (sent int, full bool, err error) {
	now := d.Now()
	unfanned, due, err := d.work(ctx, now)
	if err != nil || !unfanned && !due {
		return 0, false, err
	}
	claims, fanned, err := d.claim(ctx, now, unfanned, due)
	full = fanned >= d.fanOutBatch()
	if err != nil || len(claims) == 0 {
		return 0, full, err
	}
	results := make([]Result, len(claims))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(d.Senders, len(claims)) {
		wg.Go(func() {
			for i := range next {
				results[i] = d.send(ctx, &claims[i])
			}
		})
	}
	for i := range claims {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := d.complete(ctx, claims, results); err != nil {
		return 0, full, err
	}
	if d.Observe != nil {
		for _, r := range results {
			d.Observe(r)
		}
	}
	return len(claims), full || len(claims) == d.BatchSize, nil
}

// work reads whether there are events to fan out and deliveries due.
func (d *Deliverer) work(ctx context.Context, now time.Time) (unfanned, due bool, err error) {
	d.checks.Add(1)
	marks, formats := d.formats()
	args := append([]any{database.NewTime(now), true}, formats...)
	if err := d.DB.QueryRowPrepared(ctx, fmt.Sprintf(workQuery, notFannedOut[d.DB.Dialect], marks), args...).Scan(&unfanned, &due); err != nil {
		return false, false, fmt.Errorf("outbox: unable to look for work: %w", err)
	}
	return unfanned, due, nil
}

// notFannedOut is the condition on outbox_events e that it waits for its fan-out, written so that
// each backend answers it from an index: the cursor's range of the primary key on SQLite, the
// partial index of events not fanned out on PostgreSQL.
var notFannedOut = map[database.Dialect]string{
	database.SQLite:   `e.seq > (SELECT seq FROM outbox_fanout)`,
	database.Postgres: `NOT e.fanned`,
}

// fanOutBatch is how many events one fan-out takes at most.
func (d *Deliverer) fanOutBatch() int {
	if d.fanOutN > 0 {
		return d.fanOutN
	}
	return fanOutBatch
}

// serialise takes the write turn on SQLite and returns its release.
func (d *Deliverer) serialise() func() {
	if d.DB.Dialect != database.SQLite {
		return func() {}
	}
	d.writing.Lock()
	return d.writing.Unlock
}

// formats are the subscription formats this Deliverer sends, as claim's query names them.
func (d *Deliverer) formats() (string, []any) {
	fs := []any{FormatCarepath, FormatFHIR}
	for f := range d.Handlers {
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	return strings.TrimSuffix(strings.Repeat("?, ", len(fs)), ", "), fs
}

// claim fans out new events when work found some, and claims and leases a batch of deliveries
// when some were due or the fan-out queued some; it returns the claims and how many events it
// fanned out.
func (d *Deliverer) claim(ctx context.Context, now time.Time, unfanned, due bool) ([]claim, int, error) {
	defer d.serialise()()
	var (
		out    []claim
		fanned int
	)
	err := d.DB.InTx(ctx, func(tx *database.Tx) error {
		out, fanned = out[:0], 0
		if unfanned {
			var queued int
			var err error
			if fanned, queued, err = d.fanOut(ctx, tx, now); err != nil {
				return err
			}
			due = due || queued > 0
		}
		if !due {
			return nil
		}
		marks, formats := d.formats()
		args := append([]any{database.NewTime(now), true}, formats...)
		args = append(args, d.BatchSize)
		var (
			rows *sql.Rows
			err  error
		)
		if tx.Dialect == database.Postgres {
			rows, err = tx.QueryPrepared(ctx, fmt.Sprintf(claimPostgres, marks), append(args, database.NewTime(now.Add(d.Lease)))...)
		} else {
			rows, err = tx.QueryPrepared(ctx, fmt.Sprintf(claimQuery, marks), args...)
		}
		if err != nil {
			return fmt.Errorf("outbox: unable to claim deliveries: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c       claim
				payload string
				created database.Time
			)
			if err := rows.Scan(&c.delivery, &c.attempts, &c.event.Seq, &c.event.ID, &c.event.Type, &c.event.Case, &payload, &created,
				&c.url, &c.secret, &c.format); err != nil {
				return fmt.Errorf("outbox: unable to claim deliveries: %w", err)
			}
			c.event.Payload, c.event.CreatedAt = []byte(payload), created.Time
			c.attempts++
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("outbox: unable to claim deliveries: %w", err)
		}
		rows.Close()
		if len(out) == 0 || tx.Dialect == database.Postgres {
			return nil
		}
		ids := make([]int64, len(out))
		for i, c := range out {
			ids[i] = c.delivery
		}
		if _, err := tx.ExecPrepared(ctx, `UPDATE outbox_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?))`,
			database.NewTime(now.Add(d.Lease)), jsonInts(ids)); err != nil {
			return fmt.Errorf("outbox: unable to lease deliveries: %w", err)
		}
		return nil
	})
	return out, fanned, err
}

// jsonInts renders ids as a JSON array, for SQLite's json_each.
func jsonInts(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// jsonPairs renders ids and attempts as a JSON array of [id, attempts] pairs.
func jsonPairs(ids, attempts []int64) string {
	b := make([]byte, 0, len(ids)*12+2)
	b = append(b, '[')
	for i := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, ids[i], 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, attempts[i], 10)
		b = append(b, ']')
	}
	return string(append(b, ']'))
}

// pgInts renders ids as a PostgreSQL array literal, so that a list of any length is one
// parameter of one statement text.
func pgInts(ids []int64) string {
	b := []byte(jsonInts(ids))
	b[0], b[len(b)-1] = '{', '}'
	return string(b)
}

// Body renders an event as a subscription in format receives it, with its content type.
func Body(e *Event, format string) ([]byte, string, error) {
	if format == FormatFHIR {
		b, err := FHIR(e)
		return b, "application/fhir+json", err
	}
	var buf bytes.Buffer
	buf.Grow(len(e.Payload) + 200)
	buf.WriteString(`{"id":`)
	buf.WriteString(strconv.Quote(e.ID))
	buf.WriteString(`,"type":`)
	buf.WriteString(strconv.Quote(e.Type))
	buf.WriteString(`,"timestamp":"`)
	buf.WriteString(e.CreatedAt.UTC().Format(time.RFC3339Nano))
	buf.WriteString(`","case":`)
	buf.WriteString(strconv.Quote(e.Case))
	buf.WriteString(`,"data":`)
	buf.Write(e.Payload)
	buf.WriteByte('}')
	return buf.Bytes(), "application/json", nil
}

// send posts one claimed delivery; a 2xx answer delivers it.
func (d *Deliverer) send(ctx context.Context, c *claim) Result {
	r := Result{Type: c.event.Type}
	permanent := false
	r.Err = func() error {
		if h, ok := d.Handlers[c.format]; ok {
			err := h(ctx, &c.event)
			var re interface{ Retryable() bool }
			permanent = errors.As(err, &re) && !re.Retryable()
			return err
		}
		key, err := d.key(c.secret)
		if err != nil {
			return err
		}
		body, contentType, err := Body(&c.event, c.format)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		ts := d.Now().Unix()
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("User-Agent", "Carepath-Webhooks/1")
		req.Header.Set(HeaderID, c.event.ID)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign(key, c.event.ID, ts, body))
		resp, err := d.Client.Do(req)
		if err != nil {
			var ue interface{ Unwrap() error }
			if errors.As(err, &ue) && ue.Unwrap() != nil {
				err = ue.Unwrap() // the URL is already known from the subscription
			}
			return err
		}
		// Drained so the connection is reused; what the receiver says is not kept.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("receiver answered %s", resp.Status)
		}
		return nil
	}()
	switch {
	case r.Err == nil:
		r.Status, r.Latency = StatusDelivered, d.Now().Sub(c.event.CreatedAt)
	case permanent || c.attempts >= d.MaxAttempts:
		r.Status = StatusDead
	default:
		r.Status = StatusPending
	}
	return r
}

// key returns a secret's key bytes, decoded once per secret.
func (d *Deliverer) key(secret string) ([]byte, error) {
	if k, ok := d.keys.Load(secret); ok {
		return k.([]byte), nil
	}
	k, err := ParseSecret(secret)
	if err == nil {
		d.keys.Store(secret, k)
	}
	return k, err
}

// backoff is the delay before the next try after attempts failed ones.
func (d *Deliverer) backoff(attempts int) time.Duration {
	ceiling := d.BackoffMax
	if attempts < 40 {
		if c := d.BackoffBase << (attempts - 1); c > 0 && c < ceiling {
			ceiling = c
		}
	}
	d.mu.Lock()
	f := d.Rand()
	d.mu.Unlock()
	return time.Duration(f * float64(ceiling))
}

// complete records each send's outcome, for the claim it was made under only: a delivery whose
// lease ran out and was claimed again belongs to the newer claim. Successes are recorded in one
// statement, since they are most of every batch.
func (d *Deliverer) complete(ctx context.Context, claims []claim, results []Result) error {
	defer d.serialise()()
	now := d.Now()
	return d.DB.InTx(ctx, func(tx *database.Tx) error {
		var ids, attempts []int64
		q := `UPDATE outbox_deliveries SET status = ?, next_attempt_at = ?, last_error = ?
			WHERE id = ? AND attempts = ? AND status = 'pending'`
		for i, r := range results {
			c := &claims[i]
			if r.Status == StatusDelivered {
				ids, attempts = append(ids, c.delivery), append(attempts, int64(c.attempts))
				continue
			}
			next := now
			if r.Status == StatusPending {
				next = now.Add(d.backoff(c.attempts))
			}
			msg := r.Err.Error()
			if len(msg) > 500 {
				msg = msg[:500]
			}
			if _, err := tx.ExecPrepared(ctx, q, r.Status, database.NewTime(next), msg, c.delivery, c.attempts); err != nil {
				return fmt.Errorf("outbox: unable to record delivery %d: %w", c.delivery, err)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		// One statement text for any number of successes, so it is prepared once: the pairs go as
		// two arrays on PostgreSQL and as one JSON array of [id, attempts] on SQLite.
		at := database.NewTime(now)
		done := `UPDATE outbox_deliveries SET status = 'delivered', next_attempt_at = ?, last_error = '', delivered_at = ?
			WHERE status = 'pending' AND (id, attempts) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))`
		args := []any{at, at, jsonPairs(ids, attempts)}
		if tx.Dialect == database.Postgres {
			done = `UPDATE outbox_deliveries SET status = 'delivered', next_attempt_at = ?, last_error = '', delivered_at = ?
				FROM unnest(CAST(? AS BIGINT[]), CAST(? AS INTEGER[])) AS v(id, attempts)
				WHERE outbox_deliveries.id = v.id AND outbox_deliveries.attempts = v.attempts AND outbox_deliveries.status = 'pending'`
			args = []any{at, at, pgInts(ids), pgInts(attempts)}
		}
		if _, err := tx.ExecPrepared(ctx, done, args...); err != nil {
			return fmt.Errorf("outbox: unable to record deliveries: %w", err)
		}
		return nil
	})
}
