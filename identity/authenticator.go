package identity

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/carepath/carepath/failure"
)

// Default session and cache lifetimes.
const (
	DefaultIdleTimeout     = 30 * time.Minute // a session unused this long ends
	DefaultAbsoluteTimeout = 12 * time.Hour   // a session ends this long after sign-in, used or not
	DefaultCacheTTL        = 30 * time.Second // a revocation made through another replica is in force within this
	touchEvery             = time.Minute      // last-used and last-seen times are written at most this often
)

// BearerVerifier checks a bearer token that is not a Carepath API token, such as a JWT from the
// council's OpenID provider.
type BearerVerifier interface {
	VerifyBearer(ctx context.Context, raw string) (*Principal, error)
}

// Authenticator turns credentials into principals. Token and session checks are answered from
// memory after the first, so the hot path makes no database round trip; each cached answer is
// re-read after CacheTTL, which bounds how long a revocation on another replica takes.
type Authenticator struct {
	Store *SQLStore
	Now   func() time.Time
	// JWT verifies bearer tokens that are not Carepath API tokens; nil refuses them.
	JWT             BearerVerifier
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	CacheTTL        time.Duration

	mu       sync.RWMutex
	tokens   map[string]*cachedToken
	sessions map[string]*cachedSession
	// loading holds the token lookups in flight, so that many connections opening at once with
	// one token read it and write its last use once, instead of queueing on its row.
	loading map[string]*tokenLoad
}

// tokenLoad is one store lookup of a token that concurrent requests with that token share.
type tokenLoad struct {
	done chan struct{}
	p    *Principal
	err  error
}

type cachedToken struct {
	principal *Principal
	expires   time.Time // the token's own expiry
	checked   time.Time // when the store was last read
	touched   time.Time // when last-used was last written
}

type cachedSession struct {
	session  Session
	checked  time.Time
	lastSeen time.Time
	touched  time.Time
}

// NewAuthenticator returns an authenticator over store with the default lifetimes.
func NewAuthenticator(store *SQLStore, now func() time.Time) *Authenticator {
	return &Authenticator{Store: store, Now: now, IdleTimeout: DefaultIdleTimeout, AbsoluteTimeout: DefaultAbsoluteTimeout, CacheTTL: DefaultCacheTTL}
}

func (a *Authenticator) ttl() time.Duration {
	if a.CacheTTL > 0 {
		return a.CacheTTL
	}
	return DefaultCacheTTL
}

// Bearer authenticates the value of an Authorization: Bearer header: a Carepath API token, or a
// JWT when a verifier is configured.
func (a *Authenticator) Bearer(ctx context.Context, raw string) (*Principal, error) {
	if strings.HasPrefix(raw, TokenPrefix) {
		return a.Token(ctx, raw)
	}
	if a.JWT == nil {
		return nil, errBadToken
	}
	return a.JWT.VerifyBearer(ctx, raw)
}

