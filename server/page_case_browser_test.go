package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server/browsertest"
)

// TestBrowserCaseSteps: a coordinator records a case's steps on the decision page with the
// keyboard alone; the page, its forms and its error summary pass axe-core.
func TestBrowserCaseSteps(t *testing.T) {
	br := browsertest.Start(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		id, _, _ := browserBookVisit(t, e)
		e.user(t, "cora", "central", "", identity.Coordinator)
		p := browserSignIn(t, e, br, "cora")
		p.Visit("/decisions/" + id)
		if !p.Has(`#case`) || !p.Has(`form[action="/decisions/`+id+`/case"]`) {
			t.Fatalf("decision page has no case section with forms: %s", p.Text("main"))
		}
		p.Inspect("decision-case")

		// Declining needs a reason: the summary names the field, and its link lands on it.
		p.TabTo(`input[name="step"][value="decline"] ~ fieldset button[type=submit]`)
		p.PressAndWait(kb.Enter)
		if s := p.Text(".cp-error-summary"); !strings.Contains(s, "say why the service declines") {
			t.Fatalf("decline without a reason: summary %q", s)
		}
		p.Inspect("decision-case-error")

		p.TabTo(`input[name="step"][value="accept"] ~ fieldset button[type=submit]`)
		p.PressAndWait(kb.Enter)
		if n := p.Text(".cp-notice"); !strings.Contains(n, "accepted the referral") {
			t.Fatalf("accept: notice %q on %s", n, p.Path())
		}
		if !p.Has(`input[name="step"][value="book"]`) {
			t.Errorf("after accepting, the page offers no booking: %s", p.Text("#case ~ *"))
		}
		p.Inspect("decision-case-accepted")
	})
}
