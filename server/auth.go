package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// Route is one HTTP route and the permission it needs; Routes lists them for the policy table and
// the test that holds the router to it.
type Route struct {
	Pattern    string              `json:"pattern"`
	Permission identity.Permission `json:"permission"`
	// Page says the route is a web page: anonymous callers get the sign-in form with the 401.
	Page bool `json:"page,omitempty"`
}

// Routes returns every route the last built Handler serves, with its permission.
func (s *Server) Routes() []Route { return s.routes }

// Cookie and header names.
const (
	sessionCookie    = "carepath_session"
	secureCookie     = "__Host-carepath_session" // the __Host- prefix pins the cookie to this origin under TLS
	csrfHeader       = "X-CSRF-Token"
	csrfField        = "csrf_token"
	requestIDHeader  = "X-Request-Id"
	BreakGlassHeader = "Carepath-Break-Glass" // a stated reason for reading a record outside one's team
)

// handle registers a route with the permission it needs; there is no other way to add one, so no
// route can be served without a declared permission.
func (s *Server) handle(mux *http.ServeMux, pattern string, perm identity.Permission, h http.HandlerFunc) {
	s.register(mux, pattern, perm, h, false)
}

func (s *Server) register(mux *http.ServeMux, pattern string, perm identity.Permission, h http.HandlerFunc, page bool) {
	if perm == "" {
		panic("server: route " + pattern + " declares no permission")
	}
	if perm != identity.Public && perm != identity.SignedIn {
		if _, ok := identity.Policy[perm]; !ok {
			panic("server: route " + pattern + " needs permission " + string(perm) + ", which the policy table does not name")
		}
	}
	s.routes = append(s.routes, Route{Pattern: pattern, Permission: perm, Page: page})
	mux.Handle(pattern, s.authorize(perm, h, page))
}

// handlePage registers a web page as handle does a route. The difference is for people, not
// programs: someone not signed in gets the sign-in form (still 401), which brings them back to
// the page, and a refusal is a page in words rather than problem details.
func (s *Server) handlePage(mux *http.ServeMux, pattern string, perm identity.Permission, h http.HandlerFunc) {
	s.register(mux, pattern, perm, h, true)
}

// requestInfo is filled in as a request is handled, so that the request log can name who asked.
type requestInfo struct {
	id        string
	principal *identity.Principal
}

type requestInfoKey struct{}

func infoOf(r *http.Request) *requestInfo {
	ri, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	if ri == nil {
		return &requestInfo{}
	}
	return ri
}

// authorize authenticates the request, refuses it unless the principal holds perm, checks the
// CSRF token of a browser session's state-changing request, and hands the principal on in the
// request's context.
func (s *Server) authorize(perm identity.Permission, h http.HandlerFunc, page bool) http.Handler {
	fail := s.writeProblem
	if page {
		fail = s.pageProblem
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, sess, err := s.authenticate(r)
		if err != nil && perm != identity.Public {
			fail(w, r, err)
			return
		}
		if err := identity.Authorize(p, perm); err != nil {
			fail(w, r, err)
			return
		}
		// Public routes check what they need themselves (signing in has its own CSRF token).
		if sess != nil && !safeMethod(r.Method) && perm != identity.Public {
			if !s.checkCSRF(r, sess.CSRF) {
				fail(w, r, failure.Errorf(failure.Forbidden, "%s: missing or wrong; reload the page and try again", csrfField))
				return
			}
		}
		infoOf(r).principal = p
		ctx := identity.WithPrincipal(r.Context(), p)
		if page {
			ctx = context.WithValue(ctx, pageKey{}, true)
		}
		if sess != nil {
			ctx = context.WithValue(ctx, sessionKey{}, sess)
		}
		h(w, r.WithContext(ctx))
	})
}

type sessionKey struct{}

// pageKey marks a web page's request, so that a refusal on the way (such as readDecision's) is a
// page in words rather than problem details.
type pageKey struct{}

// isPage reports whether the request is for a web page rather than the API.
func isPage(r *http.Request) bool {
	page, _ := r.Context().Value(pageKey{}).(bool)
	return page
}

// sessionOf returns the browser session of a request authenticated by cookie, or nil.
func sessionOf(r *http.Request) *identity.Session {
	s, _ := r.Context().Value(sessionKey{}).(*identity.Session)
	return s
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (s *Server) checkCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// authenticate finds who is asking: a bearer token (a Carepath API token, or a JWT from the
// OpenID provider) or a browser session cookie. No credentials is a nil principal and no error;
// credentials that do not check out are an error, never a silent fall back to anonymous.
func (s *Server) authenticate(r *http.Request) (*identity.Principal, *identity.Session, error) {
	if s.Auth == nil {
		return nil, nil, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, raw, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
			return nil, nil, failure.Errorf(failure.Unauthenticated, "Authorization header: want Bearer and a token")
		}
		p, err := s.Auth.Bearer(r.Context(), strings.TrimSpace(raw))
		return p, nil, err
	}
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil {
		return nil, nil, nil
	}
	sess, err := s.Auth.Session(r.Context(), c.Value)
	if err != nil {
		return nil, nil, err
	}
	return sess.Principal, &sess, nil
}

func (s *Server) sessionCookieName() string {
	if s.TLS {
		return secureCookie
	}
	return sessionCookie
}

// beginSession opens a new session for p and sets its cookie, ending any session the browser
// had: a fresh id at every sign-in.
func (s *Server) beginSession(w http.ResponseWriter, r *http.Request, p *identity.Principal) error {
	if c, err := r.Cookie(s.sessionCookieName()); err == nil {
		_ = s.Auth.SignOut(r.Context(), c.Value)
	}
	id, _, err := s.Auth.StartSession(r.Context(), p)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, id)
	return nil
}

func (s *Server) setSessionCookie(w http.ResponseWriter, id string) {
	absolute := s.Auth.AbsoluteTimeout
	if absolute <= 0 {
		absolute = identity.DefaultAbsoluteTimeout
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: id, Path: "/", HttpOnly: true, Secure: s.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: int(absolute / time.Second)})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: "", Path: "/", HttpOnly: true, Secure: s.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// clientAddr is the address recorded in the access audit: the peer, or the first address a
// trusted TLS-terminating proxy forwarded.
func (s *Server) clientAddr(r *http.Request) string {
	if s.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newRequestID takes a well-formed X-Request-Id from the caller (a gateway's), or makes one.
func newRequestID(r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); id != "" && len(id) <= 64 && strings.IndexFunc(id, func(c rune) bool {
		return !(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
	}) < 0 {
		return id
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// throttle limits sign-in attempts per client address, so that guessing passwords is slow even
// across many accounts; the per-account lockout is in identity.
type throttle struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	entries map[string]*attempts
}

type attempts struct {
	start time.Time
	n     int
}

func newThrottle(limit int, window time.Duration) *throttle {
	return &throttle{limit: limit, window: window, entries: map[string]*attempts{}}
}

// allow counts an attempt from key and reports whether it is within the limit, and if not, how
// long until it will be.
func (t *throttle) allow(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) > 10000 {
		for k, a := range t.entries {
			if now.Sub(a.start) >= t.window {
				delete(t.entries, k)
			}
		}
	}
	a := t.entries[key]
	if a == nil || now.Sub(a.start) >= t.window {
		a = &attempts{start: now}
		t.entries[key] = a
	}
	a.n++
	if a.n > t.limit {
		return false, t.window - now.Sub(a.start)
	}
	return true, 0
}
