package identity

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/carepath/carepath/failure"
)

// DemoTokenPrefix starts the API token of every demo account; the rest is derived from the
// username, so the secrets are public knowledge and only demo accounts may hold one.
const DemoTokenPrefix = TokenPrefix + "demo_"

// PutDemoToken stores an API token with a known secret for a demo account, so the demo can print
// its credentials at every start; only the secret's hash is stored. It refuses an account that
// is not a demo account, and storing the same secret again changes nothing (a revoked demo token
// stays revoked).
func (s *SQLStore) PutDemoToken(ctx context.Context, username, secret string, expires, now time.Time) error {
	u, err := s.User(ctx, username)
	if err != nil {
		return err
	}
	if !u.Demo {
		return failure.Errorf(failure.Forbidden, "user %s is not a demo account; make its tokens with carepath tokens create", u.Username)
	}
	if !strings.HasPrefix(secret, DemoTokenPrefix) || len(secret) > 200 {
		return failure.Errorf(failure.Invalid, "secret: a demo token starts with %s and is at most 200 characters", DemoTokenPrefix)
	}
	if !expires.After(now) || expires.Sub(now) > MaxTokenLifetime {
		return failure.Errorf(failure.Invalid, "expires: must be in the future and at most 366 days ahead")
	}
	var n int
	if err := s.DB.GetContext(ctx, &n, s.DB.Rebind(`SELECT COUNT(*) FROM api_tokens WHERE hash = ?`), hashSecret(secret)); err != nil {
		return fmt.Errorf("identity: unable to read tokens: %w", err)
	}
	if n > 0 {
		return nil
	}
	return s.putToken(ctx, u.ID, "demo", secret, expires, now)
}
