package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

var (
	idempotencyInPage = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)
	inputTag          = regexp.MustCompile(`<input [^>]*>`)
	labelFor          = regexp.MustCompile(`<label [^>]*for="([^"]+)"`)
	attr              = func(tag, name string) string {
		m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
		if m == nil {
			return ""
		}
		return m[1]
	}
)

// unlabelledInputs lists the visible inputs of a page that no <label for> names.
func unlabelledInputs(page string) []string {
	labelled := map[string]bool{}
	for _, m := range labelFor.FindAllStringSubmatch(page, -1) {
		labelled[m[1]] = true
	}
	var out []string
	for _, tag := range inputTag.FindAllString(page, -1) {
		if attr(tag, "type") == "hidden" {
			continue
		}
		if id := attr(tag, "id"); id == "" || !labelled[id] {
			out = append(out, tag)
		}
	}
	return out
}

// The person the form pages assess: distinctive, so that a test can look for them anywhere.
const (
	testPersonName    = "Ottoline Quarrendon"
	testPersonAddress = "Flat 2, Wyvern Court\r\n14 Pellinore Road"
)

// mentalHealthAnswers is a complete mental-health form as a browser posts it, with a risk answer.
func mentalHealthAnswers(key string) url.Values {
	v := url.Values{"nhs_number": {"943 476 5919"}, "name": {testPersonName}, "birth_date-day": {"12"}, "birth_date-month": {"4"}, "birth_date-year": {"1988"},
		"address": {testPersonAddress}, "postcode": {"ZX3 1DT"}, "idempotency_key": {key}}
	for _, id := range []string{"phq9_1", "phq9_2", "phq9_3", "phq9_4", "phq9_5", "phq9_6", "phq9_7", "phq9_8", "phq9_9",
		"gad7_1", "gad7_2", "gad7_3", "gad7_4", "gad7_5", "gad7_6", "gad7_7"} {
		v.Set("answers."+id, "1")
	}
	v.Set("answers.phq9_1", "2")
	v.Set("answers.phq9_9", "0")
	for _, id := range []string{"risk_intent", "previous_high_intensity_treatment", "under_secondary_care"} {
		v.Set("answers."+id, "false")
	}
	v.Set("answers.risk_plan", "true")
	return v
}

// inWords formats t as the pages do: "Thursday 26 November 2026 at 1:00pm" in London.
func inWords(t time.Time) string {
	t = t.In(london)
	return t.Format("Monday 2 January 2006") + " at " + strings.ToLower(t.Format("3:04PM"))
}

