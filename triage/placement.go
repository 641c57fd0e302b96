package triage

import (
	"context"
	"fmt"
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
	// Routes holds the roster and day routes in memory, refreshed by the change marker.
	Routes *routing.RouteBook
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
	// Great-circle travel is a few multiplications: computing it again costs less than a cache.
	var travel routing.Travel = routing.GreatCircle{}
	places := directory.NewSQLStore(db)
	store := routing.NewSQLStore(db)
	return &Placement{
		Routes:           routing.NewRouteBook(store, loc, travel),
		setup:            setup,
		DB:               db,
		Directory:        directory.NewCachedIndex(places),
		Places:           places,
		Routing:          store,
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
	priority string
	flags    []string
	// ix is the directory the decision was matched against, for the services' opening hours.
	ix *directory.Index
	// claim plans on the route book's cached routes and claims the chosen route at the version it
	// was planned on, instead of reading and locking it inside the transaction; last is who saw the
	// subject last, read before the transaction; booked is the booking the last attempt made, to
	// apply to the book once committed.
	claim  bool
	last   string
	booked *claimed
	// plan is the insertion chosen before the transaction, for its first attempt to claim.
	plan *planned
}

// planned is an insertion chosen on the route book, to be claimed and booked in the transaction.
type planned struct {
	req routing.RouteRequest
	ins routing.Inserted
	pr  *routing.Practitioner
	// escalate is the reason, when nobody could take the visit and the plan is to escalate.
	escalate string
	// seen is the version of pr's route the insertion was planned on.
	seen int64
}

// claimed is a booking into a route claimed at version seen, which it moved to version now.
type claimed struct {
	visit     routing.Visit
	seen, now int64
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
	out.priority, out.flags = string(d.Outcome.Priority), d.Outcome.Flags
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
	out.match, out.ix = ix.Match(q), ix
	if out.visits && len(out.match.Candidates) > 0 {
		if out.last, err = p.Routing.LastPractitioner(ctx, nil, out.subject, at); err != nil {
			return nil, err
		}
	}
	out.claim = true
	return out, nil
}

// committed applies a committed decision's booking to the route book.
func (p *Placement) committed(pl *placing) {
	if b := pl.booked; b != nil {
		p.Routes.Booked(b.visit, b.seen, b.now)
	}
}

// apply writes the match into the decision and, when the pathway visits and a service matched,
// places the visit into a practitioner's route as ex sees it, booking it when book is set.
func (p *Placement) apply(ctx context.Context, ex database.Querier, pl *placing, d *Decision, at time.Time, newID func() string, book bool) error {
	d.Services = pl.match.Candidates
	d.RejectedServices = pl.match.Rejected
	d.Assignment, d.UnassignedReason, d.ManualAllocation = nil, "", false
	if len(pl.match.Candidates) == 0 {
		d.UnassignedReason, d.ManualAllocation = "no service: "+pl.match.Reason, true
		// A case due the same day or within hours is not left in the queue unannounced.
		if _, _, urgent, sameDay := p.window(pl, at); (urgent || sameDay) && pl.located {
			return p.escalate(ctx, ex, pl, d, d.UnassignedReason, at, book)
		}
		return nil
	}
	if !pl.visits {
		return nil
	}
	return p.place(ctx, ex, pl, d, at, newID, book, "")
}

// Reassigned runs inside a reassignment's transaction once the decision has its new placement,
// with the appointments it cancelled, so that the events it writes commit with the change.
type Reassigned func(ctx context.Context, tx *database.Tx, d *Decision, cancelled []routing.StoredVisit) error

// Cleared runs inside a reassignment's transaction, after its Reassigned, when the visit it
// booked closed the case's open escalation, with the escalation as closed, so that whatever
// records the clearance (the case's step, the escalation.resolved event) commits with it.
type Cleared func(ctx context.Context, tx *database.Tx, d *Decision, e routing.Escalation) error

// Reassign cancels a decision's booked appointment and books the best other practitioner, against
// current bookings, recording the new assignment on the decision; with nobody else available the
// case is flagged for manual allocation (escalated when it is due within the day) and the old
// appointment stays cancelled. A visit booked for an escalated case resolves its escalation in
// the same transaction. inTx, when not nil, runs in the same transaction.
func (e *Engine) Reassign(ctx context.Context, decisionID string, inTx Reassigned) (*Decision, error) {
	return e.ReassignClearing(ctx, decisionID, inTx, nil)
}

// ReassignClearing is Reassign that also runs cleared, when not nil, in the same transaction
// if the reassignment closed an escalation, so the trail says who cleared it and how.
func (e *Engine) ReassignClearing(ctx context.Context, decisionID string, inTx Reassigned, cleared Cleared) (*Decision, error) {
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
	pl := &placing{subject: d.SubjectRef, decision: d.ID, within: within, match: directory.Result{Candidates: d.Services},
		priority: string(d.Outcome.Priority), flags: d.Outcome.Flags}
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
	if p.Directory != nil {
		if pl.ix, err = p.Directory.Index(ctx); err != nil {
			return nil, err
		}
	}
	err = retry.Do(ctx, retryAtOnce(max(p.Attempts, 1)-1), func(ctx context.Context) error {
		return retryIfSlotTaken(p.DB.InTx(ctx, func(tx *database.Tx) error {
			cancelled, err := p.reassign(ctx, tx, e.Store, pl, d, now, e.NewID)
			if err != nil {
				return err
			}
			// A visit booked for the case answers its escalation; escalating again reopened it.
			var closed routing.Escalation
			var wasOpen bool
			if store, ok := p.Routing.(*routing.SQLStore); ok && d.Assignment != nil && d.Assignment.Appointment.ID != "" {
				if closed, wasOpen, err = store.ClearEscalation(ctx, tx, d.ID, now); err != nil {
					return err
				}
			}
			if inTx != nil {
				if err := inTx(ctx, tx, d, cancelled); err != nil {
					return err
				}
			}
			if wasOpen && cleared != nil {
				return cleared(ctx, tx, d, closed)
			}
			return nil
		}))
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (p *Placement) reassign(ctx context.Context, tx *database.Tx, store Store, pl *placing, d *Decision, now time.Time, newID func() string) ([]routing.StoredVisit, error) {
	visits, err := p.Routing.VisitsOfDecision(ctx, tx, d.ID)
	if err != nil {
		return nil, err
	}
	var current string
	var cancelled []routing.StoredVisit
	for _, v := range visits {
		if v.Status == routing.StatusBooked {
			current = v.PractitionerID
			c, err := p.Routing.Cancel(ctx, tx, v.ID, now)
			if err != nil {
				return nil, err
			}
			cancelled = append(cancelled, c)
		}
	}
	// Reassigning means someone else: the current practitioner is left out.
	if err := p.place(ctx, tx, pl, d, now, newID, true, current); err != nil {
		return nil, err
	}
	return cancelled, store.UpdatePlacement(ctx, tx, d)
}

// Move puts a booked visit at another start on its practitioner's route, checking the route as
// routing.SQLStore.Move does, with the visit's service's opening hours from the directory, in ex
// (its own transaction when nil, else the caller's, so events commit with it). override lets
// the visit leave its own window, and is recorded.
func (p *Placement) Move(ctx context.Context, ex database.Querier, visitID string, start, now time.Time, override bool) (routing.StoredVisit, error) {
	if p.setup != nil {
		return routing.StoredVisit{}, p.setup
	}
	store, ok := p.Routing.(*routing.SQLStore)
	if !ok {
		return routing.StoredVisit{}, failure.Errorf(failure.Unavailable, "moving visits needs the SQL routing store")
	}
	v, err := p.Routing.Visit(ctx, visitID)
	if err != nil {
		return routing.StoredVisit{}, err
	}
	// Opening hours around the new start; a day either side catches overnight sessions.
	open, err := p.openings(ctx, nil, []string{v.ServiceID}, start.Add(-24*time.Hour), start.Add(24*time.Hour))
	if err != nil {
		return routing.StoredVisit{}, err
	}
	req := routing.MoveRequest{VisitID: visitID, Start: start, Now: now, Loc: p.Loc, Travel: p.Travel, OverrideWindow: override}
	if spans, ok := open[v.ServiceID]; ok {
		req.Open = append([]routing.Interval{}, spans...)
	}
	return store.Move(ctx, ex, req)
}
