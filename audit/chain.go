package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// The hash chains, each over one table.
const (
	ChainAccess  = "access"  // access_audit: who read or changed whose record
	ChainRuleSet = "ruleset" // ruleset_audit: the rule-governance trail
)

// Chains lists every chain in the order Verify checks them.
func Chains() []string { return []string{ChainAccess, ChainRuleSet} }

// Genesis is the previous hash of a chain's first row.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// head is a chain's row in audit_chains: where the chain starts, and its last row.
type head struct {
	Start    int64
	Seq      int64
	Hash     string
	SealedTo int64 // access chain: every row at or below it is linked
}

// lockHead reads a chain's head for an append. On PostgreSQL it locks the row until the
// transaction ends, so appends from several replicas take seq numbers one at a time; SQLite's
// write transactions begin IMMEDIATE and so hold the only write lock already.
func lockHead(ctx context.Context, tx *database.Tx, chain string) (head, error) {
	q := `SELECT start_seq, seq, hash, sealed_to FROM audit_chains WHERE chain = ?`
	if tx.Dialect == database.Postgres {
		q += ` FOR UPDATE`
	}
	var h head
	err := tx.QueryRowPrepared(ctx, q, chain).Scan(&h.Start, &h.Seq, &h.Hash, &h.SealedTo)
	if errors.Is(err, sql.ErrNoRows) {
		return head{}, fmt.Errorf("audit: the %s chain has no head: the database needs `carepath migrate`", chain)
	} else if err != nil {
		return head{}, fmt.Errorf("audit: unable to read the head of the %s chain: %w", chain, err)
	}
	return h, nil
}

func moveHead(ctx context.Context, tx *database.Tx, chain string, seq int64, hash string) error {
	if _, err := tx.ExecPrepared(ctx, `UPDATE audit_chains SET seq = ?, hash = ? WHERE chain = ?`, seq, hash, chain); err != nil {
		return fmt.Errorf("audit: unable to move the head of the %s chain to row %d: %w", chain, seq, err)
	}
	return nil
}

func readHead(ctx context.Context, db *database.DB, chain string) (head, error) {
	var h head
	err := db.QueryRowContext(ctx, db.Rebind(`SELECT start_seq, seq, hash, sealed_to FROM audit_chains WHERE chain = ?`), chain).Scan(&h.Start, &h.Seq, &h.Hash, &h.SealedTo)
	if errors.Is(err, sql.ErrNoRows) {
		return head{}, fmt.Errorf("audit: the %s chain has no head: the database needs `carepath migrate`", chain)
	} else if err != nil {
		return head{}, fmt.Errorf("audit: unable to read the head of the %s chain: %w", chain, err)
	}
	return h, nil
}