// TestAssessmentPages follows a clinician from choosing a form to reading the decision and
// printing the letter: the PHQ-9 grid with every input labelled, a validation error summary that
// names each field and keeps the answers, the redirect to the decision, and the decision in words.
func TestAssessmentPages(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		carol := e.signIn(t, "carol")

		status, pick := carol.get("/assessments/new")
		if status != http.StatusOK || !strings.Contains(pick, `href="/assessments/new/mental-health"`) || !strings.Contains(pick, `href="/assessments/new/discharge"`) {
			t.Fatalf("choosing a form: %d %s", status, pick)
		}
		status, form := carol.get("/assessments/new/mental-health")
		if status != http.StatusOK {
			t.Fatalf("form page: %d %s", status, form)
		}
		for _, want := range []string{
			`class="cp-answer-grid"`,
			`<legend class="cp-answer-grid__question">Little interest or pleasure in doing things</legend>`,
			`<input type="radio" id="answers-phq9_1" name="answers.phq9_1" value="0">`,
			`<label for="answers-phq9_1-4">Nearly every day</label>`,
			`<span>More than half the days</span>`,
			`<input type="radio" id="answers-risk_plan" name="answers.risk_plan" value="true">`,
			`<label class="cp-label" for="nhs_number">NHS number</label>`,
			`<label class="cp-label" for="name">Full name</label>`, `<textarea class="cp-textarea cp-textarea--prose cp-textarea--address" id="address" name="address"`,
			`id="birth_date-day"`, `id="birth_date-month"`, `id="birth_date-year"`,
			`<script src="/assets/offline.js" defer></script>`,
			`data-offline-form`,
		} {
			if !strings.Contains(form, want) {
				t.Errorf("form page lacks %s", want)
			}
		}
		if bad := unlabelledInputs(form); len(bad) > 0 {
			t.Errorf("inputs without a label: %q", bad)
		}
		m := idempotencyInPage.FindStringSubmatch(form)
		if m == nil {
			t.Fatal("form page carries no idempotency key")
		}
		if _, again := carol.get("/assessments/new/mental-health"); strings.Contains(again, m[1]) {
			t.Error("two renderings of the form share an idempotency key")
		}

		bad := mentalHealthAnswers(m[1])
		bad.Del("answers.phq9_3")
		bad.Set("nhs_number", "943 476 5918")
		bad.Set("birth_date-month", "13")
		bad.Set("name", " ")
		bad.Del("address")
		bad.Del("postcode")
		resp, page := carol.post("/assessments/new/mental-health", bad)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("invalid form: %d, want 422", resp.StatusCode)
		}
		summary := page[strings.Index(page, `class="cp-error-summary"`):]
		summary = summary[:strings.Index(summary, "</div>")]
		links := regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(summary, -1)
		var order []string
		for _, l := range links {
			order = append(order, l[1])
		}
		if want := []string{"nhs_number", "name", "birth_date-day", "address", "answers-phq9_3"}; strings.Join(order, " ") != strings.Join(want, " ") {
			t.Errorf("error summary links %v, want %v in the order of the page", order, want)
		}
		for _, want := range []string{
			"<title>Error: ", "NHS number is not valid", "Enter the person&#39;s full name", "Date of birth must be a real date", "Enter the person&#39;s address or postcode", "“Trouble falling or staying asleep, or sleeping too much”",
			`value="943 476 5918"`, `id="answers-phq9_1-3" name="answers.phq9_1" value="2" checked`, `value="` + m[1] + `"`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("422 page lacks %s", want)
			}
		}
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil || n != 0 {
			t.Fatalf("an invalid form stored %d decisions (%v)", n, err)
		}

		resp, _ = carol.post("/assessments/new/mental-health", mentalHealthAnswers(m[1]))
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/decisions/") {
			t.Fatalf("valid form: %d to %q, want 303 to the decision", resp.StatusCode, loc)
		}
		id := strings.TrimPrefix(loc, "/decisions/")
		var d triage.Decision
		if resp, b := do(t, "GET", e.URL+"/v1/assessments/"+id, "", e.bearer("carol")); resp.StatusCode != http.StatusOK {
			t.Fatalf("the decision by the API: %d %s", resp.StatusCode, b)
		} else if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if d.SubjectRef != "9434765919" || d.Team != "central" || d.Outcome.Pathway != "crisis-home-treatment" {
			t.Errorf("stored decision: subject %q team %q pathway %q", d.SubjectRef, d.Team, d.Outcome.Pathway)
		}
		within, _ := rules.ParseDuration(d.Outcome.RespondWithin)
		status, page = carol.get(loc)
		if status != http.StatusOK {
			t.Fatalf("decision page: %d %s", status, page)
		}
		for _, want := range []string{
			"<h1>Crisis resolution and home treatment</h1>", "cp-tag--red", ">Emergency<",
			"Respond by", inWords(d.Decided.Add(within)), d.Explanation.Because,
			"Clinician review today", "Has the person described a plan to end their life or to harm themselves?: <strong>Yes</strong>",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("decision page lacks %q", want)
			}
		}
		if strings.Contains(page, "same_day_clinician_review") {
			t.Error("decision page shows a flag's code rather than its words")
		}
		switch {
		case d.Assignment != nil:
			if !strings.Contains(page, inWords(d.Assignment.Appointment.Start)) || !strings.Contains(page, `href="/decisions/`+id+`/letter"`) {
				t.Errorf("decision page lacks the appointment or the letter: %s", page)
			}
			status, letter := carol.get(loc + "/letter")
			if status != http.StatusOK {
				t.Log(e.logs.String())
			}
			for _, want := range []string{"NHS number: 943 476 5919", inWords(d.Assignment.Appointment.Start), "data-print hidden", "/assets/print.js",
				`<address class="cp-letter__to">Ottoline Quarrendon<br>Flat 2, Wyvern Court<br>14 Pellinore Road<br>ZX3 1DT</address>`,
				"<p>Dear Ottoline Quarrendon,</p>"} {
				if status != http.StatusOK || !strings.Contains(letter, want) {
					t.Errorf("letter: %d, lacks %q", status, want)
				}
			}
		case d.ManualAllocation:
			if !strings.Contains(page, "Needs manual allocation") || !strings.Contains(page, d.UnassignedReason) {
				t.Errorf("decision page does not say the case needs manual allocation, and why")
			}
			if status, _ := carol.get(loc + "/letter"); status != http.StatusNotFound {
				t.Errorf("letter without an appointment: %d, want 404", status)
			}
		}
		if len(d.RejectedServices) > 0 && !strings.Contains(page, "<summary>Services not offered") {
			t.Error("decision page does not offer the services not offered")
		}
	})
}

