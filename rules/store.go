package rules

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Status is where a stored rule-set version is in its lifecycle.
type Status string

// Lifecycle states of a stored rule-set version.
const (
	StatusDraft    Status = "draft"
	StatusInReview Status = "in_review"
	StatusApproved Status = "approved"
	StatusRetired  Status = "retired"
)

// Version is one stored version of a rule set: its source exactly as written, and its content hash.
type Version struct {
	ID        string    `json:"id" db:"id"`
	Version   int       `json:"version" db:"version"`
	Form      string    `json:"form" db:"form_id"`
	Source    string    `json:"source" db:"source"`
	SHA256    string    `json:"sha256" db:"sha256"`
	Status    Status    `json:"status" db:"status"`
	CreatedAt time.Time `json:"created_at" db:"-"`
}

// Parse parses the stored source.
func (v Version) Parse() (*RuleSet, error) {
	return Parse(fmt.Sprintf("%s v%d", v.ID, v.Version), []byte(v.Source))
}

// Activation makes a version the active one of its rule set from a given time.
type Activation struct {
	RuleSet       string    `json:"ruleset"`
	Version       int       `json:"version"`
	EffectiveFrom time.Time `json:"effective_from"`
	CreatedAt     time.Time `json:"created_at"`
}

// Store keeps the pathway catalogue, rule-set versions and their activations.
type Store interface {
	PutPathways(ctx context.Context, ps []Pathway, now time.Time) error
	Pathways(ctx context.Context) ([]Pathway, error)
	Version(ctx context.Context, id string, version int) (Version, error)
	Versions(ctx context.Context) ([]Version, error)
	RuleSetFor(ctx context.Context, form string) (string, error)
	Activations(ctx context.Context, id string) ([]Activation, error)
	ActiveAt(ctx context.Context, id string, at time.Time) (int, error)
}

// SQLStore is the Store on SQLite or PostgreSQL.
type SQLStore struct {
	DB *database.DB
}

// NewSQLStore returns a Store over db.
func NewSQLStore(db *database.DB) *SQLStore { return &SQLStore{DB: db} }

