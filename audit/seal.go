package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
)

// Sealer links committed access rows into the access chain. Requests write their access rows
// without touching the chain, so that none waits on another; the sealer then gives each row its
// place, its previous hash and its hash, in access_audit_links, a batch per transaction. One
// sealer per replica is safe: each batch holds the chain head's lock, so replicas take turns;
// one Sealer value is for one goroutine.
type Sealer struct {
	DB  *database.DB
	Now func() time.Time
	// Grace is how long a missing row number may stay missing before the seal mark passes it as
	// a rolled-back transaction's; a transaction still open after it that then commits leaves a
	// row below the mark that Verify reports. Default 5 minutes.
	Grace time.Duration
	// Batch is the most rows one transaction links (default 5,000).
	Batch int
	// Logger reports sealing failures from Run; nil discards them.
	Logger *slog.Logger

	gaps map[int64]time.Time // row numbers missing at the mark, and when each was first seen
}

// Seal links every access row committed so far and not yet in the chain, and returns how many
// it linked.
func (s *Sealer) Seal(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := s.sealBatch(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// Run seals every interval until ctx ends, and once more as it ends, so that a server shutting
// down leaves as little as it can unsealed.
func (s *Sealer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err := s.Seal(final)
			cancel()
			s.logFailure(err)
			return
		case <-t.C:
			_, err := s.Seal(ctx)
			s.logFailure(err)
		}
	}
}

func (s *Sealer) logFailure(err error) {
	if err != nil && s.Logger != nil {
		s.Logger.Error("unable to seal the access audit", "error", err)
	}
}

// pendingRow is an access row waiting for its link.
type pendingRow struct {
	seq     int64
	fields  []string
	subject string
	records string
}

func (s *Sealer) sealBatch(ctx context.Context) (linked int, more bool, err error) {
	batch := s.Batch
	if batch <= 0 {
		batch = 5000
	}
	err = s.DB.InTx(ctx, func(tx *database.Tx) error {
		linked, more = 0, false
		h, err := lockHead(ctx, tx, ChainAccess)
		if err != nil {
			return err
		}
		pending, err := unsealed(ctx, tx, h.SealedTo, batch)
		if err != nil {
			return err
		}
		more = len(pending) == batch
		seq, prev := h.Seq, h.Hash
		links := make([]any, 0, 4*len(pending))
		for _, p := range pending {
			seq++
			hash := hashRow(ChainAccess, seq, prev, p.fields...)
			links = append(links, seq, p.seq, prev, hash)
			prev = hash
		}
		if err := insertLinks(ctx, tx, links); err != nil {
			return err
		}
		if err := fileRows(ctx, tx, pending); err != nil {
			return err
		}
		limit := int64(-1) // rows past a full batch are not linked yet: the mark stops before them
		if more {
			limit = pending[len(pending)-1].seq
		}
		mark, err := s.sealMark(ctx, tx, h.SealedTo, limit)
		if err != nil {
			return err
		}
		if seq == h.Seq && mark == h.SealedTo {
			return nil
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE audit_chains SET seq = ?, hash = ?, sealed_to = ? WHERE chain = ?`),
			seq, prev, mark, ChainAccess); err != nil {
			return fmt.Errorf("audit: unable to move the head of the access chain to link %d: %w", seq, err)
		}
		linked = len(pending)
		return nil
	})
	return linked, more, err
}

// linksPerStatement is how many links one INSERT writes: few round trips on PostgreSQL, and
// well inside both backends' limits on bound parameters.
const linksPerStatement = 250

// insertLinks writes links given as (chain_seq, row_seq, prev_hash, hash) quadruples.
func insertLinks(ctx context.Context, tx *database.Tx, links []any) error {
	for len(links) > 0 {
		n := min(len(links)/4, linksPerStatement)
		q := `INSERT INTO access_audit_links (chain_seq, row_seq, prev_hash, hash) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ")
		// Not ExecPrepared: the statement's text varies with the batch, and sealing is off the
		// request path; a prepared statement per batch size would only fill the pool's cache.
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), links[:4*n]...); err != nil {
			return fmt.Errorf("audit: unable to link access rows %v to %v into the chain: %w", links[1], links[4*n-3], err)
		}
		links = links[4*n:]
	}
	return nil
}

// fileRows files sealed rows in the subject and record indexes, so that searches find them
// without reading the rows.
func fileRows(ctx context.Context, tx *database.Tx, pending []pendingRow) error {
	subjects := make([]any, 0, 2*len(pending))
	var records []any
	for _, p := range pending {
		subjects = append(subjects, p.subject, p.seq)
		var ids []string
		if err := json.Unmarshal([]byte(p.records), &ids); err != nil {
			return fmt.Errorf("audit: unable to file access row %d: its records are not a JSON list of ids: %w", p.seq, err)
		}
		slices.Sort(ids)
		for _, id := range slices.Compact(ids) {
			records = append(records, id, p.seq)
		}
	}
	if err := insertPairs(ctx, tx, "access_audit_subjects (subject, seq)", subjects); err != nil {
		return fmt.Errorf("audit: unable to file access rows by subject: %w", err)
	}
	if err := insertPairs(ctx, tx, "access_audit_records (record_id, seq)", records); err != nil {
		return fmt.Errorf("audit: unable to file access rows by record: %w", err)
	}
	return nil
}

