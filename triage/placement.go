package triage

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
)

// DefaultTimeZone is the council time zone slots and schedules are in unless configured.
const DefaultTimeZone = "Europe/London"

// DefaultMaxTravelMinutes bounds a practitioner's travel from base to a visit.
const DefaultMaxTravelMinutes = 90

// DefaultBookingAttempts bounds how often a decision retries routing after losing a slot to a
// concurrent booking before it is stored for manual allocation instead.
const DefaultBookingAttempts = 5

// Placement turns a decided outcome into services and a booked visit: it matches the outcome to the
// stored directory, assigns a practitioner with routing.Assign and books the appointment in the
// decision's transaction.
type Placement struct {
	DB        *database.DB
	Directory *directory.CachedIndex
	Places    directory.Store
	Routing   routing.Store
	Pathways  rules.Store
	Travel    routing.Travel
	// Loc is the council's time zone: working hours, schedules and the slot grid are in it.
	Loc              *time.Location
	SlotLength       time.Duration
	MaxTravelMinutes float64
	Weights          routing.Weights
	Attempts         int
	// setup is a configuration fault found by NewPlacement, reported by every placement so that
	// a bad time zone name is never silently replaced.
	setup error
}

// NewPlacement wires a Placement over db with cached great-circle travel and the defaults, in the
// IANA time zone named by zone (DefaultTimeZone when empty).
func NewPlacement(db *database.DB, pathways rules.Store, zone string) *Placement {
	if zone == "" {
		zone = DefaultTimeZone
	}
	loc, setup := time.LoadLocation(zone)
	if setup != nil {
		setup = failure.Errorf(failure.Unavailable, "triage: time zone %q: %w", zone, setup)
	}
	var travel routing.Travel = routing.GreatCircle{}
	if cached, err := routing.NewCached(travel, 100_000); err == nil {
		travel = cached
	}
	places := directory.NewSQLStore(db)
	return &Placement{
		setup:            setup,
		DB:               db,
		Directory:        directory.NewCachedIndex(places),
		Places:           places,
		Routing:          routing.NewSQLStore(db),
		Pathways:         pathways,
		Travel:           travel,
		Loc:              loc,
		MaxTravelMinutes: DefaultMaxTravelMinutes,
		Attempts:         DefaultBookingAttempts,
	}
}

// placing is what one decision's placement needs, prepared before the transaction.
type placing struct {
	match    directory.Result
	located  bool
	where    routing.Point
	pathway  rules.Pathway
	visits   bool
	within   time.Duration
	subject  string
	decision string
	// roster is read before the transaction: on SQLite the transaction holds the only write
	// lock, and a read on a second pooled connection inside it could starve the pool.
	roster []routing.Practitioner
}

// prepare locates the subject and matches the outcome to services at the decision time.
func (p *Placement) prepare(ctx context.Context, d *Decided, at time.Time, rejected bool) (*placing, error) {
	if p.setup != nil {
		return nil, p.setup
	}
	out := &placing{subject: d.SubjectRef, decision: d.ID}
	within, err := rules.ParseDuration(d.Outcome.RespondWithin)
	if err != nil {
		return nil, fmt.Errorf("triage: unable to place decision: outcome respond_within: %w", err)
	}
	out.within = within
	if out.roster, err = p.Routing.Practitioners(ctx); err != nil {
		return nil, err
	}
	pathways, err := p.Pathways.Pathways(ctx)
	if err != nil {
		return nil, err
	}
	for _, pw := range pathways {
		if pw.ID == d.Outcome.Pathway {
			out.pathway = pw
			out.visits = len(pw.Skills) > 0 && pw.VisitMinutes > 0
		}
	}
	subject := d.Assessment.Submission.Subject
	switch {
	case subject.Location != nil:
		out.where, out.located = routing.Point{Lat: subject.Location.Lat, Lon: subject.Location.Lon}, true
	case subject.Postcode != "":
		lat, lon, ok, err := p.Places.Locate(ctx, subject.Postcode)
		if err != nil {
			return nil, err
		}
		out.where, out.located = routing.Point{Lat: lat, Lon: lon}, ok
	}
	out.match = directory.Result{Pathway: d.Outcome.Pathway, Candidates: []directory.Candidate{}}
	if !out.located {
		out.match.Reason = "the subject has no location: give subject.location, or a postcode the gazetteer knows"
		return out, nil
	}
	ix, err := p.Directory.Index(ctx)
	if err != nil {
		return nil, err
	}
	q := directory.Query{
		Pathway: d.Outcome.Pathway, Priority: string(d.Outcome.Priority), Flags: d.Outcome.Flags,
		RespondWithin: within, Postcode: subject.Postcode, Lat: out.where.Lat, Lon: out.where.Lon,
		At: at, Loc: p.Loc, IncludeRejected: rejected,
		Travel: func(fromLat, fromLon, toLat, toLon float64) float64 {
			return routing.GreatCircle{}.Between(routing.Point{Lat: fromLat, Lon: fromLon}, routing.Point{Lat: toLat, Lon: toLon})
		},
	}
	if age := subject.AgeAt(at); age.Kind == rules.KindInt {
		q.Age = directory.YearsOld(int(age.I))
	}
	out.match = ix.Match(q)
	return out, nil
}

