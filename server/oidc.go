package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// oidcCookie carries a sign-in in progress from /auth/oidc/login to /auth/oidc/callback.
const oidcCookie = "carepath_oidc"

// oidcPendingTTL bounds how long a person may take at the provider's sign-in page.
const oidcPendingTTL = 10 * time.Minute

// MinCookieKey is the shortest key SingleSignOn accepts for sealing its cookie.
const MinCookieKey = 32

// singleSignOn holds the provider and the cipher that seals each browser's pending sign-in.
type singleSignOn struct {
	oidc *identity.OIDC
	aead cipher.AEAD
}

// pendingCookie is what the sealed cookie holds: the sign-in's secrets and when they lapse.
type pendingCookie struct {
	identity.Pending
	Expires int64 `json:"exp"`
}

// SingleSignOn returns the routes that sign people in through the OpenID provider o, to set as
// Server.OIDCRoutes. cookieKey seals the sign-in in progress into the browser's cookie, so that
// no server state is needed between leaving for the provider and coming back; it must be at
// least MinCookieKey random bytes, kept secret, and the same on every replica.
func SingleSignOn(o *identity.OIDC, cookieKey []byte) (func(*Server, *http.ServeMux), error) {
	if o == nil {
		return nil, fmt.Errorf("server: single sign-on needs an OpenID provider")
	}
	if o.RedirectURL() == "" {
		return nil, failure.Errorf(failure.Invalid, "oidc redirect url: required for signing in through the pages; it is Carepath's address followed by /auth/oidc/callback")
	}
	if len(cookieKey) < MinCookieKey {
		return nil, failure.Errorf(failure.Invalid, "oidc cookie key: %d bytes, want at least %d random bytes", len(cookieKey), MinCookieKey)
	}
	// The key is derived for this one use, so that a cookie key shared with something else never
	// encrypts two kinds of data.
	mac := hmac.New(sha256.New, cookieKey)
	mac.Write([]byte("carepath oidc sign-in cookie v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("server: unable to make the sign-in cookie cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("server: unable to make the sign-in cookie cipher: %w", err)
	}
	sso := &singleSignOn{oidc: o, aead: aead}
	return func(s *Server, mux *http.ServeMux) {
		s.handle(mux, "GET /auth/oidc/login", identity.Public, func(w http.ResponseWriter, r *http.Request) { sso.login(s, w, r) })
		s.handle(mux, "GET /auth/oidc/callback", identity.Public, func(w http.ResponseWriter, r *http.Request) { sso.callback(s, w, r) })
	}, nil
}

// login sends the browser to the provider, keeping the state, nonce and PKCE verifier in a
// sealed cookie that only this browser will bring back.
func (sso *singleSignOn) login(s *Server, w http.ResponseWriter, r *http.Request) {
	if s.Auth == nil {
		s.writeProblem(w, r, fmt.Errorf("server: single sign-on is configured without an authenticator"))
		return
	}
	authURL, p, err := sso.oidc.Begin()
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	value, err := sso.seal(pendingCookie{Pending: p, Expires: time.Now().Add(oidcPendingTTL).Unix()})
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	// Lax, not Strict: the provider's redirect back is a cross-site top-level navigation, which
	// Strict would strip the cookie from.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: value, Path: "/auth/oidc/", HttpOnly: true, Secure: s.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: int(oidcPendingTTL / time.Second)})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// callback finishes the sign-in the provider sent the browser back from and starts a session.
func (sso *singleSignOn) callback(s *Server, w http.ResponseWriter, r *http.Request) {
	if s.Auth == nil {
		s.writeProblem(w, r, fmt.Errorf("server: single sign-on is configured without an authenticator"))
		return
	}
	// The pending sign-in is spent whatever happens next: a second try starts again.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/oidc/", HttpOnly: true, Secure: s.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		// What the provider sent is logged, not shown: anyone can send a browser here with any text.
		s.Logger.Info("single sign-on refused by the provider", "error", clip(e, 64), "description", clip(q.Get("error_description"), 200))
		s.renderSignin(w, r, http.StatusUnauthorized, "", "Your organisation's sign-in did not let you in. Try again, or ask your administrator.")
		return
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		s.renderSignin(w, r, http.StatusUnauthorized, "", "The sign-in had expired or was started in another browser. Try again.")
		return
	}
	pc, ok := sso.open(c.Value)
	if !ok || time.Now().Unix() > pc.Expires {
		s.renderSignin(w, r, http.StatusUnauthorized, "", "The sign-in had expired or was started in another browser. Try again.")
		return
	}
	p, err := sso.oidc.Finish(r.Context(), pc.Pending, q.Get("state"), q.Get("code"))
	if err != nil {
		switch failure.CodeOf(err) {
		case failure.Forbidden:
			s.Logger.Info("single sign-on without a Carepath role", "error", err)
			s.renderSignin(w, r, http.StatusForbidden, "", "You signed in with your organisation's account, but it holds no Carepath role. Ask your administrator to give you one.")
		case failure.Unauthenticated:
			s.Logger.Info("single sign-on failed", "error", err)
			s.renderSignin(w, r, http.StatusUnauthorized, "", "Signing in with your organisation's account did not work. Try again.")
		default:
			s.writeProblem(w, r, err)
		}
		return
	}
	if err := s.beginSession(w, r, p); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// seal encrypts and authenticates a pending sign-in, so that the browser can neither read the
// PKCE verifier nor change what it brings back.
func (sso *singleSignOn) seal(pc pendingCookie) (string, error) {
	plain, err := json.Marshal(pc)
	if err != nil {
		return "", fmt.Errorf("server: unable to encode the sign-in cookie: %w", err)
	}
	nonce := make([]byte, sso.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("server: unable to make a nonce: %w", err)
	}
	sealed := sso.aead.Seal(nonce, nonce, plain, []byte(oidcCookie))
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// open reverses seal; a cookie that was changed, made with another key or is not ours fails.
func (sso *singleSignOn) open(value string) (pendingCookie, bool) {
	var pc pendingCookie
	if len(value) > 4096 {
		return pc, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	n := sso.aead.NonceSize()
	if err != nil || len(raw) < n {
		return pc, false
	}
	plain, err := sso.aead.Open(nil, raw[:n], raw[n:], []byte(oidcCookie))
	if err != nil || json.Unmarshal(plain, &pc) != nil {
		return pc, false
	}
	return pc, true
}

// clip cuts a value the provider sent back to at most n bytes for the log.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
