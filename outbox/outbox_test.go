package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/outbox"
)

// testSecret is the Standard Webhooks specification's example secret.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is a settable time shared by a test and its deliverers.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// receiver is a loopback webhook receiver that checks signatures and records what it got.
type receiver struct {
	*httptest.Server
	key  []byte
	now  func() time.Time
	fail atomic.Int64 // answer 500 to this many more requests

	mu       sync.Mutex
	got      []received
	badSig   int
	inFlight map[string]bool // cases being received, to catch concurrent sends of one case
	overlap  int
}

type received struct {
	ID, Type, Case string
	Body           []byte
}

func newReceiver(t testing.TB, now func() time.Time) *receiver {
	key, err := outbox.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{key: key, now: now, inFlight: map[string]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := outbox.Verify(r.key, req.Header, body, r.now(), 5*time.Minute); err != nil {
		r.mu.Lock()
		r.badSig++
		r.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var msg struct {
		ID, Type, Case string
	}
	_ = json.Unmarshal(body, &msg)
	if msg.ID != req.Header.Get(outbox.HeaderID) && req.Header.Get("Content-Type") == "application/json" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	if r.inFlight[msg.Case] {
		r.overlap++
	}
	r.inFlight[msg.Case] = true
	r.mu.Unlock()
	defer func() { r.mu.Lock(); delete(r.inFlight, msg.Case); r.mu.Unlock() }()
	if r.fail.Add(-1) >= 0 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.mu.Lock()
	r.got = append(r.got, received{ID: req.Header.Get(outbox.HeaderID), Type: msg.Type, Case: msg.Case, Body: body})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func subscribe(t testing.TB, db *database.DB, id, url string, format string, events ...string) {
	t.Helper()
	if _, err := outbox.AddSubscription(context.Background(), db, outbox.Subscription{ID: id, URL: url, Secret: testSecret,
		Format: format, Events: events, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
}

func appendEvents(t testing.TB, db *database.DB, events ...outbox.Event) {
	t.Helper()
	err := db.InTx(context.Background(), func(tx *database.Tx) error {
		for _, e := range events {
			if err := outbox.AppendTx(context.Background(), tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func event(id, typ, key string) outbox.Event {
	return outbox.Event{ID: id, Type: typ, Case: key, Payload: json.RawMessage(`{"n":1}`), CreatedAt: t0}
}

func count(t testing.TB, db *database.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, db.Rebind(q), args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFanOutToSubscriptionsActiveWhenFirstSeen(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		subscribe(t, db, "all", "https://cms.example/hook", "")
		subscribe(t, db, "decisions", "https://cms.example/decisions", "carepath", "decision.made")
		subscribe(t, db, "gone", "https://old.example/hook", "")
		if err := outbox.RemoveSubscription(t.Context(), db, "gone", t0); err != nil {
			t.Fatal(err)
		}
		subscribe(t, db, "removed-before-fan-out", "https://old.example/hook", "")
		appendEvents(t, db, event("e1", outbox.DecisionMade, "d1"), event("e2", outbox.RuleSetActivated, "ruleset:mh"),
			event("e3", outbox.AppointmentCancelled, "d1"))
		// The event's transaction queues nothing; the workers fan it out.
		if n := count(t, db, `SELECT COUNT(*) FROM outbox_deliveries`); n != 0 {
			t.Fatalf("%d deliveries queued in the change's transaction", n)
		}
		subscribe(t, db, "nhs", "https://nhs.example/fhir", "fhir")
		if _, err := outbox.AddSubscription(t.Context(), db, outbox.Subscription{ID: "texts", Format: outbox.FormatNotify, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := outbox.RemoveSubscription(t.Context(), db, "removed-before-fan-out", t0); err != nil {
			t.Fatal(err)
		}
		d := deliverer(db, &clock{now: t0}, 1)
		if n, err := d.FanOut(t.Context()); n != 3 || err != nil {
			t.Fatalf("FanOut = %d, %v; want 3 events", n, err)
		}
		if n, err := d.FanOut(t.Context()); n != 0 || err != nil {
			t.Fatalf("second FanOut = %d, %v; want nothing left", n, err)
		}
		tests := []struct {
			sub  string
			want int
		}{
			{"all", 3},                    // no filter: every event
			{"decisions", 1},              // its filter
			{"nhs", 2},                    // only events with a FHIR form; added after the commit, before the fan-out
			{"texts", 1},                  // notify: the types a message is made for
			{"gone", 0},                   // removed
			{"removed-before-fan-out", 0}, // active at the commit, removed before a worker saw the event
		}
		for _, tt := range tests {
			if got := count(t, db, `SELECT COUNT(*) FROM outbox_deliveries WHERE subscription_id = ?`, tt.sub); got != tt.want {
				t.Errorf("subscription %s: %d deliveries, want %d", tt.sub, got, tt.want)
			}
		}
		// A rolled-back change leaves no event and no delivery.
		boom := errors.New("change refused")
		err := db.InTx(t.Context(), func(tx *database.Tx) error {
			if err := outbox.AppendTx(t.Context(), tx, event("e4", outbox.DecisionMade, "d2")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox_events WHERE id = 'e4'`); n != 0 {
			t.Errorf("rolled-back event stored %d times", n)
		}
	})
}

func TestAppendTxRefusesMalformedEvents(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		tests := []struct {
			name string
			e    outbox.Event
			want string
		}{
			{"type", outbox.Event{Type: "Decision_Made", Case: "d", Payload: json.RawMessage(`{}`), CreatedAt: t0}, "type:"},
			{"case", outbox.Event{Type: outbox.DecisionMade, Payload: json.RawMessage(`{}`), CreatedAt: t0}, "case:"},
			{"time", outbox.Event{Type: outbox.DecisionMade, Case: "d", Payload: json.RawMessage(`{}`)}, "created_at:"},
			{"payload", outbox.Event{Type: outbox.DecisionMade, Case: "d", Payload: json.RawMessage(`{`), CreatedAt: t0}, "data:"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := db.InTx(t.Context(), func(tx *database.Tx) error { return outbox.AppendTx(t.Context(), tx, tt.e) })
				if failure.CodeOf(err) != failure.Invalid || !contains(err.Error(), tt.want) {
					t.Errorf("AppendTx = %v, want invalid %s", err, tt.want)
				}
			})
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox_events`); n != 0 {
			t.Errorf("%d events stored", n)
		}
	})
}

func TestCheckSubscription(t *testing.T) {
	tests := []struct {
		name string
		s    outbox.Subscription
		want string // "" for valid
	}{
		{"https", outbox.Subscription{URL: "https://cms.example/hook", Secret: testSecret}, ""},
		{"loopback http", outbox.Subscription{URL: "http://127.0.0.1:9/hook", Secret: testSecret, Format: "fhir", Events: []string{"decision.made"}}, ""},
		{"remote http", outbox.Subscription{URL: "http://cms.example/hook", Secret: testSecret}, "url: plain http"},
		{"credentials", outbox.Subscription{URL: "https://u:p@cms.example/hook", Secret: testSecret}, "url: must not carry"},
		{"no scheme", outbox.Subscription{URL: "cms.example/hook", Secret: testSecret}, "url:"},
		{"secret prefix", outbox.Subscription{URL: "https://cms.example/hook", Secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "secret: want whsec_"},
		{"secret base64", outbox.Subscription{URL: "https://cms.example/hook", Secret: "whsec_***"}, "secret: the part"},
		{"secret short", outbox.Subscription{URL: "https://cms.example/hook", Secret: "whsec_c2hvcnQ="}, "secret: the key is 5 bytes"},
		{"format", outbox.Subscription{URL: "https://cms.example/hook", Secret: testSecret, Format: "xml"}, "format:"},
		{"event", outbox.Subscription{URL: "https://cms.example/hook", Secret: testSecret, Events: []string{"decision.deleted"}}, "events:"},
		{"fhir event", outbox.Subscription{URL: "https://cms.example/hook", Secret: testSecret, Format: "fhir", Events: []string{"ruleset.activated"}}, "no FHIR"},
		{"notify", outbox.Subscription{Format: "notify", Events: []string{"case.escalated"}}, ""},
		{"notify url", outbox.Subscription{Format: "notify", URL: "https://cms.example/hook"}, "url: a notify subscription"},
		{"notify secret", outbox.Subscription{Format: "notify", Secret: testSecret}, "secret: a notify subscription"},
		{"notify event", outbox.Subscription{Format: "notify", Events: []string{"ruleset.activated"}}, "has no notification"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := outbox.CheckSubscription(&tt.s)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckSubscription = %v, want valid", err)
			case tt.want != "" && (err == nil || !contains(err.Error(), tt.want) || failure.CodeOf(err) != failure.Invalid):
				t.Errorf("CheckSubscription = %v, want invalid %q", err, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestSignMatchesTheSpecificationsExample(t *testing.T) {
	key, err := outbox.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := outbox.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	h := http.Header{}
	h.Set(outbox.HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(outbox.HeaderTimestamp, "1614265330")
	h.Set(outbox.HeaderSignature, "v1,bm90IGl0 "+got)
	at := time.Unix(1614265330, 0)
	if err := outbox.Verify(key, h, []byte(`{"test": 2432232314}`), at, time.Minute); err != nil {
		t.Errorf("Verify = %v", err)
	}
	if err := outbox.Verify(key, h, []byte(`{"test": 2432232315}`), at, time.Minute); err == nil {
		t.Error("Verify accepted a changed body")
	}
	if err := outbox.Verify(key, h, []byte(`{"test": 2432232314}`), at.Add(10*time.Minute), time.Minute); err == nil {
		t.Error("Verify accepted an old timestamp")
	}
}

// deliverer returns a Deliverer with test settings over db.
func deliverer(db *database.DB, c *clock, seed uint64) *outbox.Deliverer {
	r := rand.New(rand.NewPCG(seed, seed))
	return &outbox.Deliverer{DB: db, Now: c.Now, Rand: r.Float64, BatchSize: 20, Senders: 8, BackoffBase: time.Second,
		BackoffMax: time.Minute, MaxAttempts: 3, Lease: 30 * time.Second}
}

func TestDeliveryIsOncePerEventAndInOrderPerCaseAcrossDeliverers(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		c := &clock{now: t0}
		rcv := newReceiver(t, c.Now)
		subscribe(t, db, "cms", rcv.URL, "")
		const cases, perCase = 12, 8
		var want []outbox.Event
		for i := range perCase {
			var batch []outbox.Event
			for k := range cases {
				e := event(fmt.Sprintf("e-%02d-%02d", k, i), outbox.AppointmentMoved, fmt.Sprintf("case-%02d", k))
				batch = append(batch, e)
			}
			appendEvents(t, db, batch...)
			want = append(want, batch...)
		}
		// Three deliverers (as three replicas) run until nothing is left.
		var wg sync.WaitGroup
		for i := range 3 {
			d := deliverer(db, c, uint64(i))
			wg.Go(func() {
				for idle := 0; idle < 3; {
					n, err := d.DeliverOnce(t.Context())
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						idle++
						time.Sleep(5 * time.Millisecond)
					} else {
						idle = 0
					}
				}
			})
		}
		wg.Wait()
		got := rcv.received()
		if len(got) != len(want) {
			t.Fatalf("received %d messages, want %d", len(got), len(want))
		}
		seen := map[string]int{}
		next := map[string]int{}
		for _, g := range got {
			seen[g.ID]++
			var k, i int
			fmt.Sscanf(g.ID, "e-%02d-%02d", &k, &i)
			if i != next[g.Case] {
				t.Errorf("case %s: got event %d, want %d next", g.Case, i, next[g.Case])
			}
			next[g.Case] = i + 1
		}
		for _, e := range want {
			if seen[e.ID] != 1 {
				t.Errorf("event %s received %d times", e.ID, seen[e.ID])
			}
		}
		if rcv.overlap != 0 || rcv.badSig != 0 {
			t.Errorf("%d overlapping sends of one case, %d bad signatures", rcv.overlap, rcv.badSig)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox_deliveries WHERE status <> 'delivered'`); n != 0 {
			t.Errorf("%d deliveries not delivered", n)
		}
	})
}

func TestFailedDeliveriesBackOffThenDeadLetterAndRetry(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		c := &clock{now: t0}
		rcv := newReceiver(t, c.Now)
		subscribe(t, db, "cms", rcv.URL, "")
		appendEvents(t, db, event("first", outbox.DecisionMade, "d1"), event("second", outbox.AppointmentCancelled, "d1"))
		d := deliverer(db, c, 1)
		rcv.fail.Store(1000)
		// Attempt 1 fails; the delivery waits up to BackoffBase (full jitter), and "second" waits behind it.
		for attempt := 1; attempt <= 3; attempt++ {
			n, err := d.DeliverOnce(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("attempt %d: DeliverOnce = %d, %v; want one send (the case's head only)", attempt, n, err)
			}
			list, err := outbox.Deliveries(t.Context(), db, outbox.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			head := list[len(list)-1]
			if head.EventID != "first" || head.Attempts != attempt || head.LastError == "" {
				t.Fatalf("after attempt %d: %+v", attempt, head)
			}
			if attempt < 3 {
				ceiling := time.Second << (attempt - 1)
				if wait := head.NextAttemptAt.Sub(c.Now()); head.Status != outbox.StatusPending || wait < 0 || wait >= ceiling {
					t.Errorf("after attempt %d: %s, next attempt in %s, want pending within [0, %s)", attempt, head.Status, wait, ceiling)
				}
				if n, _ := d.DeliverOnce(t.Context()); n != 0 && head.NextAttemptAt.After(c.Now()) {
					t.Errorf("sent %d before the backoff ended", n)
				}
				c.Add(ceiling)
			} else if head.Status != outbox.StatusDead {
				t.Errorf("after %d attempts: %s, want dead", attempt, head.Status)
			}
		}
		// With the head dead, the case's next event goes.
		rcv.fail.Store(0)
		if n, err := d.DeliverOnce(t.Context()); err != nil || n != 1 {
			t.Fatalf("DeliverOnce = %d, %v", n, err)
		}
		if _, err := outbox.Retry(t.Context(), db, "second", c.Now()); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("Retry of a delivered event = %v, want conflict", err)
		}
		if n, err := outbox.Retry(t.Context(), db, "first", c.Now()); err != nil || n != 1 {
			t.Fatalf("Retry = %d, %v", n, err)
		}
		if n, err := d.DeliverOnce(t.Context()); err != nil || n != 1 {
			t.Fatalf("DeliverOnce after retry = %d, %v", n, err)
		}
		var ids []string
		for _, g := range rcv.received() {
			ids = append(ids, g.ID)
		}
		if fmt.Sprint(ids) != "[second first]" {
			t.Errorf("received %v", ids)
		}
		dead, err := outbox.Deliveries(t.Context(), db, outbox.Filter{Status: outbox.StatusDead})
		if err != nil || len(dead) != 0 {
			t.Errorf("dead deliveries = %v, %v", dead, err)
		}
	})
}

func TestLeaseExpiryRedeliversWithTheSameID(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		c := &clock{now: t0}
		rcv := newReceiver(t, c.Now)
		subscribe(t, db, "cms", rcv.URL, "")
		appendEvents(t, db, event("e1", outbox.DecisionMade, "d1"))
		// A worker claimed it (attempt 1, leased for a minute) and died before recording the outcome.
		d := deliverer(db, c, 2)
		d.Lease = time.Minute
		if _, err := d.FanOut(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), db.Rebind(`UPDATE outbox_deliveries SET attempts = 1, next_attempt_at = ?`), database.NewTime(t0.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.DeliverOnce(t.Context()); n != 0 {
			t.Fatalf("sent %d during another's lease", n)
		}
		c.Add(time.Minute)
		if n, err := d.DeliverOnce(t.Context()); n != 1 || err != nil {
			t.Fatalf("after the lease: DeliverOnce = %d, %v", n, err)
		}
		if got := rcv.received(); len(got) != 1 || got[0].ID != "e1" {
			t.Errorf("received %+v", got)
		}
	})
}

func TestReplayQueuesAgainForOneOrEverySubscription(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		c := &clock{now: t0}
		rcv := newReceiver(t, c.Now)
		subscribe(t, db, "cms", rcv.URL, "")
		appendEvents(t, db, event("old", outbox.DecisionMade, "d1"))
		later := event("new", outbox.DecisionMade, "d2")
		later.CreatedAt = t0.Add(time.Hour)
		appendEvents(t, db, later)
		c.Add(time.Hour)
		d := deliverer(db, c, 1)
		if n, err := d.DeliverOnce(t.Context()); n != 2 || err != nil {
			t.Fatalf("DeliverOnce = %d, %v", n, err)
		}
		subscribe(t, db, "late", rcv.URL, "")
		if _, err := outbox.Replay(t.Context(), db, t0.Add(time.Minute), "nobody", c.Now()); failure.CodeOf(err) != failure.NotFound {
			t.Errorf("Replay to an unknown subscription = %v", err)
		}
		n, err := outbox.Replay(t.Context(), db, t0.Add(time.Minute), "", c.Now())
		if err != nil || n != 2 {
			t.Fatalf("Replay = %d, %v; want the new event for both subscriptions", n, err)
		}
		if n, err := d.DeliverOnce(t.Context()); n != 2 || err != nil {
			t.Fatalf("DeliverOnce after replay = %d, %v", n, err)
		}
		var ids []string
		for _, g := range rcv.received() {
			ids = append(ids, g.ID)
		}
		if fmt.Sprint(ids[2:]) != "[new new]" {
			t.Errorf("received %v", ids)
		}
	})
}
