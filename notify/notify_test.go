package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carepath/carepath/notify"
)

const (
	serviceID = "26785a09-ab16-4eb0-8407-a37497a57506"
	secret    = "3d844edf-8d35-48ac-975b-e847b4f122b0"
	apiKey    = "carepath_test-key-" + serviceID + "-" + secret
	badTmpl   = "00000000-0000-0000-0000-00000000bad0"
)

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// fakeNotify speaks GOV.UK Notify's API shape on loopback: it checks the JWT as Notify does,
// refuses an unknown template with 400, and answers 429 to the first limited requests.
type fakeNotify struct {
	mu       sync.Mutex
	limited  int // answer 429 to this many requests first
	received []received
}

type received struct {
	Path string
	Body map[string]any
}

func (f *fakeNotify) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, kind, msg string) {
		w.Header().Set("Content-Type", "application/json")
		if status == 429 {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status_code": %d, "errors": [{"error": %q, "message": %q}]}`, status, kind, msg)
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		fail(401, "AuthError", "Unauthorized: authentication token must be provided")
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
	iat, _ := claims["iat"].(float64)
	if err != nil || claims["iss"] != serviceID || time.Unix(int64(iat), 0).Sub(now).Abs() > 30*time.Second {
		fail(403, "AuthError", "Invalid token: signature, api token not found")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limited > 0 {
		f.limited--
		fail(429, "RateLimitError", "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds")
		return
	}
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		fail(400, "BadRequestError", "Invalid JSON")
		return
	}
	if m["template_id"] == badTmpl {
		fail(400, "BadRequestError", "Template not found")
		return
	}
	f.received = append(f.received, received{Path: r.URL.Path, Body: m})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": "740e5834-3a29-46b4-9a6f-16142fde533a", "reference": m["reference"], "uri": "https://example/v2/notifications/x"})
}

func client(t *testing.T, f http.Handler) (*notify.Client, *httptest.Server) {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	key, err := notify.ParseKey(apiKey)
	if err != nil {
		t.Fatal(err)
	}
	return &notify.Client{BaseURL: srv.URL, Key: key, HTTP: srv.Client(), Now: func() time.Time { return now }}, srv
}

func TestParseKey(t *testing.T) {
	k, err := notify.ParseKey(apiKey)
	if err != nil || k.Name != "carepath_test-key" || k.ServiceID != serviceID {
		t.Fatalf("%+v %v", k, err)
	}
	if strings.Contains(k.String(), secret) {
		t.Error("the key's String shows its secret")
	}
	for _, bad := range []string{"", "name-" + serviceID, serviceID + "-" + secret, "name-" + serviceID + "-not-a-uuid", "name-" + serviceID + "-" + secret + "x"} {
		if _, err := notify.ParseKey(bad); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("ParseKey(%q): %v", bad, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(apiKey)
	f.Add("x-" + serviceID + "-" + serviceID)
	f.Fuzz(func(t *testing.T, s string) {
		k, err := notify.ParseKey(s)
		if err == nil && (k.Name == "" || len(k.ServiceID) != 36) {
			t.Errorf("ParseKey(%q) = %+v", s, k)
		}
	})
}

func TestSendAndErrors(t *testing.T) {
	f := &fakeNotify{}
	c, _ := client(t, f)
	ctx := context.Background()
	sent, err := c.SendSMS(ctx, notify.SMS{PhoneNumber: "07700900123", TemplateID: "t-sms", Reference: "ev-1", Personalisation: map[string]string{"a": "b"}})
	if err != nil || sent.Reference != "ev-1" {
		t.Fatalf("sms: %+v %v", sent, err)
	}
	if _, err := c.SendEmail(ctx, notify.Email{EmailAddress: "a@example.org", TemplateID: "t-email"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendLetter(ctx, notify.Letter{TemplateID: "t-letter", Personalisation: map[string]string{"address_line_1": "A", "address_line_2": "B", "address_line_3": "NG1 1AA"}}); err != nil {
		t.Fatal(err)
	}
	paths := []string{}
	for _, r := range f.received {
		paths = append(paths, r.Path)
	}
	if strings.Join(paths, " ") != "/v2/notifications/sms /v2/notifications/email /v2/notifications/letter" || f.received[0].Body["phone_number"] != "07700900123" {
		t.Errorf("received %+v", f.received)
	}

	for _, tc := range []struct {
		name      string
		setup     func() *notify.Client
		template  string
		status    int
		kind      string
		retryable bool
	}{
		{"invalid template", func() *notify.Client { return c }, badTmpl, 400, "BadRequestError", false},
		{"rate limited", func() *notify.Client { f.limited = 1; return c }, "t-sms", 429, "RateLimitError", true},
		{"wrong key", func() *notify.Client {
			k, _ := notify.ParseKey("other-" + serviceID + "-" + serviceID)
			cc := *c
			cc.Key = k
			return &cc
		}, "t-sms", 403, "AuthError", false},
		{"server error", func() *notify.Client {
			cc, _ := client(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(500)
				_, _ = w.Write([]byte(`{"status_code": 500, "errors": [{"error": "Exception", "message": "Internal server error"}]}`))
			}))
			return cc
		}, "t-sms", 500, "Exception", true},
		{"server down", func() *notify.Client {
			cc, srv := client(t, f)
			srv.Close()
			return cc
		}, "t-sms", 0, "Unreachable", true},
	} {
		_, err := tc.setup().SendSMS(ctx, notify.SMS{PhoneNumber: "07700900123", TemplateID: tc.template})
		var ne *notify.Error
		if !errors.As(err, &ne) || ne.Status != tc.status || ne.Kind != tc.kind || ne.Retryable() != tc.retryable || notify.Retryable(err) != tc.retryable {
			t.Errorf("%s: %#v", tc.name, err)
		}
		if tc.status == 429 && ne.RetryAfter != 2*time.Second {
			t.Errorf("rate limit: Retry-After %s", ne.RetryAfter)
		}
	}
}

// TestSenderLosesNothing runs events through the Sender as the outbox would: a rate limit and a
// server that is down are retried until sent; a bad template is given up as permanent.
func TestSenderLosesNothing(t *testing.T) {
	f := &fakeNotify{limited: 2}
	c, _ := client(t, f)
	contacts := map[string]notify.Contact{
		"p-sms":    {Preference: "sms", Phone: "07700900001"},
		"p-email":  {Preference: "email", Email: "p@example.org"},
		"p-letter": {Preference: "letter", Address: []string{"1 High St", "Nottingham", "NG1 1AA"}},
		"p-none":   {Preference: "pigeon"},
	}
	s := &notify.Sender{Client: c, Location: time.UTC,
		Config: notify.Config{AppointmentConfirmation: notify.Channels{SMS: "t-sms", Email: "t-email", Letter: "t-letter"},
			UrgentCase: "t-urgent", OnCallPhone: "07700900999", Escalation: "t-esc", CoordinatorEmail: "coord@example.org"},
		Contacts: func(_ context.Context, ref string) (notify.Contact, error) { return contacts[ref], nil }}
	events := []notify.Event{
		{ID: "e1", Type: "appointment.booked", Payload: json.RawMessage(`{"decision_id":"d1","subject_ref":"p-sms","start":"2026-11-27T10:30:00Z"}`)},
		{ID: "e2", Type: "appointment.booked", Payload: json.RawMessage(`{"decision_id":"d2","subject_ref":"p-email","start":"2026-11-27T11:00:00Z"}`)},
		{ID: "e3", Type: "appointment.booked", Payload: json.RawMessage(`{"decision_id":"d3","subject_ref":"p-letter","start":"2026-11-27T12:00:00Z"}`)},
		{ID: "e4", Type: "decision.made", Payload: json.RawMessage(`{"decision_id":"d4","priority":"emergency","pathway":"crisis-home-treatment","team":"central"}`)},
		{ID: "e5", Type: "decision.made", Payload: json.RawMessage(`{"decision_id":"d5","priority":"routine"}`)},
		{ID: "e6", Type: "case.escalated", Payload: json.RawMessage(`{"decision_id":"d6","reason":"no practitioner free"}`)},
		{ID: "e7", Type: "ruleset.activated", Payload: json.RawMessage(`{}`)},
	}
	for _, e := range events {
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if err = s.Send(context.Background(), e); err == nil || !notify.Retryable(err) {
				break
			}
		}
		if err != nil {
			t.Errorf("%s: %v", e.ID, err)
		}
	}
	refs := map[string]string{}
	for _, r := range f.received {
		refs[r.Body["reference"].(string)] = r.Path
	}
	want := map[string]string{"e1": "/v2/notifications/sms", "e2": "/v2/notifications/email", "e3": "/v2/notifications/letter", "e4": "/v2/notifications/sms", "e6": "/v2/notifications/email"}
	if fmt.Sprint(refs) != fmt.Sprint(want) || len(f.received) != len(want) {
		t.Errorf("sent %v, want %v (each once)", refs, want)
	}
	if p := f.received[0].Body["personalisation"].(map[string]any); p["appointment_time"] != "10:30am" || p["appointment_date"] != "Friday 27 November 2026" {
		t.Errorf("personalisation %v", p)
	}
	err := s.Send(context.Background(), notify.Event{ID: "e8", Type: "appointment.booked", Payload: json.RawMessage(`{"subject_ref":"p-none"}`)})
	if err == nil || notify.Retryable(err) {
		t.Errorf("an unknown preference: %v", err)
	}
	s.Config.AppointmentConfirmation.SMS = badTmpl
	err = s.Send(context.Background(), events[0])
	if err == nil || notify.Retryable(err) {
		t.Errorf("a bad template: %v", err)
	}
}
