package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server/browsertest"
)

// browserFlow is one thing a person does with the web pages, driven in a real Chromium.
type browserFlow struct {
	name string
	// routes are the pages the flow needs; while one of them answers 404 the flow is skipped
	// with the reason, so that a flow can be written before its page.
	routes []string
	run    func(t *testing.T, e *env, br *browsertest.Browser)
}

// browserPassword is the password e.user gives every account.
const browserPassword = "correct horse battery"

// browserFlows are the people's journeys through the pages. Every page a flow shows is checked
// with axe-core (no WCAG 2.2 AA violation allowed) and, with CAREPATH_SCREENSHOTS=1,
// photographed at desktop and phone widths into docs/screenshots.
var browserFlows = []browserFlow{
	{name: "sign in with the keyboard alone", run: flowSignInKeyboard},
	{name: "clinician submits a PHQ-9 with the keyboard and reads the decision", routes: []string{"/assessments/new"}, run: flowClinicianPHQ9},
	{name: "coordinator reassigns a case", routes: []string{"/worklist"}, run: flowCoordinatorReassigns},
	{name: "practitioner sees one marker per visit on the map of the day", routes: []string{"/day"}, run: flowPractitionerDay},
	{name: "policy officers change a threshold through review", routes: []string{"/rulesets"}, run: flowPolicyThreshold},
	{name: "analyst replays the stored cases under another version", routes: []string{"/replay"}, run: flowAnalystReplay},
}

// TestBrowserFlows drives each flow in headless Chromium against the real server on loopback,
// on both backends.
func TestBrowserFlows(t *testing.T) {
	br := browsertest.Start(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		for _, f := range browserFlows {
			t.Run(f.name, func(t *testing.T) {
				for _, route := range f.routes {
					if resp, _ := do(t, "GET", e.URL+route, "", nil); resp.StatusCode == http.StatusNotFound {
						t.Skipf("the page %s does not exist yet (404)", route)
					}
				}
				start := time.Now()
				f.run(t, e, br)
				t.Logf("%s in %v", f.name, time.Since(start).Round(time.Millisecond))
			})
		}
	})
}

// browserKeyboardSignIn signs username in on the sign-in page using only the keyboard: Tab to each
// field, type, and Enter to submit.
func browserKeyboardSignIn(t *testing.T, p *browsertest.Page, username, pass string) {
	t.Helper()
	p.TabTo("#username")
	p.Type(username)
	p.TabTo("#password")
	p.Type(pass)
	p.PressAndWait(kb.Enter)
}

// browserSignIn opens a page for username and signs in through the sign-in form.
func browserSignIn(t *testing.T, e *env, br *browsertest.Browser, username string) *browsertest.Page {
	t.Helper()
	p := br.NewPage(t, e.URL)
	p.Visit("/signin")
	p.Fill("#username", username)
	p.Fill("#password", browserPassword)
	p.Click(`form[action="/signin"] button[type=submit]`)
	if p.Path() != "/" {
		t.Fatalf("sign in as %s: ended on %s with %q", username, p.Path(), p.Text(".cp-error-summary"))
	}
	return p
}

func flowSignInKeyboard(t *testing.T, e *env, br *browsertest.Browser) {
	e.user(t, "kim", "central", "", identity.Clinician)
	p := br.NewPage(t, e.URL)
	p.Visit("/")
	if p.Path() != "/signin" {
		t.Fatalf("anonymous visit to / ended on %s, want the sign-in page", p.Path())
	}
	p.Inspect("signin")

	// The first Tab lands on the skip link, which moves the focus to the main content.
	p.Press(kb.Tab)
	if got := p.Focused(); got != "a" {
		t.Errorf("first Tab focuses %s, want the skip link", got)
	}
	browserKeyboardSignIn(t, p, "kim", "not the password")
	if summary := p.Text(".cp-error-summary"); !strings.Contains(summary, "username or password is not right") {
		t.Errorf("wrong password: error summary %q", summary)
	}
	if !strings.HasPrefix(p.Title(), "Error: ") {
		t.Errorf("wrong password: title %q does not start with Error:", p.Title())
	}
	p.Inspect("signin-error")

	p.Visit("/signin")
	browserKeyboardSignIn(t, p, "kim", browserPassword)
	if p.Path() != "/" || !strings.Contains(p.Text("h1"), "kim (test)") {
		t.Fatalf("after signing in: %s, heading %q", p.Path(), p.Text("h1"))
	}
	p.Inspect("home")
}