// TestAssessmentPageIdempotent: the same form posted twice with the key it was rendered with, as the
// offline script resends it, stores one decision; the key may come in the header instead.
func TestAssessmentPageIdempotent(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		carol := e.signIn(t, "carol")
		_, form := carol.get("/assessments/new/mental-health")
		key := idempotencyInPage.FindStringSubmatch(form)[1]
		first, _ := carol.post("/assessments/new/mental-health", mentalHealthAnswers(key))
		again, _ := carol.post("/assessments/new/mental-health", mentalHealthAnswers(key))
		if first.StatusCode != http.StatusSeeOther || again.StatusCode != http.StatusSeeOther || first.Header.Get("Location") != again.Header.Get("Location") {
			t.Fatalf("resubmission: %d %s then %d %s, want both 303 to one decision", first.StatusCode, first.Header.Get("Location"),
				again.StatusCode, again.Header.Get("Location"))
		}
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil || n != 1 {
			t.Errorf("two posts with one key stored %d decisions (%v), want 1", n, err)
		}

		// The header, as the script sends it, names the same key as the field.
		v := mentalHealthAnswers("")
		v.Set("csrf_token", carol.CSRF)
		post := func() *http.Response {
			req, _ := http.NewRequest("POST", e.URL+"/assessments/new/mental-health", strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Idempotency-Key", "header-key-1")
			resp, err := carol.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if a, b := post(), post(); a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != b.Header.Get("Location") {
			t.Errorf("header key: %d %s then %d %s", a.StatusCode, a.Header.Get("Location"), b.StatusCode, b.Header.Get("Location"))
		}
		if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil || n != 2 {
			t.Errorf("after a second assessment sent twice: %d decisions (%v), want 2", n, err)
		}

		// Changed answers under a key that already decided are refused, not stored, and the page
		// gets a fresh key for a deliberate second assessment.
		changed := mentalHealthAnswers(key)
		changed.Set("answers.risk_plan", "false")
		resp, page := carol.post("/assessments/new/mental-health", changed)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "already sent once") || strings.Contains(page, `value="`+key+`"`) {
			t.Errorf("changed answers under a used key: %d", resp.StatusCode)
		}
	})
}

// TestDecisionPageBreakGlass: another team's clinician gets a 403 page asking why, recorded as a
// refusal; a reason too short is refused; a good one shows the decision and is recorded as breaking
// the glass, with the reason.
func TestDecisionPageBreakGlass(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "sam", "south", "", identity.Clinician)
		carol := e.signIn(t, "carol")
		_, form := carol.get("/assessments/new/mental-health")
		resp, _ := carol.post("/assessments/new/mental-health", mentalHealthAnswers(idempotencyInPage.FindStringSubmatch(form)[1]))
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit: %d", resp.StatusCode)
		}

		sam := e.signIn(t, "sam")
		status, page := sam.get(loc)
		if status != http.StatusForbidden || !strings.Contains(page, `name="break_glass_reason"`) || strings.Contains(page, "Crisis resolution") {
			t.Fatalf("another team's clinician: %d %s", status, page)
		}
		if status, _ := sam.get(loc + "/letter"); status != http.StatusForbidden {
			t.Errorf("another team's letter: %d, want 403", status)
		}
		resp, page = sam.post(loc, url.Values{"break_glass_reason": {"because"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#break_glass_reason"`) {
			t.Errorf("short reason: %d", resp.StatusCode)
		}
		const reason = "covering the central crisis rota tonight"
		resp, page = sam.post(loc, url.Values{"break_glass_reason": {reason}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Crisis resolution and home treatment") {
			t.Errorf("breaking the glass: %d", resp.StatusCode)
		}
		var denied, glass int
		if err := db.Get(&denied, `SELECT COUNT(*) FROM access_audit WHERE action = 'decision.read' AND outcome = 'denied'`); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&glass, `SELECT COUNT(*) FROM access_audit WHERE action = 'decision.read' AND outcome = 'allowed' AND purpose = '`+reason+`'`); err != nil {
			t.Fatal(err)
		}
		if denied != 3 || glass != 1 {
			t.Errorf("access audit: %d refusals (want 3: the page, the letter, the short reason), %d reads with the reason (want 1)", denied, glass)
		}
	})
}

