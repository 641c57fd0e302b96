package contacts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/notify"
	"github.com/carepath/carepath/notify/contacts"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Illustrative Notify credentials and template ids, in the shapes Notify documents.
const (
	testKey        = "carepath_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
	smsTemplate    = "5b0e7a3c-6f1d-4a52-9d3e-2c8b7f4a1e90"
	emailTemplate  = "8c2d4e6f-1a3b-4c5d-8e7f-9a0b1c2d3e4f"
	letterTemplate = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// notifyServer answers Notify's three send endpoints on loopback with 201, recording each request
// by endpoint.
type notifyServer struct {
	*httptest.Server
	mu   sync.Mutex
	sent []sent
}

type sent struct {
	Kind string // sms, email or letter
	Body map[string]any
}

func newNotifyServer(t *testing.T) *notifyServer {
	s := &notifyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, ok := strings.CutPrefix(r.URL.Path, "/v2/notifications/")
		var body map[string]any
		if !ok || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || json.NewDecoder(r.Body).Decode(&body) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.sent = append(s.sent, sent{Kind: kind, Body: body})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"740e5834-3a29-46b4-9a6f-16142fde533a","reference":"r"}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *notifyServer) messages() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sent(nil), s.sent...)
}

// assessment is a mental-health submission for subject with the given subject fields.
func assessment(ref, subject string) []byte {
	a := map[string]any{"risk_plan": false, "risk_intent": false, "previous_high_intensity_treatment": false, "under_secondary_care": false}
	for i := 1; i <= 9; i++ {
		a[fmt.Sprintf("phq9_%d", i)] = 1
	}
	for i := 1; i <= 7; i++ {
		a[fmt.Sprintf("gad7_%d", i)] = 1
	}
	answers, _ := json.Marshal(a)
	return []byte(`{"form":"mental-health","subject":{"ref":"` + ref + `","birth_date":"1980-05-01"` + subject + `},"answers":` + string(answers) + `}`)
}