func flowClinicianPHQ9(t *testing.T, e *env, br *browsertest.Browser) {
	e.user(t, "carla", "central", "", identity.Clinician)
	p := br.NewPage(t, e.URL)
	p.Visit("/assessments/new")
	// Asked for before signing in, the form comes back after it.
	browserKeyboardSignIn(t, p, "carla", browserPassword)
	if p.Path() != "/assessments/new" {
		t.Fatalf("after signing in from the form picker: %s", p.Path())
	}
	p.Inspect("assessment-pick")
	p.TabTo(`main a[href="/assessments/new/mental-health"]`)
	p.PressAndWait(kb.Enter)
	if !p.Has(`input[type=radio][name="answers.phq9_1"]`) {
		t.Fatalf("no PHQ-9 answer grid on %s", p.Path())
	}
	p.Inspect("assessment-form")

	// The first submission leaves PHQ-9 item 9 and the GAD-7 unanswered: the error summary
	// names each of them and links to its field.
	browserFillSubject(t, p)
	for _, q := range []string{"phq9_1", "phq9_2", "phq9_3", "phq9_4", "phq9_5", "phq9_6", "phq9_7", "phq9_8"} {
		p.ChooseRadio("answers."+q, browserAnswers[q])
	}
	browserSubmit(t, p)
	if !p.Has(`.cp-error-summary a[href="#answers-phq9_9"]`) {
		t.Fatalf("submission without PHQ-9 item 9: the error summary does not link to it: %q", p.Text(".cp-error-summary"))
	}
	if p.Value(`input[name="nhs_number"]`) == "" || !p.Has(`input[name="answers.phq9_1"]:checked`) {
		t.Errorf("the refused form lost what was typed")
	}
	p.Inspect("assessment-form-error")
	// Following the summary's link with the keyboard puts the focus on the field.
	p.TabTo(`.cp-error-summary a[href="#answers-phq9_9"]`)
	p.Press(kb.Enter)

	for _, q := range []string{"phq9_9", "gad7_1", "gad7_2", "gad7_3", "gad7_4", "gad7_5", "gad7_6", "gad7_7",
		"risk_plan", "risk_intent", "previous_high_intensity_treatment", "under_secondary_care"} {
		if !p.Has(`input[type=radio][name="answers.` + q + `"]:checked`) {
			p.ChooseRadio("answers."+q, browserAnswers[q])
		}
	}
	browserSubmit(t, p)
	if p.Has(".cp-error-summary") {
		t.Fatalf("corrected submission refused: %q", p.Text(".cp-error-summary"))
	}
	if !strings.HasPrefix(p.Path(), "/decisions/") {
		t.Fatalf("after submitting: %s, want the decision page", p.Path())
	}
	body := strings.ToLower(p.Text("main"))
	for _, want := range []string{"respond by", "talking therapies"} {
		if !strings.Contains(body, want) {
			t.Errorf("decision page lacks %q: %s", want, body)
		}
	}
	p.Inspect("decision")
	// The appointment letter for the citizen, from the decision page.
	p.TabTo(`main a[href$="/letter"]`)
	p.PressAndWait(kb.Enter)
	if !strings.HasSuffix(p.Path(), "/letter") {
		t.Fatalf("appointment letter: ended on %s", p.Path())
	}
	if to := p.Text(".cp-letter__to"); !strings.Contains(to, testPersonName) || !strings.Contains(to, "14 Pellinore Road") {
		t.Errorf("the letter is addressed to %q, want the person's name and address", to)
	}
	p.Inspect("letter")
}

