package routing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Appointment statuses as stored.
const (
	StatusBooked    = "booked"
	StatusCancelled = "cancelled"
)

// StoredVisit is an appointment as the store keeps it: the visit, whose subject it is, and
// whether it still stands.
type StoredVisit struct {
	Visit
	SubjectRef string    `json:"subject_ref"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Store keeps practitioners and appointments. Methods that take a database.Querier run on the
// caller's transaction (a *database.Tx) or on the pool (the *database.DB), so a booking commits
// with the decision that made it.
type Store interface {
	PutPractitioners(ctx context.Context, ps []Practitioner, now time.Time) (int, error)
	Practitioners(ctx context.Context) ([]Practitioner, error)
	Practitioner(ctx context.Context, id string) (Practitioner, error)
	Book(ctx context.Context, ex database.Querier, v StoredVisit) error
	Booked(ctx context.Context, ex database.Querier, from, to time.Time) ([]StoredVisit, error)
	LastPractitioner(ctx context.Context, ex database.Querier, subjectRef string, before time.Time) (string, error)
	Visit(ctx context.Context, id string) (StoredVisit, error)
	VisitsOfDecision(ctx context.Context, ex database.Querier, decisionID string) ([]StoredVisit, error)
	Cancel(ctx context.Context, ex database.Querier, id string, now time.Time) (StoredVisit, error)
	Move(ctx context.Context, ex database.Querier, req MoveRequest) (StoredVisit, error)
	ApplyPlan(ctx context.Context, plan Plan, now time.Time) error
}

// SQLStore is the Store on SQLite or PostgreSQL.
type SQLStore struct {
	DB *database.DB
}

// NewSQLStore returns a Store over db.
func NewSQLStore(db *database.DB) *SQLStore { return &SQLStore{DB: db} }

// PutPractitioners upserts practitioners by id in one transaction; ParsePractitioners has already
// validated them.
func (s *SQLStore) PutPractitioners(ctx context.Context, ps []Practitioner, now time.Time) (int, error) {
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		q := tx.Rebind(`INSERT INTO practitioners (id, definition, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`)
		for _, p := range ps {
			def, err := json.Marshal(p)
			if err != nil {
				return fmt.Errorf("routing: unable to encode practitioner %q: %w", p.ID, err)
			}
			if _, err := tx.ExecContext(ctx, q, p.ID, string(def), database.NewTime(now)); err != nil {
				return fmt.Errorf("routing: unable to store practitioner %q: %w", p.ID, err)
			}
		}
		return bumpMarker(ctx, tx, markerRoster)
	})
	if err != nil {
		return 0, err
	}
	return len(ps), nil
}

// Practitioners returns every stored practitioner sorted by id.
func (s *SQLStore) Practitioners(ctx context.Context) ([]Practitioner, error) {
	var rows []struct {
		ID         string `db:"id"`
		Definition string `db:"definition"`
	}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT id, definition FROM practitioners ORDER BY id`); err != nil {
		return nil, fmt.Errorf("routing: unable to list practitioners: %w", err)
	}
	out := make([]Practitioner, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal([]byte(r.Definition), &out[i]); err != nil {
			return nil, fmt.Errorf("routing: stored practitioner %q does not decode: %w", r.ID, err)
		}
	}
	return out, nil
}

// Practitioner returns one practitioner, or a NotFound error.
func (s *SQLStore) Practitioner(ctx context.Context, id string) (Practitioner, error) {
	return s.practitionerOn(ctx, s.DB, id)
}

