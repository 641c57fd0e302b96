package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
)

// decideOnPage makes a decision through the assessment page as username and returns its id.
func decideOnPage(t *testing.T, e *env, username string, answers url.Values) string {
	t.Helper()
	s := e.signIn(t, username)
	_, form := s.get("/assessments/new/mental-health")
	m := idempotencyInPage.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("assessment form has no idempotency key: %s", form)
	}
	answers.Set("idempotency_key", m[1])
	resp, page := s.post("/assessments/new/mental-health", answers)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/decisions/") {
		t.Fatalf("assessment page: %d %s %.300s, want 303 to the decision", resp.StatusCode, loc, page)
	}
	return strings.TrimPrefix(loc, "/decisions/")
}

func caseStatus(t *testing.T, db *database.DB, id string) string {
	t.Helper()
	var status string
	if err := db.Get(&status, db.Rebind(`SELECT status FROM cases WHERE id = ?`), id); err != nil {
		t.Fatalf("case %s: %v", id, err)
	}
	return status
}

func caseStepCount(t *testing.T, db *database.DB, id string) int {
	t.Helper()
	var n int
	if err := db.Get(&n, db.Rebind(`SELECT COUNT(*) FROM case_steps WHERE case_id = ?`), id); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAssessmentPageOpensCase: a decision made on the assessment page opens its case in the same
// transaction, as the API and the command line do, and the decision page shows it with who
// referred it, by name.
func TestAssessmentPageOpensCase(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		id := decideOnPage(t, e, "carol", mentalHealthAnswers(""))
		if got := caseStatus(t, db, id); got != "referred" {
			t.Errorf("case of a page decision is %q, want referred", got)
		}
		if n := caseStepCount(t, db, id); n != 1 {
			t.Errorf("case of a page decision has %d steps, want the referral", n)
		}
		status, page := e.signIn(t, "carol").get("/decisions/" + id)
		for _, want := range []string{`<h2 id="case" tabindex="-1">Case</h2>`, "<strong>Referred</strong>", "<td>carol (test)</td>"} {
			if status != http.StatusOK || !strings.Contains(page, want) {
				t.Errorf("decision page (%d) lacks %q", status, want)
			}
		}
		if strings.Contains(page, `action="/decisions/`+id+`/case"`) {
			t.Error("a clinician, who may not record steps, is offered a step's form")
		}
	})
}

// TestCaseStepsOnDecisionPage: a coordinator of the case's team takes a case through its life from
// the decision page; each step comes back with a notice and is listed with who and when.
func TestCaseStepsOnDecisionPage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "cora", "central", "", identity.Coordinator)
		id := decideOnPage(t, e, "carol", mentalHealthAnswers(""))
		cora := e.signIn(t, "cora")
		path := "/decisions/" + id

		steps := []struct {
			step, offered, status, notice string
			form                          url.Values
		}{
			{"accept", "Record that the service accepted", "accepted", "the service accepted the referral", nil},
			{"book", "Record the booked visit", "visit_booked", "a visit is booked", url.Values{"appointment_id": {"apt-page-1"}}},
			{"visit_done", "Record the visit as done", "visit_done", "the visit took place", nil},
			{"outcome", "Record the outcome", "outcome_recorded", "Recorded: the outcome", nil},
			{"close", "Close the case", "closed", "the case is closed", url.Values{"reason": {"Course of treatment finished"}}},
		}
		for _, st := range steps {
			_, page := cora.get(path)
			if !strings.Contains(page, st.offered+"</button>") {
				t.Fatalf("before %s: the page offers no %q button", st.step, st.offered)
			}
			form := url.Values{"step": {st.step}}
			for k, v := range st.form {
				form[k] = v
			}
			resp, body := cora.post(path+"/case", form)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != path+"?notice=case-"+st.step {
				t.Fatalf("%s: %d %s %.400s, want 303 back with a notice", st.step, resp.StatusCode, resp.Header.Get("Location"), body)
			}
			if got := caseStatus(t, db, id); got != st.status {
				t.Fatalf("after %s the case is %q, want %q", st.step, got, st.status)
			}
			if _, back := cora.get(resp.Header.Get("Location")); !strings.Contains(back, st.notice) {
				t.Errorf("after %s the page lacks the notice %q", st.step, st.notice)
			}
		}
		_, page := cora.get(path)
		for _, want := range []string{"<strong>Closed</strong>", "<td>cora (test)</td>", "Case closed: Course of treatment finished",
			"This case is closed", `<time datetime="2026-`} {
			if !strings.Contains(page, want) {
				t.Errorf("closed case's page lacks %q", want)
			}
		}
		var appointment string
		if err := db.Get(&appointment, db.Rebind(`SELECT appointment_id FROM cases WHERE id = ?`), id); err != nil || appointment != "apt-page-1" {
			t.Errorf("booked appointment: %q (%v)", appointment, err)
		}
		var audited int
		if err := db.Get(&audited, `SELECT COUNT(*) FROM access_audit WHERE action = 'case.step' AND outcome = 'allowed'`); err != nil || audited != len(steps) {
			t.Errorf("%d steps audited (%v), want %d", audited, err, len(steps))
		}
	})
}

