package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// maxRosterBytes bounds a practitioners import body.
const maxRosterBytes = 16 << 20

// directoryRoutes registers the services directory (HSDS API shape) and routing endpoints.
func (s *Server) directoryRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /v1/services", identity.SignedIn, s.placed(s.listServices))
	s.handle(mux, "GET /v1/services/{id}", identity.SignedIn, s.placed(s.getService))
	s.handle(mux, "GET /v1/{$}", identity.SignedIn, s.hsdsRoot)
	s.handle(mux, "POST /v1/practitioners", identity.WritePractitioners, s.jsonBody(s.placed(s.importPractitioners)))
	s.handle(mux, "GET /v1/practitioners", identity.ReadPractitioners, s.placed(s.listPractitioners))
	s.handle(mux, "GET /v1/practitioners/{id}/day", identity.ReadDay, s.placed(s.practitionerDay))
	s.handle(mux, "POST /v1/appointments/{id}/cancel", identity.ManageAppointments, s.placed(s.cancelAppointment))
	s.handle(mux, "POST /v1/appointments/{id}/move", identity.ManageAppointments, s.jsonBody(s.placed(s.moveAppointment)))
	s.handle(mux, "POST /v1/assessments/{id}/reassign", identity.ManageAppointments, s.placed(s.reassign))
	s.handle(mux, "GET /v1/routing/visits", identity.PlanRoutes, s.placed(s.dayVisits))
	s.handle(mux, "POST /v1/routing/optimise", identity.PlanRoutes, s.placed(s.optimiseDay))
}

type placedHandler func(w http.ResponseWriter, r *http.Request, p *triage.Placement)

// placed hands a handler the engine's routing, or answers that it is not configured.
func (s *Server) placed(h placedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.Engine.Placement
		if p == nil {
			s.writeProblem(w, r, failure.Errorf(failure.Unavailable, "routing is not configured"))
			return
		}
		if _, err := p.Zone(); err != nil {
			s.writeProblem(w, r, err)
			return
		}
		h(w, r, p)
	}
}

// manageAppointment checks that the coordinator may change the appointment named in the path:
// its case must be filed under one of their teams.
func (s *Server) manageAppointment(w http.ResponseWriter, r *http.Request, p *triage.Placement, action string) bool {
	v, err := p.Routing.Visit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, r, err)
		return false
	}
	return s.manageDecision(w, r, v.CaseID, action, []string{v.ID})
}

