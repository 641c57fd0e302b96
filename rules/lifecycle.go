package rules

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	auditlog "github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// StatusActive names activation in the audit trail; a version's stored status stays approved,
// because which version is active depends on the time asked about (see SQLStore.ActiveAt).
const StatusActive Status = "active"

// AuditEntry is one change of state of a rule-set version: who, when, from what, to what, why.
type AuditEntry struct {
	RuleSet string `json:"ruleset"`
	Version int    `json:"version"`
	Actor   string `json:"actor"`
	// ActorName is the actor's display name when they acted; the two-person rule compares Actor,
	// the stable subject id, never names.
	ActorName string          `json:"actor_name,omitempty"`
	At        time.Time       `json:"at"`
	From      Status          `json:"from"`
	To        Status          `json:"to"`
	Reason    string          `json:"reason"`
	Detail    json.RawMessage `json:"detail,omitempty"`
}

// Approval is a second person's approval of a version, with the impact preview they were shown.
type Approval struct {
	RuleSet  string          `json:"ruleset"`
	Version  int             `json:"version"`
	Approver string          `json:"approver"`
	Comment  string          `json:"comment"`
	Impact   json.RawMessage `json:"impact,omitempty"`
	At       time.Time       `json:"at"`
}

// GateReport is what submitting a version for review checked: static checks and its own tests.
type GateReport struct {
	Lint  *LintReport `json:"lint"`
	Tests *TestReport `json:"tests"`
}

// OK reports whether the version may go to review: no lint errors, every test passing, coverage met.
func (g *GateReport) OK() bool {
	return g.Lint != nil && g.Lint.Errors() == 0 && g.Tests != nil && g.Tests.OK()
}

// Lifecycle moves stored versions from draft through review, approval and activation to
// retirement; only drafts change, and every move is recorded in the append-only audit trail.
type Lifecycle struct {
	Store *SQLStore
	Now   func() time.Time
	// Gate compiles a rule set against its form and runs the static checks and its tests; it
	// returns a CompileError when the rule set does not compile.
	Gate func(ctx context.Context, rs *RuleSet) (*GateReport, error)
	// OnActivate, when set, runs in each activation's transaction, so that what it writes (the
	// ruleset.activated event) commits with the activation or not at all.
	OnActivate func(ctx context.Context, tx *database.Tx, id string, version int, effectiveFrom time.Time) error
}

// Actor is the authenticated person or system acting on a rule set.
type Actor struct {
	// Subject is the stable, unique id of an authenticated identity (see identity.Principal);
	// it is what the two-person rule compares.
	Subject string
	// Name is the display name recorded beside the subject, for people reading the trail.
	Name string
}

func checkActor(actor Actor) error {
	if strings.TrimSpace(actor.Subject) == "" || len(actor.Subject) > 300 || strings.TrimSpace(actor.Subject) != actor.Subject {
		return failure.Errorf(failure.Unauthenticated, "actor: only an authenticated identity may change a rule set")
	}
	return nil
}

