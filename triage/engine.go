package triage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
)

// Engine runs the decision pipeline: parse, validate, score, evaluate the rule-set version in force,
// record, store.
type Engine struct {
	Store Store
	Rules *rules.Registry
	Now   func() time.Time
	NewID func() string
	// Observers see every newly stored decision after its commit, such as shadow runs of other rule
	// versions. They run on the request path, so they must hand work off rather than do it.
	Observers []Observer
	// Placement, when set, matches each decision to services and books a visit with it; nil
	// stores decisions without services or assignment.
	Placement *Placement
	// Publish, when set, runs in the transaction that stores each new decision, after the booking,
	// so that the event it writes (decision.made in the outbox) exists exactly when the decision does.
	Publish Booking
	// Slots, when set, bounds the submissions stored at once (its capacity); the rest wait their
	// turn in arrival order, rather than all at once for the database's connections, which are
	// handed out in no order, so that under a burst the slowest request waits a few turns, not
	// seconds.
	Slots chan struct{}
}

// Observer is told of each decision once it is stored.
type Observer interface {
	Observe(ctx context.Context, d *Decided)
}

// Options change how one submission is handled.
type Options struct {
	IdempotencyKey string // a client's key: a retry returns the first decision
	DryRun         bool   // decide without storing
	// IncludeRejected records, with the decision, why each other service was not offered.
	IncludeRejected bool
	// Team is the team the decision is filed under, which decides who may read it without
	// breaking the glass; SubmittedBy is the subject id of who submitted it.
	Team        string
	SubmittedBy string
	// InTx runs inside the transaction that stores the decision, so that what it writes, such as
	// the access audit record, commits or rolls back with the decision.
	InTx Booking
}