// hashRow returns the hex SHA-256 of a row's canonical encoding: the chain, the seq, the fields in
// their fixed order and the previous row's hash, each written as its length in bytes, a colon, the
// bytes and a comma, so that no two different rows encode alike.
func hashRow(chain string, seq int64, prev string, fields ...string) string {
	buf := make([]byte, 0, 512)
	buf = appendField(buf, chain)
	buf = appendField(buf, strconv.FormatInt(seq, 10))
	buf = encodeFields(buf, fields...)
	buf = appendField(buf, prev)
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

// encodeFields appends the fields to buf as hashRow encodes them.
func encodeFields(buf []byte, fields ...string) []byte {
	for _, f := range fields {
		buf = appendField(buf, f)
	}
	return buf
}

func appendField(buf []byte, s string) []byte {
	buf = strconv.AppendInt(buf, int64(len(s)), 10)
	buf = append(buf, ':')
	buf = append(buf, s...)
	return append(buf, ',')
}

// RuleSetEntry is one row of the rule-governance trail, ruleset_audit, as the rules package
// writes it.
type RuleSetEntry struct {
	RuleSet   string
	Version   int
	Actor     string // the stable subject id
	ActorName string // the display name when they acted
	At        time.Time
	From      string
	To        string
	Reason    string
	Detail    string // JSON text; "null" when there is none
}

// AppendRuleSetTx writes one row of the rule-governance trail inside the caller's transaction,
// chained to the row before it. Like AppendTx it holds the ruleset chain's head until the
// transaction ends.
func AppendRuleSetTx(ctx context.Context, tx *database.Tx, e RuleSetEntry) error {
	if e.Detail == "" {
		e.Detail = "null"
	}
	h, err := lockHead(ctx, tx, ChainRuleSet)
	if err != nil {
		return err
	}
	seq := h.Seq + 1
	at := database.NewTime(e.At)
	hash := hashRow(ChainRuleSet, seq, h.Hash, e.RuleSet, strconv.Itoa(e.Version), e.Actor, e.ActorName, at.String(),
		e.From, e.To, e.Reason, e.Detail)
	args := []any{seq, e.RuleSet, e.Version, e.Actor, e.ActorName, at, e.From, e.To, e.Reason, e.Detail, h.Hash, hash}
	if tx.Dialect == database.Postgres {
		_, err = tx.ExecContext(ctx, `WITH row AS (
				INSERT INTO ruleset_audit (seq, ruleset_id, version, actor, actor_name, at, from_status, to_status, reason, detail, prev_hash, hash)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			)
			UPDATE audit_chains SET seq = $1, hash = $12 WHERE chain = 'ruleset'`, args...)
		if err != nil {
			return fmt.Errorf("audit: unable to append row %d to the ruleset chain: %w", seq, err)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ruleset_audit (seq, ruleset_id, version, actor, actor_name, at, from_status, to_status, reason, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return fmt.Errorf("audit: unable to append row %d to the ruleset chain: %w", seq, err)
	}
	return moveHead(ctx, tx, ChainRuleSet, seq, hash)
}

// Report is what Verify found in one chain.
type Report struct {
	Chain string `json:"chain"`
	// Rows is how many chained rows were checked and found intact.
	Rows int `json:"rows"`
	// Unchained counts rule-set audit rows written before the chain began (before migration 6);
	// the triggers protect them, but no hash does.
	Unchained int `json:"unchained,omitempty"`
	// Head is the hash of the chain's last row. Noting it outside the database lets a later
	// Verify show that nobody with schema rights rewrote the whole chain since.
	Head string `json:"head"`
	// Pending counts access rows committed but not yet linked by the sealer: protected by the
	// append-only triggers, and by the chain once sealed.
	Pending  int    `json:"pending,omitempty"`
	OK       bool   `json:"ok"`
	FirstBad int64  `json:"first_bad,omitempty"` // the seq of the first row changed, removed or added around the chain
	Problem  string `json:"problem,omitempty"`
}

func (r Report) bad(seq int64, format string, args ...any) (Report, error) {
	r.OK, r.FirstBad, r.Problem = false, seq, fmt.Sprintf(format, args...)
	return r, nil
}

// chainRow is one row of a chain as Verify reads it.
type chainRow struct {
	Seq    int64
	Prev   string
	Hash   string
	Fields []string // the hashed fields, in hashRow's order
}

// source says how to read one chain's table.
type source struct {
	table string
	query string // rows up to a seq, in seq order
	scan  func(rows *sql.Rows, r *chainRow) error
}

var sources = map[string]source{
	ChainRuleSet: {
		table: "ruleset_audit",
		query: `SELECT seq, ruleset_id, version, actor, actor_name, at, from_status, to_status, reason, detail, prev_hash, hash
			FROM ruleset_audit WHERE seq <= ? ORDER BY seq`,
		scan: func(rows *sql.Rows, r *chainRow) error {
			var at database.Time
			var version int
			var f [7]string
			if err := rows.Scan(&r.Seq, &f[0], &version, &f[1], &f[2], &at, &f[3], &f[4], &f[5], &f[6], &r.Prev, &r.Hash); err != nil {
				return err
			}
			r.Fields = append(r.Fields[:0], f[0], strconv.Itoa(version), f[1], f[2], at.String(), f[3], f[4], f[5], f[6])
			return nil
		},
	},
}

// Verify recomputes every hash of a chain in order and reports the first row that does not hold:
// a stored hash that does not match the row's contents (an edit), a previous hash that does not
// match the link before (a row replaced or reordered), a link missing from the run (a removed
// row, including a removed tail, which the chain head still counts), or a link beyond the head.
// For the access chain it also reports a row at or below the seal mark that is not linked (one
// slipped in around the chain) and a record index that does not match its row, and counts rows
// not yet sealed as Pending. It returns an error only when the database cannot be read; a broken
// chain is a Report with OK false.
//
// Rule-set audit rows written before the chain began (migration 6) have no hash; they are counted
// as Unchained and not checked.
func Verify(ctx context.Context, db *database.DB, chain string) (Report, error) {
	if chain == ChainAccess {
		return verifyAccess(ctx, db)
	}
	src, ok := sources[chain]
	if !ok {
		return Report{}, failure.Errorf(failure.Invalid, "chain %q: want one of %s", chain, strings.Join(Chains(), ", "))
	}
	h, err := readHead(ctx, db, chain)
	if err != nil {
		return Report{}, err
	}
	r := Report{Chain: chain, Head: h.Hash, OK: true}

	// Rows up to the head were committed together with it and never change, so reading them
	// outside a transaction, while appends continue, still sees one consistent chain.
	rows, err := db.QueryContext(ctx, db.Rebind(src.query), h.Seq)
	if err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the %s chain: %w", chain, err)
	}
	defer rows.Close()

	prev, next := Genesis, h.Start
	var row chainRow
	for rows.Next() {
		if err := src.scan(rows, &row); err != nil {
			return Report{}, fmt.Errorf("audit: unable to read the %s chain after row %d: %w", chain, next-1, err)
		}
		if row.Seq < h.Start {
			r.Unchained++
			continue
		}
		switch {
		case row.Seq != next:
			return r.bad(next, "row %d is missing: the next row stored is %d", next, row.Seq)
		case row.Hash == "":
			return r.bad(row.Seq, "row %d has no hash: it was written around the chain", row.Seq)
		case row.Prev != prev:
			return r.bad(row.Seq, "row %d does not follow the row before it: its prev_hash is not row %d's hash", row.Seq, row.Seq-1)
		case hashRow(chain, row.Seq, row.Prev, row.Fields...) != row.Hash:
			return r.bad(row.Seq, "row %d was changed after it was written: its contents do not match its hash", row.Seq)
		}
		prev = row.Hash
		next++
		r.Rows++
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the %s chain: %w", chain, err)
	}
	if next <= h.Seq {
		return r.bad(next, "row %d is missing: the chain head counts rows up to %d, the table ends at row %d", next, h.Seq, next-1)
	}
	if prev != h.Hash {
		return r.bad(h.Seq, "row %d does not match the chain head: its hash is not the head's", h.Seq)
	}
	return checkBeyond(ctx, db, src, r)
}

// checkBeyond looks for rows past the head. Appends carry on while Verify runs, so it takes the
// largest seq before reading the head again: every row an append committed by then is within
// that head.
func checkBeyond(ctx context.Context, db *database.DB, src source, r Report) (Report, error) {
	var last sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(seq) FROM `+src.table).Scan(&last); err != nil {
		return Report{}, fmt.Errorf("audit: unable to read the end of the %s chain: %w", r.Chain, err)
	}
	h, err := readHead(ctx, db, r.Chain)
	if err != nil {
		return Report{}, err
	}
	if last.Valid && last.Int64 > h.Seq {
		var first int64
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT MIN(seq) FROM `+src.table+` WHERE seq > ?`), h.Seq).Scan(&first); err != nil {
			return Report{}, fmt.Errorf("audit: unable to read the end of the %s chain: %w", r.Chain, err)
		}
		return r.bad(first, "row %d is beyond the chain head (row %d): it was written around the chain", first, h.Seq)
	}
	return r, nil
}