// TestCaseStepRefusedOnDecisionPage: a step the status does not allow, or one missing its reason,
// gives the page again with an error summary naming the problem, and records nothing.
func TestCaseStepRefusedOnDecisionPage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "cora", "central", "", identity.Coordinator)
		id := decideOnPage(t, e, "carol", mentalHealthAnswers(""))
		cora := e.signIn(t, "cora")
		path := "/decisions/" + id
		cases := []struct {
			name  string
			form  url.Values
			wants []string
		}{
			{"not allowed from referred", url.Values{"step": {"visit_done"}},
				[]string{`href="#case"`, "cannot become visit_done", "the next step is accept or decline"}},
			{"decline without a reason", url.Values{"step": {"decline"}},
				[]string{`href="#case-decline-reason"`, "Is missing; say why the service declines the referral", "cp-input--error"}},
			{"unknown step", url.Values{"step": {"teleport"}},
				[]string{`href="#case"`, "Want one of accept"}},
			{"at home on a mental-health case", url.Values{"step": {"accept"}, "at_home": {"maybe"}},
				[]string{`href="#case"`, "Choose yes or no"}},
		}
		for _, c := range cases {
			resp, page := cora.post(path+"/case", c.form)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d, want 422", c.name, resp.StatusCode)
			}
			for _, want := range append(c.wants, "There is a problem", "<title>Error: ") {
				if !strings.Contains(page, want) {
					t.Errorf("%s: page lacks %q", c.name, want)
				}
			}
		}
		if got, n := caseStatus(t, db, id), caseStepCount(t, db, id); got != "referred" || n != 1 {
			t.Errorf("refused steps changed the case: %s with %d steps", got, n)
		}
	})
}

// TestCaseStepOtherTeamOnDecisionPage: nobody outside the case's team records a step: a clinician
// holds no permission to, and a coordinator of another team is refused by the team rule, which
// the access audit records as denied.
func TestCaseStepOtherTeamOnDecisionPage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "sam", "south", "", identity.Clinician)
		e.user(t, "sue", "south", "", identity.Coordinator)
		e.user(t, "carl", "central", "", identity.Clinician)
		id := decideOnPage(t, e, "carol", mentalHealthAnswers(""))
		for _, who := range []string{"sam", "sue", "carl"} {
			resp, page := e.signIn(t, who).post("/decisions/"+id+"/case", url.Values{"step": {"accept"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d %.300s, want 403", who, resp.StatusCode, page)
			}
		}
		if got, n := caseStatus(t, db, id), caseStepCount(t, db, id); got != "referred" || n != 1 {
			t.Errorf("refused steps changed the case: %s with %d steps", got, n)
		}
		var denied int
		if err := db.Get(&denied, `SELECT COUNT(*) FROM access_audit WHERE action = 'case.step' AND outcome = 'denied'`); err != nil || denied != 1 {
			t.Errorf("%d denied case steps audited (%v), want the other team's coordinator's", denied, err)
		}
	})
}