// Token authenticates a Carepath API token.
func (a *Authenticator) Token(ctx context.Context, secret string) (*Principal, error) {
	now := a.Now()
	a.mu.RLock()
	c := a.tokens[secret]
	a.mu.RUnlock()
	if a.fresh(c, now) {
		return a.used(ctx, c, now), nil
	}
	a.mu.Lock()
	// A lookup may have finished since the look above; its answer stands.
	if c := a.tokens[secret]; a.fresh(c, now) {
		a.mu.Unlock()
		return a.used(ctx, c, now), nil
	}
	if l := a.loading[secret]; l != nil {
		a.mu.Unlock()
		select {
		case <-l.done:
			return l.p, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l := &tokenLoad{done: make(chan struct{})}
	if a.loading == nil {
		a.loading = map[string]*tokenLoad{}
	}
	a.loading[secret] = l
	a.mu.Unlock()
	// Others wait on this lookup, so one caller giving up must not fail theirs.
	l.p, l.err = a.loadToken(context.WithoutCancel(ctx), secret, now)
	a.mu.Lock()
	delete(a.loading, secret)
	a.mu.Unlock()
	close(l.done)
	return l.p, l.err
}

// fresh reports whether a cached token may be used at now without reading the store again.
func (a *Authenticator) fresh(c *cachedToken, now time.Time) bool {
	return c != nil && now.Before(c.expires) && now.Sub(c.checked) < a.ttl()
}

// used returns a fresh cached token's principal, recording its use every touchEvery.
func (a *Authenticator) used(ctx context.Context, c *cachedToken, now time.Time) *Principal {
	if now.Sub(c.touched) >= touchEvery {
		a.touchToken(ctx, c, now)
	}
	return c.principal
}

// loadToken reads a token from the store into the cache, recording its use.
func (a *Authenticator) loadToken(ctx context.Context, secret string, now time.Time) (*Principal, error) {
	p, expires, err := a.Store.TokenPrincipal(ctx, secret, now)
	if err != nil {
		a.mu.Lock()
		delete(a.tokens, secret)
		a.mu.Unlock()
		return nil, err
	}
	c := &cachedToken{principal: p, expires: expires, checked: now}
	a.touchToken(ctx, c, now)
	a.mu.Lock()
	if a.tokens == nil {
		a.tokens = map[string]*cachedToken{}
	}
	a.tokens[secret] = c
	a.mu.Unlock()
	return p, nil
}

func (a *Authenticator) touchToken(ctx context.Context, c *cachedToken, now time.Time) {
	a.mu.Lock()
	stale := now.Sub(c.touched) >= touchEvery
	if stale {
		c.touched = now
	}
	a.mu.Unlock()
	if stale {
		// Last-used is advisory: a failure to write it must not refuse a valid request.
		_ = a.Store.TouchToken(ctx, c.principal.TokenID, now)
	}
}

// SignIn checks a local account's password and opens a new session for it, returning the new
// session id; a fresh id at every sign-in means a session id planted before cannot be used.
func (a *Authenticator) SignIn(ctx context.Context, username, password string) (string, Session, error) {
	u, err := a.Store.CheckPassword(ctx, username, password, a.Now())
	if err != nil {
		return "", Session{}, err
	}
	return a.StartSession(ctx, u.Principal(MethodPassword))
}

// StartSession opens a session for a principal already authenticated, such as by the OpenID
// provider.
func (a *Authenticator) StartSession(ctx context.Context, p *Principal) (string, Session, error) {
	absolute := a.AbsoluteTimeout
	if absolute <= 0 {
		absolute = DefaultAbsoluteTimeout
	}
	now := a.Now()
	id, s, err := a.Store.CreateSession(ctx, p, absolute, now)
	if err != nil {
		return "", Session{}, err
	}
	a.mu.Lock()
	if a.sessions == nil {
		a.sessions = map[string]*cachedSession{}
	}
	a.sessions[id] = &cachedSession{session: s, checked: now, lastSeen: now, touched: now}
	a.mu.Unlock()
	return id, s, nil
}

// Session returns the live session with id, ending it when it has idled or lived too long.
func (a *Authenticator) Session(ctx context.Context, id string) (Session, error) {
	if id == "" || len(id) > 100 {
		return Session{}, errNoSession
	}
	now := a.Now()
	idle := a.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	a.mu.RLock()
	c := a.sessions[id]
	a.mu.RUnlock()
	if c == nil || now.Sub(c.checked) >= a.ttl() {
		s, err := a.Store.Session(ctx, id)
		if err != nil {
			a.forget(id)
			return Session{}, err
		}
		lastSeen := s.LastSeenAt
		if c != nil && c.lastSeen.After(lastSeen) {
			lastSeen = c.lastSeen
		}
		c = &cachedSession{session: s, checked: now, lastSeen: lastSeen, touched: s.LastSeenAt}
		a.mu.Lock()
		if a.sessions == nil {
			a.sessions = map[string]*cachedSession{}
		}
		a.sessions[id] = c
		a.mu.Unlock()
	}
	a.mu.Lock()
	expired := !now.Before(c.session.ExpiresAt) || now.Sub(c.lastSeen) >= idle
	touch := false
	if !expired {
		c.lastSeen = now
		if now.Sub(c.touched) >= touchEvery {
			c.touched, touch = now, true
		}
	}
	s := c.session
	a.mu.Unlock()
	if expired {
		_ = a.SignOut(ctx, id)
		return Session{}, failure.Errorf(failure.Unauthenticated, "the session has expired: sign in again")
	}
	if touch {
		_ = a.Store.TouchSession(ctx, id, now)
	}
	return s, nil
}

func (a *Authenticator) forget(id string) {
	a.mu.Lock()
	delete(a.sessions, id)
	a.mu.Unlock()
}

// SignOut ends a session on this replica at once and on the others within CacheTTL.
func (a *Authenticator) SignOut(ctx context.Context, id string) error {
	a.forget(id)
	return a.Store.RevokeSession(ctx, id, a.Now())
}