// CreateDraft stores src as a new draft under the next free version number of its rule set; the
// version in the source is rewritten to that number.
func (l *Lifecycle) CreateDraft(ctx context.Context, actor Actor, src []byte, reason string) (Version, error) {
	if err := checkActor(actor); err != nil {
		return Version{}, err
	}
	rs, err := Parse("draft", src)
	if err != nil {
		return Version{}, failure.Errorf(failure.Invalid, "rules: unable to create a draft: %w", err)
	}
	var v Version
	err = l.Store.DB.InTx(ctx, func(tx *database.Tx) error {
		var next int
		if err := tx.GetContext(ctx, &next, tx.Rebind(`SELECT COALESCE(MAX(version), 0) + 1 FROM rulesets WHERE id = ?`), rs.ID); err != nil {
			return fmt.Errorf("rules: unable to number a draft of %s: %w", rs.ID, err)
		}
		source, parsed, err := withVersion(src, next)
		if err != nil {
			return err
		}
		var other string
		err = tx.GetContext(ctx, &other, tx.Rebind(`SELECT id FROM rulesets WHERE form_id = ? AND id <> ? LIMIT 1`), parsed.Form, parsed.ID)
		if err == nil {
			return failure.Errorf(failure.Conflict, "form %s already has rule set %s; one rule set decides each form", parsed.Form, other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("rules: unable to check rule sets of form %s: %w", parsed.Form, err)
		}
		var form string
		err = tx.GetContext(ctx, &form, tx.Rebind(`SELECT form_id FROM rulesets WHERE id = ? LIMIT 1`), parsed.ID)
		if err == nil && form != parsed.Form {
			return failure.Errorf(failure.Invalid, "form: rule set %s decides form %s, not %s", parsed.ID, form, parsed.Form)
		}
		now := l.Now().UTC()
		v = Version{ID: parsed.ID, Version: next, Form: parsed.Form, Source: source, SHA256: parsed.SHA256(), Status: StatusDraft, CreatedAt: now}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO rulesets (id, version, form_id, source, sha256, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), v.ID, v.Version, v.Form, v.Source, v.SHA256, string(v.Status), database.NewTime(now))
		if err != nil {
			return fmt.Errorf("rules: unable to store a draft of %s: %w", v.ID, err)
		}
		return audit(ctx, tx, AuditEntry{RuleSet: v.ID, Version: v.Version, Actor: actor.Subject, ActorName: actor.Name, At: now, To: StatusDraft, Reason: reason})
	})
	return v, err
}

// UpdateDraft replaces a draft's source; any other status is immutable and refused as a Conflict.
func (l *Lifecycle) UpdateDraft(ctx context.Context, actor Actor, id string, version int, src []byte, reason string) (Version, error) {
	if err := checkActor(actor); err != nil {
		return Version{}, err
	}
	source, rs, err := withVersion(src, version)
	if err != nil {
		return Version{}, err
	}
	if rs.ID != id {
		return Version{}, failure.Errorf(failure.Invalid, "id: the source is rule set %s, not %s", rs.ID, id)
	}
	var v Version
	err = l.Store.DB.InTx(ctx, func(tx *database.Tx) error {
		cur, err := lockVersion(ctx, tx, id, version)
		if err != nil {
			return err
		}
		if cur.Status != StatusDraft {
			return failure.Errorf(failure.Conflict, "rule set %s v%d is %s; only drafts change, so create a new draft", id, version, cur.Status)
		}
		if rs.Form != cur.Form {
			return failure.Errorf(failure.Invalid, "form: rule set %s decides form %s, not %s", id, cur.Form, rs.Form)
		}
		v = cur
		v.Source, v.SHA256 = source, rs.SHA256()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE rulesets SET source = ?, sha256 = ? WHERE id = ? AND version = ?`), v.Source, v.SHA256, id, version); err != nil {
			return fmt.Errorf("rules: unable to update draft %s v%d: %w", id, version, err)
		}
		return audit(ctx, tx, AuditEntry{RuleSet: id, Version: version, Actor: actor.Subject, ActorName: actor.Name, At: l.Now().UTC(), From: StatusDraft, To: StatusDraft, Reason: reason})
	})
	return v, err
}

// Submit sends a draft to review when it compiles, passes every static check and all its tests;
// otherwise it stays a draft and the report says why (a failure.Invalid error).
func (l *Lifecycle) Submit(ctx context.Context, actor Actor, id string, version int, reason string) (*GateReport, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	v, err := l.Store.Version(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if v.Status != StatusDraft {
		return nil, failure.Errorf(failure.Conflict, "rule set %s v%d is %s; only a draft can be submitted", id, version, v.Status)
	}
	rs, err := v.Parse()
	if err != nil {
		return nil, failure.Errorf(failure.Invalid, "rules: unable to submit %s v%d: %w", id, version, err)
	}
	gate, err := l.Gate(ctx, rs)
	if err != nil {
		return nil, failure.Errorf(failure.Invalid, "rules: unable to submit %s v%d: %w", id, version, err)
	}
	if !gate.OK() {
		return gate, failure.Errorf(failure.Invalid, "rules: unable to submit %s v%d: %d lint errors, %d failed tests, coverage %.1f%% of required %.1f%%",
			id, version, gate.Lint.Errors(), gate.Tests.Failed(), gate.Tests.Coverage.Percent(), gate.Tests.Required)
	}
	detail, _ := json.Marshal(map[string]any{"sha256": v.SHA256, "tests": len(gate.Tests.Results), "coverage": gate.Tests.Coverage.Percent()})
	err = l.transition(ctx, AuditEntry{RuleSet: id, Version: version, Actor: actor.Subject, ActorName: actor.Name, From: StatusDraft, To: StatusInReview, Reason: reason, Detail: detail}, v.SHA256)
	return gate, err
}

// Reject returns a version in review to draft, so its author can change it.
func (l *Lifecycle) Reject(ctx context.Context, actor Actor, id string, version int, reason string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return failure.Errorf(failure.Invalid, "reason: say why the version is sent back")
	}
	return l.transition(ctx, AuditEntry{RuleSet: id, Version: version, Actor: actor.Subject, ActorName: actor.Name, From: StatusInReview, To: StatusDraft, Reason: reason}, "")
}

// Approve records a second person's approval of a version in review, with a comment and the impact
// preview they saw; the author's own approval is refused as a Conflict.
func (l *Lifecycle) Approve(ctx context.Context, actor Actor, id string, version int, comment string, impact json.RawMessage) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if strings.TrimSpace(comment) == "" {
		return failure.Errorf(failure.Invalid, "comment: an approval needs a comment")
	}
	authors, err := l.Store.authors(ctx, id, version)
	if err != nil {
		return err
	}
	for _, a := range authors {
		if a == actor.Subject {
			return failure.Errorf(failure.Forbidden, "%s wrote or changed rule set %s v%d, so cannot approve it; a second person must", actorLabel(actor), id, version)
		}
	}
	if len(impact) == 0 {
		impact = json.RawMessage("null")
	}
	now := l.Now().UTC()
	return l.Store.DB.InTx(ctx, func(tx *database.Tx) error {
		if err := transitionTx(ctx, tx, AuditEntry{RuleSet: id, Version: version, Actor: actor.Subject, ActorName: actor.Name, At: now, From: StatusInReview, To: StatusApproved, Reason: comment}, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO ruleset_approvals (ruleset_id, version, approver, comment, impact, at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (ruleset_id, version) DO UPDATE SET approver = excluded.approver, comment = excluded.comment, impact = excluded.impact, at = excluded.at`),
			id, version, actor.Subject, comment, string(impact), database.NewTime(now))
		if err != nil {
			return fmt.Errorf("rules: unable to record the approval of %s v%d: %w", id, version, err)
		}
		return nil
	})
}

