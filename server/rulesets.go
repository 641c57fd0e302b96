package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/rules"
)

// ruleSetRoutes registers the rule-governance API under /v1/rulesets.
func (s *Server) ruleSetRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /v1/rulesets", identity.ReadRules, s.listRuleSets)
	s.handle(mux, "POST /v1/rulesets", identity.WriteRules, s.governed(s.createDraft))
	s.handle(mux, "GET /v1/rulesets/{id}/versions/{version}", identity.ReadRules, s.governed(s.getRuleSetVersion))
	s.handle(mux, "PUT /v1/rulesets/{id}/versions/{version}", identity.WriteRules, s.governed(s.updateDraft))
	s.handle(mux, "POST /v1/rulesets/{id}/versions/{version}/{action}", identity.WriteRules, s.jsonBody(s.governed(s.ruleSetAction)))
	s.handle(mux, "GET /v1/rulesets/{id}/versions/{version}/tests", identity.ReadRules, s.governed(s.ruleSetTests))
	s.handle(mux, "GET /v1/rulesets/{id}/versions/{version}/impact", identity.PreviewImpact, s.governed(s.ruleSetImpact))
	s.handle(mux, "GET /v1/rulesets/{id}/diff", identity.ReadRules, s.governed(s.ruleSetDiff))
	s.handle(mux, "GET /v1/rulesets/{id}/history", identity.ReadRules, s.governed(s.ruleSetHistory))
	s.handle(mux, "GET /v1/rulesets/{id}/shadow", identity.PreviewImpact, s.governed(s.shadowRuns))
	s.handle(mux, "POST /v1/rulesets/{id}/shadow", identity.WriteRules, s.jsonBody(s.governed(s.startShadow)))
	s.handle(mux, "DELETE /v1/rulesets/{id}/shadow", identity.WriteRules, s.governed(s.stopShadow))
	s.handle(mux, "GET /v1/assessments/{id}/why-not/{pathway}", identity.ReadDecision, s.governed(s.whyNot))
}

type governedHandler func(w http.ResponseWriter, r *http.Request, g *governance.Service)

// governed builds the governance service over the server's database and stores.
func (s *Server) governed(h governedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.DB == nil {
			s.writeProblem(w, r, failure.Errorf(failure.Unavailable, "rule governance needs the server's database"))
			return
		}
		g := governance.NewService(s.DB, s.Forms, s.Engine.Rules, s.Engine.Now)
		g.Pseudonymiser = s.Privacy
		if s.Events != nil {
			g.Lifecycle.OnActivate = s.Events.RuleSetActivated
		}
		h(w, r, g)
	}
}

// actor is the authenticated person acting on a rule set, as the lifecycle records them.
func (s *Server) actor(w http.ResponseWriter, r *http.Request) (rules.Actor, bool) {
	p := identity.FromContext(r.Context())
	if p == nil {
		s.writeProblem(w, r, failure.Errorf(failure.Unauthenticated, "sign in to change a rule set"))
		return rules.Actor{}, false
	}
	return rules.Actor{Subject: p.Subject, Name: p.Name}, true
}

func (s *Server) versionParam(w http.ResponseWriter, r *http.Request, name string) (int, bool) {
	n, err := boundedInt(name, r.PathValue(name), 1, maxVersion)
	if err != nil {
		s.writeProblem(w, r, err)
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
	if !storable(string(body)) {
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "body: contains the character U+0000 or bytes that are not UTF-8; a rule set is UTF-8 text"))
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
	if err := decodeBody(w, r, 64<<10, &body, true); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if body.ImpactDays != 0 && (body.ImpactDays < 1 || body.ImpactDays > maxImpactDays) {
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "impact_days: %d is not a number of days from 1 to %d", body.ImpactDays, maxImpactDays))
		return
	}
	if body.EffectiveFrom != nil {
		if err := checkDate("effective_from", *body.EffectiveFrom); err != nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	ctx, id := r.Context(), r.PathValue("id")
	switch r.PathValue("action") {
	case "submit":
		gate, err := g.Lifecycle.Submit(ctx, actor, id, version, body.Reason)
		if err != nil && gate != nil {
			s.writeGateProblem(w, r, err, gate)
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
		// The preview is stored with the approval, so one that cannot be encoded must stop it
		// rather than be stored as null.
		raw, err := json.Marshal(imp)
		if err != nil {
			s.writeProblem(w, r, fmt.Errorf("server: unable to encode the impact preview: %w", err))
			return
		}
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
	if days == 0 {
		days = defaultImpact
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
	days := 0
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := boundedInt("days", v, 1, maxImpactDays)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		days = n
	}
	imp, err := s.impact(r, g, r.PathValue("id"), version, days)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if !s.settleAccess(w, r, s.accessEntry(r, audit.ActionImpactPreview, []string{r.PathValue("id") + " v" + strconv.Itoa(version)}), nil) {
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
	from, err := boundedInt("from", q.Get("from"), 1, maxVersion)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	to, err := boundedInt("to", q.Get("to"), 1, maxVersion)
	if err != nil {
		s.writeProblem(w, r, err)
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
		rep, err := governance.ShadowReportOf(r.Context(), g.DB, g.Pseudonymiser, run.ID)
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
	if err := decodeBody(w, r, 64<<10, &body, false); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if body.Version < 1 || body.Version > maxVersion {
		s.writeProblem(w, r, failure.Errorf(failure.Invalid, "version: give the approved version to run in shadow, a whole number from 1 to %d", maxVersion))
		return
	}
	run, err := governance.StartShadow(r.Context(), g.DB, r.PathValue("id"), body.Version, actor.Subject, s.Engine.Now())
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
	run, err := governance.StopShadow(r.Context(), g.DB, r.PathValue("id"), actor.Subject, s.Engine.Now())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, run)
}

func (s *Server) whyNot(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	if _, ok := s.readDecision(w, r, r.PathValue("id"), audit.ActionWhyNotRead); !ok {
		return
	}
	wn, err := g.WhyNot(r.Context(), r.PathValue("id"), r.PathValue("pathway"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, wn)
}