// browserAnswers are the example assessment's answers (PHQ-9 total 10, GAD-7 total 5, no risk).
var browserAnswers = map[string]string{
	"phq9_1": "2", "phq9_2": "1", "phq9_3": "1", "phq9_4": "2", "phq9_5": "1", "phq9_6": "1", "phq9_7": "1", "phq9_8": "1", "phq9_9": "0",
	"gad7_1": "1", "gad7_2": "1", "gad7_3": "1", "gad7_4": "0", "gad7_5": "0", "gad7_6": "1", "gad7_7": "1",
	"risk_plan": "false", "risk_intent": "false", "previous_high_intensity_treatment": "false", "under_secondary_care": "false",
}

// browserFillSubject types the subject's details (a valid NHS number, a name, a birth date, an
// address and a demo postcode) with the keyboard.
func browserFillSubject(t *testing.T, p *browsertest.Page) {
	t.Helper()
	for _, f := range []struct{ field, value string }{
		{`input[name="nhs_number"]`, "943 476 5919"},
		{`input[name="name"]`, testPersonName},
		{`input[name="birth_date-day"]`, "12"},
		{`input[name="birth_date-month"]`, "4"},
		{`input[name="birth_date-year"]`, "1988"},
		{`textarea[name="address"]`, "Flat 2, Wyvern Court, 14 Pellinore Road"},
		{`input[name="postcode"]`, "ZX3 1DT"},
	} {
		p.TabTo(f.field)
		p.Type(f.value)
	}
}

// browserSubmit moves to the form's primary button with Tab and presses Enter on it.
func browserSubmit(t *testing.T, p *browsertest.Page) {
	t.Helper()
	p.TabTo(`main form button[type=submit]`)
	p.PressAndWait(kb.Enter)
}