// PutPathways inserts or updates the catalogue entries given; entries not given are kept.
func (s *SQLStore) PutPathways(ctx context.Context, ps []Pathway, now time.Time) error {
	return s.DB.InTx(ctx, func(tx *database.Tx) error {
		for _, p := range ps {
			def, err := json.Marshal(p)
			if err != nil {
				return fmt.Errorf("rules: unable to encode pathway %s: %w", p.ID, err)
			}
			_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO pathways (id, name, description, definition, updated_at)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
				definition = excluded.definition, updated_at = excluded.updated_at`),
				p.ID, p.Name, p.Description, string(def), database.NewTime(now))
			if err != nil {
				return fmt.Errorf("rules: unable to store pathway %s: %w", p.ID, err)
			}
		}
		return nil
	})
}

// Pathways returns the catalogue ordered by id.
func (s *SQLStore) Pathways(ctx context.Context) ([]Pathway, error) {
	var defs []string
	if err := s.DB.SelectContext(ctx, &defs, `SELECT definition FROM pathways ORDER BY id`); err != nil {
		return nil, fmt.Errorf("rules: unable to list pathways: %w", err)
	}
	ps := make([]Pathway, len(defs))
	for i, d := range defs {
		if err := json.Unmarshal([]byte(d), &ps[i]); err != nil {
			return nil, fmt.Errorf("rules: unable to decode a stored pathway: %w", err)
		}
	}
	return ps, nil
}

// putVersion stores a new version. Storing the same content again is a no-op; storing other
// content under a stored (id, version) is a Conflict, because published versions never change.
func (s *SQLStore) putVersion(ctx context.Context, v Version) (bool, error) {
	created := false
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		var sum string
		err := tx.GetContext(ctx, &sum, tx.Rebind(`SELECT sha256 FROM rulesets WHERE id = ? AND version = ?`), v.ID, v.Version)
		switch {
		case err == nil && sum == v.SHA256:
			return nil
		case err == nil:
			return failure.Errorf(failure.Conflict, "rule set %s version %d is already stored with other content; take a new version number", v.ID, v.Version)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("rules: unable to read rule set %s v%d: %w", v.ID, v.Version, err)
		}
		var other string
		err = tx.GetContext(ctx, &other, tx.Rebind(`SELECT id FROM rulesets WHERE form_id = ? AND id <> ? LIMIT 1`), v.Form, v.ID)
		if err == nil {
			return failure.Errorf(failure.Conflict, "form %s already has rule set %s; one rule set decides each form", v.Form, other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("rules: unable to check rule sets of form %s: %w", v.Form, err)
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO rulesets (id, version, form_id, source, sha256, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), v.ID, v.Version, v.Form, v.Source, v.SHA256, string(v.Status), database.NewTime(v.CreatedAt))
		if err != nil {
			return fmt.Errorf("rules: unable to store rule set %s v%d: %w", v.ID, v.Version, err)
		}
		created = true
		return nil
	})
	return created, err
}

type versionRow struct {
	Version
	Created database.Time `db:"created_at"`
}

const versionColumns = `id, version, form_id, source, sha256, status, created_at`

// Version returns one stored version, or a NotFound error.
func (s *SQLStore) Version(ctx context.Context, id string, version int) (Version, error) {
	// Versions are stored as 32-bit integers; PostgreSQL refuses to look up a larger one.
	if version < 1 || version > math.MaxInt32 {
		return Version{}, failure.Errorf(failure.NotFound, "rule set %s version %d is not stored", id, version)
	}
	var row versionRow
	err := s.DB.GetContext(ctx, &row, s.DB.Rebind(`SELECT `+versionColumns+` FROM rulesets WHERE id = ? AND version = ?`), id, version)
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, failure.Errorf(failure.NotFound, "rule set %s version %d is not stored", id, version)
	} else if err != nil {
		return Version{}, fmt.Errorf("rules: unable to read rule set %s v%d: %w", id, version, err)
	}
	row.Version.CreatedAt = row.Created.Time
	return row.Version, nil
}

// Versions returns every stored version ordered by id and version.
func (s *SQLStore) Versions(ctx context.Context) ([]Version, error) {
	var rows []versionRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT `+versionColumns+` FROM rulesets ORDER BY id, version`); err != nil {
		return nil, fmt.Errorf("rules: unable to list rule sets: %w", err)
	}
	out := make([]Version, len(rows))
	for i, r := range rows {
		out[i] = r.Version
		out[i].CreatedAt = r.Created.Time
	}
	return out, nil
}

// RuleSetFor returns the id of the rule set that decides a form, or an Unavailable error.
func (s *SQLStore) RuleSetFor(ctx context.Context, form string) (string, error) {
	var id string
	err := s.DB.GetContext(ctx, &id, s.DB.Rebind(`SELECT id FROM rulesets WHERE form_id = ? ORDER BY id LIMIT 1`), form)
	if errors.Is(err, sql.ErrNoRows) {
		return "", failure.Errorf(failure.Unavailable, "no rule set decides form %s", form)
	} else if err != nil {
		return "", fmt.Errorf("rules: unable to find the rule set of form %s: %w", form, err)
	}
	return id, nil
}

// activate records that a version is active from its effective time; history is only appended.
// It is reachable only through the Lifecycle, which checks the approval and writes the audit row
// in the same transaction.
func (s *SQLStore) activate(ctx context.Context, tx *database.Tx, a Activation) error {
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM rulesets WHERE id = ? AND version = ?`), a.RuleSet, a.Version); err != nil {
		return fmt.Errorf("rules: unable to read rule set %s v%d: %w", a.RuleSet, a.Version, err)
	}
	if n == 0 {
		return failure.Errorf(failure.NotFound, "rule set %s has no version %d", a.RuleSet, a.Version)
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO ruleset_activations (ruleset_id, version, effective_from, created_at)
		VALUES (?, ?, ?, ?)`), a.RuleSet, a.Version, database.NewTime(a.EffectiveFrom), database.NewTime(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("rules: unable to activate %s v%d: %w", a.RuleSet, a.Version, err)
	}
	return nil
}

// Activations returns a rule set's activations in the order they were made.
func (s *SQLStore) Activations(ctx context.Context, id string) ([]Activation, error) {
	var rows []struct {
		Version       int           `db:"version"`
		EffectiveFrom database.Time `db:"effective_from"`
		CreatedAt     database.Time `db:"created_at"`
	}
	err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(`SELECT version, effective_from, created_at FROM ruleset_activations
		WHERE ruleset_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("rules: unable to list activations of %s: %w", id, err)
	}
	out := make([]Activation, len(rows))
	for i, r := range rows {
		out[i] = Activation{RuleSet: id, Version: r.Version, EffectiveFrom: r.EffectiveFrom.Time, CreatedAt: r.CreatedAt.Time}
	}
	return out, nil
}

// ActiveAt returns the version in force at a time: of the activations effective by then, the one
// with the latest effective time, and of those the one made last.
func (s *SQLStore) ActiveAt(ctx context.Context, id string, at time.Time) (int, error) {
	var version int
	err := s.DB.GetContext(ctx, &version, s.DB.Rebind(`SELECT version FROM ruleset_activations
		WHERE ruleset_id = ? AND effective_from <= ? ORDER BY effective_from DESC, seq DESC LIMIT 1`), id, database.NewTime(at))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, failure.Errorf(failure.Unavailable, "rule set %s has no version active at %s", id, at.UTC().Format(time.RFC3339))
	} else if err != nil {
		return 0, fmt.Errorf("rules: unable to find the active version of %s: %w", id, err)
	}
	return version, nil
}