// insertPairs inserts (text, seq) pairs into table, many per statement.
func insertPairs(ctx context.Context, tx *database.Tx, table string, pairs []any) error {
	for len(pairs) > 0 {
		n := min(len(pairs)/2, 2*linksPerStatement)
		q := `INSERT INTO ` + table + ` VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), pairs[:2*n]...); err != nil {
			return err
		}
		pairs = pairs[2*n:]
	}
	return nil
}

// unsealed reads up to limit access rows above the mark that have no link yet, oldest first.
func unsealed(ctx context.Context, tx *database.Tx, mark int64, limit int) ([]pendingRow, error) {
	rows, err := tx.QueryContext(ctx, tx.Rebind(`SELECT a.seq, a.at, a.subject, a.roles, a.team, a.action, a.records, a.purpose, a.break_glass,
			a.outcome, a.client, a.request_id
		FROM access_audit a
		WHERE a.seq > ? AND NOT EXISTS (SELECT 1 FROM access_audit_links l WHERE l.row_seq = a.seq)
		ORDER BY a.seq LIMIT ?`), mark, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: unable to read the access rows to seal: %w", err)
	}
	defer rows.Close()
	var out []pendingRow
	for rows.Next() {
		var (
			p          pendingRow
			at         database.Time
			breakGlass bool
			f          [10]string
		)
		if err := rows.Scan(&p.seq, &at, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &breakGlass, &f[6], &f[7], &f[8]); err != nil {
			return nil, fmt.Errorf("audit: unable to read the access rows to seal: %w", err)
		}
		p.fields = accessFields(at, f[0], f[1], f[2], f[3], f[4], f[5], breakGlass, f[6], f[7], f[8])
		p.subject, p.records = f[0], f[4]
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: unable to read the access rows to seal: %w", err)
	}
	return out, nil
}

// sealMark moves the seal mark over the row numbers above it that are now linked, and over a
// missing number once it has been missing for the grace period (a transaction that rolled back
// on PostgreSQL, whose sequence does not give numbers back). It stops at limit when limit >= 0.
func (s *Sealer) sealMark(ctx context.Context, tx *database.Tx, mark, limit int64) (int64, error) {
	// Only linked rows move the mark: a row committed after this batch read the unsealed rows
	// is visible here (each statement sees the latest commits) but waits for the next batch.
	q := `SELECT a.seq, l.row_seq IS NOT NULL FROM access_audit a LEFT JOIN access_audit_links l ON l.row_seq = a.seq
		WHERE a.seq > ? ORDER BY a.seq LIMIT 10000`
	args := []any{mark}
	if limit >= 0 {
		q = `SELECT a.seq, l.row_seq IS NOT NULL FROM access_audit a LEFT JOIN access_audit_links l ON l.row_seq = a.seq
			WHERE a.seq > ? AND a.seq <= ? ORDER BY a.seq LIMIT 10000`
		args = append(args, limit)
	}
	rows, err := tx.QueryContext(ctx, tx.Rebind(q), args...)
	if err != nil {
		return 0, fmt.Errorf("audit: unable to read the access rows above the seal mark: %w", err)
	}
	defer rows.Close()
	now := s.now()
	grace := s.Grace
	if grace <= 0 {
		grace = 5 * time.Minute
	}
	if s.gaps == nil {
		s.gaps = map[int64]time.Time{}
	}
	for rows.Next() {
		var (
			seq    int64
			linked bool
		)
		if err := rows.Scan(&seq, &linked); err != nil {
			return 0, fmt.Errorf("audit: unable to read the access rows above the seal mark: %w", err)
		}
		if !linked {
			break
		}
		if seq != mark+1 {
			seen, ok := s.gaps[mark+1]
			if !ok {
				s.gaps[mark+1] = now
				break
			}
			if now.Sub(seen) < grace {
				break
			}
		}
		// The number is passed, whether it arrived late or is given up on: forget the gap.
		delete(s.gaps, mark+1)
		mark = seq
	}
	return mark, rows.Err()
}

func (s *Sealer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// verifyAccess checks the access chain in two passes: the links in chain order, each against
// its row's contents and the link before it; then the rows in number order, each at or below the
// seal mark linked, and each row's record index matching its records.
func verifyAccess(ctx context.Context, db *database.DB) (Report, error) {
	h, err := readHead(ctx, db, ChainAccess)
	if err != nil {
		return Report{}, err
	}
	r := Report{Chain: ChainAccess, Head: h.Hash, OK: true}
	// Links up to the head were committed with it and never change, so reading them outside a
	// transaction, while sealing continues, still sees one consistent chain.
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT l.chain_seq, l.row_seq, l.prev_hash, l.hash, a.seq, a.at, a.subject, a.roles, a.team,
			a.action, a.records, a.purpose, a.break_glass, a.outcome, a.client, a.request_id
		FROM access_audit_links l LEFT JOIN access_audit a ON a.seq = l.row_seq
		WHERE l.chain_seq <= ? ORDER BY l.chain_seq`), h.Seq)
	if err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the access chain: %w", err)
	}
	defer rows.Close()
	prev, next := Genesis, h.Start
	for rows.Next() {
		var (
			link, rowSeq   int64
			linkPrev, hash string
			seq            sql.NullInt64
			at             *database.Time
			breakGlass     sql.NullBool
			f              [10]sql.NullString
		)
		if err := rows.Scan(&link, &rowSeq, &linkPrev, &hash, &seq, &at, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &breakGlass, &f[6], &f[7], &f[8]); err != nil {
			return Report{}, fmt.Errorf("audit: unable to read the access chain after link %d: %w", next-1, err)
		}
		switch {
		case link != next:
			return r.bad(next, "link %d of the chain is missing: the next link stored is %d", next, link)
		case !seq.Valid:
			return r.bad(rowSeq, "row %d is missing: the chain links it at place %d", rowSeq, link)
		case linkPrev != prev:
			return r.bad(rowSeq, "row %d does not follow the row before it: its link's prev_hash is not the previous link's hash", rowSeq)
		}
		fields := accessFields(*at, f[0].String, f[1].String, f[2].String, f[3].String, f[4].String, f[5].String, breakGlass.Bool,
			f[6].String, f[7].String, f[8].String)
		if hashRow(ChainAccess, link, linkPrev, fields...) != hash {
			return r.bad(rowSeq, "row %d was changed after it was written: its contents do not match its hash", rowSeq)
		}
		prev = hash
		next++
		r.Rows++
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the access chain: %w", err)
	}
	if next <= h.Seq {
		return r.bad(next, "link %d is missing: the chain head counts links up to %d, the table ends at link %d", next, h.Seq, next-1)
	}
	if prev != h.Hash {
		return r.bad(h.Seq, "link %d does not match the chain head: its hash is not the head's", h.Seq)
	}
	var beyond sql.NullInt64
	if err := db.QueryRowContext(ctx, db.Rebind(`SELECT MIN(chain_seq) FROM access_audit_links WHERE chain_seq > ?`), h.Seq).Scan(&beyond); err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the end of the access chain: %w", err)
	}
	if beyond.Valid {
		// The sealer may have moved the head since it was read; read it again before calling it forged.
		if h2, err := readHead(ctx, db, ChainAccess); err != nil {
			return Report{}, err
		} else if beyond.Int64 > h2.Seq {
			return r.bad(beyond.Int64, "link %d is beyond the chain head (link %d): it was written around the chain", beyond.Int64, h2.Seq)
		}
	}
	return checkRows(ctx, db, h, r)
}

