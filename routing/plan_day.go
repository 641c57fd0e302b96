package routing

import (
	"context"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// PlanStore is what re-planning stored days reads and writes; SQLStore meets it.
type PlanStore interface {
	Practitioners(ctx context.Context) ([]Practitioner, error)
	Booked(ctx context.Context, ex database.Querier, from, to time.Time) ([]StoredVisit, error)
	ApplyRoutePlan(ctx context.Context, plan RoutePlan, now time.Time) error
}

// Planner re-plans stored days for `routing plan` and its HTTP equivalent.
type Planner struct {
	Store  PlanStore
	Travel Travel
	// Loc is the council's time zone, in which dates and working hours are read.
	Loc *time.Location
	// Clock measures the search's time limit.
	Clock func() time.Time
}

// PlanOptions tune one re-planning.
type PlanOptions struct {
	TimeLimit          time.Duration
	Iterations         int
	Seed               uint64
	MovePenaltyMinutes float64
	Flex               time.Duration
	// Apply makes the changes; otherwise the plan is only reported.
	Apply bool
}

// PlanReport is a day's plan and whether it was applied.
type PlanReport struct {
	Date    string `json:"date"`
	Applied bool   `json:"applied"`
	RoutePlan
}

// DefaultMovePenaltyMinutes is the travel a change must save before re-planning hands a visit to
// another practitioner.
const DefaultMovePenaltyMinutes = 15

// PlanDate re-plans the local day date (YYYY-MM-DD) as the diary stands at now, and applies the
// changes in one transaction when asked.
func (p *Planner) PlanDate(ctx context.Context, date string, now time.Time, opt PlanOptions) (PlanReport, error) {
	if p.Loc == nil {
		return PlanReport{}, failure.Errorf(failure.Unavailable, "routing: unable to plan day: no time zone")
	}
	d, err := time.ParseInLocation(time.DateOnly, date, p.Loc)
	if err != nil {
		return PlanReport{}, failure.Errorf(failure.Invalid, "date: %q is not a date YYYY-MM-DD", date)
	}
	if y := d.Year(); y < 1900 || y > 9999 {
		return PlanReport{}, failure.Errorf(failure.Invalid, "date: %s is outside the years 1900 to 9999", date)
	}
	y, m, dd := d.Date()
	to := time.Date(y, m, dd+1, 0, 0, 0, 0, p.Loc)
	stored, err := p.Store.Booked(ctx, nil, d, to)
	if err != nil {
		return PlanReport{}, err
	}
	roster, err := p.Store.Practitioners(ctx)
	if err != nil {
		return PlanReport{}, err
	}
	day := PlanDay{Date: d, Now: now, Loc: p.Loc, Practitioners: roster, Travel: p.Travel, Clock: p.Clock,
		TimeLimit: opt.TimeLimit, Iterations: opt.Iterations, Seed: opt.Seed, MovePenaltyMinutes: opt.MovePenaltyMinutes, Flex: opt.Flex}
	for _, v := range stored {
		day.Visits = append(day.Visits, v.Visit)
	}
	plan, err := PlanRoutes(ctx, day)
	if err != nil {
		return PlanReport{}, err
	}
	report := PlanReport{Date: date, RoutePlan: plan}
	if opt.Apply && plan.Moved > 0 {
		if err := p.Store.ApplyRoutePlan(ctx, plan, now); err != nil {
			return PlanReport{}, err
		}
		report.Applied = true
	}
	return report, nil
}
