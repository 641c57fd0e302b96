package bulkimport

import (
	"context"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/triage"
)

// Keyed is a decision to store in bulk with its idempotency key, so that storing it again is a no-op.
type Keyed struct {
	Decision *triage.Decision
	Key      triage.Idempotency

	row []any // the encoded column values, when Encode ran
}

// Encode encodes the decision's columns ahead of SaveDecisions, so that callers deciding in
// parallel take the JSON encoding off the single writer.
func (k *Keyed) Encode() error {
	return k.encode(&rowEncoder{})
}

func (k *Keyed) encode(e *rowEncoder) error {
	row, err := decisionArgs(e, k.Decision, k.Key)
	k.row = row
	return err
}

// bulkColumns are the columns of the foundation schema only, so later migrations that add columns
// with defaults keep bulk inserts working.
const bulkColumns = `id, idempotency_key, request_sha256, input, input_sha256, form_id, form_version, subject_ref, scores,
	ruleset_id, ruleset_version, ruleset_sha256, pathway, priority, respond_within, flags, rule_id, explanation,
	authored_at, decided_at, engine_version`

const bulkColumnCount = 21

// bulkRowsPerStatement keeps one multi-row INSERT under SQLite's and PostgreSQL's limits on bound
// parameters (32766 and 65535).
const bulkRowsPerStatement = 500

// SaveDecisions stores decisions in one transaction (COPY on PostgreSQL, multi-row INSERTs on SQLite)
// and returns how many were new; a decision whose id or idempotency key is already stored (or
// repeated in ds) is skipped, not an error.
func SaveDecisions(ctx context.Context, db *database.DB, ds []Keyed) (inserted int, err error) {
	if db.Dialect == database.Postgres {
		inserted, err = copyDecisions(ctx, db, ds)
		if !database.IsUniqueViolation(err) {
			return inserted, err
		}
		// Another writer stored one of these between the check and the copy: the INSERTs below
		// skip conflicts row by row.
	}
	return insertDecisions(ctx, db, ds)
}