// writePlaceProblem writes refused directory or roster input as problem details naming each record
// and field, and anything else as writeProblem does.
func (s *Server) writePlaceProblem(w http.ResponseWriter, r *http.Request, err error) {
	var dve *directory.ValidationError
	var pe *routing.PractitionersError
	var problems []triage.Problem
	switch {
	case errors.As(err, &dve):
		for _, p := range dve.Problems {
			problems = append(problems, triage.Problem{Field: "service " + p.Record + " " + p.Field, Reason: p.Reason})
		}
	case errors.As(err, &pe):
		for _, p := range pe.Problems {
			problems = append(problems, triage.Problem{Field: p.Record + " " + p.Field, Reason: p.Reason})
		}
	default:
		var fe *failure.Error
		if errors.As(err, &fe) && fe.Code == failure.Invalid {
			field, reason, ok := strings.Cut(fe.Message, ": ")
			if ok && !strings.Contains(field, " ") {
				problems = []triage.Problem{{Field: field, Reason: reason}}
			}
		}
		if problems == nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	p := Problem{Type: problemBase + "invalid", Title: "Invalid request", Status: http.StatusUnprocessableEntity,
		Detail: err.Error(), Instance: r.URL.Path, Errors: problems}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func invalid(field, format string, args ...any) error {
	return failure.Errorf(failure.Invalid, field+": "+format, args...)
}

// intParam reads an optional whole-number query parameter from lowest to the parameter's
// ceiling (see paramCeiling).
func intParam(r *http.Request, name string, lowest int) (*int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := boundedInt(name, v, lowest, paramCeiling(name))
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// listServices answers GET /v1/services in the HSDS API's paged shape, with HSDS's and Open
// Referral UK's filters; page and per_page page it (per_page at most 500).
func (s *Server) listServices(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	q := r.URL.Query()
	f := directory.Filter{TaxonomyTermID: q.Get("taxonomy_term_id"), TaxonomyID: q.Get("taxonomy_id"),
		OrganizationID: q.Get("organization_id"), Search: q.Get("search")}
	var err error
	if f.MinimumAge, err = intParam(r, "minimum_age", 0); err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	if f.MaximumAge, err = intParam(r, "maximum_age", 0); err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	page, err := intParam(r, "page", 1)
	if err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	size, err := intParam(r, "per_page", 1)
	if err != nil || size != nil && *size > 500 {
		if err == nil {
			err = invalid("per_page", "%d is more than 500", *size)
		}
		s.writePlaceProblem(w, r, err)
		return
	}
	if v := q.Get("proximity"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		if err != nil || m <= 0 || m != m || m > maxProximity {
			s.writePlaceProblem(w, r, invalid("proximity", "%q is not a number of metres above 0 and at most %d", v, maxProximity))
			return
		}
		f.Proximity = m
	}
	if pc := q.Get("postcode"); pc != "" {
		lat, lon, ok, err := p.Places.Locate(r.Context(), pc)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		if !ok {
			s.writePlaceProblem(w, r, invalid("postcode", "%q is not in the gazetteer", pc))
			return
		}
		f.Lat, f.Lon = lat, lon
		if f.Proximity == 0 {
			f.Proximity = 1 // a postcode alone keeps services whose area covers it
		}
	} else if f.Proximity > 0 {
		s.writePlaceProblem(w, r, invalid("proximity", "needs a postcode to measure from"))
		return
	}
	view, err := hsdsListParams(r, &f, p.Loc)
	if err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	ix, err := p.Directory.Index(r.Context())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	pageNumber, perPage := 1, 50
	if page != nil {
		pageNumber = *page
	}
	if size != nil {
		perPage = *size
	}
	out, err := directory.RenderPage(directory.Page(ix.Filter(f), pageNumber, perPage), view)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// getService answers GET /v1/services/{id}: one fully nested HSDS service, found by its HSDS id
// or by its code, which decisions and bookings name it by.
func (s *Server) getService(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	ix, err := p.Directory.Index(r.Context())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	svc, ok := ix.Service(r.PathValue("id"))
	if !ok {
		s.writeProblem(w, r, failure.Errorf(failure.NotFound, "service %s does not exist", r.PathValue("id")))
		return
	}
	s.writeJSON(w, http.StatusOK, svc)
}

func (s *Server) importPractitioners(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRosterBytes))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if err := checkStrictJSON(body, reflect.TypeFor[[]routing.Practitioner]()); err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	ps, err := routing.ParsePractitioners(body)
	if err != nil {
		var pe *routing.PractitionersError
		if !errors.As(err, &pe) {
			err = invalid("body", "%v", err)
		}
		s.writePlaceProblem(w, r, err)
		return
	}
	n, err := p.Routing.PutPractitioners(r.Context(), ps, s.Engine.Now())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]int{"imported": n})
}

func (s *Server) listPractitioners(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	ps, err := p.Routing.Practitioners(r.Context())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"practitioners": ps})
}