// Seed stores a version that Carepath itself ships, such as the demo rule sets, as approved and,
// when activateFrom is not zero, in force from then, recording each step in the audit trail under
// a system identity. It refuses people: only the two-person lifecycle brings their versions into
// force. Seeding the same content again changes nothing.
func (l *Lifecycle) Seed(ctx context.Context, system Actor, v Version, activateFrom time.Time) (created bool, err error) {
	if !strings.HasPrefix(system.Subject, "system:") {
		return false, failure.Errorf(failure.Forbidden, "only a system identity may seed rule sets; %s must use the lifecycle", actorLabel(system))
	}
	now := l.Now().UTC()
	v.Status, v.CreatedAt = StatusApproved, now
	created, err = l.Store.putVersion(ctx, v)
	if err != nil || !created {
		return created, err
	}
	entries := []AuditEntry{
		{To: StatusDraft, Reason: "shipped with Carepath"},
		{From: StatusDraft, To: StatusApproved, Reason: "shipped with Carepath"},
	}
	detail, _ := json.Marshal(map[string]any{"effective_from": activateFrom.UTC()})
	return true, l.Store.DB.InTx(ctx, func(tx *database.Tx) error {
		for _, e := range entries {
			e.RuleSet, e.Version, e.Actor, e.ActorName, e.At = v.ID, v.Version, system.Subject, system.Name, now
			if err := audit(ctx, tx, e); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO ruleset_approvals (ruleset_id, version, approver, comment, impact, at) VALUES (?, ?, ?, ?, ?, ?)`),
			v.ID, v.Version, system.Subject, "shipped with Carepath", "null", database.NewTime(now))
		if err != nil {
			return fmt.Errorf("rules: unable to record the approval of %s v%d: %w", v.ID, v.Version, err)
		}
		if activateFrom.IsZero() {
			return nil
		}
		if err := l.Store.activate(ctx, tx, Activation{RuleSet: v.ID, Version: v.Version, EffectiveFrom: activateFrom, CreatedAt: now}); err != nil {
			return err
		}
		return audit(ctx, tx, AuditEntry{RuleSet: v.ID, Version: v.Version, Actor: system.Subject, ActorName: system.Name, At: now,
			From: StatusApproved, To: StatusActive, Reason: "shipped with Carepath", Detail: detail})
	})
}

// Activate makes an approved version the active one from effectiveFrom (now or later). Rolling
// back is activating an older approved version: a new activation, never an edit of history.
func (l *Lifecycle) Activate(ctx context.Context, actor Actor, id string, version int, effectiveFrom time.Time, reason string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	now := l.Now().UTC()
	if effectiveFrom.IsZero() {
		effectiveFrom = now
	}
	if effectiveFrom.Before(now.Add(-time.Second)) {
		return failure.Errorf(failure.Invalid, "effective_from: %s is in the past; activate from now or later", effectiveFrom.UTC().Format(time.RFC3339))
	}
	detail, _ := json.Marshal(map[string]any{"effective_from": effectiveFrom.UTC()})
	return l.Store.DB.InTx(ctx, func(tx *database.Tx) error {
		cur, err := lockVersion(ctx, tx, id, version)
		if err != nil {
			return err
		}
		if cur.Status != StatusApproved {
			return failure.Errorf(failure.Conflict, "rule set %s v%d is %s; only an approved version can be activated", id, version, cur.Status)
		}
		if err := checkApproved(ctx, tx, actor, id, version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO ruleset_activations (ruleset_id, version, effective_from, created_at) VALUES (?, ?, ?, ?)`),
			id, version, database.NewTime(effectiveFrom), database.NewTime(now))
		if err != nil {
			return fmt.Errorf("rules: unable to activate %s v%d: %w", id, version, err)
		}
		if l.OnActivate != nil {
			if err := l.OnActivate(ctx, tx, id, version, effectiveFrom); err != nil {
				return err
			}
		}
		return audit(ctx, tx, AuditEntry{RuleSet: id, Version: version, Actor: actor.Subject, ActorName: actor.Name, At: now, From: StatusApproved, To: StatusActive, Reason: reason, Detail: detail})
	})
}

