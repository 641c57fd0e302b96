package triage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// LatestSubject is the subject as the latest decision about ref stored it: the name, address and
// contact preference the person gave most recently, which is what a confirmation must use.
// A subject with no decision is a failure.NotFound.
func LatestSubject(ctx context.Context, db *database.DB, ref string) (Subject, error) {
	var input string
	err := db.GetContext(ctx, &input, db.Rebind(`SELECT input FROM decisions WHERE subject_ref = ?
		ORDER BY decided_at DESC, id DESC LIMIT 1`), ref)
	if errors.Is(err, sql.ErrNoRows) {
		return Subject{}, failure.Errorf(failure.NotFound, "triage: no decision about the subject")
	}
	if err != nil {
		return Subject{}, fmt.Errorf("triage: unable to read the subject's latest decision: %w", err)
	}
	var stored struct {
		Subject Subject `json:"subject"`
	}
	if err := json.Unmarshal([]byte(input), &stored); err != nil {
		return Subject{}, fmt.Errorf("triage: the subject's latest decision input does not decode: %w", err)
	}
	return stored.Subject, nil
}