// checkRows walks the access rows in number order beside the record index: a row at or below
// the seal mark must be linked, a row above it is pending, and every row's index entries must
// match its records.
func checkRows(ctx context.Context, db *database.DB, h head, r Report) (Report, error) {
	var last sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(seq) FROM access_audit`).Scan(&last); err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the access audit: %w", err)
	}
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT a.seq, a.records, l.chain_seq FROM access_audit a
		LEFT JOIN access_audit_links l ON l.row_seq = a.seq WHERE a.seq <= ? ORDER BY a.seq`), last.Int64)
	if err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the access audit: %w", err)
	}
	defer rows.Close()
	index, err := openRecordIndex(ctx, db, last.Int64)
	if err != nil {
		return Report{}, err
	}
	defer index.rows.Close()
	for rows.Next() {
		var (
			seq     int64
			records string
			link    sql.NullInt64
		)
		if err := rows.Scan(&seq, &records, &link); err != nil {
			return Report{}, fmt.Errorf("audit: unable to read the access audit: %w", err)
		}
		if !link.Valid {
			if seq <= h.SealedTo {
				return r.bad(seq, "row %d is at or below the seal mark (%d) but not in the chain: it was written around it", seq, h.SealedTo)
			}
			// Filed in the indexes when it is sealed; none yet.
			r.Pending++
			records = "[]"
		}
		problem, err := index.check(seq, records)
		if err != nil {
			return Report{}, err
		}
		if problem != "" {
			return r.bad(seq, "row %d: %s", seq, problem)
		}
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the access audit: %w", err)
	}
	var unfiled sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MIN(a.seq) FROM access_audit a JOIN access_audit_links l ON l.row_seq = a.seq
		WHERE NOT EXISTS (SELECT 1 FROM access_audit_subjects s WHERE s.subject = a.subject AND s.seq = a.seq)`).Scan(&unfiled); err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the subject index: %w", err)
	}
	if unfiled.Valid {
		return r.bad(unfiled.Int64, "row %d: the subject index (access_audit_subjects) does not list it under its subject", unfiled.Int64)
	}
	return r, nil
}
