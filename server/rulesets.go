package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/rules"
)

// ActorHeader names the person acting on a rule set; it is recorded in the audit trail.
const ActorHeader = "Carepath-Actor"

// ruleSetRoutes registers the rule-governance API under /v1/rulesets.
func (s *Server) ruleSetRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/rulesets", s.listRuleSets)
	mux.HandleFunc("POST /v1/rulesets", s.governed(s.createDraft))
	mux.HandleFunc("GET /v1/rulesets/{id}/versions/{version}", s.governed(s.getRuleSetVersion))
	mux.HandleFunc("PUT /v1/rulesets/{id}/versions/{version}", s.governed(s.updateDraft))
	mux.HandleFunc("POST /v1/rulesets/{id}/versions/{version}/{action}", s.governed(s.ruleSetAction))
	mux.HandleFunc("GET /v1/rulesets/{id}/versions/{version}/tests", s.governed(s.ruleSetTests))
	mux.HandleFunc("GET /v1/rulesets/{id}/versions/{version}/impact", s.governed(s.ruleSetImpact))
	mux.HandleFunc("GET /v1/rulesets/{id}/diff", s.governed(s.ruleSetDiff))
	mux.HandleFunc("GET /v1/rulesets/{id}/history", s.governed(s.ruleSetHistory))
	mux.HandleFunc("GET /v1/rulesets/{id}/shadow", s.governed(s.shadowRuns))
	mux.HandleFunc("POST /v1/rulesets/{id}/shadow", s.governed(s.startShadow))
	mux.HandleFunc("DELETE /v1/rulesets/{id}/shadow", s.governed(s.stopShadow))
	mux.HandleFunc("GET /v1/assessments/{id}/why-not/{pathway}", s.governed(s.whyNot))
}

type governedHandler func(w http.ResponseWriter, r *http.Request, g *governance.Service)

// governed builds the governance service over the server's stores; it needs the SQL rule store.
func (s *Server) governed(h governedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		store, ok := s.Rules.(*rules.SQLStore)
		if !ok {
			s.writeProblem(w, r, failure.Errorf(failure.Unavailable, "rule governance needs the SQL rule store"))
			return
		}
		h(w, r, governance.NewService(store.DB, s.Forms, s.Engine.Rules, s.Engine.Now))
	}
}

func (s *Server) actor(w http.ResponseWriter, r *http.Request) (string, bool) {
	a := r.Header.Get(ActorHeader)
	if a == "" || len(a) > 200 {
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "%s header: name the person acting (1 to 200 characters)", ActorHeader))
		return "", false
	}
	return a, true
}

func (s *Server) versionParam(w http.ResponseWriter, r *http.Request, name string) (int, bool) {
	n, err := strconv.Atoi(r.PathValue(name))
	if err != nil || n < 1 {
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "%s %q: want a whole number from 1", name, r.PathValue(name)))
		return 0, false
	}
	return n, true
}

func (s *Server) readSource(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rules.MaxRuleSetBytes))
	if err != nil {
		s.writeProblem(w, r, err)
		return nil, false
	}
	return body, true
}