func (s *SQLStore) practitionerOn(ctx context.Context, ex database.Querier, id string) (Practitioner, error) {
	var def string
	err := ex.GetContext(ctx, &def, ex.Rebind(`SELECT definition FROM practitioners WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Practitioner{}, failure.Errorf(failure.NotFound, "practitioner %s does not exist", id)
	} else if err != nil {
		return Practitioner{}, fmt.Errorf("routing: unable to read practitioner %s: %w", id, err)
	}
	var p Practitioner
	if err := json.Unmarshal([]byte(def), &p); err != nil {
		return Practitioner{}, fmt.Errorf("routing: stored practitioner %q does not decode: %w", id, err)
	}
	return p, nil
}

const visitColumns = `id, decision_id, subject_ref, practitioner_id, service_id, pathway, start_at, end_at, lat, lon,
	status, pinned, skills, candidate_services, created_at, updated_at, earliest_at, latest_at`

type visitRow struct {
	ID                string         `db:"id"`
	DecisionID        string         `db:"decision_id"`
	SubjectRef        string         `db:"subject_ref"`
	PractitionerID    string         `db:"practitioner_id"`
	ServiceID         string         `db:"service_id"`
	Pathway           string         `db:"pathway"`
	StartAt           database.Time  `db:"start_at"`
	EndAt             database.Time  `db:"end_at"`
	Lat               float64        `db:"lat"`
	Lon               float64        `db:"lon"`
	Status            string         `db:"status"`
	Pinned            int            `db:"pinned"`
	Skills            string         `db:"skills"`
	CandidateServices string         `db:"candidate_services"`
	CreatedAt         database.Time  `db:"created_at"`
	UpdatedAt         database.Time  `db:"updated_at"`
	EarliestAt        *database.Time `db:"earliest_at"`
	LatestAt          *database.Time `db:"latest_at"`
}

func (r *visitRow) visit() (StoredVisit, error) {
	v := StoredVisit{
		Visit: Visit{ID: r.ID, CaseID: r.DecisionID, PractitionerID: r.PractitionerID, ServiceID: r.ServiceID,
			Pathway: r.Pathway, Start: r.StartAt.Time, End: r.EndAt.Time, Loc: Point{Lat: r.Lat, Lon: r.Lon}, Pinned: r.Pinned != 0},
		SubjectRef: r.SubjectRef, Status: r.Status, CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
	if r.EarliestAt != nil {
		v.Earliest = r.EarliestAt.Time
	}
	if r.LatestAt != nil {
		v.Latest = r.LatestAt.Time
	}
	if err := json.Unmarshal([]byte(r.Skills), &v.RequiredSkills); err != nil {
		return StoredVisit{}, fmt.Errorf("routing: appointment %s: stored skills do not decode: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.CandidateServices), &v.CandidateServiceIDs); err != nil {
		return StoredVisit{}, fmt.Errorf("routing: appointment %s: stored candidate services do not decode: %w", r.ID, err)
	}
	return v, nil
}

func listOf(s []string) string {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s) // a []string always encodes
	return string(b)
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Book inserts a booked appointment. A second booking of the practitioner's slot fails on the
// partial unique index with an error wrapping ErrSlotTaken and carrying failure.Conflict; on
// PostgreSQL the caller's transaction is then aborted, so callers retry the whole transaction.
func (s *SQLStore) Book(ctx context.Context, ex database.Querier, v StoredVisit) error {
	_, err := ex.ExecContext(ctx, ex.Rebind(`INSERT INTO appointments (`+visitColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		v.ID, v.CaseID, v.SubjectRef, v.PractitionerID, v.ServiceID, v.Pathway,
		database.NewTime(v.Start), database.NewTime(v.End), v.Loc.Lat, v.Loc.Lon, StatusBooked, bit(v.Pinned),
		listOf(v.RequiredSkills), listOf(v.CandidateServiceIDs), database.NewTime(v.CreatedAt), database.NewTime(v.UpdatedAt),
		nullTime(v.Earliest), nullTime(v.Latest))
	if err == nil {
		err = touch(ctx, ex, v.PractitionerID)
	}
	if database.IsUniqueViolation(err) {
		return SlotTakenError(v.ID, v.PractitionerID, v.Start)
	} else if err != nil {
		return fmt.Errorf("routing: unable to book appointment %s: %w", v.ID, err)
	}
	return nil
}

// BookClaimed inserts a booked appointment into a route the caller's transaction claimed with
// ClaimRoute, which already stamped the route's new version, as a deferred write of tx.
func (s *SQLStore) BookClaimed(ctx context.Context, tx *database.Tx, v StoredVisit) error {
	err := tx.Defer(ctx, `INSERT INTO appointments (`+visitColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.CaseID, v.SubjectRef, v.PractitionerID, v.ServiceID, v.Pathway,
		database.NewTime(v.Start), database.NewTime(v.End), v.Loc.Lat, v.Loc.Lon, StatusBooked, bit(v.Pinned),
		listOf(v.RequiredSkills), listOf(v.CandidateServiceIDs), database.NewTime(v.CreatedAt), database.NewTime(v.UpdatedAt),
		nullTime(v.Earliest), nullTime(v.Latest))
	if database.IsUniqueViolation(err) {
		return SlotTakenError(v.ID, v.PractitionerID, v.Start)
	} else if err != nil {
		return fmt.Errorf("routing: unable to book appointment %s: %w", v.ID, err)
	}
	return nil
}

// SlotTakenError is the error of a booking that found its practitioner's slot taken.
func SlotTakenError(visitID, practitionerID string, start time.Time) error {
	return failure.Errorf(failure.Conflict, "routing: unable to book appointment %s: practitioner %s at %s: %w",
		visitID, practitionerID, start.UTC().Format(time.RFC3339), ErrSlotTaken)
}

// IsSlotTaken reports whether err is a booking that lost its slot to another.
func IsSlotTaken(err error) bool { return errors.Is(err, ErrSlotTaken) }

// Booked returns the booked appointments starting in [from, to), by start then id.
func (s *SQLStore) Booked(ctx context.Context, ex database.Querier, from, to time.Time) ([]StoredVisit, error) {
	return s.visits(ctx, ex, `WHERE status = 'booked' AND start_at >= ? AND start_at < ? ORDER BY start_at, id`,
		database.NewTime(from), database.NewTime(to))
}

// VisitsOfDecision returns every appointment a decision made, booked or cancelled, oldest first.
func (s *SQLStore) VisitsOfDecision(ctx context.Context, ex database.Querier, decisionID string) ([]StoredVisit, error) {
	return s.visits(ctx, ex, `WHERE decision_id = ? ORDER BY created_at, id`, decisionID)
}

func (s *SQLStore) visits(ctx context.Context, ex database.Querier, where string, args ...any) ([]StoredVisit, error) {
	if ex == nil {
		ex = s.DB
	}
	var rows []visitRow
	if err := ex.SelectContext(ctx, &rows, ex.Rebind(`SELECT `+visitColumns+` FROM appointments `+where), args...); err != nil {
		return nil, fmt.Errorf("routing: unable to list appointments: %w", err)
	}
	out := make([]StoredVisit, len(rows))
	for i := range rows {
		v, err := rows[i].visit()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// LastPractitioner is who made the subject's latest booked visit starting before before, for
// continuity of carer; empty when nobody has.
func (s *SQLStore) LastPractitioner(ctx context.Context, ex database.Querier, subjectRef string, before time.Time) (string, error) {
	if ex == nil {
		ex = s.DB
	}
	const q = `SELECT practitioner_id FROM appointments
		WHERE subject_ref = ? AND status = 'booked' AND start_at < ? ORDER BY start_at DESC, id LIMIT 1`
	var id string
	var err error
	// Every placement asks this, so it runs prepared where the caller's querier can.
	if pq, ok := ex.(database.PreparedQuerier); ok {
		err = pq.QueryRowPrepared(ctx, q, subjectRef, database.NewTime(before)).Scan(&id)
	} else {
		err = ex.GetContext(ctx, &id, ex.Rebind(q), subjectRef, database.NewTime(before))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("routing: unable to find who last saw %s: %w", subjectRef, err)
	}
	return id, nil
}

// Visit returns one appointment, or a NotFound error.
func (s *SQLStore) Visit(ctx context.Context, id string) (StoredVisit, error) {
	return s.visitOn(ctx, s.DB, id)
}

func (s *SQLStore) visitOn(ctx context.Context, ex database.Querier, id string) (StoredVisit, error) {
	var row visitRow
	err := ex.GetContext(ctx, &row, ex.Rebind(`SELECT `+visitColumns+` FROM appointments WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredVisit{}, failure.Errorf(failure.NotFound, "appointment %s does not exist", id)
	} else if err != nil {
		return StoredVisit{}, fmt.Errorf("routing: unable to read appointment %s: %w", id, err)
	}
	return row.visit()
}

// Cancel marks a booked appointment cancelled, freeing its slot; cancelling twice is a Conflict.
func (s *SQLStore) Cancel(ctx context.Context, ex database.Querier, id string, now time.Time) (StoredVisit, error) {
	if ex == nil {
		var out StoredVisit
		err := s.DB.InTx(ctx, func(tx *database.Tx) error {
			var err error
			out, err = s.Cancel(ctx, tx, id, now)
			return err
		})
		return out, err
	}
	v, err := s.visitOn(ctx, ex, id)
	if err != nil {
		return StoredVisit{}, err
	}
	if v.Status != StatusBooked {
		return StoredVisit{}, failure.Errorf(failure.Conflict, "appointment %s is already %s", id, v.Status)
	}
	if _, err := ex.ExecContext(ctx, ex.Rebind(`UPDATE appointments SET status = 'cancelled', updated_at = ? WHERE id = ?`),
		database.NewTime(now), id); err != nil {
		return StoredVisit{}, fmt.Errorf("routing: unable to cancel appointment %s: %w", id, err)
	}
	if err := touch(ctx, ex, v.PractitionerID); err != nil {
		return StoredVisit{}, err
	}
	v.Status, v.UpdatedAt = StatusCancelled, database.NewTime(now).Time
	return v, nil
}

// ApplyPlan hands each moved visit to its new practitioner and service in one transaction. Moves
// may swap slots between practitioners, so every moved row first parks on a placeholder
// practitioner unique to it, and only then takes its new one: the unique slot index never sees a
// transient clash.
func (s *SQLStore) ApplyPlan(ctx context.Context, plan Plan, now time.Time) error {
	moves := append([]Move(nil), plan.Moves...)
	sort.Slice(moves, func(i, j int) bool { return moves[i].VisitID < moves[j].VisitID })
	return s.DB.InTx(ctx, func(tx *database.Tx) error {
		touched := make([]string, 0, 2*len(moves))
		for _, m := range moves {
			touched = append(touched, m.FromPractitionerID, m.ToPractitionerID)
		}
		if len(moves) > 0 {
			if err := touch(ctx, tx, touched...); err != nil {
				return err
			}
		}
		park := tx.Rebind(`UPDATE appointments SET practitioner_id = ? WHERE id = ? AND status = 'booked' AND practitioner_id = ?`)
		for _, m := range moves {
			res, err := tx.ExecContext(ctx, park, "~moving~"+m.VisitID, m.VisitID, m.FromPractitionerID)
			if err != nil {
				return fmt.Errorf("routing: unable to move appointment %s: %w", m.VisitID, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("routing: unable to move appointment %s: %w", m.VisitID, err)
			} else if n != 1 {
				return failure.Errorf(failure.Conflict, "appointment %s changed since the plan was made; optimise again", m.VisitID)
			}
		}
		set := tx.Rebind(`UPDATE appointments SET practitioner_id = ?, service_id = ?, updated_at = ? WHERE id = ?`)
		for _, m := range moves {
			_, err := tx.ExecContext(ctx, set, m.ToPractitionerID, m.ToServiceID, database.NewTime(now), m.VisitID)
			if database.IsUniqueViolation(err) {
				return failure.Errorf(failure.Conflict, "appointment %s: practitioner %s was booked at %s since the plan was made; optimise again",
					m.VisitID, m.ToPractitionerID, m.Start.UTC().Format(time.RFC3339))
			} else if err != nil {
				return fmt.Errorf("routing: unable to move appointment %s: %w", m.VisitID, err)
			}
		}
		return nil
	})
}