// browserBookVisit submits the example assessment over the API, which books a visit, and returns the
// decision's id, the practitioner and the appointment's start.
func browserBookVisit(t *testing.T, e *env) (decision, practitioner string, start time.Time) {
	t.Helper()
	example, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, "POST", e.URL+"/v1/assessments", string(example), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST assessment: %d %s", resp.StatusCode, b)
	}
	var d struct {
		ID         string `json:"id"`
		Assignment *struct {
			PractitionerID string `json:"practitioner_id"`
			Appointment    struct {
				Start time.Time `json:"start"`
			} `json:"appointment"`
		} `json:"assignment"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.Assignment == nil {
		t.Fatalf("decision without a booked visit: %v %s", err, b)
	}
	return d.ID, d.Assignment.PractitionerID, d.Assignment.Appointment.Start
}

func flowCoordinatorReassigns(t *testing.T, e *env, br *browsertest.Browser) {
	id, before, _ := browserBookVisit(t, e)
	e.user(t, "cora", "central", "", identity.Coordinator)
	// The coordinator works with the keyboard alone.
	p := br.NewPage(t, e.URL)
	p.Visit("/worklist")
	browserKeyboardSignIn(t, p, "cora", browserPassword)
	// A booked case needs no attention, so the coordinator asks for the booked ones.
	p.ChooseOption("#filter-status", "booked")
	p.TabTo(`form[action="/worklist"] button[type=submit]`)
	p.PressAndWait(kb.Enter)
	row := "#case-" + id
	if !p.Has(row) {
		t.Fatalf("worklist has no row for case %s: %s", id, p.Text("main"))
	}
	p.Inspect("worklist")
	p.TabTo(row + " summary")
	p.Press(kb.Enter)
	p.TabTo(row + ` form[action$="/reassign"] button[type=submit]`)
	p.PressAndWait(kb.Enter)
	if notice := p.Text(".cp-notice"); notice == "" {
		t.Errorf("reassign: no confirmation on %s: %s", p.Path(), p.Text("main"))
	}
	p.Inspect("worklist-reassigned")
	resp, b := do(t, "GET", e.URL+"/v1/assessments/"+id, "", nil)
	var d struct {
		Assignment *struct {
			PractitionerID string `json:"practitioner_id"`
		} `json:"assignment"`
	}
	if err := json.Unmarshal(b, &d); resp.StatusCode != http.StatusOK || err != nil || d.Assignment == nil || d.Assignment.PractitionerID == before {
		t.Errorf("after reassigning from the worklist the case is still with %s: %s", before, b)
	}
}

func flowPractitionerDay(t *testing.T, e *env, br *browsertest.Browser) {
	_, practitioner, start := browserBookVisit(t, e)
	browserBookVisit(t, e)
	e.user(t, "pia", "central", practitioner, identity.Practitioner)
	p := br.NewPage(t, e.URL)
	p.Visit("/day?date=" + start.In(london).Format(time.DateOnly))
	browserKeyboardSignIn(t, p, "pia", browserPassword)
	p.Inspect("day")
	visits := p.Count(`ol.cp-visits > li`)
	markers := p.Count(`svg g.cp-map__visit`)
	if visits == 0 || markers != visits {
		t.Errorf("my day: %d visits listed, %d visit markers on the map", visits, markers)
	}
	for n := 1; n <= visits; n++ {
		if got := p.Count(fmt.Sprintf(`svg g.cp-map__visit[data-visit="%d"]`, n)); got != 1 {
			t.Errorf("visit %d has %d markers on the map", n, got)
		}
	}
	// Both visits are at the example's address: their markers are set apart, not stacked.
	xs, ys := p.Attrs(`svg g.cp-map__visit circle`, "cx"), p.Attrs(`svg g.cp-map__visit circle`, "cy")
	seen := map[string]bool{}
	for i := range xs {
		seen[xs[i]+","+ys[i]] = true
	}
	if len(seen) != visits {
		t.Errorf("visit markers at %v %v: %d places for %d visits", xs, ys, len(seen), visits)
	}
	// The route runs from the base through the markers in visit order and back to the base.
	bx, by := p.Attrs(`svg g.cp-map__base rect`, "x"), p.Attrs(`svg g.cp-map__base rect`, "y")
	route := strings.Fields(strings.Join(p.Attrs(`svg polyline.cp-map__route`, "points"), " "))
	want := []string{}
	if len(bx) == 1 {
		want = append(want, bx[0]+","+by[0])
		for i := range xs {
			want = append(want, xs[i]+","+ys[i])
		}
		want = append(want, bx[0]+","+by[0])
	}
	if len(want) == 0 || strings.Join(route, " ") != strings.Join(want, " ") {
		t.Errorf("route %v, want %v", route, want)
	}
}

// The policy flow changes the PHQ-9 caseness threshold of the illustrative demo rule set.
const (
	casenessParam   = "phq9_caseness: 10"
	casenessRaised  = "phq9_caseness: 11"
	phq9TenExpected = "- name: phq9-total-10\n    answers: {phq9_1: 2, phq9_2: 2, phq9_3: 2, phq9_4: 2, phq9_5: 2}\n    expect: {pathway: talking-therapies-step2, rule: caseness}"
	phq9TenFixed    = "- name: phq9-total-10\n    answers: {phq9_1: 2, phq9_2: 2, phq9_3: 2, phq9_4: 2, phq9_5: 2}\n    expect: {pathway: watchful-waiting, rule: otherwise}"
)

func flowPolicyThreshold(t *testing.T, e *env, br *browsertest.Browser) {
	e.user(t, "olu", "central", "", identity.PolicyOfficer)
	e.user(t, "ola", "central", "", identity.PolicyOfficer)
	p := browserSignIn(t, e, br, "olu")
	p.Visit("/rulesets")
	p.Inspect("rulesets")
	p.Click(`main a[href="/rulesets/mh-triage"]`)
	p.Inspect("ruleset")
	p.Click(`main a[href="/rulesets/mh-triage/draft"]`)
	if !p.Has("textarea#source") {
		p.Click(`main form[action="/rulesets/mh-triage/draft"] button[type=submit]`)
	}
	source := p.Value("textarea#source")
	if !strings.Contains(source, casenessParam) || !strings.Contains(source, phq9TenExpected) {
		t.Fatalf("the draft is not the demo rule set this flow edits:\n%s", source)
	}

	// Raising the threshold breaks the test of a PHQ-9 total of 10.
	p.Fill("textarea#source", strings.Replace(source, casenessParam, casenessRaised, 1))
	p.Fill("#reason", "Caseness from a PHQ-9 total of 11")
	p.Click(`main form[action="/rulesets/mh-triage/draft"] button[type=submit]`)
	if !strings.Contains(p.Text("#checks ~ p"), "Tests fail") || !strings.Contains(p.Text("main"), "phq9-total-10") {
		t.Fatalf("raised threshold: no failing test shown: %s", p.Text("main"))
	}
	if p.Has(`form[action$="/submit"]`) {
		t.Error("a draft whose tests fail is offered for review")
	}
	p.Inspect("ruleset-draft-failing")

	// Fixing the test's expectation makes the draft ready for review.
	source = p.Value("textarea#source")
	p.Fill("textarea#source", strings.Replace(source, phq9TenExpected, phq9TenFixed, 1))
	p.Click(`main form[action="/rulesets/mh-triage/draft"] button[type=submit]`)
	if !strings.Contains(p.Text("main"), "Tests pass") {
		t.Fatalf("fixed test: %s", p.Text("main"))
	}
	p.Inspect("ruleset-draft")
	p.Click(`main form[action$="/submit"] button[type=submit]`)
	version := strings.TrimPrefix(p.Path(), "/rulesets/mh-triage/versions/")
	if i := strings.IndexAny(version, "?#/"); i >= 0 {
		version = version[:i]
	}
	if version == "" || strings.Contains(version, "/") {
		t.Fatalf("after submitting: %s", p.Path())
	}

	// What the version changes, and its impact on the stored cases.
	p.Click(`main a[href^="/rulesets/mh-triage/diff?"]`)
	p.Inspect("ruleset-diff")
	p.Visit("/rulesets/mh-triage/versions/" + version + "/impact")
	p.Inspect("ruleset-impact")
	p.Visit("/rulesets/mh-triage/versions/" + version)

	// The author may not approve their own change.
	if p.Has(`form[action$="/approve"]`) {
		p.Fill("#approve-comment", "Looks right to me")
		p.Click(`form[action$="/approve"] button[type=submit]`)
		if !p.Has(".cp-error-summary") {
			t.Errorf("the author approved their own version: %s", p.Text("main"))
		}
	}

	// A second officer approves and activates it.
	q := browserSignIn(t, e, br, "ola")
	q.Visit("/rulesets/mh-triage/versions/" + version)
	q.Inspect("ruleset-version-review")
	q.Fill("#approve-comment", "Checked against the service's capacity")
	q.Click(`form[action$="/approve"] button[type=submit]`)
	if q.Has(".cp-error-summary") {
		t.Fatalf("approve: %s", q.Text(".cp-error-summary"))
	}
	q.Click(`form[action$="/activate"] button[type=submit]`)
	if q.Has(".cp-error-summary") {
		t.Fatalf("activate: %s", q.Text(".cp-error-summary"))
	}
	q.Inspect("ruleset-version-active")
	resp, b := do(t, "GET", e.URL+"/v1/rulesets", "", nil)
	var list struct {
		RuleSets []struct {
			ID      string `json:"id"`
			Version int    `json:"version"`
			Active  bool   `json:"active"`
		} `json:"rulesets"`
	}
	if err := json.Unmarshal(b, &list); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("rule sets after activation: %d %v", resp.StatusCode, err)
	}
	for _, rs := range list.RuleSets {
		if rs.ID == "mh-triage" && rs.Active && strconv.Itoa(rs.Version) != version {
			t.Errorf("after activating version %s from the page, version %d of mh-triage is active", version, rs.Version)
		}
	}
}

func flowAnalystReplay(t *testing.T, e *env, br *browsertest.Browser) {
	browserBookVisit(t, e)
	e.user(t, "ana", "", "", identity.Analyst)
	// The analyst works with the keyboard alone.
	p := br.NewPage(t, e.URL)
	p.Visit("/replay")
	browserKeyboardSignIn(t, p, "ana", browserPassword)
	p.Inspect("replay")
	p.ChooseOption("#replay-candidate", "mh-triage/2")
	browserSubmit(t, p)
	if p.Has(".cp-error-summary") || !p.Has("#result") {
		t.Fatalf("replay: %s", p.Text("main"))
	}
	if !p.Has(`main a[download]`) {
		t.Error("replay result: no link to download it as CSV")
	}
	p.Inspect("replay-result")
}
