//go:build unix

package routing

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuNow is the process's CPU time as an instant after the epoch.
func cpuNow() time.Time {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Now()
	}
	return time.Unix(0, ru.Utime.Nano()+ru.Stime.Nano())
}

// TestPlanScale2000x150 plans a council's day at the scale: 2,000 visits over 150
// practitioners in the demo area, within 60 s of CPU time (the process's, so that a machine busy
// with other work measures the planner, not the queue for a core).
func TestPlanScale2000x150(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of search")
	}
	loc := londonLoc(t)
	rng := rand.New(rand.NewPCG(27, 28))
	day := PlanDay{Date: monday(loc, 0, 0), Now: monday(loc, 7, 0), Loc: loc, Travel: GreatCircle{},
		TimeLimit: 50 * time.Second, Clock: cpuNow, Seed: 1, MovePenaltyMinutes: DefaultMovePenaltyMinutes}
	for i := range 150 {
		p := prac(fmt.Sprintf("p%03d", i), at(rng.Float64()*30-15, rng.Float64()*30-15))
		p.WorkingHours, p.MaxVisitsPerDay = weekdays(8, 18), 20
		day.Practitioners = append(day.Practitioners, p)
	}
	for i := range 2000 {
		start := monday(loc, 8, 0).Add(time.Duration(rng.IntN(9*4)) * 15 * time.Minute)
		day.Visits = append(day.Visits, Visit{ID: fmt.Sprintf("v%04d", i), Start: start, End: start.Add(30 * time.Minute),
			Loc: at(rng.Float64()*30-15, rng.Float64()*30-15), ServiceID: "svc-a", PractitionerID: fmt.Sprintf("p%03d", rng.IntN(150))})
	}
	began, wall := cpuNow(), time.Now()
	plan, err := PlanRoutes(context.Background(), day)
	took := cpuNow().Sub(began)
	if err != nil {
		t.Fatal(err)
	}
	checkRoutePlan(t, day, plan)
	t.Logf("2,000 visits over 150 practitioners: %s of CPU (%s on the wall clock), %d iterations, %d unplaced, %d moved, travel %.0f → %.0f min",
		took.Round(time.Millisecond), time.Since(wall).Round(time.Millisecond), plan.Iterations, len(plan.Unplaced), plan.Moved, plan.TravelBefore, plan.TravelAfter)
	if took > time.Minute {
		t.Errorf("planned in %s, want within 60 s", took)
	}
	if math.IsNaN(plan.TravelAfter) {
		t.Error("travel is NaN")
	}
}