// recordIndex walks access_audit_records in seq order beside the access rows.
type recordIndex struct {
	rows *sql.Rows
	seq  int64
	id   string
	more bool
}

func openRecordIndex(ctx context.Context, db *database.DB, upTo int64) (*recordIndex, error) {
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT seq, record_id FROM access_audit_records WHERE seq <= ? ORDER BY seq`), upTo)
	if err != nil {
		return nil, fmt.Errorf("audit: unable to read the access record index: %w", err)
	}
	x := &recordIndex{rows: rows}
	if err := x.advance(); err != nil {
		rows.Close()
		return nil, err
	}
	return x, nil
}

func (x *recordIndex) advance() error {
	x.more = x.rows.Next()
	if !x.more {
		if err := x.rows.Err(); err != nil {
			return fmt.Errorf("audit: unable to read the access record index: %w", err)
		}
		return nil
	}
	if err := x.rows.Scan(&x.seq, &x.id); err != nil {
		return fmt.Errorf("audit: unable to read the access record index: %w", err)
	}
	return nil
}

// check compares the index entries of row seq with the row's records, returning what differs.
func (x *recordIndex) check(seq int64, recordsJSON string) (string, error) {
	if x.more && x.seq < seq {
		return fmt.Sprintf("the record index has entries for row %d, which is not in the chain", x.seq), nil
	}
	var indexed []string
	for x.more && x.seq == seq {
		indexed = append(indexed, x.id)
		if err := x.advance(); err != nil {
			return "", err
		}
	}
	var records []string
	if err := json.Unmarshal([]byte(recordsJSON), &records); err != nil {
		return "its records are not a JSON list of ids", nil
	}
	slices.Sort(records)
	slices.Sort(indexed)
	if !slices.Equal(records, indexed) {
		return "its record index (access_audit_records) does not list the record ids the row names", nil
	}
	return "", nil
}
