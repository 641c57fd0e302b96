package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr/vm"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Config says what to replay and against what.
type Config struct {
	RuleSet   string         // the rule set replayed, for the report
	Source    Source         // the stored cases, in a stable order
	Forms     []*triage.Form // every published version of the form the cases use
	Candidate Resolver       // required
	Baseline  Resolver       // nil: what was recorded when each case was decided
	Where     string         // expr-lang boolean over the case; empty keeps every case
	GroupBy   string         // expr-lang expression whose value names each case's group; empty for none
	Workers   int            // evaluating goroutines; GOMAXPROCS when zero
	Progress  func(cases int64)
	// Pseudonymiser names cases and subjects in the report and in expressions (required): a
	// report is for analysts, who see pseudonyms, never decision ids or subject references.
	Pseudonymiser *privacy.Pseudonymiser
}

// Run replays every case of the source and returns the report. Expressions are compiled against
// every form version before the first case is read, so a bad one is an error that reads nothing.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Candidate == nil {
		return nil, errors.New("replay: unable to run: no candidate")
	}
	if cfg.Source == nil {
		return nil, errors.New("replay: unable to run: no source")
	}
	if cfg.Pseudonymiser == nil {
		return nil, errors.New("replay: unable to run: no pseudonymiser for the report's case lists")
	}
	forms := map[formKey]*formIndex{}
	for _, f := range cfg.Forms {
		x := newFormIndex(f)
		if cfg.Where != "" || cfg.GroupBy != "" {
			sh, err := newEnvShape(f, cfg.Where, cfg.GroupBy)
			if err != nil {
				return nil, err
			}
			x.shape = sh
		}
		forms[formKey{f.ID, f.Version}] = x
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan chunk, workers*2)
	results := make(chan chunkResult, workers*2)
	var srcErr error
	go func() {
		defer close(jobs)
		index := 0
		srcErr = cfg.Source.Cases(ctx, func(page []triage.StoredCase) error {
			for start := 0; start < len(page); start += chunkSize {
				select {
				case jobs <- chunk{index: index, cases: page[start:min(start+chunkSize, len(page))]}:
					index++
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}()
	tallies := make([]*tally, workers)
	var wg sync.WaitGroup
	var done atomic.Int64
	for w := range workers {
		tallies[w] = newTally()
		wk := &worker{cfg: &cfg, forms: forms, tally: tallies[w], programs: map[programKey]programOrReason{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				res, err := wk.run(ctx, c)
				if err != nil {
					res.err = err
				}
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
				if cfg.Progress != nil {
					cfg.Progress(done.Add(int64(len(c.cases))))
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// Lists are merged in chunk order, so they come out in source order whatever the scheduling.
	rep := &Report{RuleSet: cfg.RuleSet, Candidate: cfg.Candidate.Name(), Baseline: "recorded", Where: cfg.Where, GroupBy: cfg.GroupBy}
	if cfg.Baseline != nil {
		rep.Baseline = cfg.Baseline.Name()
	}
	pending := map[int]chunkResult{}
	next := 0
	var runErr error
	for res := range results {
		if res.err != nil && runErr == nil {
			runErr = res.err
			cancel()
		}
		pending[res.index] = res
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			rep.ChangedCases = append(rep.ChangedCases, r.changed...)
			rep.NotReplayableCases = append(rep.NotReplayableCases, r.unreplayable...)
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	if srcErr != nil {
		return nil, fmt.Errorf("replay: unable to read cases: %w", srcErr)
	}
	total := newTally()
	for _, t := range tallies {
		total.merge(t)
	}
	total.fill(rep)
	return rep, nil
}

const chunkSize = 256

type chunk struct {
	index int
	cases []triage.StoredCase
}

type chunkResult struct {
	index        int
	changed      []ChangedCase
	unreplayable []NotReplayableCase
	err          error
}

type formKey struct {
	id      string
	version int
}

type programKey struct {
	form        string
	formVersion int
	ruleSet     string
	version     int
}

type programOrReason struct {
	p      *rules.Program
	reason string
}

type worker struct {
	cfg      *Config
	forms    map[formKey]*formIndex
	tally    *tally
	programs map[programKey]programOrReason // per worker, so the hot path takes no lock
	baseline map[programKey]programOrReason
	in       caseInput // reused from case to case
	env      reflect.Value
	envType  reflect.Type
	vm       vm.VM
	sum      [sha256.Size * 2]byte
}

func (w *worker) run(ctx context.Context, c chunk) (chunkResult, error) {
	res := chunkResult{index: c.index}
	for i := range c.cases {
		if err := w.replay(ctx, &c.cases[i], &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (w *worker) resolve(ctx context.Context, cache *map[programKey]programOrReason, r Resolver, c *triage.StoredCase, x *formIndex) (programOrReason, error) {
	key := programKey{form: c.Form, formVersion: c.FormVersion}
	if r.PerCase() {
		key.ruleSet, key.version = c.RuleSet.ID, c.RuleSet.Version
	}
	if *cache == nil {
		*cache = map[programKey]programOrReason{}
	}
	if pr, ok := (*cache)[key]; ok {
		return pr, nil
	}
	p, err := r.Program(ctx, c, x.form)
	var pr programOrReason
	var ce *rules.CompileError
	switch {
	case err == nil:
		pr.p = p
	case errors.As(err, &ce):
		pr.reason = err.Error()
	default:
		switch failure.CodeOf(err) {
		case failure.Invalid, failure.NotFound, failure.Unavailable:
			pr.reason = err.Error()
		default:
			return pr, fmt.Errorf("replay: unable to resolve %s for case %s: %w", r.Name(), c.ID, err)
		}
	}
	(*cache)[key] = pr
	return pr, nil
}

func (w *worker) notReplayable(res *chunkResult, c *triage.StoredCase, reason string) {
	w.tally.read++
	w.tally.notReplayable++
	p := w.cfg.Pseudonymiser
	res.unreplayable = append(res.unreplayable, NotReplayableCase{Case: p.Case(c.ID), Subject: p.Subject(c.SubjectRef), Reason: reason})
}

func (w *worker) replay(ctx context.Context, c *triage.StoredCase, res *chunkResult) error {
	x, ok := w.forms[formKey{c.Form, c.FormVersion}]
	if !ok {
		w.notReplayable(res, c, fmt.Sprintf("form %s version %d is not published", c.Form, c.FormVersion))
		return nil
	}
	sum := sha256.Sum256(c.Input)
	hex.Encode(w.sum[:], sum[:])
	if string(w.sum[:]) != c.InputSHA256 {
		w.notReplayable(res, c, "stored input does not match its recorded SHA-256: it changed after the decision")
		return nil
	}
	if !decodeFast(x, c.Input, c.Authored, &w.in) {
		if reason := w.decodeFull(x, c); reason != "" {
			w.notReplayable(res, c, reason)
			return nil
		}
	}
	input := rules.Input{Answers: w.in.values, Scores: w.in.scores, Age: w.in.age}

	recorded := Side{Pathway: c.Outcome.Pathway, Priority: string(c.Outcome.Priority), RespondWithin: c.Outcome.RespondWithin, Flags: c.Outcome.Flags, Rule: c.Rule}
	baseline := recorded
	if w.cfg.Baseline != nil {
		pr, err := w.resolve(ctx, &w.baseline, w.cfg.Baseline, c, x)
		if err != nil {
			return err
		}
		if pr.reason != "" {
			w.notReplayable(res, c, "baseline: "+pr.reason)
			return nil
		}
		if baseline, ok = w.evaluate(res, c, pr.p, input, "baseline"); !ok {
			return nil
		}
	}
	pr, err := w.resolve(ctx, &w.programs, w.cfg.Candidate, c, x)
	if err != nil {
		return err
	}
	if pr.reason != "" {
		w.notReplayable(res, c, "candidate: "+pr.reason)
		return nil
	}
	candidate, ok := w.evaluate(res, c, pr.p, input, "candidate")
	if !ok {
		return nil
	}
	changed := !sameSide(&baseline, &candidate)

	group := ""
	if sh := x.shape; sh != nil {
		if w.envType != sh.typ {
			w.env, w.envType = reflect.New(sh.typ).Elem(), sh.typ
		}
		sh.fill(w.env, &w.in, w.cfg.Pseudonymiser, &recorded, &baseline, &candidate, changed)
		env := w.env.Interface()
		if sh.where != nil {
			out, err := w.vm.Run(sh.where, env)
			if err != nil {
				w.notReplayable(res, c, "--where: "+err.Error())
				return nil
			}
			if keep, _ := out.(bool); !keep {
				w.tally.read++
				w.tally.filtered++
				return nil
			}
		}
		if sh.group != nil {
			out, err := w.vm.Run(sh.group, env)
			if err != nil {
				w.notReplayable(res, c, "--group-by: "+err.Error())
				return nil
			}
			group = groupName(out)
		}
	}
	w.tally.read++
	w.tally.add(group, &baseline, &candidate, changed)
	if changed {
		p := w.cfg.Pseudonymiser
		res.changed = append(res.changed, ChangedCase{Case: p.Case(c.ID), Subject: p.Subject(c.SubjectRef), Group: group,
			From: baseline.Pathway, To: candidate.Pathway, BaselineRule: baseline.Rule, CandidateRule: candidate.Rule})
	}
	return nil
}

// decodeFull takes the path every submission takes, for inputs the fast decoder does not
// recognise; it returns the reason the case is not replayable, or "".
func (w *worker) decodeFull(x *formIndex, c *triage.StoredCase) string {
	sub, err := triage.ParseSubmission(c.Input)
	if err != nil {
		return "stored input does not parse: " + oneLine(err)
	}
	if sub.Form != c.Form {
		return fmt.Sprintf("stored input is for form %q, recorded %q", sub.Form, c.Form)
	}
	a, err := triage.Assess(x.form, sub, c.Authored)
	if err != nil {
		return "stored input does not validate: " + oneLine(err)
	}
	w.in.values, w.in.scores, w.in.subject, w.in.authored = a.Values, a.Scores, sub.Subject, a.Authored
	w.in.age = a.Input().Age
	return ""
}

func (w *worker) evaluate(res *chunkResult, c *triage.StoredCase, p *rules.Program, in rules.Input, side string) (Side, bool) {
	r, err := p.Evaluate(in)
	if err != nil {
		w.notReplayable(res, c, side+": evaluation error: "+withoutValues(oneLine(err)))
		return Side{}, false
	}
	o := r.Outcome()
	return Side{Pathway: o.Pathway, Priority: string(o.Priority), RespondWithin: o.RespondWithin, Flags: o.Flags, Rule: r.Rule().ID}, true
}

// sameSide compares outcome and matching rule; a different rule with the same outcome is a change
// an analyst wants to see, and what a reproducibility check must catch.
func sameSide(a, b *Side) bool {
	return a.Pathway == b.Pathway && a.Priority == b.Priority && a.RespondWithin == b.RespondWithin &&
		a.Rule == b.Rule && slices.Equal(a.Flags, b.Flags)
}

func groupName(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// oneLine renders a (possibly multi-line) validation error on one line for reports, without the
// values it quotes: a reason such as `must be a date as YYYY-MM-DD, got "03/02/1980"` would put
// a birth date or free text in front of an analyst.
func oneLine(err error) string {
	var ve *triage.ValidationError
	if errors.As(err, &ve) {
		parts := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			parts[i] = p.Field + ": " + withoutValues(p.Reason)
		}
		return strings.Join(parts, "; ")
	}
	return withoutValues(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// withoutValues cuts a message at the first value it quotes or reports (a quote mark or ", got"),
// which is where the messages of validation and evaluation put what they were given.
func withoutValues(msg string) string {
	cut := len(msg)
	if i := strings.IndexAny(msg, "\"'`"); i >= 0 {
		cut = i
	}
	if i := strings.Index(msg, ", got"); i >= 0 && i < cut {
		cut = i
	}
	if cut == len(msg) {
		return msg
	}
	if out := strings.TrimRight(msg[:cut], " :,;("); out != "" {
		return out + " (value withheld)"
	}
	return "value withheld"
}
