// Package notify sends text messages, emails and letters through GOV.UK Notify's REST API: a
// client for its JWT authentication and its SMS, email and letter endpoints with errors that say
// whether to try again, and a Sender that turns Carepath's events into messages from the templates
// a council configures.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultBaseURL is GOV.UK Notify's API.
const DefaultBaseURL = "https://api.notifications.service.gov.uk"

// Key is a Notify API key: its name, the service id (the JWT's issuer) and the secret that signs.
type Key struct {
	Name      string
	ServiceID string
	secret    string
}

// String names the key without its secret.
func (k Key) String() string { return k.Name + "-" + k.ServiceID + "-[secret]" }

var uuidPair = regexp.MustCompile(`^(.*)-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)

// ParseKey reads a key in Notify's format {key_name}-{service_id}-{secret_key}, where the last
// two are UUIDs (the name may itself hold hyphens). The error never repeats the key.
func ParseKey(s string) (Key, error) {
	m := uuidPair.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || m[1] == "" {
		return Key{}, errors.New("notify: the API key is not in the form {key_name}-{service_id}-{secret_key}, the last two UUIDs")
	}
	return Key{Name: m[1], ServiceID: strings.ToLower(m[2]), secret: m[3]}, nil
}

// Token returns the bearer token for a request made at now: an HS256 JWT whose issuer is the
// service id, issued at now in whole seconds (Notify refuses tokens more than 30 s out).
func (k Key) Token(now time.Time) (string, error) {
	if k.secret == "" {
		return "", errors.New("notify: the API key has no secret")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": k.ServiceID, "iat": now.Unix()})
	s, err := t.SignedString([]byte(k.secret))
	if err != nil {
		return "", fmt.Errorf("notify: unable to sign the token: %w", err)
	}
	return s, nil
}

// Client calls Notify's API.
type Client struct {
	BaseURL string // DefaultBaseURL when empty
	Key     Key
	HTTP    *http.Client // http.DefaultClient when nil; give it a timeout
	Now     func() time.Time
}

// SMS is a text message to send.
type SMS struct {
	PhoneNumber     string            `json:"phone_number"`
	TemplateID      string            `json:"template_id"`
	Personalisation map[string]string `json:"personalisation,omitempty"`
	Reference       string            `json:"reference,omitempty"`
}

// Email is an email to send.
type Email struct {
	EmailAddress    string            `json:"email_address"`
	TemplateID      string            `json:"template_id"`
	Personalisation map[string]string `json:"personalisation,omitempty"`
	Reference       string            `json:"reference,omitempty"`
}

// Letter is a letter to send; its personalisation carries the address as address_line_1 to
// address_line_7 (at least three lines, the last a postcode).
type Letter struct {
	TemplateID      string            `json:"template_id"`
	Personalisation map[string]string `json:"personalisation"`
	Reference       string            `json:"reference,omitempty"`
}

// Sent is Notify's answer to an accepted notification.
type Sent struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	URI       string `json:"uri"`
}

// SendSMS sends a text message.
func (c *Client) SendSMS(ctx context.Context, m SMS) (*Sent, error) {
	return c.post(ctx, "/v2/notifications/sms", m)
}

// SendEmail sends an email.
func (c *Client) SendEmail(ctx context.Context, m Email) (*Sent, error) {
	return c.post(ctx, "/v2/notifications/email", m)
}

// SendLetter sends a letter.
func (c *Client) SendLetter(ctx context.Context, m Letter) (*Sent, error) {
	return c.post(ctx, "/v2/notifications/letter", m)
}

// maxResponse bounds how much of an answer is read.
const maxResponse = 1 << 20

func (c *Client) post(ctx context.Context, path string, body any) (*Sent, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	token, err := c.Key.Token(now())
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("notify: unable to encode the request: %w", err)
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("notify: unable to make the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "carepath-notify")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Nothing was answered: the message may or may not have been taken, and trying again is
		// the only way not to lose it.
		return nil, &Error{Kind: "Unreachable", Message: err.Error(), retry: true}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, &Error{Status: resp.StatusCode, Kind: "Unreadable", Message: err.Error(), retry: true}
	}
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		var s Sent
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("notify: the answer to %s is not JSON: %w", path, err)
		}
		return &s, nil
	}
	return nil, parseError(resp, data)
}

// Error is a refusal or failure from Notify, with whether sending again may succeed.
type Error struct {
	Status  int    // HTTP status; 0 when Notify could not be reached
	Kind    string // Notify's error name, such as BadRequestError, AuthError, RateLimitError
	Message string
	// Messages holds every error Notify listed, in its order.
	Messages   []string
	RetryAfter time.Duration // from a Retry-After header, when Notify gave one
	retry      bool
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return "notify: unable to reach GOV.UK Notify: " + e.Message
	}
	return fmt.Sprintf("notify: GOV.UK Notify answered %d %s: %s", e.Status, e.Kind, e.Message)
}

// Retryable reports whether sending the same message again later may succeed: after a rate limit,
// a server error or no answer, yes; after a bad request or an authentication failure, no.
func (e *Error) Retryable() bool { return e.retry }

// Retryable reports whether err, from this package, is worth trying again; errors from elsewhere
// (a cancelled context, say) are taken as retryable, because giving up loses the message.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ne *Error
	if errors.As(err, &ne) {
		return ne.Retryable()
	}
	var pe *PermanentError
	return !errors.As(err, &pe)
}

// PermanentError is a message that can never be sent as asked, such as an event for a template
// the council has not configured or a citizen with no contact details; retrying will not help.
type PermanentError struct{ Reason string }

func (e *PermanentError) Error() string { return "notify: " + e.Reason }

// Retryable answers false: sending again will not help.
func (e *PermanentError) Retryable() bool { return false }

func parseError(resp *http.Response, data []byte) error {
	var body struct {
		StatusCode int `json:"status_code"`
		Errors     []struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(data, &body) == nil && len(body.Errors) > 0 {
		e.Kind, e.Message = body.Errors[0].Error, body.Errors[0].Message
		for _, x := range body.Errors {
			e.Messages = append(e.Messages, x.Error+": "+x.Message)
		}
	} else {
		e.Kind, e.Message = http.StatusText(resp.StatusCode), "no error list in the answer"
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		e.retry = true
	case resp.StatusCode == http.StatusRequestTimeout:
		e.retry = true
	default: // 400 bad request (invalid template, phone number, personalisation), 403 auth
		e.retry = false
	}
	return e
}