func (s *Server) createDraft(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	src, ok := s.readSource(w, r)
	if !ok {
		return
	}
	v, err := g.Lifecycle.CreateDraft(r.Context(), actor, src, r.URL.Query().Get("reason"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/rulesets/"+v.ID+"/versions/"+strconv.Itoa(v.Version))
	s.writeJSON(w, http.StatusCreated, v)
}

func (s *Server) updateDraft(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	version, ok := s.versionParam(w, r, "version")
	if !ok {
		return
	}
	src, ok := s.readSource(w, r)
	if !ok {
		return
	}
	v, err := g.Lifecycle.UpdateDraft(r.Context(), actor, r.PathValue("id"), version, src, r.URL.Query().Get("reason"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, v)
}

// getRuleSetVersion answers with the source as written for Accept: application/yaml (or
// ?format=yaml), otherwise with the stored version and its parsed content as JSON.
func (s *Server) getRuleSetVersion(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	version, ok := s.versionParam(w, r, "version")
	if !ok {
		return
	}
	v, err := g.Rules.Version(r.Context(), r.PathValue("id"), version)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "yaml" || r.Header.Get("Accept") == "application/yaml" {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = io.WriteString(w, v.Source)
		return
	}
	rs, err := v.Parse()
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"version": v, "content": rs})
}

// actionBody is the JSON body of a lifecycle action; each action reads the fields it needs.
type actionBody struct {
	Reason        string     `json:"reason"`
	Comment       string     `json:"comment"`
	EffectiveFrom *time.Time `json:"effective_from"`
	ImpactDays    int        `json:"impact_days"`
}

func (s *Server) ruleSetAction(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	version, ok := s.versionParam(w, r, "version")
	if !ok {
		return
	}
	var body actionBody
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && err != io.EOF {
			s.writeProblem(w, r, failure.Errorf(failure.Invalid, "body: %v", err))
			return
		}
	}
	ctx, id := r.Context(), r.PathValue("id")
	switch r.PathValue("action") {
	case "submit":
		gate, err := g.Lifecycle.Submit(ctx, actor, id, version, body.Reason)
		if err != nil && gate != nil {
			s.writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "draft", "error": err.Error(), "gate": gate})
			return
		} else if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, map[string]any{"status": rules.StatusInReview, "gate": gate})
	case "approve":
		// The impact preview the approver is shown is stored with the approval.
		imp, err := s.impact(r, g, id, version, body.ImpactDays)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		raw, _ := json.Marshal(imp)
		if err := g.Lifecycle.Approve(ctx, actor, id, version, body.Comment, raw); err != nil {
			s.writeProblem(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, map[string]any{"status": rules.StatusApproved, "impact": imp})
	case "reject":
		s.simpleAction(w, r, g.Lifecycle.Reject(ctx, actor, id, version, body.Reason), rules.StatusDraft)
	case "activate":
		var at time.Time
		if body.EffectiveFrom != nil {
			at = *body.EffectiveFrom
		}
		s.simpleAction(w, r, g.Lifecycle.Activate(ctx, actor, id, version, at, body.Reason), rules.StatusActive)
	case "retire":
		s.simpleAction(w, r, g.Lifecycle.Retire(ctx, actor, id, version, body.Reason), rules.StatusRetired)
	default:
		s.writeProblem(w, r, failure.Errorf(failure.NotFound, "action %q: want submit, approve, reject, activate or retire", r.PathValue("action")))
	}
}

func (s *Server) simpleAction(w http.ResponseWriter, r *http.Request, err error, status rules.Status) {
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"status": status})
}

func (s *Server) impact(r *http.Request, g *governance.Service, id string, version, days int) (*governance.Impact, error) {
	if days <= 0 {
		days = 90
	}
	p, m, err := g.StoredProgram(r.Context(), id, version)
	if err != nil {
		return nil, err
	}
	return g.PreviewImpact(r.Context(), p, m, s.Engine.Now().AddDate(0, 0, -days), 0)
}

func (s *Server) ruleSetImpact(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	version, ok := s.versionParam(w, r, "version")
	if !ok {
		return
	}
	days, _ := strconv.Atoi(r.URL.Query().Get("days"))
	imp, err := s.impact(r, g, r.PathValue("id"), version, days)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, imp)
}

func (s *Server) ruleSetTests(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	version, ok := s.versionParam(w, r, "version")
	if !ok {
		return
	}
	p, m, err := g.StoredProgram(r.Context(), r.PathValue("id"), version)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"tests": rules.RunTests(p, m), "lint": rules.Lint(p, m, g.Lint)})
}

func (s *Server) ruleSetDiff(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	q := r.URL.Query()
	from, err1 := strconv.Atoi(q.Get("from"))
	to, err2 := strconv.Atoi(q.Get("to"))
	if err1 != nil || err2 != nil {
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "from, to: give two version numbers"))
		return
	}
	var sets [2]*rules.RuleSet
	for i, n := range []int{from, to} {
		v, err := g.Rules.Version(r.Context(), r.PathValue("id"), n)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		if sets[i], err = v.Parse(); err != nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "changes": rules.Diff(sets[0], sets[1])})
}

func (s *Server) ruleSetHistory(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	h, err := g.Rules.History(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"history": h})
}

func (s *Server) shadowRuns(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	runs, err := governance.ShadowRuns(r.Context(), g.DB, r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	reports := make([]*governance.ShadowReport, 0, len(runs))
	for _, run := range runs {
		rep, err := governance.ShadowReportOf(r.Context(), g.DB, run.ID)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		reports = append(reports, rep)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"runs": reports})
}

func (s *Server) startShadow(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	var body struct {
		Version int `json:"version"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil || body.Version < 1 {
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "version: give the approved version to run in shadow"))
		return
	}
	run, err := governance.StartShadow(r.Context(), g.DB, r.PathValue("id"), body.Version, actor, s.Engine.Now())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, run)
}

func (s *Server) stopShadow(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	run, err := governance.StopShadow(r.Context(), g.DB, r.PathValue("id"), actor, s.Engine.Now())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, run)
}

func (s *Server) whyNot(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	wn, err := g.WhyNot(r.Context(), r.PathValue("id"), r.PathValue("pathway"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, wn)
}
