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
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

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
	row, err := decisionArgs(k.Decision, k.Key)
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

// SaveDecisions stores decisions in one transaction with multi-row INSERTs and returns how many were
// new; a decision whose id or idempotency key is already stored (or repeated in ds) is skipped, not an error.
func (s *SQLStore) SaveDecisions(ctx context.Context, ds []Keyed) (inserted int, err error) {
	args := make([]any, 0, min(len(ds), bulkRowsPerStatement)*bulkColumnCount)
	err = s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		inserted = 0
		if s.DB.Dialect == database.SQLite {
			// SQLite's default 2 MB page cache makes every index insert into a million-row table
			// a read from disk; 128 MB keeps the indexes' hot pages in memory on this connection.
			if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -131072`); err != nil {
				return fmt.Errorf("triage: unable to size the SQLite cache: %w", err)
			}
		}
		for start := 0; start < len(ds); start += bulkRowsPerStatement {
			chunk := ds[start:min(start+bulkRowsPerStatement, len(ds))]
			args = args[:0]
			for _, k := range chunk {
				row := k.row
				if row == nil {
					var err error
					if row, err = decisionArgs(k.Decision, k.Key); err != nil {
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

func decisionArgs(d *Decision, key Idempotency) ([]any, error) {
	scores, err := json.Marshal(d.Scores)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: unable to encode scores: %w", d.ID, err)
	}
	flags := "[]"
	if len(d.Outcome.Flags) > 0 {
		b, err := json.Marshal(d.Outcome.Flags)
		if err != nil {
			return nil, fmt.Errorf("triage: decision %s: unable to encode flags: %w", d.ID, err)
		}
		flags = string(b)
	}
	explanation, err := json.Marshal(d.Explanation)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: unable to encode explanation: %w", d.ID, err)
	}
	var idemKey any // NULL when there is none, so keyless decisions never collide
	if key.Key != "" {
		idemKey = key.Key
	}
	return []any{d.ID, idemKey, key.RequestSHA256, string(d.Input), d.InputSHA256, d.Form, d.FormVersion, d.SubjectRef,
		string(scores), d.RuleSet.ID, d.RuleSet.Version, d.RuleSet.SHA256, d.Outcome.Pathway, string(d.Outcome.Priority),
		d.Outcome.RespondWithin, flags, d.Rule, string(explanation),
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
	BatchSize int  // lines per transaction; 1000 when zero
	Workers   int  // deciding goroutines; 1 when zero
	Resume    bool // continuing an interrupted import; lines already stored are never stored twice either way
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
		batchSize = 1000
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
}

func (im *Importer) newDecider() *decider {
	return &decider{im: im, forms: map[formKey]*Form{}, latest: map[string]*Form{}, ruleSets: map[string]string{}, timelines: map[string]*rules.Timeline{}}
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
		if err := k.Encode(); err != nil {
			b.err = fmt.Errorf("triage: line %d: %w", l.n, err)
			return
		}
		b.keyed = append(b.keyed, k)
	}
}

// decideLine returns the decision, or the reason the line is refused, or an error of ours (for
// example an unreachable database) that stops the import.
func (d *decider) decideLine(ctx context.Context, body []byte, received time.Time) (*Decided, string, error) {
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
	a, err := Assess(form, sub, received)
	if err != nil {
		return nil, problemsReason(err), nil
	}
	id, tl, err := d.timeline(ctx, form.ID)
	if failure.CodeOf(err) == failure.Unavailable {
		return nil, err.Error(), nil
	} else if err != nil {
		return nil, "", err
	}
	version, ok := tl.VersionAt(a.Authored)
	if !ok {
		return nil, fmt.Sprintf("authored: no version of rule set %s was in force at %s", id, a.Authored.Format(time.RFC3339)), nil
	}
	p, err := d.im.Rules.Program(ctx, id, version, form.Schema())
	if err != nil {
		return nil, "", err
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
