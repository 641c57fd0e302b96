package governance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// The people acting in these tests, as authenticated identities.
var (
	alice = rules.Actor{Subject: "3f1c-alice", Name: "Alice"}
	bob   = rules.Actor{Subject: "7a2e-bob", Name: "Bob"}
	carol = rules.Actor{Subject: "9d4b-carol", Name: "Carol"}
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type harness struct {
	svc    *governance.Service
	engine *triage.Engine
	clock  *clock
	db     *database.DB
}

func setup(t testing.TB, db *database.DB) *harness {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	forms := triage.NewSQLStore(db)
	store := rules.NewSQLStore(db)
	if _, err := fixtures.Load(context.Background(), forms, store, c.now()); err != nil {
		t.Fatal(err)
	}
	n := 0
	reg := rules.NewRegistry(store)
	engine := &triage.Engine{Store: forms, Rules: reg, Now: c.now, NewID: func() string { n++; return fmt.Sprintf("case-%04d", n) }}
	svc := governance.NewService(db, forms, reg, c.now)
	svc.Pseudonymiser = pseudonyms
	return &harness{svc: svc, engine: engine, clock: c, db: db}
}

// pseudonyms names the cases of impact previews and shadow reports in these tests.
var pseudonyms = func() *privacy.Pseudonymiser {
	p, err := privacy.New([]byte("governance tests: a fixed 32-byte pseudonym key"))
	if err != nil {
		panic(err)
	}
	return p
}()

// phq9 builds a mental-health submission whose PHQ-9 total is total (item 9 kept at 0).
func phq9(total int, authored time.Time) []byte {
	var answers []string
	for i := 1; i <= 8; i++ {
		v := min(total, 3)
		total -= v
		answers = append(answers, fmt.Sprintf(`"phq9_%d": %d`, i, v))
	}
	answers = append(answers, `"phq9_9": 0`)
	for i := 1; i <= 7; i++ {
		answers = append(answers, fmt.Sprintf(`"gad7_%d": 0`, i))
	}
	answers = append(answers, `"risk_plan": false`, `"risk_intent": false`, `"previous_high_intensity_treatment": false`, `"under_secondary_care": false`)
	return []byte(fmt.Sprintf(`{"form": "mental-health", "subject": {"ref": "s", "age": 40}, "answers": {%s}, "authored": %q}`,
		strings.Join(answers, ", "), authored.Format(time.RFC3339)))
}

func (h *harness) decide(t *testing.T, body []byte) *triage.Decision {
	t.Helper()
	d, _, err := h.engine.Submit(context.Background(), body, triage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLifecycleEndToEnd(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		h := setup(t, db)
		ctx := context.Background()
		lc := h.svc.Lifecycle
		src, err := fixtures.FS().(interface{ ReadFile(string) ([]byte, error) }).ReadFile("rulesets/mh-triage.v2.yaml")
		if err != nil {
			t.Fatal(err)
		}
		draft, err := lc.CreateDraft(ctx, alice, src, "lower PHQ-9 caseness")
		if err != nil {
			t.Fatal(err)
		}
		// The demo ships versions 1 to 3 (3 in force from 2026), so the draft takes version 4.
		if draft.Version != 4 || draft.Status != rules.StatusDraft || !strings.Contains(draft.Source, "version: 4") {
			t.Fatalf("draft = v%d %s", draft.Version, draft.Status)
		}
		// A draft may change; its tests must pass before review.
		broken := strings.Replace(draft.Source, "expect: {pathway: talking-therapies-step2, rule: caseness}", "expect: {pathway: watchful-waiting}", 1)
		if _, err := lc.UpdateDraft(ctx, alice, "mh-triage", 4, []byte(broken), "oops"); err != nil {
			t.Fatal(err)
		}
		if gate, err := lc.Submit(ctx, alice, "mh-triage", 4, ""); failure.CodeOf(err) != failure.Invalid || gate == nil || gate.Tests.Failed() == 0 {
			t.Fatalf("submit of a failing draft: %v", err)
		}
		if _, err := lc.UpdateDraft(ctx, alice, "mh-triage", 4, []byte(draft.Source), "fix"); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Submit(ctx, alice, "mh-triage", 4, "ready"); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.UpdateDraft(ctx, alice, "mh-triage", 4, src, "edit in review"); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("edit in review: %v, want a conflict", err)
		}
		if err := lc.Approve(ctx, alice, "mh-triage", 4, "looks good", nil); failure.CodeOf(err) != failure.Forbidden {
			t.Errorf("author's own approval: %v, want a conflict", err)
		}
		p, m, err := h.svc.StoredProgram(ctx, "mh-triage", 4)
		if err != nil {
			t.Fatal(err)
		}
		moved := h.decide(t, phq9(9, h.clock.t.Add(-time.Hour)))
		imp, err := h.svc.PreviewImpact(ctx, p, m, h.clock.t.AddDate(0, 0, -30), 0)
		if err != nil {
			t.Fatal(err)
		}
		if imp.Changed != 1 || imp.Flows[0].From != "watchful-waiting" || imp.Flows[0].To != "talking-therapies-step2" ||
			len(imp.Flows[0].Examples) != 1 || imp.Flows[0].Examples[0] != pseudonyms.Case(moved.ID) {
			t.Errorf("impact = %+v, want the moved case by pseudonym", imp)
		}
		unnamed := *h.svc
		unnamed.Pseudonymiser = nil
		if _, err := unnamed.PreviewImpact(ctx, p, m, h.clock.t.AddDate(0, 0, -30), 0); err == nil || !strings.Contains(err.Error(), "no pseudonym key") {
			t.Errorf("impact preview without a pseudonymiser: %v", err)
		}
		if err := lc.Approve(ctx, bob, "mh-triage", 4, "checked the impact", []byte(`{"changed":1}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.UpdateDraft(ctx, alice, "mh-triage", 4, src, "edit approved"); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("edit of an approved version: %v, want a conflict", err)
		}
		if a, err := h.svc.Rules.Approval(ctx, "mh-triage", 4); err != nil || a.Approver != bob.Subject {
			t.Errorf("approval = %+v, %v", a, err)
		}
		future := h.clock.t.Add(48 * time.Hour)
		if err := lc.Activate(ctx, bob, "mh-triage", 4, future, "from Saturday"); err != nil {
			t.Fatal(err)
		}
		if err := lc.Activate(ctx, bob, "mh-triage", 4, h.clock.t.Add(-48*time.Hour), "past"); failure.CodeOf(err) != failure.Invalid {
			t.Errorf("activation in the past: %v", err)
		}
		before := h.decide(t, phq9(9, future.Add(-time.Minute)))
		after := h.decide(t, phq9(9, future.Add(time.Minute)))
		if before.RuleSet.Version != 3 || before.Outcome.Pathway != "watchful-waiting" || after.RuleSet.Version != 4 || after.Outcome.Pathway != "talking-therapies-step2" {
			t.Errorf("before: v%d %s; after: v%d %s", before.RuleSet.Version, before.Outcome.Pathway, after.RuleSet.Version, after.Outcome.Pathway)
		}
		// Roll back: a new activation of the older approved version.
		h.clock.t = future.Add(time.Hour)
		if err := lc.Activate(ctx, carol, "mh-triage", 1, time.Time{}, "roll back"); err != nil {
			t.Fatal(err)
		}
		if rolled := h.decide(t, phq9(9, h.clock.t.Add(time.Minute))); rolled.RuleSet.Version != 1 {
			t.Errorf("after rollback decided by v%d", rolled.RuleSet.Version)
		}
		if again := h.decide(t, phq9(9, future.Add(time.Minute))); again.RuleSet.Version != 4 {
			t.Errorf("a decision authored while v4 was in force used v%d", again.RuleSet.Version)
		}
		if err := lc.Retire(ctx, carol, "mh-triage", 1, "in force"); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("retire the active version: %v", err)
		}
		if err := lc.Retire(ctx, carol, "mh-triage", 4, "rolled back"); err != nil {
			t.Fatal(err)
		}
		hist, err := h.svc.Rules.History(ctx, "mh-triage")
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for _, e := range hist {
			trail = append(trail, fmt.Sprintf("v%d %s %s->%s", e.Version, e.ActorName, e.From, e.To))
		}
		want := "v1 demo (system) ->draft|v1 demo (system) draft->approved|v1 demo (system) approved->active|" +
			"v2 demo (system) ->draft|v2 demo (system) draft->approved|" +
			"v3 demo (system) ->draft|v3 demo (system) draft->approved|v3 demo (system) approved->active|" +
			"v4 Alice ->draft|v4 Alice draft->draft|v4 Alice draft->draft|v4 Alice draft->in_review|v4 Bob in_review->approved|v4 Bob approved->active|v1 Carol approved->active|v4 Carol approved->retired"
		if got := strings.Join(trail, "|"); got != want {
			t.Errorf("audit trail:\n got %s\nwant %s", got, want)
		}
	})
}

func TestShadowRunRecordsOnlyTheMovedCases(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		h := setup(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		shadow := governance.NewShadow(db, h.engine.Rules, h.clock.now, nil, 64)
		go shadow.Run(ctx)
		h.engine.Observers = []triage.Observer{shadow}
		if _, err := governance.StartShadow(ctx, db, "mh-triage", 2, "alice", h.clock.t); err != nil {
			t.Fatal(err)
		}
		if _, err := governance.StartShadow(ctx, db, "mh-triage", 2, "alice", h.clock.t); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("second shadow run: %v", err)
		}
		moved := map[string]bool{}
		for total := 0; total <= 20; total++ {
			d := h.decide(t, phq9(total, h.clock.t))
			if total == 9 {
				moved[pseudonyms.Case(d.ID)] = true
			}
		}
		shadow.Drain()
		run, err := governance.StopShadow(ctx, db, "mh-triage", "bob", h.clock.t)
		if err != nil {
			t.Fatal(err)
		}
		h.decide(t, phq9(9, h.clock.t)) // after the run ends: not shadowed
		shadow.Drain()
		if _, err := governance.ShadowReportOf(ctx, db, nil, run.ID); err == nil || !strings.Contains(err.Error(), "no pseudonym key") {
			t.Errorf("shadow report without a pseudonymiser: %v", err)
		}
		rep, err := governance.ShadowReportOf(ctx, db, pseudonyms, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Run.Evaluated != 21 || rep.Disagreements != 1 || len(rep.Flows) != 1 {
			t.Fatalf("report = %+v", rep)
		}
		f := rep.Flows[0]
		if f.From != "watchful-waiting" || f.To != "talking-therapies-step2" || !moved[f.Examples[0]] {
			t.Errorf("flow = %+v, want the PHQ-9 total 9 case", f)
		}
		if want := 20.0 / 21; rep.AgreementRate != want {
			t.Errorf("agreement = %v, want %v", rep.AgreementRate, want)
		}
	})
}