// TestAppointmentConfirmedByStatedPreference: a visit booked for a decision whose assessment asked
// for a text message sends one text, to the phone number given, with the appointment's date and
// time; one whose person asked for nothing sends nothing and is done, not dead-lettered; and the
// latest assessment about a person is the one that counts.
func TestAppointmentConfirmedByStatedPreference(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		forms, rs := triage.NewSQLStore(db), rules.NewSQLStore(db)
		if _, err := fixtures.Load(ctx, forms, rs, t0); err != nil {
			t.Fatal(err)
		}
		now := t0
		n := 0
		engine := &triage.Engine{Store: forms, Rules: rules.NewRegistry(rs), Now: func() time.Time { return now },
			NewID: func() string { n++; return fmt.Sprintf("d-%03d", n) }}
		submit := func(ref, subject string) *triage.Decision {
			t.Helper()
			now = now.Add(time.Minute)
			d, _, err := engine.Submit(ctx, assessment(ref, subject), triage.Options{Team: "central"})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		// An older assessment of the same person asked for email; the newer one, for a text.
		submit("9434765919", `,"contact":{"preference":"email","email":"old@example.org"}`)
		texted := submit("9434765919", `,"name":"Jane Example","contact":{"preference":"sms","phone":"07700 900123"}`)
		silent := submit("4010232137", `,"postcode":"NG7 2RD","contact":{"preference":"none"}`)
		unstated := submit("4010232145", `,"postcode":"NG7 2RD"`)

		if _, err := outbox.AddSubscription(ctx, db, outbox.Subscription{ID: "citizens", Format: outbox.FormatNotify, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC) // 2:30pm in London in winter
		pub := &outbox.Publisher{Now: func() time.Time { return now }}
		for i, d := range []*triage.Decision{texted, silent, unstated} {
			err := db.InTx(ctx, func(tx *database.Tx) error {
				return pub.AppointmentChanged(ctx, tx, outbox.AppointmentBooked, routing.StoredVisit{
					Visit:      routing.Visit{ID: fmt.Sprintf("v-%d", i), CaseID: d.ID, Start: start, End: start.Add(time.Hour)},
					SubjectRef: d.SubjectRef, Status: routing.StatusBooked, UpdatedAt: now})
			})
			if err != nil {
				t.Fatal(err)
			}
		}

		srv := newNotifyServer(t)
		key, err := notify.ParseKey(testKey)
		if err != nil {
			t.Fatal(err)
		}
		london, err := time.LoadLocation("Europe/London")
		if err != nil {
			t.Fatal(err)
		}
		sender := &notify.Sender{Client: &notify.Client{BaseURL: srv.URL, Key: key, Now: func() time.Time { return now }},
			Config:   notify.Config{AppointmentConfirmation: notify.Channels{SMS: smsTemplate, Email: emailTemplate, Letter: letterTemplate}},
			Contacts: contacts.FromDecisions(db), Location: london}
		r := rand.New(rand.NewPCG(1, 1))
		d := &outbox.Deliverer{DB: db, Now: func() time.Time { return now }, Rand: r.Float64, BatchSize: 20, Senders: 4,
			BackoffBase: time.Second, BackoffMax: time.Minute, MaxAttempts: 3, Lease: 30 * time.Second,
			Handlers: map[string]outbox.Handler{outbox.FormatNotify: outbox.NotifyHandler(sender)}}
		for range 3 {
			if _, err := d.DeliverOnce(ctx); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Minute)
		}

		got := srv.messages()
		if len(got) != 1 || got[0].Kind != "sms" {
			t.Fatalf("sent %+v, want one text message", got)
		}
		m := got[0].Body
		personal, _ := m["personalisation"].(map[string]any)
		if m["phone_number"] != "07700 900123" || m["template_id"] != smsTemplate ||
			personal["appointment_date"] != "Tuesday 24 November 2026" || personal["appointment_time"] != "2:30pm" || personal["case"] != texted.ID {
			t.Errorf("text message %v", m)
		}
		all, err := outbox.Deliveries(ctx, db, outbox.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]outbox.Delivery{}
		for _, x := range all {
			status[x.Case] = x
		}
		if s := status[texted.ID]; s.Status != outbox.StatusDelivered || s.Attempts != 1 {
			t.Errorf("the texted case's delivery: %+v", s)
		}
		if s := status[silent.ID]; s.Status != outbox.StatusDelivered || s.Attempts != 1 || s.LastError != "" {
			t.Errorf("asked for nothing: %+v, want delivered once without an error", s)
		}
		// No preference stated: dead-lettered at once with the reason, which quotes no detail.
		if s := status[unstated.ID]; s.Status != outbox.StatusDead || !strings.Contains(s.LastError, "no contact preference") {
			t.Errorf("no stated preference: %+v, want dead-lettered saying so", s)
		}
		for _, x := range all {
			if strings.Contains(x.LastError, "900123") || strings.Contains(x.LastError, "NG7") {
				t.Errorf("delivery %d's error quotes a contact detail: %s", x.ID, x.LastError)
			}
		}
	})
}

// TestOf: the address Notify prints on a letter is the name, the address's lines and the
// postcode last, in at most seven lines.
func TestOf(t *testing.T) {
	for _, tt := range []struct {
		name    string
		subject triage.Subject
		want    notify.Contact
	}{
		{"letter over line breaks", triage.Subject{Name: " Jane Example ", Address: "Flat 2, Wyvern Court\r\n14 Pellinore Road\n\nNottingham", Postcode: "NG7 2RD",
			Contact: &triage.Contact{Preference: "letter"}},
			notify.Contact{Preference: "letter", Address: []string{"Jane Example", "Flat 2, Wyvern Court", "14 Pellinore Road", "Nottingham", "NG7 2RD"}}},
		{"commas without line breaks", triage.Subject{Address: "12 Acacia Avenue, Leeds", Postcode: "LS1 4AP",
			Contact: &triage.Contact{Preference: "sms", Phone: " 07700 900123 ", Email: "jq@example.org"}},
			notify.Contact{Preference: "sms", Phone: "07700 900123", Email: "jq@example.org", Address: []string{"12 Acacia Avenue", "Leeds", "LS1 4AP"}}},
		{"too many lines", triage.Subject{Name: "A", Address: "1,2,3,4,5,6,7,8", Postcode: "LS1 4AP", Contact: &triage.Contact{Preference: "letter"}},
			notify.Contact{Preference: "letter", Address: []string{"A", "1", "2", "3", "4", "5, 6, 7, 8", "LS1 4AP"}}},
		{"no contact", triage.Subject{Postcode: "LS1 4AP"}, notify.Contact{Address: []string{"LS1 4AP"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := contacts.Of(tt.subject); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Of = %#v, want %#v", got, tt.want)
			}
		})
	}
}
