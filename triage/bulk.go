package triage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/carepath/carepath/internal/jsonscan"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/rules"
)

// Keyed is a decision to store in bulk with its idempotency key, so that storing it again is a no-op.
type Keyed struct {
	Decision *Decision
	Key      Idempotency

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
func (s *SQLStore) SaveDecisions(ctx context.Context, ds []Keyed) (inserted int, err error) {
	if s.DB.Dialect == database.Postgres {
		inserted, err = s.copyDecisions(ctx, ds)
		if !database.IsUniqueViolation(err) {
			return inserted, err
		}
		// Another writer stored one of these between the check and the copy: the INSERTs below
		// skip conflicts row by row.
	}
	return s.insertDecisions(ctx, ds)
}

// copyDecisions stores decisions on PostgreSQL with COPY, which the server takes several times
// faster than multi-row INSERTs of bound parameters. COPY cannot skip conflicts, so the batch's
// stored ids and keys are looked up first and left out, as are repeats within the batch; a
// concurrent writer can still collide, which is a unique violation for the caller to retry.
func (s *SQLStore) copyDecisions(ctx context.Context, ds []Keyed) (inserted int, err error) {
	ids := make([]string, 0, len(ds))
	var keys []string
	for _, k := range ds {
		ids = append(ids, k.Decision.ID)
		if k.Key.Key != "" {
			keys = append(keys, k.Key.Key)
		}
	}
	var enc rowEncoder
	err = s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		inserted = 0
		stored := make(map[string]bool)
		var found []string
		if err := tx.SelectContext(ctx, &found, `SELECT id FROM decisions WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
			return fmt.Errorf("triage: unable to look up a batch of %d decisions: %w", len(ds), err)
		}
		storedKeys := make(map[string]bool)
		for _, id := range found {
			stored[id] = true
		}
		if len(keys) > 0 {
			found = found[:0]
			if err := tx.SelectContext(ctx, &found, `SELECT idempotency_key FROM decisions WHERE idempotency_key = ANY($1)`, pq.Array(keys)); err != nil {
				return fmt.Errorf("triage: unable to look up a batch of %d decisions: %w", len(ds), err)
			}
			for _, k := range found {
				storedKeys[k] = true
			}
		}
		stmt, err := tx.PrepareContext(ctx, `COPY decisions (`+strings.Join(strings.Fields(strings.ReplaceAll(bulkColumns, ",", " ")), ", ")+`) FROM STDIN`)
		if err != nil {
			return fmt.Errorf("triage: unable to store a batch of %d decisions: %w", len(ds), err)
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
				return fmt.Errorf("triage: unable to store a batch of %d decisions: %w", len(ds), err)
			}
			inserted++
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			return fmt.Errorf("triage: unable to store a batch of %d decisions: %w", len(ds), err)
		}
		return nil
	})
	return inserted, err
}

// insertDecisions stores decisions with multi-row INSERTs that skip conflicts.
func (s *SQLStore) insertDecisions(ctx context.Context, ds []Keyed) (inserted int, err error) {
	args := make([]any, 0, min(len(ds), bulkRowsPerStatement)*bulkColumnCount)
	var enc rowEncoder
	err = s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		inserted = 0
		if s.DB.Dialect == database.SQLite {
			// SQLite's default 2 MB page cache makes every index insert into a million-row table
			// a read from disk; 128 MB keeps the indexes' hot pages in memory on this connection.
			if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -131072`); err != nil {
				return fmt.Errorf("triage: unable to size the SQLite cache: %w", err)
			}
			// Checkpoints every 64 MB of WAL rather than 4 MB: each one copies the indexes'
			// hot pages back and syncs, and at the default a bulk load spends much of its
			// time there (an eighth of it at 200,000 cases).
			if _, err := tx.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 16384`); err != nil {
				return fmt.Errorf("triage: unable to set the SQLite checkpoint interval: %w", err)
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
			res, err := tx.ExecContext(ctx, bulkInsert(s.DB.Dialect, len(chunk)), args...)
			if err != nil {
				return fmt.Errorf("triage: unable to store a batch of %d decisions: %w", len(chunk), err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("triage: unable to store a batch of %d decisions: %w", len(chunk), err)
			}
			inserted += int(n)
		}
		return nil
	})
	return inserted, err
}

func decisionArgs(e *rowEncoder, d *Decision, key Idempotency) ([]any, error) {
	scores, err := e.scores(d.Scores)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: unable to encode scores: %w", d.ID, err)
	}
	flags := e.flags(d.Outcome.Flags)
	explanation, err := e.explanation(&d.Explanation)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: unable to encode explanation: %w", d.ID, err)
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

// DecisionFilter selects stored decisions for streaming; zero fields select everything.
type DecisionFilter struct {
	RuleSet string    // only decisions made by this rule set
	Since   time.Time // authored at or after
	Until   time.Time // authored before
}

func (f DecisionFilter) where() (string, []any) {
	var conds []string
	var args []any
	if f.RuleSet != "" {
		conds = append(conds, "ruleset_id = ?")
		args = append(args, f.RuleSet)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "authored_at >= ?")
		args = append(args, database.NewTime(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "authored_at < ?")
		args = append(args, database.NewTime(f.Until))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(conds, " AND "), args
}

// StoredCase is what a replay needs of a stored decision: its canonical input and what was decided.
// It leaves out the explanation, the largest column, which a replay recomputes when it needs it.
type StoredCase struct {
	Seq         int64
	ID          string
	Form        string
	FormVersion int
	SubjectRef  string
	RuleSet     RuleSetRef
	Outcome     rules.Outcome
	Rule        string
	Authored    time.Time
	Input       []byte
	InputSHA256 string
}

// CountDecisions counts the stored decisions a filter selects.
func (s *SQLStore) CountDecisions(ctx context.Context, f DecisionFilter) (int64, error) {
	where, args := f.where()
	var n int64
	if err := s.DB.GetContext(ctx, &n, s.DB.Rebind(`SELECT COUNT(*) FROM decisions WHERE 1 = 1`+where), args...); err != nil {
		return 0, fmt.Errorf("triage: unable to count decisions: %w", err)
	}
	return n, nil
}

// StreamDecisions calls fn with pages of the stored decisions a filter selects, in seq order (the
// order they were stored). It runs one query and reads its rows as they come, so memory stays flat
// and the database plans the scan once (a query per page would have it find its place again each
// time, which a stale planner can make quadratic); fn owns each page it is given.
func (s *SQLStore) StreamDecisions(ctx context.Context, f DecisionFilter, pageSize int, fn func([]StoredCase) error) error {
	if pageSize <= 0 {
		pageSize = 1000
	}
	where, args := f.where()
	order := " ORDER BY seq"
	if f.RuleSet != "" {
		order = " ORDER BY ruleset_id, seq" // the order of the decisions_ruleset_seq index: no sort
	}
	rows, err := s.DB.QueryContext(ctx, s.DB.Rebind(`SELECT seq, id, form_id, form_version, subject_ref, ruleset_id,
		ruleset_version, ruleset_sha256, pathway, priority, respond_within, flags, rule_id, authored_at, input, input_sha256
		FROM decisions WHERE 1 = 1`+where+order), args...)
	if err != nil {
		return fmt.Errorf("triage: unable to read decisions: %w", err)
	}
	defer rows.Close()
	page := make([]StoredCase, 0, pageSize)
	var (
		priority, flags string
		authored        database.Time
		input           []byte
	)
	for rows.Next() {
		var c StoredCase
		if err := rows.Scan(&c.Seq, &c.ID, &c.Form, &c.FormVersion, &c.SubjectRef, &c.RuleSet.ID, &c.RuleSet.Version,
			&c.RuleSet.SHA256, &c.Outcome.Pathway, &priority, &c.Outcome.RespondWithin, &flags, &c.Rule, &authored,
			&input, &c.InputSHA256); err != nil {
			return fmt.Errorf("triage: unable to read decisions: %w", err)
		}
		c.Outcome.Priority = rules.Priority(priority)
		c.Authored = authored.Time
		c.Input = bytes.Clone(input) // the driver may reuse its buffer on the next row
		if flags != "[]" {
			if err := json.Unmarshal([]byte(flags), &c.Outcome.Flags); err != nil {
				// Kept, not failed: a replay then reports the case as changed, with the reason visible.
				c.Outcome.Flags = []string{"<undecodable flags: " + err.Error() + ">"}
			}
		}
		page = append(page, c)
		if len(page) == pageSize {
			if err := fn(page); err != nil {
				return err
			}
			page = make([]StoredCase, 0, pageSize)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("triage: unable to read decisions: %w", err)
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}

// Importer decides and stores assessments in bulk, one JSON line each, as `carepath cases import`
// does. Lines are decided by a pool of workers and stored in batches, in file order, one
// transaction per batch, so an interrupted import leaves whole batches and can resume. A line's
// decision id derives from the line, so importing it again stores nothing.
type Importer struct {
	Store     *SQLStore
	RuleStore rules.Store
	Rules     *rules.Registry
	Now       func() time.Time
	BatchSize int  // lines per transaction; DefaultImportBatch for the store's backend when zero
	Workers   int  // deciding goroutines; 1 when zero
	Resume    bool // continuing an interrupted import; lines already stored are never stored twice either way
}

// DefaultImportBatch is the batch size that imports fastest within 500 MB on each backend, as
// measured at a million cases: PostgreSQL's COPY gains from larger batches, while SQLite's
// writer holds more memory per batch for the same speed.
func DefaultImportBatch(d database.Dialect) int {
	if d == database.Postgres {
		return 2000
	}
	return 1000
}

// Rejected is a line that could not be imported, with why.
type Rejected struct {
	Line   int
	Body   []byte
	Reason string
}

// ImportSummary counts what an import did; it is also passed to the progress callback after every batch.
type ImportSummary struct {
	Lines         int // non-blank lines read
	Stored        int // new decisions stored
	AlreadyStored int // lines whose decision was stored before (or earlier in the file): not stored again
	Rejected      int
	CommittedLine int // every line up to this one is stored, rejected or already stored
}

// ImportHash is the SHA-256 of an imported line, stored as the decision's request hash and the
// source of its id.
func ImportHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// importID derives a decision id shaped like a UUID (version 8, RFC 9562) from the authored time
// and the line's hash: the same line always gets the same id, which is what makes re-imports and
// --resume safe, and ids of a file in time order grow like UUIDv7s, so the unique index on id is
// appended to rather than written at random.
func importID(authored time.Time, requestSHA256 string) string {
	b, _ := hex.DecodeString(requestSHA256[:32])
	ms := uint64(authored.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

type importLine struct {
	n    int
	body []byte
}

type importBatch struct {
	index   int
	lines   []importLine
	keyed   []Keyed
	rejects []Rejected
	last    int
	err     error
}

// Import reads JSON lines from r and stores a decision for each valid one. A bad line is passed to
// onReject with its number and reason and the rest go on; onBatch (optional) sees the running
// summary after each committed batch. When ctx is cancelled, Import stops after the batch being
// committed and returns the summary with ctx's error; CommittedLine says where to resume.
func (im *Importer) Import(ctx context.Context, r io.Reader, onReject func(Rejected) error, onBatch func(ImportSummary)) (ImportSummary, error) {
	batchSize := im.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultImportBatch(im.Store.DB.Dialect)
	}
	workers := max(im.Workers, 1)
	readCtx, stop := context.WithCancel(ctx)
	defer stop()

	batches := make(chan *importBatch, workers)
	done := make(chan *importBatch, workers)
	var readErr error
	go func() {
		defer close(batches)
		readErr = readLines(readCtx, r, batchSize, batches)
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := im.newDecider()
			for b := range batches {
				d.decide(readCtx, b)
				select {
				case done <- b:
				case <-readCtx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var sum ImportSummary
	pending := map[int]*importBatch{}
	next := 0
	var err error
	for b := range done {
		pending[b.index] = b
		for err == nil {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if b.err != nil {
				err = b.err
				break
			}
			if ctx.Err() != nil {
				err = ctx.Err()
				break
			}
			// A batch that has begun to commit is finished even if ctx is cancelled meanwhile,
			// so the summary's CommittedLine is exact.
			n, serr := im.Store.SaveDecisions(context.WithoutCancel(ctx), b.keyed)
			if serr != nil {
				err = serr
				break
			}
			for _, rej := range b.rejects {
				if onReject != nil {
					if rerr := onReject(rej); rerr != nil && err == nil {
						err = rerr
					}
				}
			}
			sum.Lines += len(b.lines)
			sum.Stored += n
			sum.AlreadyStored += len(b.keyed) - n
			sum.Rejected += len(b.rejects)
			sum.CommittedLine = b.last
			if onBatch != nil {
				onBatch(sum)
			}
		}
		if err != nil {
			stop() // unblock the reader and workers; drain what they already produced
		}
	}
	if err == nil && readErr != nil {
		err = readErr
	}
	if err == nil && sum.Stored > 0 && im.Store.DB.Dialect == database.Postgres {
		// Fresh statistics after a bulk load, so the planner streams replays by index, not by sort.
		if _, aerr := im.Store.DB.ExecContext(ctx, `ANALYZE decisions`); aerr != nil {
			err = fmt.Errorf("triage: unable to analyze decisions after the import: %w", aerr)
		}
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return sum, err
}

func readLines(ctx context.Context, r io.Reader, batchSize int, out chan<- *importBatch) error {
	br := bufio.NewReaderSize(r, 1<<20)
	b := &importBatch{}
	n := 0
	send := func() bool {
		select {
		case out <- b:
			b = &importBatch{index: b.index + 1}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			n++
			b.last = n
			if body := bytes.TrimSpace(line); len(body) > 0 {
				b.lines = append(b.lines, importLine{n: n, body: body})
				if len(b.lines) == batchSize && !send() {
					return nil
				}
			}
		}
		if errors.Is(err, io.EOF) {
			if b.last > 0 {
				send()
			}
			return nil
		} else if err != nil {
			return fmt.Errorf("triage: unable to read line %d: %w", n+1, err)
		}
	}
}

// decider holds one worker's caches, so deciding a line takes no lock and no query once warm.
type decider struct {
	im        *Importer
	forms     map[formKey]*Form
	latest    map[string]*Form
	ruleSets  map[string]string
	timelines map[string]*rules.Timeline
	// programs keeps each worker's compiled programs by form and version, so the hot path neither
	// takes the registry's lock nor copies the form's schema per line.
	programs map[deciderProgram]*rules.Program
	enc      rowEncoder
	fast     fastNative
}

type deciderProgram struct {
	form    *Form
	version int
}

func (im *Importer) newDecider() *decider {
	return &decider{im: im, forms: map[formKey]*Form{}, latest: map[string]*Form{}, ruleSets: map[string]string{}, timelines: map[string]*rules.Timeline{}, programs: map[deciderProgram]*rules.Program{}}
}

func (d *decider) decide(ctx context.Context, b *importBatch) {
	b.keyed = make([]Keyed, 0, len(b.lines))
	decided := d.im.Now()
	for _, l := range b.lines {
		sum := ImportHash(l.body)
		dec, reason, err := d.decideLine(ctx, l.body, decided)
		if err != nil {
			b.err = fmt.Errorf("triage: line %d: %w", l.n, err)
			return
		}
		if reason != "" {
			b.rejects = append(b.rejects, Rejected{Line: l.n, Body: l.body, Reason: reason})
			continue
		}
		if err := Record(&dec.Decision, &dec.Assessment, importID(dec.Assessment.Authored, sum), decided); err != nil {
			b.rejects = append(b.rejects, Rejected{Line: l.n, Body: l.body, Reason: err.Error()})
			continue
		}
		// No idempotency key: the id, derived from the line, is what makes a second import a no-op.
		k := Keyed{Decision: &dec.Decision, Key: Idempotency{RequestSHA256: sum}}
		if err := k.encode(&d.enc); err != nil {
			b.err = fmt.Errorf("triage: line %d: %w", l.n, err)
			return
		}
		b.keyed = append(b.keyed, k)
	}
}

// decideLine returns the decision, or the reason the line is refused, or an error of ours (for
// example an unreachable database) that stops the import.
func (d *decider) decideLine(ctx context.Context, body []byte, received time.Time) (*Decided, string, error) {
	a, ok := d.fast.assess(body, received, func(id string, version int) (*Form, error) { return d.form(ctx, id, version) })
	if !ok {
		sub, err := ParseSubmission(body)
		if err != nil {
			return nil, problemsReason(err), nil
		}
		form, err := d.form(ctx, sub.Form, sub.FormVersion)
		if failure.CodeOf(err) == failure.NotFound {
			return nil, "form: " + err.Error(), nil
		} else if err != nil {
			return nil, "", err
		}
		if a, err = Assess(form, sub, received); err != nil {
			return nil, problemsReason(err), nil
		}
	}
	id, tl, err := d.timeline(ctx, a.Form.ID)
	if failure.CodeOf(err) == failure.Unavailable {
		return nil, err.Error(), nil
	} else if err != nil {
		return nil, "", err
	}
	version, ok := tl.VersionAt(a.Authored)
	if !ok {
		return nil, fmt.Sprintf("authored: no version of rule set %s was in force at %s", id, a.Authored.Format(time.RFC3339)), nil
	}
	key := deciderProgram{a.Form, version}
	p, ok := d.programs[key]
	if !ok {
		if p, err = d.im.Rules.Program(ctx, id, version, a.Form.Schema()); err != nil {
			return nil, "", err
		}
		d.programs[key] = p
	}
	dec, err := Decide(&a, p)
	if err != nil {
		return nil, "rules: " + err.Error(), nil
	}
	return &Decided{Decision: dec, Assessment: a}, "", nil
}

func (d *decider) form(ctx context.Context, id string, version int) (*Form, error) {
	if version == 0 {
		if f, ok := d.latest[id]; ok {
			return f, nil
		}
	} else if f, ok := d.forms[formKey{id, version}]; ok {
		return f, nil
	}
	f, err := d.im.Store.Form(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		d.latest[id] = f // the latest version for the whole run, so one import decides alike
	}
	d.forms[formKey{id, f.Version}] = f
	return f, nil
}

func (d *decider) timeline(ctx context.Context, form string) (string, *rules.Timeline, error) {
	id, ok := d.ruleSets[form]
	if !ok {
		var err error
		if id, err = d.im.RuleStore.RuleSetFor(ctx, form); err != nil {
			return "", nil, err
		}
		d.ruleSets[form] = id
	}
	if tl, ok := d.timelines[id]; ok {
		return id, tl, nil
	}
	acts, err := d.im.RuleStore.Activations(ctx, id)
	if err != nil {
		return "", nil, err
	}
	tl := rules.NewTimeline(acts)
	d.timelines[id] = tl
	return id, tl, nil
}

// problemsReason renders a refusal as one line: "field: reason; field: reason".
func problemsReason(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		parts := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			parts[i] = p.Field + ": " + p.Reason
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

// rowEncoder writes a decision's JSON columns into one reusable buffer, byte for byte as
// json.Marshal writes them (SaveDecision's encoding, which Decision reads back), because
// encoding/json spends more on these small documents than a bulk import spends deciding.
type rowEncoder struct {
	buf  []byte
	keys []string
}

// scores writes d.Scores as json.Marshal does: keys sorted, each value its Any().
func (e *rowEncoder) scores(scores map[string]rules.Value) (string, error) {
	if scores == nil {
		return "null", nil
	}
	e.keys = e.keys[:0]
	for k := range scores {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	b := append(e.buf[:0], '{')
	var err error
	for i, k := range e.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHTMLString(b, k)
		b = append(b, ':')
		if b, err = appendValue(b, scores[k]); err != nil {
			return "", err
		}
	}
	b = append(b, '}')
	e.buf = b
	return string(b), nil
}

// flags writes the flags column: "[]" when there are none, never "null".
func (e *rowEncoder) flags(flags []string) string {
	if len(flags) == 0 {
		return "[]"
	}
	b := append(e.buf[:0], '[')
	for i, f := range flags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHTMLString(b, f)
	}
	b = append(b, ']')
	e.buf = b
	return string(b)
}

// explanation writes x as json.Marshal writes a rules.Explanation.
func (e *rowEncoder) explanation(x *rules.Explanation) (string, error) {
	b := append(e.buf[:0], `{"rule":`...)
	b = appendHTMLString(b, x.Rule)
	b = append(b, `,"because":`...)
	b = appendHTMLString(b, x.Because)
	var err error
	if len(x.Variables) > 0 {
		b = append(b, `,"variables":[`...)
		for i := range x.Variables {
			v := &x.Variables[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendHTMLString(b, v.Name)
			b = append(b, `,"expr":`...)
			b = appendHTMLString(b, v.Expr)
			b = append(b, `,"value":`...)
			if b, err = appendValue(b, v.Value); err != nil {
				return "", err
			}
			b = append(b, `,"values":`...)
			if b, err = appendNamedValues(b, v.Values); err != nil {
				return "", err
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"evaluated":`...)
	if x.Evaluated == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range x.Evaluated {
			ev := &x.Evaluated[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendHTMLString(b, ev.Rule)
			b = append(b, `,"when":`...)
			b = appendHTMLString(b, ev.When)
			b = append(b, `,"result":`...)
			b = strconv.AppendBool(b, ev.Result)
			b = append(b, `,"values":`...)
			if b, err = appendNamedValues(b, ev.Values); err != nil {
				return "", err
			}
			if len(ev.Parts) > 0 {
				b = append(b, `,"parts":[`...)
				for j, p := range ev.Parts {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"op":`...)
					b = appendHTMLString(b, p.Op)
					b = append(b, `,"expr":`...)
					b = appendHTMLString(b, p.Expr)
					b = append(b, `,"value":`...)
					if b, err = appendValue(b, p.Value); err != nil {
						return "", err
					}
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	e.buf = b
	return string(b), nil
}

func appendNamedValues(b []byte, vs []rules.NamedValue) ([]byte, error) {
	if vs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	var err error
	for i, nv := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendHTMLString(b, nv.Name)
		b = append(b, `,"value":`...)
		if b, err = appendValue(b, nv.Value); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendValue writes a rules.Value as its MarshalJSON does, HTML-escaped as json.Marshal leaves it.
func appendValue(b []byte, v rules.Value) ([]byte, error) {
	if v.Kind == rules.KindString {
		return appendHTMLString(b, v.S), nil
	}
	return appendJSONValue(b, v)
}

// appendHTMLString writes s as json.Marshal does, which escapes <, > and & for HTML. Printable ASCII
// is written here; anything else goes through encoding/json itself.
func appendHTMLString(b []byte, s string) []byte {
	n0 := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x80 || c == '"' || c == '\\':
			q, _ := json.Marshal(s) // a string always encodes
			return append(b[:n0], q...)
		case c == '<' || c == '>' || c == '&':
			// Runs between escapes are copied whole: most strings have none or a few.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// fastNative decodes a native submission line straight into an Assessment, for the import hot path
// where encoding/json into maps costs more than deciding. It takes only the plain shape: known keys
// spelt exactly, once each; ASCII strings without escapes; whole-number, boolean and string answers
// keyed by item id; nothing that fails validation. Anything else it declines, and the line goes
// through ParseSubmission and Assess, which stay the reference (a fuzz test holds the two equal)
// and give the reason when a line is bad.
type fastNative struct {
	s       jsonscan.Scanner
	answers []fastAnswer
}

type fastAnswer struct {
	key []byte
	raw any // int64, bool or string, as parseNative gives them
}

// assess decodes body, finding its form through formFor; ok is false when the line must take the
// full path.
func (fn *fastNative) assess(body []byte, received time.Time, formFor func(id string, version int) (*Form, error)) (a Assessment, ok bool) {
	if len(body) > MaxSubmissionBytes {
		return Assessment{}, false
	}
	fn.s.Reset(body)
	fn.answers = fn.answers[:0]
	s := &fn.s
	sub := &Submission{}
	var seen uint8
	if !s.Object(func(key []byte) bool {
		var bit uint8
		ok := false
		switch string(key) {
		case "form":
			bit, ok = 1, s.StrTo(&sub.Form)
		case "form_version":
			bit = 2
			var n int64
			n, ok = s.Integer()
			sub.FormVersion = int(n)
		case "authored":
			bit = 4
			start := s.Pos()
			if _, ok = s.Str(); ok {
				// time.Time's own decoder, as encoding/json would call it, so what it accepts is exact.
				var t time.Time
				ok = t.UnmarshalJSON(bytes.TrimLeft(body[start:s.Pos()], " \t\r\n")) == nil
				sub.Authored = &t
			}
		case "subject":
			bit, ok = 8, ScanSubject(s, &sub.Subject)
		case "answers":
			bit = 16
			ok = s.Object(func(k []byte) bool {
				var raw any
				switch s.Peek() {
				case '"':
					v, ok := s.Str()
					if !ok {
						return false
					}
					raw = string(v)
				case 't', 'f':
					v, ok := s.Boolean()
					if !ok {
						return false
					}
					raw = v
				default:
					n, ok := s.Integer()
					if !ok {
						return false
					}
					raw = n
				}
				fn.answers = append(fn.answers, fastAnswer{key: k, raw: raw})
				return true
			})
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) || seen&(1|8|16) != 1|8|16 {
		return Assessment{}, false
	}
	if !s.AtEnd() {
		return Assessment{}, false
	}
	f, err := formFor(sub.Form, sub.FormVersion)
	if err != nil || sub.Form != f.ID || sub.FormVersion != 0 && sub.FormVersion != f.Version {
		return Assessment{}, false
	}
	var problems problemList
	f.validateSubject(sub, &problems)
	if problems != nil {
		return Assessment{}, false
	}
	authored := received
	if sub.Authored != nil {
		if y := sub.Authored.UTC().Year(); y < 1 || y > 9999 {
			return Assessment{}, false
		}
		authored = *sub.Authored
	}
	values := make([]rules.Value, len(f.Items))
	var seenStack [smallForm]bool
	if len(f.Items) > smallForm {
		return Assessment{}, false
	}
	answered := seenStack[:len(f.Items)]
	for _, ans := range fn.answers {
		i, ok := f.itemByID[string(ans.key)]
		if !ok || answered[i] {
			return Assessment{}, false
		}
		answered[i] = true
		v, reason := f.answerValue(i, ans.raw)
		if reason != "" {
			return Assessment{}, false
		}
		// Canonical names a choice by its value; when options share a score it needs the
		// submission's answers, which this path does not keep.
		if f.Items[i].Type == TypeChoice {
			if _, ok := f.optionOf(i, v); !ok {
				return Assessment{}, false
			}
		}
		values[i] = v
	}
	for i := range f.Items {
		if f.Items[i].Required && !answered[i] {
			return Assessment{}, false
		}
	}
	// sub.Answers stays nil: only Canonical would read it, for a choice its value does not name,
	// and those were declined above.
	return Assessment{Form: f, Submission: sub, Values: values, Scores: f.Score(values), Authored: authored.UTC()}, true
}

// ScanSubject reads a native subject object (ref, birth_date, age, postcode, location), each key
// at most once; it declines anything else so the caller can take the full decoder.
func ScanSubject(s *jsonscan.Scanner, sub *Subject) bool {
	var seen uint8
	return s.Object(func(key []byte) bool {
		var bit uint8
		ok := false
		switch string(key) {
		case "ref":
			bit, ok = 1, s.StrTo(&sub.Ref)
		case "birth_date":
			bit, ok = 2, s.StrTo(&sub.BirthDate)
		case "age":
			bit = 4
			var n int64
			if n, ok = s.Integer(); ok && n >= 0 && n <= 150 {
				age := int(n)
				sub.Age = &age
			} else {
				ok = false
			}
		case "postcode":
			bit, ok = 8, s.StrTo(&sub.Postcode)
		case "location":
			bit = 16
			var loc Location
			var got uint8
			ok = s.Object(func(k []byte) bool {
				var ok bool
				var bit uint8
				switch string(k) {
				case "lat":
					bit = 1
					loc.Lat, ok = s.Float()
				case "lon":
					bit = 2
					loc.Lon, ok = s.Float()
				}
				if !ok || got&bit != 0 {
					return false
				}
				got |= bit
				return true
			}) && got == 3
			sub.Location = &loc
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}