// copyDecisions stores decisions on PostgreSQL with COPY, which the server takes several times
// faster than multi-row INSERTs of bound parameters. COPY cannot skip conflicts, so the batch's
// stored ids and keys are looked up first and left out, as are repeats within the batch; a
// concurrent writer can still collide, which is a unique violation for the caller to retry.
func copyDecisions(ctx context.Context, db *database.DB, ds []Keyed) (inserted int, err error) {
	ids := make([]string, 0, len(ds))
	var keys []string
	for _, k := range ds {
		ids = append(ids, k.Decision.ID)
		if k.Key.Key != "" {
			keys = append(keys, k.Key.Key)
		}
	}
	var enc rowEncoder
	err = db.InTx(ctx, func(tx *database.Tx) error {
		inserted = 0
		stored := make(map[string]bool)
		var found []string
		if err := tx.SelectContext(ctx, &found, `SELECT id FROM decisions WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
			return fmt.Errorf("bulkimport: unable to look up a batch of %d decisions: %w", len(ds), err)
		}
		storedKeys := make(map[string]bool)
		for _, id := range found {
			stored[id] = true
		}
		if len(keys) > 0 {
			found = found[:0]
			if err := tx.SelectContext(ctx, &found, `SELECT idempotency_key FROM decisions WHERE idempotency_key = ANY($1)`, pq.Array(keys)); err != nil {
				return fmt.Errorf("bulkimport: unable to look up a batch of %d decisions: %w", len(ds), err)
			}
			for _, k := range found {
				storedKeys[k] = true
			}
		}
		stmt, err := tx.PrepareContext(ctx, `COPY decisions (`+strings.Join(strings.Fields(strings.ReplaceAll(bulkColumns, ",", " ")), ", ")+`) FROM STDIN`)
		if err != nil {
			return fmt.Errorf("bulkimport: unable to store a batch of %d decisions: %w", len(ds), err)
		}
		defer stmt.Close()
		for _, k := range ds {
			if stored[k.Decision.ID] || k.Key.Key != "" && storedKeys[k.Key.Key] {
				continue
			}
			stored[k.Decision.ID] = true
			if k.Key.Key != "" {
				storedKeys[k.Key.Key] = true
			}
			row := k.row
			if row == nil {
				if row, err = decisionArgs(&enc, k.Decision, k.Key); err != nil {
					return err
				}
			}
			if _, err := stmt.ExecContext(ctx, row...); err != nil {
				return fmt.Errorf("bulkimport: unable to store a batch of %d decisions: %w", len(ds), err)
			}
			inserted++
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			return fmt.Errorf("bulkimport: unable to store a batch of %d decisions: %w", len(ds), err)
		}
		return nil
	})
	return inserted, err
}

// insertDecisions stores decisions with multi-row INSERTs that skip conflicts.
func insertDecisions(ctx context.Context, db *database.DB, ds []Keyed) (inserted int, err error) {
	args := make([]any, 0, min(len(ds), bulkRowsPerStatement)*bulkColumnCount)
	var enc rowEncoder
	err = db.InTx(ctx, func(tx *database.Tx) error {
		inserted = 0
		if db.Dialect == database.SQLite {
			// SQLite's default 2 MB page cache makes every index insert into a million-row table
			// a read from disk; 128 MB keeps the indexes' hot pages in memory on this connection.
			if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -131072`); err != nil {
				return fmt.Errorf("bulkimport: unable to size the SQLite cache: %w", err)
			}
			// Checkpoints every 64 MB of WAL rather than 4 MB: each one copies the indexes'
			// hot pages back and syncs, and at the default a bulk load spends much of its
			// time there (an eighth of it at 200,000 cases).
			if _, err := tx.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 16384`); err != nil {
				return fmt.Errorf("bulkimport: unable to set the SQLite checkpoint interval: %w", err)
			}
		}
		for start := 0; start < len(ds); start += bulkRowsPerStatement {
			chunk := ds[start:min(start+bulkRowsPerStatement, len(ds))]
			args = args[:0]
			for _, k := range chunk {
				row := k.row
				if row == nil {
					var err error
					if row, err = decisionArgs(&enc, k.Decision, k.Key); err != nil {
						return err
					}
				}
				args = append(args, row...)
			}
			res, err := tx.ExecContext(ctx, bulkInsert(db.Dialect, len(chunk)), args...)
			if err != nil {
				return fmt.Errorf("bulkimport: unable to store a batch of %d decisions: %w", len(chunk), err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("bulkimport: unable to store a batch of %d decisions: %w", len(chunk), err)
			}
			inserted += int(n)
		}
		return nil
	})
	return inserted, err
}

func decisionArgs(e *rowEncoder, d *triage.Decision, key triage.Idempotency) ([]any, error) {
	scores, err := e.scores(d.Scores)
	if err != nil {
		return nil, fmt.Errorf("bulkimport: decision %s: unable to encode scores: %w", d.ID, err)
	}
	flags := e.flags(d.Outcome.Flags)
	explanation, err := e.explanation(&d.Explanation)
	if err != nil {
		return nil, fmt.Errorf("bulkimport: decision %s: unable to encode explanation: %w", d.ID, err)
	}
	var idemKey any // NULL when there is none, so keyless decisions never collide
	if key.Key != "" {
		idemKey = key.Key
	}
	return []any{d.ID, idemKey, key.RequestSHA256, string(d.Input), d.InputSHA256, d.Form, d.FormVersion, d.SubjectRef,
		scores, d.RuleSet.ID, d.RuleSet.Version, d.RuleSet.SHA256, d.Outcome.Pathway, string(d.Outcome.Priority),
		d.Outcome.RespondWithin, flags, d.Rule, explanation,
		database.NewTime(d.Authored), database.NewTime(d.Decided), d.EngineVersion}, nil
}

func bulkInsert(dialect database.Dialect, rows int) string {
	var b strings.Builder
	b.Grow(rows*bulkColumnCount*6 + 512)
	b.WriteString("INSERT INTO decisions (")
	b.WriteString(bulkColumns)
	b.WriteString(") VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range bulkColumnCount {
			if c > 0 {
				b.WriteByte(',')
			}
			n++
			if dialect == database.Postgres {
				fmt.Fprintf(&b, "$%d", n)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT DO NOTHING")
	return b.String()
}
