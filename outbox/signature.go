package outbox

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/failure"
)

// Standard Webhooks headers (https://www.standardwebhooks.com/).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts every signing secret, as the Standard Webhooks specification names it.
const secretPrefix = "whsec_"

// ParseSecret returns the key bytes of a whsec_ secret: base64 after the prefix, 24 to 64 bytes
// (the specification asks for at least 24).
func ParseSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, failure.Errorf(failure.Invalid, "secret: want whsec_ followed by base64")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, failure.Errorf(failure.Invalid, "secret: the part after whsec_ is not standard base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, failure.Errorf(failure.Invalid, "secret: the key is %d bytes; want 24 to 64", len(key))
	}
	return key, nil
}

// NewSecret makes a random 32-byte whsec_ secret.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the webhook-signature value for one message: v1, and the base64 HMAC-SHA256 of
// "id.timestamp.body" under key.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a received webhook's headers against body, as a receiver does: one of the
// space-separated v1 signatures must match, and the timestamp must be within tolerance of now,
// which stops replays of old messages.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts := h.Get(HeaderID), h.Get(HeaderTimestamp)
	if id == "" || ts == "" {
		return failure.Errorf(failure.Unauthenticated, "webhook: %s and %s are required", HeaderID, HeaderTimestamp)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return failure.Errorf(failure.Unauthenticated, "webhook: %s %q is not a Unix time", HeaderTimestamp, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return failure.Errorf(failure.Unauthenticated, "webhook: %s is %s away from now", HeaderTimestamp, d.Round(time.Second))
	}
	want := Sign(key, id, sec, body)
	for _, sig := range strings.Fields(h.Get(HeaderSignature)) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return failure.Errorf(failure.Unauthenticated, "webhook: no signature matches")
}