// TestAssessmentFormShowsEveryItemType: the discharge form's Barthel items are radios labelled with
// their descriptions, the frailty level a number, and yes/no questions radios.
func TestAssessmentFormShowsEveryItemType(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		carol := e.signIn(t, "carol")
		status, page := carol.get("/assessments/new/discharge")
		if status != http.StatusOK {
			t.Fatalf("discharge form: %d", status)
		}
		for _, want := range []string{
			`<legend class="cp-legend">Bowels</legend>`,
			`<label for="answers-barthel_bowels">0: incontinent (or needs enemas)</label>`,
			`<label for="answers-barthel_stairs-2">1: needs help (verbal, physical, carrying aid)</label>`,
			`<label class="cp-label" for="answers-cfs">Clinical Frailty Scale`, `A number from 1 to 9`,
			`<label for="answers-lives_alone">Yes</label>`, `<label for="answers-lives_alone-2">No</label>`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("discharge form lacks %s", want)
			}
		}
		if bad := unlabelledInputs(page); len(bad) > 0 {
			t.Errorf("inputs without a label: %q", bad)
		}
		// An answer the domain refuses comes back on its question, in the domain's words.
		resp, page := carol.post("/assessments/new/discharge", url.Values{"nhs_number": {"9434765919"}, "birth_date-day": {"1"},
			"birth_date-month": {"2"}, "birth_date-year": {"1940"}, "postcode": {"ZX3 1DT"}, "answers.cfs": {"twelve"}, "answers.barthel_bowels": {"2"}})
		for _, want := range []string{`<a href="#answers-cfs">“Clinical Frailty Scale level (1 to 9)`, `: must be a whole number`,
			`<a href="#answers-barthel_bladder">Answer this question: “Bladder”</a>`, `value="twelve"`, `id="answers-barthel_bowels-3" name="answers.barthel_bowels" value="2" checked`} {
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, want) {
				t.Errorf("discharge form with a bad answer: %d, lacks %s", resp.StatusCode, want)
			}
		}
		if status, _ := carol.get("/assessments/new/no-such-form"); status != http.StatusNotFound {
			t.Errorf("unknown form: %d, want 404", status)
		}
	})
}

