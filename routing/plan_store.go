package routing

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// ApplyRoutePlan makes a plan's changes in one transaction: each changed visit takes its new
// practitioner, service and time. The plan was made from a reading of the diary, so a visit that
// changed since (cancelled, moved, handed over) refuses the whole plan as a conflict. Changes may
// swap times between practitioners, so every changed row first parks on a placeholder practitioner
// unique to it, and only then takes its new place: the unique slot index never sees a transient
// clash.
func (s *SQLStore) ApplyRoutePlan(ctx context.Context, plan RoutePlan, now time.Time) error {
	changes := append([]Change(nil), plan.Changes...)
	if len(changes) == 0 {
		return nil
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].VisitID < changes[j].VisitID })
	return s.DB.InTx(ctx, func(tx *database.Tx) error {
		touched := make([]string, 0, 2*len(changes))
		for _, c := range changes {
			touched = append(touched, c.FromPractitionerID, c.ToPractitionerID)
		}
		if err := touch(ctx, tx, touched...); err != nil {
			return err
		}
		park := tx.Rebind(`UPDATE appointments SET practitioner_id = ? WHERE id = ? AND status = 'booked' AND practitioner_id = ? AND start_at = ?`)
		for _, c := range changes {
			res, err := tx.ExecContext(ctx, park, "~planning~"+c.VisitID, c.VisitID, c.FromPractitionerID, database.NewTime(c.FromStart))
			if err != nil {
				return fmt.Errorf("routing: unable to re-plan appointment %s: %w", c.VisitID, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("routing: unable to re-plan appointment %s: %w", c.VisitID, err)
			} else if n != 1 {
				return failure.Errorf(failure.Conflict, "appointment %s changed since the plan was made; plan again", c.VisitID)
			}
		}
		set := tx.Rebind(`UPDATE appointments SET practitioner_id = ?, service_id = ?, start_at = ?, end_at = ?, updated_at = ? WHERE id = ?`)
		for _, c := range changes {
			_, err := tx.ExecContext(ctx, set, c.ToPractitionerID, c.ToServiceID, database.NewTime(c.ToStart),
				database.NewTime(c.ToEnd), database.NewTime(now), c.VisitID)
			if database.IsUniqueViolation(err) {
				return failure.Errorf(failure.Conflict, "appointment %s: practitioner %s was booked at %s since the plan was made; plan again",
					c.VisitID, c.ToPractitionerID, c.ToStart.UTC().Format(time.RFC3339))
			} else if err != nil {
				return fmt.Errorf("routing: unable to re-plan appointment %s: %w", c.VisitID, err)
			}
		}
		return nil
	})
}
