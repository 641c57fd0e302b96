package governance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/rules"
)

// TestTwoPersonRule: author and approver are compared by subject id, so no typed name, case or
// space gets a version through alone; an editor counts as an author, a reviewer who only sent a
// version back does not, and nothing is activated without a second person's approval.
func TestTwoPersonRule(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		h := setup(t, db)
		ctx := context.Background()
		lc := h.svc.Lifecycle
		src, err := fixtures.FS().(interface{ ReadFile(string) ([]byte, error) }).ReadFile("rulesets/mh-triage.v2.yaml")
		if err != nil {
			t.Fatal(err)
		}
		// The same subject with another display name is still the author.
		aliceRenamed := rules.Actor{Subject: alice.Subject, Name: "ALICE "}
		draft, err := lc.CreateDraft(ctx, alice, src, "new")
		if err != nil {
			t.Fatal(err)
		}
		v := draft.Version
		// Bob edits Alice's draft: he is an author now too.
		if _, err := lc.UpdateDraft(ctx, bob, "mh-triage", v, src, "tidy"); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Submit(ctx, alice, "mh-triage", v, "ready"); err != nil {
			t.Fatal(err)
		}
		for _, a := range []rules.Actor{alice, aliceRenamed, bob} {
			if err := lc.Approve(ctx, a, "mh-triage", v, "fine", nil); failure.CodeOf(err) != failure.Forbidden || !strings.Contains(err.Error(), "cannot approve") {
				t.Errorf("approval by author %+v: %v, want forbidden", a, err)
			}
		}
		// Nobody may activate a version in review, whoever they are.
		if err := lc.Activate(ctx, carol, "mh-triage", v, h.clock.t, "go"); failure.CodeOf(err) != failure.Conflict {
			t.Errorf("activation before approval: %v", err)
		}
		// Carol sends it back: a reviewer who only rejected may still approve later.
		if err := lc.Reject(ctx, carol, "mh-triage", v, "explain the change"); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Submit(ctx, alice, "mh-triage", v, "explained"); err != nil {
			t.Fatal(err)
		}
		if err := lc.Approve(ctx, carol, "mh-triage", v, "now clear", nil); err != nil {
			t.Fatalf("approval by the reviewer who rejected: %v", err)
		}
		// The author may activate it once someone else approved it.
		if err := lc.Activate(ctx, alice, "mh-triage", v, h.clock.t, "approved by Carol"); err != nil {
			t.Fatalf("activation by the author after another's approval: %v", err)
		}
		// An unauthenticated or blank actor is refused before anything else.
		for _, a := range []rules.Actor{{}, {Subject: " "}, {Subject: "eve "}} {
			if _, err := lc.CreateDraft(ctx, a, src, "x"); failure.CodeOf(err) != failure.Unauthenticated {
				t.Errorf("draft by %+v: %v", a, err)
			}
		}
		// Seeding is for system identities only: a person cannot put a version in force with it.
		_, err = lc.Seed(ctx, alice, rules.Version{ID: "mh-triage", Version: 99, Form: "mental-health", Source: draft.Source, SHA256: "x"}, h.clock.t)
		if failure.CodeOf(err) != failure.Forbidden {
			t.Errorf("seed by a person: %v", err)
		}
		// The demo versions are in the audit trail under the demo system identity.
		hist, err := h.svc.Rules.History(ctx, "mh-triage")
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) < 3 || hist[0].Actor != identity.DemoLoader.Subject || hist[2].To != rules.StatusActive {
			t.Errorf("the demo versions' trail: %+v", hist[:min(3, len(hist))])
		}
		authors := map[string]bool{}
		for _, e := range hist {
			if e.Version == v {
				authors[e.Actor+" "+string(e.From)+">"+string(e.To)] = true
			}
		}
		for _, want := range []string{alice.Subject + " >draft", bob.Subject + " draft>draft", carol.Subject + " in_review>draft",
			carol.Subject + " in_review>approved", alice.Subject + " approved>active"} {
			if !authors[want] {
				t.Errorf("trail of v%d lacks %q: %v", v, want, authors)
			}
		}
	})
}