// TestNameAndAddressStayWithCarers: the person's name and address, which the clinician's form
// asks for, reach the decision (for the letter and the visit) and nothing an analyst sees: not the
// replay page or its CSV, not the impact preview (page or API); nor does the request log carry
// them, whether the submission is taken or refused.
func TestNameAndAddressStayWithCarers(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "ana", "", "", identity.Analyst)
		carol := e.signIn(t, "carol")
		personal := []string{"Ottoline", "Quarrendon", "Wyvern", "Pellinore", "900813", "zephyrine", "900461", "marchpane"}

		// A refused form, then an accepted one, through the page.
		_, form := carol.get("/assessments/new/mental-health")
		key := idempotencyInPage.FindStringSubmatch(form)[1]
		bad := mentalHealthAnswers(key)
		bad.Del("answers.phq9_1")
		bad.Set("contact_preference", "email")
		bad.Set("contact_email", "zephyrine at example.org")
		if resp, page := carol.post("/assessments/new/mental-health", bad); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `href="#contact_email"`) || !strings.Contains(page, "Email address must not contain spaces") {
			t.Fatalf("form without an answer and a bad email address: %d, want 422 with the email in the error summary", resp.StatusCode)
		}
		good := mentalHealthAnswers(key)
		good.Set("contact_preference", "sms")
		good.Set("contact_phone", "07700 900813")
		good.Set("contact_email", "zephyrine@example.org")
		resp, _ := carol.post("/assessments/new/mental-health", good)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("form: %d", resp.StatusCode)
		}
		id := strings.TrimPrefix(resp.Header.Get("Location"), "/decisions/")
		var d triage.Decision
		if resp, b := do(t, "GET", e.URL+"/v1/assessments/"+id, "", e.bearer("carol")); resp.StatusCode != http.StatusOK {
			t.Fatalf("decision: %d %s", resp.StatusCode, b)
		} else if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		var in struct{ Subject triage.Subject }
		if err := json.Unmarshal(d.Input, &in); err != nil || in.Subject.Name != testPersonName || in.Subject.Address != "Flat 2, Wyvern Court\r\n14 Pellinore Road" {
			t.Errorf("the stored input lacks the name or the address (%v): %s", err, d.Input)
		}
		if c := in.Subject.Contact; c == nil || *c != (triage.Contact{Preference: "sms", Phone: "07700 900813", Email: "zephyrine@example.org"}) {
			t.Errorf("the stored input lacks the contact preference: %s", d.Input)
		}
		// Through the API, a PHQ-9 total of 9 that the candidate v2 moves, and a refused name.
		nine := strings.Replace(strings.Replace(assessment, `"phq9_1":2`, `"phq9_1":1`, 1),
			`"subject":{"ref":"s-1","age":34}`, `"subject":{"ref":"9434765919","name":"Ottoline Quarrendon","address":"14 Pellinore Road","postcode":"NG7 2RD",`+
				`"contact":{"preference":"email","phone":"+44 7700 900461","email":"marchpane@example.org"}}`, 1)
		if resp, b := do(t, "POST", e.URL+"/v1/assessments", nine, nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		tooLong := strings.Replace(nine, `"name":"Ottoline Quarrendon"`, `"name":"Ottoline Quarrendon`+strings.Repeat(" Quarrendon", 20)+`"`, 1)
		if resp, b := do(t, "POST", e.URL+"/v1/assessments", tooLong, nil); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(string(b), "subject.name") || strings.Contains(string(b), "Quarrendon") {
			t.Errorf("a name too long: %d %s, want 422 naming the field and not the name", resp.StatusCode, b)
		}
		badPhone := strings.Replace(nine, `"+44 7700 900461"`, `"+44 7700 900461 x2"`, 1)
		if resp, b := do(t, "POST", e.URL+"/v1/assessments", badPhone, nil); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(string(b), "subject.contact.phone") || strings.Contains(string(b), "900461") {
			t.Errorf("a bad phone number: %d %s, want 422 naming the field and not the number", resp.StatusCode, b)
		}

		outputs := map[string]string{}
		ana := e.signIn(t, "ana")
		_, outputs["replay page"] = ana.post("/replay", url.Values{"candidate": {"mh-triage/2"}})
		csvURL := regexp.MustCompile(`href="(/replay\.csv\?[^"]+)"`).FindStringSubmatch(outputs["replay page"])
		if csvURL == nil {
			t.Fatalf("no CSV link: %s", outputs["replay page"])
		}
		csv, err := ana.client.Get(e.URL + unescapeHTML(csvURL[1]))
		if err != nil {
			t.Fatal(err)
		}
		outputs["replay CSV"] = readAll(t, csv)
		_, outputs["impact page"] = ana.get("/rulesets/mh-triage/versions/2/impact?days=30")
		_, b := do(t, "GET", e.URL+"/v1/rulesets/mh-triage/versions/2/impact?days=30", "", e.bearer("ana"))
		outputs["impact API"] = string(b)
		if !strings.Contains(outputs["impact API"], `"changed": 1`) && !strings.Contains(outputs["impact API"], `"changed":1`) {
			t.Errorf("the impact preview moved no case, so it shows nothing to check: %s", b)
		}
		outputs["request log"] = e.logs.String()
		for name, out := range outputs {
			for _, s := range personal {
				if strings.Contains(out, s) {
					t.Errorf("%s holds %q", name, s)
				}
			}
		}
	})
}

// TestSignOutClearsDrafts: signing out ends the session and tells the browser to clear this
// site's storage, where a form's answers wait through a lost connection, in every tab; the button's
// script, for browsers that ignore the header, stays on every page.
func TestSignOutClearsDrafts(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		carol := e.signIn(t, "carol")
		_, form := carol.get("/assessments/new/mental-health")
		if !strings.Contains(form, `action="/signout" data-clear-drafts`) || !strings.Contains(form, "/assets/offline.js") {
			t.Error("the form page's sign-out button does not clear drafts by script")
		}
		resp, _ := carol.post("/signout", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
			t.Errorf("sign out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := resp.Header.Get("Clear-Site-Data"); got != `"storage"` {
			t.Errorf("Clear-Site-Data: %q, want \"storage\"", got)
		}
		if status, _ := carol.get("/assessments/new/mental-health"); status != http.StatusUnauthorized {
			t.Errorf("the form after signing out: %d, want 401", status)
		}
	})
}
