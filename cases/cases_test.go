package cases_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var start = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// world is an engine over a migrated database with the demo data, opening a case with each decision.
type world struct {
	db     *database.DB
	engine *triage.Engine
	store  *cases.Store
	now    time.Time
}

func newWorld(t *testing.T, db *database.DB) *world {
	t.Helper()
	forms := triage.NewSQLStore(db)
	rs := rules.NewSQLStore(db)
	if _, err := fixtures.Load(context.Background(), forms, rs, start); err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, store: &cases.Store{DB: db}, now: start}
	var n atomic.Int64
	w.engine = &triage.Engine{Store: forms, Rules: rules.NewRegistry(rs), Now: func() time.Time { return w.now },
		NewID: func() string { return fmt.Sprintf("d-%06d", n.Add(1)) }}
	return w
}

// mentalHealth is a mental-health submission for subject with the given PHQ-9 and GAD-7 totals
// (item 9 always 0).
func mentalHealth(subject string, phq9, gad7 int) []byte {
	a := map[string]any{"risk_plan": false, "risk_intent": false, "previous_high_intensity_treatment": false, "under_secondary_care": false}
	fill := func(prefix string, n, total int) {
		for i := 1; i <= n; i++ {
			v := min(3, total)
			total -= v
			a[fmt.Sprintf("%s%d", prefix, i)] = v
		}
	}
	fill("phq9_", 8, phq9)
	a["phq9_9"] = 0
	fill("gad7_", 7, gad7)
	b, _ := json.Marshal(map[string]any{"form": "mental-health", "subject": map[string]any{"ref": subject, "birth_date": "1980-05-01"}, "answers": a})
	return b
}