// Submit decides one submission (native JSON or FHIR QuestionnaireResponse) and, unless dry-run,
// stores it; created is false when an idempotent retry returned the first decision.
func (e *Engine) Submit(ctx context.Context, body []byte, opts Options) (d *Decision, created bool, err error) {
	if e.Slots != nil && !opts.DryRun {
		select {
		case e.Slots <- struct{}{}:
			defer func() { <-e.Slots }()
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	sub, err := ParseSubmission(body)
	if err != nil {
		return nil, false, err
	}
	decision, err := e.Decide(ctx, sub, e.Now())
	if err != nil {
		return nil, false, err
	}
	if err := Record(&decision.Decision, &decision.Assessment, e.NewID(), e.Now()); err != nil {
		return nil, false, err
	}
	decision.Team, decision.SubmittedBy = opts.Team, opts.SubmittedBy
	var book Booking
	if p := e.Placement; p != nil {
		// Appointments start from when the decision is made, not from when the form was authored.
		at := decision.Decided
		pl, err := p.prepare(ctx, decision, at, opts.IncludeRejected)
		if err != nil {
			return nil, false, err
		}
		if opts.DryRun {
			if err := p.apply(ctx, p.DB, pl, &decision.Decision, at, func() string { return "" }, false); err != nil {
				return nil, false, err
			}
			return &decision.Decision, false, nil
		}
		contended := false
		// Each attempt plans on the route book before its transaction, so that the transaction
		// (on SQLite the one writer) holds its locks for the writes alone: it claims the planned
		// route, and a route changed meanwhile sends the attempt back here to plan again.
		release := func() {}
		defer func() { release() }() // after the booking is applied to the book below
		plan := func(ctx context.Context) error {
			release()
			release, pl.plan = func() {}, nil
			if contended {
				return nil
			}
			for range maxReplans {
				if err := p.apply(ctx, p.DB, pl, &decision.Decision, at, e.NewID, false); err != nil {
					return err
				}
				if pl.plan == nil || pl.plan.pr == nil {
					return nil
				}
				turn, current, err := p.Routes.Hold(ctx, pl.plan.pr.ID, pl.plan.seen)
				if err != nil {
					return err
				}
				release = turn
				if current {
					return nil
				}
				// Another booking here changed the route while this one waited: plan again.
				release()
				release = func() {}
			}
			return nil // the claim finds out
		}
		book = func(ctx context.Context, tx *database.Tx, d *Decision) error {
			pl.booked = nil
			if plan := pl.plan; plan != nil {
				pl.plan = nil
				if plan.escalate != "" {
					return p.escalate(ctx, tx, pl, d, plan.escalate, at, true)
				}
				return p.commitClaimed(ctx, tx, pl, d, plan.req, plan.ins, plan.pr, at, e.NewID)
			}
			if err := p.apply(ctx, tx, pl, d, at, e.NewID, !contended); err != nil {
				return err
			}
			if contended && d.Assignment != nil {
				d.Assignment = nil
				d.UnassignedReason, d.ManualAllocation = "every slot found was taken by concurrent bookings; allocate manually", true
			}
			return nil
		}
		stored, created, err := e.save(ctx, decision, body, opts, plan, book, &contended, max(p.Attempts, 1))
		if err == nil && created {
			p.committed(pl)
		}
		if err != nil {
			// The book may have read what a failed transaction wrote: read everything afresh.
			p.Routes.Invalidate()
		}
		return stored, created, err
	}
	if opts.DryRun {
		return &decision.Decision, false, nil
	}
	return e.save(ctx, decision, body, opts, nil, nil, nil, 1)
}

// save stores the decision, retrying the whole transaction with fresh bookings when a concurrent
// submission took the chosen slot; after attempts losses it stores the decision for manual
// allocation rather than fail, because an accepted assessment must never be lost. before, when
// set, runs ahead of each attempt's transaction.
func (e *Engine) save(ctx context.Context, decision *Decided, body []byte, opts Options, before func(context.Context) error,
	book Booking, contended *bool, attempts int) (*Decision, bool, error) {
	sum := sha256.Sum256(body)
	key := Idempotency{Key: opts.IdempotencyKey, RequestSHA256: hex.EncodeToString(sum[:])}
	// The access record comes last: it locks the audit chain's head until the commit.
	for _, hook := range []Booking{e.Publish, opts.InTx} {
		if hook == nil {
			continue
		}
		inner := book
		book = func(ctx context.Context, tx *database.Tx, d *Decision) error {
			if inner != nil {
				if err := inner(ctx, tx, d); err != nil {
					return err
				}
			}
			return hook(ctx, tx, d)
		}
	}
	var (
		stored  *Decision
		created bool
	)
	retries := 0
	if contended != nil {
		retries = attempts // the last try, once every booking attempt has lost, books nothing
	}
	attempt := 0
	err := retry.Do(ctx, retryAtOnce(retries), func(ctx context.Context) error {
		attempt++
		if before != nil {
			if err := before(ctx); err != nil {
				return err
			}
		}
		var err error
		stored, created, err = e.Store.SaveDecision(ctx, &decision.Decision, key, book)
		if err = retryIfSlotTaken(err); contended != nil && attempt >= attempts && routing.IsSlotTaken(err) {
			*contended = true
		}
		return err
	})
	if err != nil || !created {
		return stored, created, err
	}
	for _, o := range e.Observers {
		o.Observe(ctx, decision)
	}
	return stored, created, nil
}

// maxReplans bounds how often one attempt plans again on the book because bookings made in this
// process changed the chosen route while it waited its turn.
const maxReplans = 8

// Decided is a decision together with the assessment it was made on.
type Decided struct {
	Decision
	Assessment Assessment
}

// Decide finds the form, validates and scores the submission, and evaluates it under the version
// of the form's rule set that was active when it was authored (received, when it says not).
func (e *Engine) Decide(ctx context.Context, sub *Submission, received time.Time) (*Decided, error) {
	if strings.TrimSpace(sub.Form) == "" {
		return nil, problemError("form", "is missing; give the id of the form the answers are for, such as mental-health")
	}
	form, err := e.Store.Form(ctx, sub.Form, sub.FormVersion)
	if failure.CodeOf(err) == failure.NotFound {
		field := "form"
		if sub.FormVersion > 0 {
			field = "form_version"
		}
		return nil, problemError(field, err.Error())
	} else if err != nil {
		return nil, err
	}
	a, err := Assess(form, sub, received)
	if err != nil {
		return nil, err
	}
	p, err := e.Rules.Active(ctx, form.Schema(), a.Authored)
	if err != nil {
		return nil, err
	}
	d, err := Decide(&a, p)
	if err != nil {
		return nil, failure.Errorf(failure.Unavailable, "triage: unable to evaluate the rules: %w", err)
	}
	return &Decided{Decision: d, Assessment: a}, nil
}

// Reproduce re-evaluates a stored decision's canonical input under its recorded rule-set version
// and reports an error when the outcome or the rule that matched differs.
func (e *Engine) Reproduce(ctx context.Context, stored *Decision) (*Decision, error) {
	sub, err := ParseSubmission(stored.Input)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: stored input does not parse: %w", stored.ID, err)
	}
	form, err := e.Store.Form(ctx, stored.Form, stored.FormVersion)
	if err != nil {
		return nil, err
	}
	a, err := Assess(form, sub, stored.Authored)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: stored input no longer validates: %w", stored.ID, err)
	}
	p, err := e.Rules.Program(ctx, stored.RuleSet.ID, stored.RuleSet.Version, form.Schema())
	if err != nil {
		return nil, err
	}
	if p.SHA256 != stored.RuleSet.SHA256 {
		return nil, fmt.Errorf("triage: decision %s: rule set %s v%d content is %s, recorded %s", stored.ID, stored.RuleSet.ID, stored.RuleSet.Version, p.SHA256, stored.RuleSet.SHA256)
	}
	d, err := Decide(&a, p)
	if err != nil {
		return nil, fmt.Errorf("triage: decision %s: %w", stored.ID, err)
	}
	if d.Outcome.Pathway != stored.Outcome.Pathway || d.Outcome.Priority != stored.Outcome.Priority || d.Rule != stored.Rule {
		return &d, fmt.Errorf("triage: decision %s: recorded %s by rule %s, re-evaluated %s by rule %s", stored.ID,
			stored.Outcome.Pathway, stored.Rule, d.Outcome.Pathway, d.Rule)
	}
	return &d, nil
}

// IsInvalid reports whether err is a problem with the submitted input rather than with the service.
func IsInvalid(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}
