package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// signinCSRFCookie carries the double-submitted token of the sign-in form: there is no session
// yet to hold one, and without it another site could sign a browser in as someone else.
const signinCSRFCookie = "carepath_signin"

// signinRoutes registers the home page, signing in and out, and the stylesheet.
func (s *Server) signinRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /{$}", identity.Public, s.home)
	s.handle(mux, "GET /signin", identity.Public, s.signinPage)
	s.handle(mux, "POST /signin", identity.Public, s.signin)
	s.handle(mux, "POST /signout", identity.SignedIn, s.signout)
	s.handle(mux, "GET /assets/{file}", identity.Public, s.serveAsset)
	if s.OIDCRoutes != nil {
		s.OIDCRoutes(s, mux)
	}
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	// authorize has already authenticated the request; on this public route nobody may be signed in.
	p := identity.FromContext(r.Context())
	if p == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "home", view{Title: "Carepath", Principal: p})
}

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignin(w, r, http.StatusOK, "", "")
}

// signinForm is the sign-in page's content.
type signinForm struct {
	Username string
	Next     string
	OIDC     bool
}

func (s *Server) renderSignin(w http.ResponseWriter, r *http.Request, status int, username, problem string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: signinCSRFCookie, Value: token, Path: "/signin", HttpOnly: true, Secure: s.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	v := view{Title: "Sign in", CSRF: token, Nav: []navItem{},
		Data: signinForm{Username: username, Next: signinNext(r), OIDC: s.OIDCRoutes != nil}}
	if problem != "" {
		v.Errors = []fieldError{{Field: "username", ID: "username", Message: problem}}
	}
	// Whoever asked for a page, the sign-in form shows nobody as signed in.
	v.Principal = &identity.Principal{}
	s.render(w, r, status, "signin", v)
}

// signinNext is where to go after signing in: the form's next field, or the page that asked
// for a sign-in.
func signinNext(r *http.Request) string {
	if r.URL.Path == "/signin" {
		if n := r.PostFormValue("next"); n != "" {
			return safeNext(n)
		}
		return safeNext(r.URL.Query().Get("next"))
	}
	if r.Method == http.MethodGet {
		return safeNext(r.URL.RequestURI())
	}
	return "/"
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	if s.Auth == nil {
		s.writeProblem(w, r, failure.Errorf(failure.Unavailable, "signing in is not configured"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderSignin(w, r, http.StatusBadRequest, "", "The form could not be read. Try again.")
		return
	}
	c, err := r.Cookie(signinCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		s.renderSignin(w, r, http.StatusForbidden, "", "The sign-in form had expired. Try again.")
		return
	}
	username := r.PostFormValue("username")
	if ok, wait := s.signinLimit.allow(s.clientAddr(r), time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		s.renderSignin(w, r, http.StatusTooManyRequests, username, "Too many attempts to sign in from here. Wait a minute and try again.")
		return
	}
	if username == "" || r.PostFormValue("password") == "" {
		s.renderSignin(w, r, http.StatusUnprocessableEntity, username, "Enter your username and password.")
		return
	}
	if c, err := r.Cookie(s.sessionCookieName()); err == nil {
		_ = s.Auth.SignOut(r.Context(), c.Value)
	}
	id, _, err := s.Auth.SignIn(r.Context(), username, r.PostFormValue("password"))
	if err != nil {
		if failure.CodeOf(err) == failure.Unauthenticated {
			s.renderSignin(w, r, http.StatusUnauthorized, username, "The username or password is not right, or the account is locked for 15 minutes after repeated failures.")
			return
		}
		s.writeProblem(w, r, err)
		return
	}
	s.setSessionCookie(w, id)
	http.SetCookie(w, &http.Cookie{Name: signinCSRFCookie, Value: "", Path: "/signin", MaxAge: -1, HttpOnly: true, Secure: s.TLS})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.sessionCookieName()); err == nil {
		_ = s.Auth.SignOut(r.Context(), c.Value)
	}
	s.clearSessionCookie(w)
	// Drafts of forms kept through a lost connection go with the session, in every tab and page
	// of this site; the sign-out button's script clears them too, for browsers without this header.
	w.Header().Set("Clear-Site-Data", `"storage"`)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// me is what GET /v1/me answers: who is signed in, and what they may do.
type me struct {
	*identity.Principal
	Permissions []identity.Permission `json:"permissions"`
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) {
	p := identity.FromContext(r.Context())
	out := me{Principal: p}
	for _, perm := range identity.Permissions() {
		if p.Can(perm) {
			out.Permissions = append(out.Permissions, perm)
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}