// Retire ends an approved version's use; a version active now or scheduled to become active is
// refused as a Conflict, because a rule set must always have a version in force.
func (l *Lifecycle) Retire(ctx context.Context, actor Actor, id string, version int, reason string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	now := l.Now().UTC()
	if active, err := l.Store.ActiveAt(ctx, id, now); err == nil && active == version {
		return failure.Errorf(failure.Conflict, "rule set %s v%d is active now; activate another version first", id, version)
	}
	var later int
	if err := l.Store.DB.GetContext(ctx, &later, l.Store.DB.Rebind(`SELECT COUNT(*) FROM ruleset_activations WHERE ruleset_id = ? AND version = ? AND effective_from > ?`),
		id, version, database.NewTime(now)); err != nil {
		return fmt.Errorf("rules: unable to read activations of %s: %w", id, err)
	}
	if later > 0 {
		return failure.Errorf(failure.Conflict, "rule set %s v%d is scheduled to become active; activate another version first", id, version)
	}
	return l.transition(ctx, AuditEntry{RuleSet: id, Version: version, Actor: actor.Subject, ActorName: actor.Name, From: StatusApproved, To: StatusRetired, Reason: reason}, "")
}

func (l *Lifecycle) transition(ctx context.Context, e AuditEntry, wantSHA string) error {
	e.At = l.Now().UTC()
	return l.Store.DB.InTx(ctx, func(tx *database.Tx) error { return transitionTx(ctx, tx, e, wantSHA) })
}

