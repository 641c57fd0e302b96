package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// Bounds of a plan's search time over HTTP: the answer must come within the server's write timeout.
const (
	defaultPlanSeconds = 20
	maxPlanSeconds     = 45
)

// planRoutes registers day re-planning.
func (s *Server) planRoutes(mux *http.ServeMux) {
	s.handle(mux, "POST /v1/routing/plan", identity.PlanRoutes, s.placed(s.planDay))
}

// planDay re-plans a day's routes (POST /v1/routing/plan?date=D[&time_limit=S][&seed=N]
// [&move_penalty=M][&apply=true]); without apply the plan is only reported.
func (s *Server) planDay(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	q := r.URL.Query()
	opt := routing.PlanOptions{TimeLimit: defaultPlanSeconds * time.Second, Seed: 1, MovePenaltyMinutes: routing.DefaultMovePenaltyMinutes}
	if v := q.Get("time_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPlanSeconds {
			s.writePlaceProblem(w, r, invalid("time_limit", "%q: want whole seconds from 1 to %d", v, maxPlanSeconds))
			return
		}
		opt.TimeLimit = time.Duration(n) * time.Second
	}
	if v := q.Get("seed"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.writePlaceProblem(w, r, invalid("seed", "%q: want a whole number", v))
			return
		}
		opt.Seed = n
	}
	if v := q.Get("move_penalty"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 24*60 {
			s.writePlaceProblem(w, r, invalid("move_penalty", "%q: want minutes from 0 to 1440", v))
			return
		}
		opt.MovePenaltyMinutes = f
	}
	switch q.Get("apply") {
	case "", "false":
	case "true":
		opt.Apply = true
	default:
		s.writePlaceProblem(w, r, invalid("apply", "%q is not true or false", q.Get("apply")))
		return
	}
	store, ok := p.Routing.(routing.PlanStore)
	if !ok {
		s.writeProblem(w, r, failure.Errorf(failure.Unavailable, "routing: the appointment store cannot re-plan days"))
		return
	}
	// The search's clock is the wall clock: the time limit bounds real waiting, whatever the
	// engine's notion of now.
	pl := &routing.Planner{Store: store, Travel: p.Travel, Loc: p.Loc, Clock: time.Now}
	ctx, cancel := context.WithTimeout(r.Context(), opt.TimeLimit+10*time.Second)
	defer cancel()
	report, err := pl.PlanDate(ctx, q.Get("date"), s.Engine.Now(), opt)
	if err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	// The report names every visit of the day and where it is, as the day's map does.
	if !s.settleAccess(w, r, s.accessEntry(r, audit.ActionRoutingVisits, []string{"date:" + q.Get("date")}), nil) {
		return
	}
	s.writeJSON(w, http.StatusOK, report)
}