// apply writes the match into the decision and, when the pathway visits and a service matched,
// assigns a practitioner against the bookings ex sees, booking the slot when book is set.
func (p *Placement) apply(ctx context.Context, ex database.Querier, pl *placing, d *Decision, at time.Time, newID func() string, book bool) error {
	d.Services = pl.match.Candidates
	d.RejectedServices = pl.match.Rejected
	d.Assignment, d.UnassignedReason, d.ManualAllocation = nil, "", false
	if len(pl.match.Candidates) == 0 {
		d.UnassignedReason, d.ManualAllocation = "no service: "+pl.match.Reason, true
		return nil
	}
	if !pl.visits {
		return nil
	}
	ids := make([]string, len(pl.match.Candidates))
	for i, c := range pl.match.Candidates {
		ids[i] = c.ServiceID
	}
	req, err := p.request(ctx, ex, pl, ids, at)
	if err != nil {
		return err
	}
	return p.assign(ctx, ex, pl, d, req, at, newID, book)
}

// request builds routing's request from the roster and the bookings ex sees now.
func (p *Placement) request(ctx context.Context, ex database.Querier, pl *placing, serviceIDs []string, at time.Time) (routing.Request, error) {
	// A visit must end by the deadline, so bookings starting after it cannot matter.
	booked, err := p.Routing.Booked(ctx, ex, at.Add(-24*time.Hour), at.Add(pl.within).Add(24*time.Hour))
	if err != nil {
		return routing.Request{}, err
	}
	visits := make([]routing.Visit, len(booked))
	for i, v := range booked {
		visits[i] = v.Visit
	}
	index, err := routing.NewBookings(p.Loc, p.SlotLength, visits)
	if err != nil {
		return routing.Request{}, err
	}
	last, err := p.Routing.LastPractitioner(ctx, ex, pl.subject, at)
	if err != nil {
		return routing.Request{}, err
	}
	return routing.Request{
		CaseID: pl.decision, CandidateServiceIDs: serviceIDs, RequiredSkills: pl.pathway.Skills,
		VisitDuration: time.Duration(pl.pathway.VisitMinutes) * time.Minute, Earliest: at, RespondWithin: pl.within,
		Subject: pl.where, LastPractitionerID: last, MaxTravelMinutes: p.MaxTravelMinutes, Practitioners: pl.roster,
		Booked: index, Travel: p.Travel, Loc: p.Loc, SlotLength: p.SlotLength, Weights: p.Weights,
	}, nil
}