// transitionTx moves a version from e.From to e.To and records it; a version in another state is
// a Conflict. wantSHA, when given, guards against a draft edited after it was checked.
func transitionTx(ctx context.Context, tx *database.Tx, e AuditEntry, wantSHA string) error {
	cur, err := lockVersion(ctx, tx, e.RuleSet, e.Version)
	if err != nil {
		return err
	}
	if cur.Status != e.From {
		return failure.Errorf(failure.Conflict, "rule set %s v%d is %s, not %s; it cannot become %s", e.RuleSet, e.Version, cur.Status, e.From, e.To)
	}
	if wantSHA != "" && cur.SHA256 != wantSHA {
		return failure.Errorf(failure.Conflict, "rule set %s v%d changed while it was checked; submit again", e.RuleSet, e.Version)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE rulesets SET status = ? WHERE id = ? AND version = ?`), string(e.To), e.RuleSet, e.Version); err != nil {
		return fmt.Errorf("rules: unable to move %s v%d to %s: %w", e.RuleSet, e.Version, e.To, err)
	}
	return audit(ctx, tx, e)
}

// lockVersion reads a version inside a transaction (SQLite transactions already hold the write lock).
func lockVersion(ctx context.Context, tx *database.Tx, id string, version int) (Version, error) {
	q := `SELECT ` + versionColumns + ` FROM rulesets WHERE id = ? AND version = ?`
	if tx.Dialect == database.Postgres {
		q += ` FOR UPDATE`
	}
	var row versionRow
	err := tx.GetContext(ctx, &row, tx.Rebind(q), id, version)
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, failure.Errorf(failure.NotFound, "rule set %s version %d is not stored", id, version)
	} else if err != nil {
		return Version{}, fmt.Errorf("rules: unable to read rule set %s v%d: %w", id, version, err)
	}
	row.Version.CreatedAt = row.Created.Time
	return row.Version, nil
}

func audit(ctx context.Context, tx *database.Tx, e AuditEntry) error {
	detail := "null"
	if len(e.Detail) > 0 {
		detail = string(e.Detail)
	}
	// The trail is hash-chained and append-only in the database, so `carepath audit verify` can
	// show it was not rewritten.
	err := auditlog.AppendRuleSetTx(ctx, tx, auditlog.RuleSetEntry{
		RuleSet: e.RuleSet, Version: e.Version, Actor: e.Actor, ActorName: e.ActorName, At: e.At,
		From: string(e.From), To: string(e.To), Reason: e.Reason, Detail: detail,
	})
	if err != nil {
		return fmt.Errorf("rules: unable to record the audit trail of %s v%d: %w", e.RuleSet, e.Version, err)
	}
	return nil
}

// History returns a rule set's audit trail in the order it was written.
func (s *SQLStore) History(ctx context.Context, id string) ([]AuditEntry, error) {
	var rows []struct {
		Version int           `db:"version"`
		Actor   string        `db:"actor"`
		Name    string        `db:"actor_name"`
		At      database.Time `db:"at"`
		From    string        `db:"from_status"`
		To      string        `db:"to_status"`
		Reason  string        `db:"reason"`
		Detail  string        `db:"detail"`
	}
	err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(`SELECT version, actor, actor_name, at, from_status, to_status, reason, detail
		FROM ruleset_audit WHERE ruleset_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("rules: unable to read the audit trail of %s: %w", id, err)
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{RuleSet: id, Version: r.Version, Actor: r.Actor, ActorName: r.Name, At: r.At.Time, From: Status(r.From), To: Status(r.To), Reason: r.Reason}
		if r.Detail != "null" {
			out[i].Detail = json.RawMessage(r.Detail)
		}
	}
	return out, nil
}

// Approval returns the approval of a version, or a NotFound error.
func (s *SQLStore) Approval(ctx context.Context, id string, version int) (Approval, error) {
	var row struct {
		Approver string        `db:"approver"`
		Comment  string        `db:"comment"`
		Impact   string        `db:"impact"`
		At       database.Time `db:"at"`
	}
	err := s.DB.GetContext(ctx, &row, s.DB.Rebind(`SELECT approver, comment, impact, at FROM ruleset_approvals WHERE ruleset_id = ? AND version = ?`), id, version)
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, failure.Errorf(failure.NotFound, "rule set %s v%d has no approval", id, version)
	} else if err != nil {
		return Approval{}, fmt.Errorf("rules: unable to read the approval of %s v%d: %w", id, version, err)
	}
	a := Approval{RuleSet: id, Version: version, Approver: row.Approver, Comment: row.Comment, At: row.At.Time}
	if row.Impact != "null" {
		a.Impact = json.RawMessage(row.Impact)
	}
	return a, nil
}

