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

// TestBrowserEscalationHandled: a coordinator, with the keyboard alone, opens an escalated case's
// actions on the worklist, is told beside the field that a note is needed, then marks it handled;
// each page shown passes axe-core, on both backends.
func TestBrowserEscalationHandled(t *testing.T) {
	br := browsertest.Start(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		id := e.escalatedCase(t, "esc-browser")
		e.user(t, "cora", "central", "", identity.Coordinator)
		p := br.NewPage(t, e.URL)
		p.Visit("/worklist")
		browserKeyboardSignIn(t, p, "cora", browserPassword)
		row := "#case-" + id
		if !p.Has(row) || !strings.Contains(p.Text(row), "Escalated") {
			t.Fatalf("the worklist shows no escalated row for case %s: %s", id, p.Text("main"))
		}
		p.TabTo(row + " summary")
		p.Press(kb.Enter)
		p.Inspect("worklist-escalated")

		// Submitted without a note: refused beside the field, the form still open.
		p.TabTo(row + ` form[action$="/resolve"] button[type=submit]`)
		p.PressAndWait(kb.Enter)
		if !strings.Contains(p.Text(".cp-error-summary"), "Enter how the escalation was handled") || !p.Has(row+" .cp-form-group--error #note-"+id) {
			t.Fatalf("blank note: %s", p.Text("main"))
		}
		p.Inspect("worklist-escalation-note-missing")

		p.TabTo("#note-" + id)
		p.Type("Crisis team phoned; visit arranged by hand")
		p.TabTo(row + ` form[action$="/resolve"] button[type=submit]`)
		p.PressAndWait(kb.Enter)
		if notice := p.Text(".cp-notice"); !strings.Contains(notice, "marked handled") {
			t.Errorf("no confirmation: %q on %s", notice, p.Path())
		}
		if p.Has("#escalated-summary") || strings.Contains(p.Text(row), "Escalated") {
			t.Errorf("the case is still shown escalated: %s", p.Text(row))
		}
		p.Inspect("worklist-escalation-handled")
	})
}