// Reassign cancels a decision's booked appointment and books the best other practitioner, against
// current bookings, recording the new assignment on the decision; with nobody else available the
// case is flagged for manual allocation and the old appointment stays cancelled.
func (e *Engine) Reassign(ctx context.Context, decisionID string) (*Decision, error) {
	p := e.Placement
	if p == nil {
		return nil, failure.Errorf(failure.Unavailable, "routing is not configured")
	}
	d, err := e.Store.Decision(ctx, decisionID)
	if err != nil {
		return nil, err
	}
	sub, err := ParseSubmission(d.Input)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: stored input does not parse: %w", d.ID, err)
	}
	now := e.Now()
	within, err := rules.ParseDuration(d.Outcome.RespondWithin)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: respond_within: %w", d.ID, err)
	}
	if len(d.Services) == 0 {
		return nil, failure.Errorf(failure.Conflict, "decision %s matched no service; allocate it manually", d.ID)
	}
	pl := &placing{subject: d.SubjectRef, decision: d.ID, within: within, match: directory.Result{Candidates: d.Services}}
	if pl.roster, err = p.Routing.Practitioners(ctx); err != nil {
		return nil, err
	}
	pathways, err := p.Pathways.Pathways(ctx)
	if err != nil {
		return nil, err
	}
	for _, pw := range pathways {
		if pw.ID == d.Outcome.Pathway {
			pl.pathway, pl.visits = pw, len(pw.Skills) > 0 && pw.VisitMinutes > 0
		}
	}
	if !pl.visits {
		return nil, failure.Errorf(failure.Conflict, "pathway %s of decision %s has no visit to reassign", d.Outcome.Pathway, d.ID)
	}
	switch {
	case sub.Subject.Location != nil:
		pl.where, pl.located = routing.Point{Lat: sub.Subject.Location.Lat, Lon: sub.Subject.Location.Lon}, true
	case sub.Subject.Postcode != "":
		lat, lon, ok, err := p.Places.Locate(ctx, sub.Subject.Postcode)
		if err != nil {
			return nil, err
		}
		pl.where, pl.located = routing.Point{Lat: lat, Lon: lon}, ok
	}
	if !pl.located {
		return nil, failure.Errorf(failure.Conflict, "decision %s: the subject can no longer be located", d.ID)
	}
	err = retry.Do(ctx, retryAtOnce(max(p.Attempts, 1)-1), func(ctx context.Context) error {
		return retryIfSlotTaken(p.DB.InTx(ctx, func(tx *database.Tx) error {
			return p.reassign(ctx, tx, e.Store, pl, d, now, e.NewID)
		}))
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (p *Placement) reassign(ctx context.Context, tx *database.Tx, store Store, pl *placing, d *Decision, now time.Time, newID func() string) error {
	visits, err := p.Routing.VisitsOfDecision(ctx, tx, d.ID)
	if err != nil {
		return err
	}
	var current string
	for _, v := range visits {
		if v.Status == routing.StatusBooked {
			current = v.PractitionerID
			if _, err := p.Routing.Cancel(ctx, tx, v.ID, now); err != nil {
				return err
			}
		}
	}
	ids := make([]string, len(d.Services))
	for i, c := range d.Services {
		ids[i] = c.ServiceID
	}
	req, err := p.request(ctx, tx, pl, ids, now)
	if err != nil {
		return err
	}
	// Reassigning means someone else: the current practitioner is left off the roster.
	roster := req.Practitioners[:0:0]
	for _, pr := range req.Practitioners {
		if pr.ID != current {
			roster = append(roster, pr)
		}
	}
	req.Practitioners = roster
	if err := p.assign(ctx, tx, pl, d, req, now, newID, true); err != nil {
		return err
	}
	return store.UpdatePlacement(ctx, tx, d)
}

// assign runs Assign for req and, when book is set, books the chosen slot on ex.
func (p *Placement) assign(ctx context.Context, ex database.Querier, pl *placing, d *Decision, req routing.Request, at time.Time, newID func() string, book bool) error {
	d.Assignment, d.UnassignedReason, d.ManualAllocation = nil, "", false
	a, err := routing.Assign(ctx, req)
	if err != nil {
		// A failing travel service must not lose an accepted decision: a person allocates it.
		d.UnassignedReason, d.ManualAllocation = "assignment failed: "+err.Error(), true
		return nil
	}
	if a.Appointment == nil {
		d.UnassignedReason, d.ManualAllocation = a.UnassignedReason, true
		return nil
	}
	ap := a.Appointment
	visitID := newID()
	if book {
		err := p.Routing.Book(ctx, ex, routing.StoredVisit{
			Visit: routing.Visit{ID: visitID, CaseID: d.ID, PractitionerID: ap.PractitionerID, ServiceID: ap.ServiceID,
				Pathway: pl.pathway.ID, Start: ap.Start, End: ap.End, Loc: pl.where,
				RequiredSkills: pl.pathway.Skills, CandidateServiceIDs: req.CandidateServiceIDs},
			SubjectRef: d.SubjectRef, CreatedAt: at, UpdatedAt: at,
		})
		if err != nil {
			return err
		}
	}
	d.Assignment = &Assignment{
		PractitionerID: ap.PractitionerID, PractitionerName: ap.PractitionerName, ServiceID: ap.ServiceID,
		TravelMinutes: math.Round(ap.TravelMinutes*10) / 10, Continuity: ap.Continuity, Why: a.Why,
		Appointment: AppointmentSlot{ID: visitID, Start: ap.Start.In(p.Loc), End: ap.End.In(p.Loc)},
	}
	return nil
}