// authors are the identities who created or edited a version; a reviewer who only sent it back
// (in review to draft) is not one.
func (s *SQLStore) authors(ctx context.Context, id string, version int) ([]string, error) {
	return authorsOf(ctx, s.DB, id, version)
}

func authorsOf(ctx context.Context, q database.Querier, id string, version int) ([]string, error) {
	var out []string
	err := q.SelectContext(ctx, &out, q.Rebind(`SELECT DISTINCT actor FROM ruleset_audit WHERE ruleset_id = ? AND version = ? AND to_status = ? AND from_status IN ('', ?)`),
		id, version, string(StatusDraft), string(StatusDraft))
	if err != nil {
		return nil, fmt.Errorf("rules: unable to read the authors of %s v%d: %w", id, version, err)
	}
	return out, nil
}

// checkApproved refuses to activate a version that no second person approved: the approval must
// exist and be by someone other than every author, whoever activates.
func checkApproved(ctx context.Context, tx *database.Tx, actor Actor, id string, version int) error {
	var approver string
	err := tx.GetContext(ctx, &approver, tx.Rebind(`SELECT approver FROM ruleset_approvals WHERE ruleset_id = ? AND version = ?`), id, version)
	if errors.Is(err, sql.ErrNoRows) {
		return failure.Errorf(failure.Forbidden, "rule set %s v%d has no recorded approval, so %s cannot activate it", id, version, actorLabel(actor))
	}
	if err != nil {
		return fmt.Errorf("rules: unable to read the approval of %s v%d: %w", id, version, err)
	}
	if strings.HasPrefix(approver, "system:") {
		return nil // a version shipped with Carepath, seeded by code and recorded as such
	}
	authors, err := authorsOf(ctx, tx, id, version)
	if err != nil {
		return err
	}
	for _, a := range authors {
		if a == approver {
			return failure.Errorf(failure.Forbidden, "rule set %s v%d was approved by one of its authors, so it cannot be activated", id, version)
		}
	}
	return nil
}

func actorLabel(a Actor) string {
	if a.Name != "" && a.Name != a.Subject {
		return a.Name + " (" + a.Subject + ")"
	}
	return a.Subject
}

// withVersion rewrites the top-level version of a rule-set source to n, keeping everything else
// (comments, layout) as written, and parses the result.
func withVersion(src []byte, n int) (string, *RuleSet, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "", nil, failure.Errorf(failure.Invalid, "source: not a YAML rule set")
	}
	root := doc.Content[0]
	var node *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "version" {
			node = root.Content[i+1]
		}
	}
	if node == nil || node.Kind != yaml.ScalarNode || node.Style != 0 {
		return "", nil, failure.Errorf(failure.Invalid, "version: missing; give a plain version number, which the store replaces")
	}
	start, ok := offsetOf(src, node.Line, node.Column)
	if !ok || !bytes.HasPrefix(src[start:], []byte(node.Value)) {
		return "", nil, failure.Errorf(failure.Invalid, "version: give it on one line as a plain number")
	}
	out := string(src[:start]) + strconv.Itoa(n) + string(src[start+len(node.Value):])
	rs, err := Parse("draft", []byte(out))
	if err != nil {
		return "", nil, failure.Errorf(failure.Invalid, "rules: the draft does not parse: %w", err)
	}
	if rs.Version != n {
		// The text at the reported position was not the version after all; refuse rather than store it.
		return "", nil, failure.Errorf(failure.Invalid, "version: give it on one line as a plain number")
	}
	return out, rs, nil
}

// offsetOf is the byte offset of a 1-based line and column as the YAML parser counts them: lines
// end at \n, \r\n or a lone \r, and columns count characters, not bytes.
func offsetOf(src []byte, line, col int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexAny(src[off:], "\r\n")
		if i < 0 {
			return 0, false
		}
		off += i
		if src[off] == '\r' && off+1 < len(src) && src[off+1] == '\n' {
			off++
		}
		off++
	}
	for c := 1; c < col; c++ {
		if off >= len(src) || src[off] == '\n' || src[off] == '\r' {
			return 0, false
		}
		_, size := utf8.DecodeRune(src[off:])
		off += size
	}
	return off, true
}
