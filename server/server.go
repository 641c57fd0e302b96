// Package server is Carepath's HTTP API: submitting assessments, reading decisions, forms,
// pathways and rule sets.
package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Server holds what the HTTP handlers need; build it with its fields and call Handler.
type Server struct {
	Engine *triage.Engine
	Forms  triage.Store
	Rules  rules.Store
	// DB is the database the rule-governance routes run their lifecycle transactions on; without
	// it those routes answer 503.
	DB     *database.DB
	Logger *slog.Logger
	// Ping checks the database for /healthz.
	Ping func(ctx context.Context) error
	// Audit records every read and write of personal data; nil records nothing (tests of other
	// concerns only).
	Audit *audit.Log
	// Metrics are exported on /metrics; Handler makes them when nil.
	Metrics *Metrics
	// Privacy names the cases of impact previews and shadow reports by pseudonym; without it those
	// routes fail (500) rather than name cases by decision id.
	Privacy *privacy.Pseudonymiser
	// Auth authenticates every request; without it nobody is signed in and only public routes
	// answer.
	Auth *identity.Authenticator
	// TLS says the server is reached over HTTPS (directly or through a TLS-terminating proxy), so
	// cookies are Secure; TrustProxy takes the client address from X-Forwarded-For.
	TLS        bool
	TrustProxy bool

	// Location is the council's time zone, in which pages show dates and times (UTC when nil).
	Location *time.Location
	// TileURL is the council's own slippy-map tile server ({z}, {x} and {y} in it) drawn under
	// the day's map; empty draws the map without tiles. Browsers fetch the tiles: a path such as
	// /tiles/{z}/{x}/{y}.png is on this site, and an https URL's origin is admitted for images by
	// the policy Listen sends (ContentSecurityPolicyFor), both from config's server.tile_url.
	TileURL string

	// OIDCRoutes registers the single sign-on routes when an OpenID provider is configured.
	OIDCRoutes func(s *Server, mux *http.ServeMux)

	// Events writes the outbox events of changes made through the API (appointment cancellations,
	// rule-set activations) in their transactions; nil writes none. Decisions publish through
	// Engine.Publish.
	Events *outbox.Publisher

	// DecideRate and DecideBurst limit POST /v1/decide per principal with a token bucket: rate
	// requests a second, up to burst at once (DefaultDecideRate and DefaultDecideBurst when zero).
	DecideRate  float64
	DecideBurst int
	// AccessLogEvery logs one in every N requests that succeed within a second; 0 and 1 log every
	// one and a negative value none. Errors and slow requests are always logged.
	AccessLogEvery int64

	routes      []Route
	decideLimit *tokenBuckets
	accessCount atomic.Int64
	signinLimit *throttle
	catalogue   pageCatalogue // what pages look up on every request, kept between them
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes = nil
	if s.signinLimit == nil {
		s.signinLimit = newThrottle(10, time.Minute)
	}
	s.decideLimit = newTokenBuckets(s.DecideRate, s.DecideBurst)
	s.handle(mux, "POST /v1/assessments", identity.SubmitAssessment, s.jsonBody(s.postAssessment))
	s.handle(mux, "GET /v1/assessments/{id}", identity.ReadDecision, s.getAssessment)
	s.handle(mux, "POST /v1/decide", identity.SubmitAssessment, s.jsonBody(s.postDecide))
	s.handle(mux, "GET /v1/forms", identity.SignedIn, s.listForms)
	s.handle(mux, "GET /v1/forms/{id}", identity.SignedIn, s.getForm)
	s.handle(mux, "GET /v1/forms/{id}/questionnaire", identity.SignedIn, s.getQuestionnaire)
	s.handle(mux, "GET /v1/pathways", identity.SignedIn, s.listPathways)
	s.handle(mux, "GET /v1/me", identity.SignedIn, s.getMe)
	s.handle(mux, "GET "+openAPIPath, identity.Public, s.getOpenAPI)
	s.ruleSetRoutes(mux)
	s.directoryRoutes(mux)
	s.planRoutes(mux)
	s.caseRoutes(mux)
	s.escalationRoutes(mux)
	s.signinRoutes(mux)
	s.clinicianPages(mux)
	s.coordinatorPages(mux)
	s.practitionerPages(mux)
	s.policyPages(mux)
	s.analystPages(mux)
	s.handle(mux, "GET /healthz", identity.Public, s.healthz)
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	metrics := s.Metrics.handler()
	s.handle(mux, "GET /metrics", identity.ReadMetrics, metrics.ServeHTTP)
	return s.logRequests(s.frontDoor(mux))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	indent bool // the client asked for indented JSON
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK, indent: wantsIndent(r)}
		ri := &requestInfo{id: newRequestID(r)}
		w.Header().Set(requestIDHeader, ri.id)
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		s.Metrics.observe(r.Pattern, rec.status, took)
		if !s.logged(rec.status, took) {
			return
		}
		// Paths hold record ids, never personal data; query strings are left out because they may.
		s.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", took,
			"user", ri.principal.String(), "request_id", ri.id)
	})
}

// logged samples the access log: every error and every request slower than a second, and one
// in AccessLogEvery of the rest, counted rather than drawn at random so that a test can tell.
func (s *Server) logged(status int, took time.Duration) bool {
	if status >= 400 || took > time.Second || s.AccessLogEvery == 0 || s.AccessLogEvery == 1 {
		return true
	}
	if s.AccessLogEvery < 0 {
		return false
	}
	return s.accessCount.Add(1)%s.AccessLogEvery == 1%s.AccessLogEvery
}