func (s *Server) practitionerDay(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	who := identity.FromContext(r.Context())
	if !who.Has(identity.Coordinator) && who.Practitioner != r.PathValue("id") {
		s.writeProblem(w, r, failure.Errorf(failure.Forbidden, "a practitioner reads only their own day; practitioner %s is not you", r.PathValue("id")))
		return
	}
	date := r.URL.Query().Get("date")
	visits, err := p.DayVisits(r.Context(), date, r.PathValue("id"))
	if err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	ids := make([]string, len(visits))
	for i, v := range visits {
		ids[i] = v.ID
	}
	if !s.settleAccess(w, r, s.accessEntry(r, audit.ActionDayRead, ids), nil) {
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"practitioner_id": r.PathValue("id"), "date": date, "visits": visits})
}

func (s *Server) cancelAppointment(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	if !s.manageAppointment(w, r, p, audit.ActionAppointmentCancel) {
		return
	}
	v, err := s.cancelVisit(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, v)
}

func (s *Server) moveAppointment(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	var body struct {
		Start          string `json:"start"`
		OverrideWindow bool   `json:"override_window"`
	}
	if err := decodeBody(w, r, 4096, &body, false); err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	start, err := time.Parse(time.RFC3339, body.Start)
	if err != nil {
		s.writePlaceProblem(w, r, invalid("start", "%q is not an RFC 3339 time", body.Start))
		return
	}
	if err := checkDate("start", start); err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	if !s.manageAppointment(w, r, p, audit.ActionAppointmentMove) {
		return
	}
	v, err := s.moveVisit(r.Context(), p, r.PathValue("id"), start, body.OverrideWindow)
	if err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, v)
}

func (s *Server) reassign(w http.ResponseWriter, r *http.Request, _ *triage.Placement) {
	if !s.manageDecision(w, r, r.PathValue("id"), audit.ActionDecisionReassign, nil) {
		return
	}
	d, err := s.reassignCase(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, d)
}

// moveVisit moves an appointment on its practitioner's route and, with Events set, writes
// appointment.moved in the same transaction.
func (s *Server) moveVisit(ctx context.Context, p *triage.Placement, id string, start time.Time, override bool) (routing.StoredVisit, error) {
	if s.Events == nil || s.DB == nil {
		return p.Move(ctx, nil, id, start, s.Engine.Now(), override)
	}
	var v routing.StoredVisit
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		var err error
		if v, err = p.Move(ctx, tx, id, start, s.Engine.Now(), override); err != nil {
			return err
		}
		return s.Events.AppointmentChanged(ctx, tx, outbox.AppointmentMoved, v)
	})
	return v, err
}

// reassignCase reassigns a decision and, with Events set, writes its events (the cancellation,
// decision.reassigned, and the new booking or the escalation) in the same transaction. A booking
// that clears the case's escalation records it as an explicit resolution does, as the request's
// principal: the case's step and escalation.resolved, so the trail never loses it.
func (s *Server) reassignCase(ctx context.Context, id string) (*triage.Decision, error) {
	var hook triage.Reassigned
	if s.Events != nil {
		hook = s.Events.DecisionReassigned
	}
	var by string
	if p := identity.FromContext(ctx); p != nil {
		by = p.Subject
	}
	return s.Engine.ReassignClearing(ctx, id, hook, s.Events.ClearedByReassignment(&cases.Store{DB: s.DB}, by))
}

func (s *Server) dayVisits(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	out, err := p.ExportDay(r.Context(), r.URL.Query().Get("date"))
	if err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	if !s.settleAccess(w, r, s.accessEntry(r, audit.ActionRoutingVisits, []string{"date:" + r.URL.Query().Get("date")}), nil) {
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	_, _ = w.Write(out)
}

func (s *Server) optimiseDay(w http.ResponseWriter, r *http.Request, p *triage.Placement) {
	dry := r.URL.Query().Get("dry_run")
	if dry != "" && dry != "true" && dry != "false" {
		s.writePlaceProblem(w, r, invalid("dry_run", "%q is not true or false", dry))
		return
	}
	report, err := p.Optimise(r.Context(), r.URL.Query().Get("date"), s.Engine.Now(), dry == "true")
	if err != nil {
		s.writePlaceProblem(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, report)
}