func (w *world) submit(t *testing.T, body []byte, team string) *triage.Decision {
	t.Helper()
	d, _, err := w.engine.Submit(context.Background(), body, triage.Options{Team: team, SubmittedBy: "u-clin", InTx: cases.Then(nil, cases.OpenInTx)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLifecycle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		d := w.submit(t, mentalHealth("s-1", 16, 12), "central")
		c, err := w.store.Case(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != cases.Referred || c.Team != "central" || c.Pathway != d.Outcome.Pathway || c.StartScores["phq9_total"] != rules.Int(16) ||
			len(c.Steps) != 1 || c.Steps[0].Step != cases.Refer || c.Steps[0].Actor != "u-clin" || !c.Opened.Equal(start) {
			t.Fatalf("opened case %+v", c)
		}
		if c.RespondBy == nil || !c.RespondBy.After(start) {
			t.Errorf("respond_by %v for respond_within %q", c.RespondBy, d.Outcome.RespondWithin)
		}
		at := start
		step := func(s cases.Step) (*cases.Case, error) {
			at = at.Add(time.Hour)
			return w.store.Record(ctx, d.ID, cases.Change{Step: s, Actor: "u-coord", At: at})
		}
		// Out-of-order steps are refused, naming the current status and the one wanted.
		if _, err := step(cases.MarkDone); failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), "is referred") || !strings.Contains(err.Error(), "cannot become visit_done") {
			t.Fatalf("visit_done on a referred case: %v", err)
		}
		if _, err := step(cases.Decline); failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), "reason") {
			t.Fatalf("decline without a reason: %v", err)
		}
		for _, s := range []cases.Step{cases.Accept, cases.Book, cases.MarkMissed, cases.Book, cases.MarkDone, cases.Outcome, cases.Close} {
			if c, err = step(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if c.Status != cases.Closed || len(c.Steps) != 8 || c.Steps[7].From != cases.OutcomeRecorded || c.Steps[7].Actor != "u-coord" {
			t.Fatalf("closed case %+v", c)
		}
		if _, err := step(cases.Close); failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), "is closed") {
			t.Fatalf("closing twice: %v", err)
		}
		if _, err := w.store.Record(ctx, d.ID, cases.Change{Step: cases.Accept, Actor: "u", At: start.Add(-time.Hour)}); failure.CodeOf(err) != failure.Invalid {
			t.Errorf("a step before the case opened: %v", err)
		}
		if _, err := w.store.Record(ctx, "nope", cases.Change{Step: cases.Accept, Actor: "u", At: at}); failure.CodeOf(err) != failure.NotFound {
			t.Errorf("unknown case: %v", err)
		}
		// The history is append-only in the database itself.
		if _, err := db.ExecContext(ctx, `UPDATE case_steps SET actor = 'someone else'`); err == nil {
			t.Error("case_steps accepted an UPDATE")
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM case_steps`); err == nil {
			t.Error("case_steps accepted a DELETE")
		}
	})
}

func TestEveryTransition(t *testing.T) {
	allowed := map[cases.Status][]cases.Step{
		cases.Referred: {cases.Accept, cases.Decline}, cases.Accepted: {cases.Book}, cases.VisitBooked: {cases.MarkDone, cases.MarkMissed},
		cases.VisitMissed: {cases.Book, cases.Close}, cases.VisitDone: {cases.Outcome}, cases.OutcomeRecorded: {cases.Close},
		cases.Declined: {cases.Close}, cases.Closed: nil,
	}
	for _, st := range cases.Statuses {
		got := cases.NextSteps(st)
		if fmt.Sprint(got) != fmt.Sprint(allowed[st]) {
			t.Errorf("from %s: %v, want %v", st, got, allowed[st])
		}
	}
}

func TestFollowUpLinksToOpenCase(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		first := w.submit(t, mentalHealth("s-2", 15, 10), "central")
		other := w.submit(t, mentalHealth("s-3", 5, 3), "south")
		w.now = start.Add(40 * 24 * time.Hour)
		follow := w.submit(t, mentalHealth("s-2", 4, 3), "central")
		c, err := w.store.Case(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.FollowUp != follow.ID || c.EndScores["phq9_total"] != rules.Int(4) || c.Steps[len(c.Steps)-1].Step != cases.FollowUp {
			t.Fatalf("follow-up not linked: %+v", c)
		}
		if _, err := w.store.Case(ctx, follow.ID); failure.CodeOf(err) != failure.NotFound {
			t.Errorf("a follow-up opened its own case: %v", err)
		}
		// A closed case takes no follow-up: the next assessment opens a new case.
		o, _ := w.store.Case(ctx, other.ID)
		if o.FollowUp != "" {
			t.Errorf("another subject's case was linked: %+v", o)
		}
		if _, err := w.store.Record(ctx, other.ID, cases.Change{Step: cases.Decline, Reason: "out of area", Actor: "u", At: w.now}); err != nil {
			t.Fatal(err)
		}
		again := w.submit(t, mentalHealth("s-3", 12, 9), "south")
		if c, err := w.store.Case(ctx, again.ID); err != nil || c.Status != cases.Referred {
			t.Errorf("assessment after a declined case: %+v %v", c, err)
		}
	})
}

func TestDischargeOutcomeAt91Days(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		body, err := os.ReadFile("../fixtures/examples/discharge.json")
		if err != nil {
			t.Fatal(err)
		}
		d := w.submit(t, body, "central")
		at := start
		for _, s := range []cases.Step{cases.Accept, cases.Book, cases.MarkDone} {
			at = at.Add(time.Hour)
			if _, err := w.store.Record(ctx, d.ID, cases.Change{Step: s, Actor: "u", At: at}); err != nil {
				t.Fatal(err)
			}
		}
		home := true
		if _, err := w.store.Record(ctx, d.ID, cases.Change{Step: cases.Outcome, Actor: "u", At: at}); failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), "at_home") {
			t.Errorf("discharge outcome without at_home: %v", err)
		}
		if _, err := w.store.Record(ctx, d.ID, cases.Change{Step: cases.Outcome, Actor: "u", At: at, AtHome: &home}); failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), "91 days") {
			t.Errorf("discharge outcome before 91 days: %v", err)
		}
		c, err := w.store.Record(ctx, d.ID, cases.Change{Step: cases.Outcome, Actor: "u", At: d.Decided.AddDate(0, 0, 91), AtHome: &home})
		if err != nil || c.AtHome == nil || !*c.AtHome || c.Status != cases.OutcomeRecorded {
			t.Fatalf("outcome at 91 days: %+v %v", c, err)
		}
	})
}

func TestListFilters(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		var central []string
		for i := range 5 {
			central = append(central, w.submit(t, mentalHealth(fmt.Sprintf("c-%d", i), 6+2*i, 5), "central").ID)
		}
		south := w.submit(t, mentalHealth("s-9", 20, 15), "south")
		if _, err := w.store.Record(ctx, central[0], cases.Change{Step: cases.Accept, Actor: "u", At: start}); err != nil {
			t.Fatal(err)
		}
		var paged []string
		cursor := int64(0)
		for range 10 {
			p, err := w.store.List(ctx, cases.Filter{Teams: []string{"central"}, After: cursor, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Cases {
				paged = append(paged, c.ID)
			}
			if p.Next == "" {
				break
			}
			if cursor, err = cases.ParseCursor(p.Next); err != nil {
				t.Fatal(err)
			}
		}
		if fmt.Sprint(paged) != fmt.Sprint(central) {
			t.Errorf("paged central %v, want %v", paged, central)
		}
		count := func(f cases.Filter) int {
			t.Helper()
			p, err := w.store.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Cases)
		}
		late := start.Add(400 * 24 * time.Hour)
		for name, tc := range map[string]struct {
			f    cases.Filter
			want int
		}{
			"nobody":        {cases.Filter{}, 0},
			"everyone":      {cases.Filter{Everyone: true}, 6},
			"south":         {cases.Filter{Teams: []string{"south"}}, 1},
			"accepted":      {cases.Filter{Everyone: true, Status: cases.Accepted}, 1},
			"pathway":       {cases.Filter{Everyone: true, Pathway: south.Outcome.Pathway}, countPathway(w, t, south.Outcome.Pathway)},
			"overdue later": {cases.Filter{Everyone: true, Overdue: true, Now: late}, 6},
			"overdue now":   {cases.Filter{Everyone: true, Overdue: true, Now: start}, 0},
		} {
			if got := count(tc.f); got != tc.want {
				t.Errorf("%s: %d cases, want %d", name, got, tc.want)
			}
		}
		if _, err := w.store.List(ctx, cases.Filter{Everyone: true, Limit: cases.MaxPage + 1}); failure.CodeOf(err) != failure.Invalid {
			t.Errorf("page over the bound: %v", err)
		}
		if _, err := cases.ParseCursor("abc"); failure.CodeOf(err) != failure.Invalid {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

func countPathway(w *world, t *testing.T, pathway string) int {
	p, err := w.store.List(context.Background(), cases.Filter{Everyone: true, Limit: cases.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range p.Cases {
		if c.Pathway == pathway {
			n++
		}
	}
	return n
}

func TestBackfillOpensCasesForImportedDecisions(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		if _, _, err := w.engine.Submit(ctx, mentalHealth("b-1", 12, 9), triage.Options{Team: "central"}); err != nil {
			t.Fatal(err)
		}
		w.submit(t, mentalHealth("b-2", 12, 9), "central")
		for want := range []int64{1, 0} {
			n, err := w.store.Backfill(ctx)
			if err != nil || n != int64(1-want) {
				t.Fatalf("backfill %d: %d %v", want, n, err)
			}
		}
		if c, err := w.store.Case(ctx, "d-000001"); err != nil || c.Status != cases.Referred || c.StartScores["phq9_total"] != rules.Int(12) {
			t.Errorf("backfilled case %+v %v", c, err)
		}
	})
}