// wantsIndent reports whether the client asked for indented JSON, with ?pretty=1 (or true) or an
// indent parameter on an Accept media range (Accept: application/json; indent=2); compact JSON is
// the default, as machines read it.
func wantsIndent(r *http.Request) bool {
	if r.URL.RawQuery != "" {
		if v := r.URL.Query().Get("pretty"); v == "1" || v == "true" {
			return true
		}
	}
	for _, accept := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(accept, ",") {
			if _, params, err := mime.ParseMediaType(part); err == nil {
				if _, ok := params["indent"]; ok {
					return true
				}
			}
		}
	}
	return false
}

// indented reports whether the request w answers asked for indented JSON.
func indented(w http.ResponseWriter) bool {
	for {
		switch rw := w.(type) {
		case *statusRecorder:
			return rw.indent
		case interface{ Unwrap() http.ResponseWriter }:
			w = rw.Unwrap()
		default:
			return false
		}
	}
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if indented(w) {
		enc.SetIndent("", "  ")
	}
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.Logger.Debug("unable to write response", "error", err)
	}
}

func (s *Server) postAssessment(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, triage.MaxSubmissionBytes))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	p := identity.FromContext(r.Context())
	opts := triage.Options{IdempotencyKey: key, Team: p.Team(), SubmittedBy: p.Subject, InTx: cases.Then(s.recordInTx(r, audit.ActionDecisionCreate), cases.OpenInTx)}
	if team := r.URL.Query().Get("team"); team != "" {
		if !p.InTeam(team) {
			s.writeProblem(w, r, failure.Errorf(failure.Invalid, "team %q: you are not a member; file the assessment under one of your teams", team))
			return
		}
		opts.Team = team
	}
	switch v := r.URL.Query().Get("include_rejected"); v {
	case "", "false":
	case "true":
		opts.IncludeRejected = true
	default:
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "include_rejected %q: want true or false", v))
		return
	}
	d, created, err := s.Engine.Submit(r.Context(), body, opts)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/assessments/"+d.ID)
	if created {
		s.Metrics.decided(d)
	}
	status := http.StatusCreated
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	writeAppended(s, w, status, d, appendDecision)
}

func (s *Server) getAssessment(w http.ResponseWriter, r *http.Request) {
	d, ok := s.readDecision(w, r, r.PathValue("id"), audit.ActionDecisionRead)
	if !ok {
		return
	}
	s.writeJSON(w, http.StatusOK, d)
}

// formSummary is a form as listed, without its items.
type formSummary struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

func (s *Server) listForms(w http.ResponseWriter, r *http.Request) {
	forms, err := s.Forms.Forms(r.Context())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	out := make([]formSummary, len(forms))
	for i, f := range forms {
		out[i] = formSummary{ID: f.ID, Version: f.Version, Title: f.Title, Description: f.Description}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"forms": out})
}

func (s *Server) form(w http.ResponseWriter, r *http.Request) (*triage.Form, bool) {
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := boundedInt("version", v, 1, maxVersion)
		if err != nil {
			s.writeProblem(w, r, err)
			return nil, false
		}
		version = n
	}
	f, err := s.Forms.Form(r.Context(), r.PathValue("id"), version)
	if err != nil {
		s.writeProblem(w, r, err)
		return nil, false
	}
	return f, true
}

func (s *Server) getForm(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.form(w, r); ok {
		s.writeJSON(w, http.StatusOK, f)
	}
}

func (s *Server) getQuestionnaire(w http.ResponseWriter, r *http.Request) {
	f, ok := s.form(w, r)
	if !ok {
		return
	}
	q, err := f.Questionnaire()
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	_, _ = w.Write(q)
}

func (s *Server) listPathways(w http.ResponseWriter, r *http.Request) {
	ps, err := s.Rules.Pathways(r.Context())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"pathways": ps})
}

// ruleSetVersion is a stored version as listed, with whether it is in force now.
type ruleSetVersion struct {
	ID        string       `json:"id"`
	Version   int          `json:"version"`
	Form      string       `json:"form"`
	SHA256    string       `json:"sha256"`
	Status    rules.Status `json:"status"`
	Active    bool         `json:"active"`
	CreatedAt time.Time    `json:"created_at"`
}

func (s *Server) listRuleSets(w http.ResponseWriter, r *http.Request) {
	versions, err := s.Rules.Versions(r.Context())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	now := s.Engine.Now()
	active := map[string]int{}
	out := make([]ruleSetVersion, len(versions))
	for i, v := range versions {
		if _, ok := active[v.ID]; !ok {
			n, err := s.Rules.ActiveAt(r.Context(), v.ID, now)
			if err != nil && failure.CodeOf(err) != failure.Unavailable {
				s.writeProblem(w, r, err)
				return
			}
			active[v.ID] = n
		}
		out[i] = ruleSetVersion{ID: v.ID, Version: v.Version, Form: v.Form, SHA256: v.SHA256, Status: v.Status,
			Active: active[v.ID] == v.Version, CreatedAt: v.CreatedAt}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"rulesets": out})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.Ping != nil {
		if err := s.Ping(ctx); err != nil {
			s.Logger.Error("health check failed", "error", err)
			s.writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
