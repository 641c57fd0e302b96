package outbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/notify"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Notify's answers as its API documents them; the ids are illustrative.
const (
	testNotifyKey   = "carepath_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
	urgentTemplate  = "f33517ff-2a88-4f6e-b855-c550268ce08a"
	unknownTemplate = "0a3c1b2d-0000-4000-8000-000000000000"
)

// notifyServer speaks the shape of GOV.UK Notify's SMS endpoint on loopback: it answers 429 to the
// first rateLimited requests, 400 for an unknown template, and 201 otherwise, recording each
// message it took.
type notifyServer struct {
	*httptest.Server
	rateLimited atomic.Int64
	mu          sync.Mutex
	sent        []notify.SMS
}

func newNotifyServer(t *testing.T) *notifyServer {
	s := &notifyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v2/notifications/sms" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"status_code":403,"errors":[{"error":"AuthError","message":"Invalid token: API key not found"}]}`))
			return
		}
		if s.rateLimited.Add(-1) >= 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"status_code":429,"errors":[{"error":"RateLimitError","message":"Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"}]}`))
			return
		}
		var m notify.SMS
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if m.TemplateID != urgentTemplate {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status_code":400,"errors":[{"error":"BadRequestError","message":"Template not found"}]}`))
			return
		}
		s.mu.Lock()
		s.sent = append(s.sent, m)
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"740e5834-3a29-46b4-9a6f-16142fde533a","reference":"` + m.Reference + `","uri":"https://api.notifications.service.gov.uk/v2/notifications/740e5834-3a29-46b4-9a6f-16142fde533a"}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *notifyServer) messages() []notify.SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.SMS(nil), s.sent...)
}

// urgentDecision stores an urgent decision's event the way the engine does, in a transaction
// that commits or, with fail set, rolls back.
func urgentDecision(t *testing.T, db *database.DB, id string, priority rules.Priority, fail bool) {
	t.Helper()
	p := &outbox.Publisher{Now: func() time.Time { return t0 }}
	d := &triage.Decision{ID: id, Form: "phq9", SubjectRef: "subject-" + id, Team: "central", Decided: t0,
		Outcome: rules.Outcome{Pathway: "crisis-team", Priority: priority}}
	refused := failure.Errorf(failure.Invalid, "refused")
	err := db.InTx(context.Background(), func(tx *database.Tx) error {
		if err := p.DecisionMade(context.Background(), tx, d); err != nil {
			return err
		}
		if fail {
			return refused
		}
		return nil
	})
	if fail != (err == refused) {
		t.Fatalf("storing decision %s: %v", id, err)
	}
}

func TestNotifySubscriptionTextsTheOnCallPhoneOnceFromTheOutbox(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := newNotifyServer(t)
		key, err := notify.ParseKey(testNotifyKey)
		if err != nil {
			t.Fatal(err)
		}
		c := &clock{now: t0}
		sender := func(template string) *notify.Sender {
			return &notify.Sender{Client: &notify.Client{BaseURL: srv.URL, Key: key, Now: c.Now},
				Config: notify.Config{UrgentCase: template, OnCallPhone: "07700900123"}}
		}
		if _, err := outbox.AddSubscription(t.Context(), db, outbox.Subscription{ID: "texts", Format: outbox.FormatNotify, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		d := deliverer(db, c, 3)
		d.Handlers = map[string]outbox.Handler{outbox.FormatNotify: outbox.NotifyHandler(sender(urgentTemplate))}

		urgentDecision(t, db, "d-rolled-back", "urgent", true)
		urgentDecision(t, db, "d-routine", "routine", false)
		urgentDecision(t, db, "d-urgent", "urgent", false)
		srv.rateLimited.Store(1) // the first send is refused with 429; the retry succeeds
		if _, err := d.DeliverOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := srv.messages(); len(got) != 0 || srv.rateLimited.Load() != 0 {
			t.Fatalf("sent %d messages through a rate limit (limit left %d)", len(got), srv.rateLimited.Load())
		}
		c.Add(d.BackoffMax)
		for range 3 {
			if _, err := d.DeliverOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
			c.Add(d.BackoffMax)
		}
		got := srv.messages()
		if len(got) != 1 {
			t.Fatalf("sent %d messages, want the urgent case's one: %+v", len(got), got)
		}
		if m := got[0]; m.PhoneNumber != "07700900123" || m.TemplateID != urgentTemplate || m.Personalisation["case"] != "d-urgent" || m.Personalisation["priority"] != "urgent" {
			t.Errorf("message %+v", m)
		}
		var eventID string
		if err := db.GetContext(t.Context(), &eventID, db.Rebind(`SELECT id FROM outbox_events WHERE case_key = ?`), "d-urgent"); err != nil {
			t.Fatal(err)
		}
		if got[0].Reference != eventID {
			t.Errorf("reference %q, want the event id %q", got[0].Reference, eventID)
		}
		// A template Notify does not know is refused for good: dead-lettered at once, with the reason.
		d.Handlers[outbox.FormatNotify] = outbox.NotifyHandler(sender(unknownTemplate))
		urgentDecision(t, db, "d-urgent-2", "emergency", false)
		if _, err := d.DeliverOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		dead, err := outbox.Deliveries(t.Context(), db, outbox.Filter{Status: outbox.StatusDead})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].Case != "d-urgent-2" || dead[0].Attempts != 1 || !strings.Contains(dead[0].LastError, "Template not found") {
			t.Errorf("dead letters %+v, want d-urgent-2's after one attempt with Notify's reason", dead)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox_deliveries WHERE status = 'delivered'`); n != 2 {
			t.Errorf("%d deliveries delivered, want 2 (the routine decision's, sending nothing, and the urgent one's)", n)
		}
	})
}

func TestNotifyDeliveriesWaitForAReplicaThatCanSendThem(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		if _, err := outbox.AddSubscription(t.Context(), db, outbox.Subscription{ID: "texts", Format: outbox.FormatNotify, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		urgentDecision(t, db, "d1", "urgent", false)
		d := deliverer(db, &clock{now: t0}, 4) // no Notify configured here
		if n, err := d.DeliverOnce(t.Context()); n != 0 || err != nil {
			t.Fatalf("DeliverOnce = %d, %v; want the notify delivery left for a replica with Notify", n, err)
		}
		if pending, _, err := outbox.Depth(t.Context(), db); pending != 1 || err != nil {
			t.Errorf("Depth = %d, %v; want it counted as waiting", pending, err)
		}
	})
}
