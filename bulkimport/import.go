// Package bulkimport decides and stores assessments in bulk, one JSON line each, as `carepath cases
// import` does: a streaming decoder for the plain native shape, a pool of deciding workers, and a
// writer that stores whole batches (COPY on PostgreSQL) with their JSON columns encoded off the
// standard library's reflection path.
package bulkimport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// formKey names one version of a form in a worker's cache.
type formKey struct {
	id      string
	version int
}

// Importer decides and stores assessments in bulk, one JSON line each, as `carepath cases import`
// does. Lines are decided by a pool of workers and stored in batches, in file order, one
// transaction per batch, so an interrupted import leaves whole batches and can resume. A line's
// decision id derives from the line, so importing it again stores nothing.
type Importer struct {
	Store     *triage.SQLStore
	RuleStore rules.Store
	Rules     *rules.Registry
	Now       func() time.Time
	BatchSize int  // lines per transaction; DefaultBatch for the store's backend when zero
	Workers   int  // deciding goroutines; 1 when zero
	Resume    bool // continuing an interrupted import; lines already stored are never stored twice either way
}

// DefaultBatch is the batch size that imports fastest within 500 MB on each backend, as
// measured at a million cases: PostgreSQL's COPY gains from larger batches, while SQLite's
// writer holds more memory per batch for the same speed.
func DefaultBatch(d database.Dialect) int {
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

// Summary counts what an import did; it is also passed to the progress callback after every batch.
type Summary struct {
	Lines         int // non-blank lines read
	Stored        int // new decisions stored
	AlreadyStored int // lines whose decision was stored before (or earlier in the file): not stored again
	Rejected      int
	CommittedLine int // every line up to this one is stored, rejected or already stored
}

// LineHash is the SHA-256 of an imported line, stored as the decision's request hash and the
// source of its id.
func LineHash(line []byte) string {
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
func (im *Importer) Import(ctx context.Context, r io.Reader, onReject func(Rejected) error, onBatch func(Summary)) (Summary, error) {
	batchSize := im.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultBatch(im.Store.DB.Dialect)
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

	var sum Summary
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
			n, serr := SaveDecisions(context.WithoutCancel(ctx), im.Store.DB, b.keyed)
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
			err = fmt.Errorf("bulkimport: unable to analyze decisions after the import: %w", aerr)
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
			return fmt.Errorf("bulkimport: unable to read line %d: %w", n+1, err)
		}
	}
}

// decider holds one worker's caches, so deciding a line takes no lock and no query once warm.
type decider struct {
	im        *Importer
	forms     map[formKey]*triage.Form
	latest    map[string]*triage.Form
	ruleSets  map[string]string
	timelines map[string]*rules.Timeline
	// programs keeps each worker's compiled programs by form and version, so the hot path neither
	// takes the registry's lock nor copies the form's schema per line.
	programs map[deciderProgram]*rules.Program
	enc      rowEncoder
	fast     fastNative
}

type deciderProgram struct {
	form    *triage.Form
	version int
}

func (im *Importer) newDecider() *decider {
	return &decider{im: im, forms: map[formKey]*triage.Form{}, latest: map[string]*triage.Form{}, ruleSets: map[string]string{}, timelines: map[string]*rules.Timeline{}, programs: map[deciderProgram]*rules.Program{}}
}

func (d *decider) decide(ctx context.Context, b *importBatch) {
	b.keyed = make([]Keyed, 0, len(b.lines))
	decided := d.im.Now()
	for _, l := range b.lines {
		sum := LineHash(l.body)
		dec, reason, err := d.decideLine(ctx, l.body, decided)
		if err != nil {
			b.err = fmt.Errorf("bulkimport: line %d: %w", l.n, err)
			return
		}
		if reason != "" {
			b.rejects = append(b.rejects, Rejected{Line: l.n, Body: l.body, Reason: reason})
			continue
		}
		if err := triage.Record(&dec.Decision, &dec.Assessment, importID(dec.Assessment.Authored, sum), decided); err != nil {
			b.rejects = append(b.rejects, Rejected{Line: l.n, Body: l.body, Reason: err.Error()})
			continue
		}
		// No idempotency key: the id, derived from the line, is what makes a second import a no-op.
		k := Keyed{Decision: &dec.Decision, Key: triage.Idempotency{RequestSHA256: sum}}
		if err := k.encode(&d.enc); err != nil {
			b.err = fmt.Errorf("bulkimport: line %d: %w", l.n, err)
			return
		}
		b.keyed = append(b.keyed, k)
	}
}

// decideLine returns the decision, or the reason the line is refused, or an error of ours (for
// example an unreachable database) that stops the import.
func (d *decider) decideLine(ctx context.Context, body []byte, received time.Time) (*triage.Decided, string, error) {
	a, ok := d.fast.assess(body, received, func(id string, version int) (*triage.Form, error) { return d.form(ctx, id, version) })
	if !ok {
		sub, err := triage.ParseSubmission(body)
		if err != nil {
			return nil, problemsReason(err), nil
		}
		form, err := d.form(ctx, sub.Form, sub.FormVersion)
		if failure.CodeOf(err) == failure.NotFound {
			return nil, "form: " + err.Error(), nil
		} else if err != nil {
			return nil, "", err
		}
		if a, err = triage.Assess(form, sub, received); err != nil {
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
	dec, err := triage.Decide(&a, p)
	if err != nil {
		return nil, "rules: " + err.Error(), nil
	}
	return &triage.Decided{Decision: dec, Assessment: a}, "", nil
}

func (d *decider) form(ctx context.Context, id string, version int) (*triage.Form, error) {
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
	var ve *triage.ValidationError
	if errors.As(err, &ve) {
		parts := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			parts[i] = p.Field + ": " + p.Reason
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}
