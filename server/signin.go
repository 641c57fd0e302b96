package server

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

//go:embed pages/*.html pages/*.css
var pageFiles embed.FS

var pageTemplates = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

// signinCSRFCookie carries the double-submitted token of the sign-in form: there is no session
// yet to hold one, and without it another site could sign a browser in as someone else.
const signinCSRFCookie = "carepath_signin"

// signinRoutes registers the home page, signing in and out, and the stylesheet.
func (s *Server) signinRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /{$}", identity.Public, s.home)
	s.handle(mux, "GET /signin", identity.Public, s.signinPage)
	s.handle(mux, "POST /signin", identity.Public, s.signin)
	s.handle(mux, "POST /signout", identity.SignedIn, s.signout)
	s.handle(mux, "GET /assets/carepath.css", identity.Public, s.stylesheet)
	if s.OIDCRoutes != nil {
		s.OIDCRoutes(s, mux)
	}
}

type pageData struct {
	Title     string
	Principal *identity.Principal
	CSRF      string
	Error     string
	Username  string
	OIDC      bool
}

func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, name, d); err != nil {
		s.Logger.Error("unable to render page", "page", name, "error", err)
	}
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	// authorize has already authenticated the request; on this public route nobody may be signed in.
	p := identity.FromContext(r.Context())
	if p == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	d := pageData{Title: "Carepath", Principal: p}
	if sess := sessionOf(r); sess != nil {
		d.CSRF = sess.CSRF
	}
	s.renderPage(w, r, http.StatusOK, "home.html", d)
}

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignin(w, r, http.StatusOK, "", "")
}

func (s *Server) renderSignin(w http.ResponseWriter, r *http.Request, status int, username, problem string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: signinCSRFCookie, Value: token, Path: "/signin", HttpOnly: true, Secure: s.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	s.renderPage(w, r, status, "signin.html", pageData{Title: "Sign in", CSRF: token, Error: problem, Username: username, OIDC: s.OIDCRoutes != nil})
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
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.sessionCookieName()); err == nil {
		_ = s.Auth.SignOut(r.Context(), c.Value)
	}
	s.clearSessionCookie(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeFileFS(w, r, pageFiles, "pages/carepath.css")
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
