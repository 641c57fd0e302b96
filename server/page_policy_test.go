package server_test

import (
	"context"
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
	"github.com/carepath/carepath/server"
)

// textareaSource is the rule set in the draft editor's textarea, as a browser would submit it.
var textareaSource = regexp.MustCompile(`(?s)<textarea[^>]*id="source"[^>]*>(.*?)</textarea>`)

// errorSummary is the error summary at the top of a page.
var errorSummary = regexp.MustCompile(`(?s)<div class="cp-error-summary".*?</div>`)

func unescapeHTML(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`, "&amp;", "&").Replace(s)
}

// wantPage fails unless a page answered with status and contains every string of want.
func wantPage(t *testing.T, what string, status int, body string, wantStatus int, want ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: %d, want %d: %.3000s", what, status, wantStatus, body)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s: page lacks %q", what, w)
		}
	}
}

// wantRedirect fails unless a form post answered 303 to a location starting with prefix.
func wantRedirect(t *testing.T, what string, resp *http.Response, body, prefix string) string {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s: %d to %q, want 303 to %s…: %.3000s", what, resp.StatusCode, loc, prefix, body)
	}
	return loc
}

// TestPolicyOfficerWorkbench walks the rule workbench as two policy officers would: one edits a
// threshold in a draft and sees a test fail, fixes it and submits; they are refused approval of
// their own version with the reason; the second approves and activates it, at a time and now.
func TestPolicyOfficerWorkbench(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "alice", "", "", identity.PolicyOfficer)
		e.user(t, "bob", "", "", identity.PolicyOfficer)
		ctx := context.Background()
		alice := e.signIn(t, "alice")

		status, page := alice.get("/rulesets")
		wantPage(t, "rule sets", status, page, http.StatusOK, "mh-triage", "discharge-pathways", `href="/rulesets/mh-triage/versions/3"`, "Active", "Nothing is waiting for review")
		status, page = alice.get("/rulesets/mh-triage/versions/3")
		wantPage(t, "version 3", status, page, http.StatusOK,
			"phq9-item9", "answers.phq9_9 &gt;= 1", "Adult", "respond within 4 hours", "Any thoughts of being better off dead",
			"Tests pass", "minimal", `title="Account system:demo"`, "Start a new draft from version 3")

		// A new draft from version 3.
		resp, body := alice.post("/rulesets/mh-triage/draft", url.Values{"from": {"3"}})
		loc := wantRedirect(t, "new draft", resp, body, "/rulesets/mh-triage/draft?version=4")
		status, page = alice.get(loc)
		wantPage(t, "draft editor", status, page, http.StatusOK, "New draft created", "Edit draft version 4", "Tests pass")
		m := textareaSource.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("draft editor has no textarea: %s", page)
		}
		src := unescapeHTML(m[1])
		if !strings.Contains(src, "phq9_caseness: 10") || !strings.Contains(src, "version: 4") {
			t.Fatalf("draft source: %s", src)
		}
		save := func(src string) (*http.Response, string) {
			// Browsers send a textarea's lines with CR LF.
			return alice.post("/rulesets/mh-triage/draft", url.Values{"version": {"4"}, "source": {strings.ReplaceAll(src, "\n", "\r\n")}, "reason": {"caseness threshold"}})
		}

		// Lowering the caseness threshold makes the test at PHQ-9 total 9 fail.
		resp, body = save(strings.Replace(src, "phq9_caseness: 10", "phq9_caseness: 9", 1))
		loc = wantRedirect(t, "save threshold 9", resp, body, "/rulesets/mh-triage/draft?version=4&notice=saved")
		status, page = alice.get(loc)
		wantPage(t, "draft with threshold 9", status, page, http.StatusOK, "Draft saved", "Tests fail", "phq9_caseness: 9", "phq9-total-9")
		if !regexp.MustCompile(`phq9-total-9(?: <span[^>]*>line \d+</span>)?</td>\s*<td><strong class="cp-tag cp-tag--red">Fail`).MatchString(page) {
			t.Errorf("the test at total 9 is not shown failing: %s", page)
		}
		if strings.Contains(page, "Send version 4 for review") {
			t.Error("a draft with a failing test is offered for review")
		}
		if v, err := e.api.Rules.Version(ctx, "mh-triage", 4); err != nil || strings.Contains(v.Source, "\r") || !strings.Contains(v.Source, "phq9_caseness: 9") {
			t.Errorf("stored draft: %v %q", err, v.Source)
		}

		// A condition that does not compile is saved, and marked at its line and column.
		broken := strings.Replace(src, "when: answers.phq9_9 >= 1", "when: answers.phq9_9 >= params.nope", 1)
		resp, body = save(broken)
		loc = wantRedirect(t, "save broken condition", resp, body, "/rulesets/mh-triage/draft?version=4")
		status, page = alice.get(loc)
		wantPage(t, "draft that does not compile", status, page, http.StatusOK, "It does not compile", "Where the problems are")
		summary := errorSummary.FindString(page)
		if !regexp.MustCompile(`<a href="#source">line \d+, column \d+: rule phq9-item9: `).MatchString(summary) {
			t.Errorf("compile error summary: %s", summary)
		}
		// A source that does not parse is not saved, and comes back as typed.
		resp, body = save(strings.Replace(src, "rules:", "rulez:", 1))
		wantPage(t, "save unparsable", resp.StatusCode, body, http.StatusUnprocessableEntity, "Nothing was saved", "rulez:", `<a href="#source">`)
		if v, _ := e.api.Rules.Version(ctx, "mh-triage", 4); strings.Contains(v.Source, "rulez") {
			t.Error("an unparsable draft was saved")
		}

		// Fixed: back to 10, every test passes, and the draft goes for review.
		resp, body = save(src)
		loc = wantRedirect(t, "save fixed", resp, body, "/rulesets/mh-triage/draft?version=4&notice=saved")
		status, page = alice.get(loc)
		wantPage(t, "fixed draft", status, page, http.StatusOK, "Tests pass", "Send version 4 for review")
		if strings.Contains(page, "cp-error-summary") {
			t.Errorf("a fixed draft still shows problems: %s", errorSummary.FindString(page))
		}
		resp, body = alice.post("/rulesets/mh-triage/versions/4/submit", url.Values{"reason": {"same thresholds as v3"}})
		loc = wantRedirect(t, "submit", resp, body, "/rulesets/mh-triage/versions/4?notice=submitted")
		status, page = alice.get("/rulesets")
		wantPage(t, "review queue", status, page, http.StatusOK, "Review version 4")

		// The author may not approve their own version, and is told why.
		resp, body = alice.post("/rulesets/mh-triage/versions/4/approve", url.Values{"comment": {"looks fine to me"}})
		wantPage(t, "author approves", resp.StatusCode, body, http.StatusForbidden, "looks fine to me")
		if s := errorSummary.FindString(body); !strings.Contains(s, "cannot approve") || !strings.Contains(s, "a second person must") {
			t.Errorf("refusal not in the error summary: %s", s)
		}

		bob := e.signIn(t, "bob")
		resp, body = bob.post("/rulesets/mh-triage/versions/4/approve", url.Values{"comment": {" "}})
		wantPage(t, "approve without comment", resp.StatusCode, body, http.StatusUnprocessableEntity, `<a href="#approve-comment">`)
		resp, body = bob.post("/rulesets/mh-triage/versions/4/approve", url.Values{"comment": {"checked the thresholds and the tests"}})
		wantRedirect(t, "approve", resp, body, "/rulesets/mh-triage/versions/4?notice=approved")

		// Activation at a local time: 9am on 1 June 2027 in London is 8am UTC (summer time).
		resp, body = bob.post("/rulesets/mh-triage/versions/4/activate", url.Values{"effective_from": {"2027-06-01T09:00"}, "reason": {"from June"}})
		wantRedirect(t, "schedule", resp, body, "/rulesets/mh-triage/versions/4?notice=activated")
		for _, tc := range []struct {
			at   time.Time
			want int
		}{{testNow(), 3}, {time.Date(2027, 6, 1, 7, 59, 0, 0, time.UTC), 3}, {time.Date(2027, 6, 1, 8, 0, 0, 0, time.UTC), 4}} {
			if n, err := e.api.Rules.ActiveAt(ctx, "mh-triage", tc.at); err != nil || n != tc.want {
				t.Errorf("active at %s: %d %v, want %d", tc.at, n, err, tc.want)
			}
		}
		status, page = bob.get("/rulesets/mh-triage/versions/4")
		wantPage(t, "scheduled version", status, page, http.StatusOK, "Scheduled", "Tuesday 1 June 2027 at 9:00am", "bob (test)", "alice (test)", "approved it", "checked the thresholds")
		resp, body = bob.post("/rulesets/mh-triage/versions/4/activate", url.Values{"effective_from": {"2020-01-01T09:00"}})
		wantPage(t, "activate in the past", resp.StatusCode, body, http.StatusUnprocessableEntity, `<a href="#activate-at">`, "in the past")

		// Now, then a rollback to version 3.
		resp, body = bob.post("/rulesets/mh-triage/versions/4/activate", url.Values{"effective_from": {""}, "reason": {"now"}})
		wantRedirect(t, "activate now", resp, body, "/rulesets/mh-triage/versions/4?notice=activated")
		if n, err := e.api.Rules.ActiveAt(ctx, "mh-triage", testNow()); err != nil || n != 4 {
			t.Errorf("active after activation: %d %v, want 4", n, err)
		}
		resp, b := do(t, "GET", e.URL+"/v1/rulesets", "", e.bearer("bob"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"version":4`) {
			t.Fatalf("GET /v1/rulesets: %d %s", resp.StatusCode, b)
		}
		var list struct {
			RuleSets []struct {
				ID      string
				Version int
				Active  bool
			}
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		for _, v := range list.RuleSets {
			if v.ID == "mh-triage" && v.Active != (v.Version == 4) {
				t.Errorf("API: mh-triage v%d active %v", v.Version, v.Active)
			}
		}
		status, page = bob.get("/rulesets/mh-triage/versions/3")
		wantPage(t, "version 3 after", status, page, http.StatusOK, "Roll back to version 3 now")
		resp, body = bob.post("/rulesets/mh-triage/versions/3/rollback", url.Values{"reason": {""}})
		wantPage(t, "rollback without reason", resp.StatusCode, body, http.StatusUnprocessableEntity, `<a href="#rollback-reason">`)
		resp, body = bob.post("/rulesets/mh-triage/versions/3/rollback", url.Values{"reason": {"v4 misroutes"}})
		wantRedirect(t, "rollback", resp, body, "/rulesets/mh-triage/versions/3?notice=rolledback")
		if n, err := e.api.Rules.ActiveAt(ctx, "mh-triage", testNow().Add(time.Second)); err != nil || n != 3 {
			t.Errorf("active after rollback: %d %v, want 3", n, err)
		}
		status, page = bob.get("/rulesets/mh-triage")
		wantPage(t, "rule set history", status, page, http.StatusOK, "rollback: v4 misroutes", "sent it for review", "edited the draft", ">bob (test)</td>")
		// People are named by name; an account's random subject is at most a tooltip.
		if bob, err := e.ids.User(ctx, "bob"); err != nil {
			t.Fatal(err)
		} else if strings.Contains(page, "(test) (") || strings.Contains(page, ">"+bob.ID) || !strings.Contains(page, `title="Account `+bob.ID+`"`) {
			t.Errorf("history names bob by his subject %s:\n%s", bob.ID, page)
		}

		// Reject sends a version in review back; a reason is needed.
		resp, body = bob.post("/rulesets/mh-triage/draft", url.Values{"from": {"3"}})
		wantRedirect(t, "second draft", resp, body, "/rulesets/mh-triage/draft?version=5")
		resp, body = bob.post("/rulesets/mh-triage/versions/5/submit", nil)
		wantRedirect(t, "submit 5", resp, body, "/rulesets/mh-triage/versions/5?notice=submitted")
		resp, body = alice.post("/rulesets/mh-triage/versions/5/reject", nil)
		wantPage(t, "reject without reason", resp.StatusCode, body, http.StatusUnprocessableEntity, `<a href="#reject-reason">`)
		resp, body = alice.post("/rulesets/mh-triage/versions/5/reject", url.Values{"reason": {"no change from v3"}})
		wantRedirect(t, "reject", resp, body, "/rulesets/mh-triage/versions/5?notice=rejected")

		// Shadow runs start and stop from the page, and their report shows on the rule set's page.
		resp, body = bob.post("/rulesets/mh-triage/versions/4/shadow-start", nil)
		wantRedirect(t, "shadow start", resp, body, "/rulesets/mh-triage/versions/4?notice=shadow-started")
		status, page = bob.get("/rulesets/mh-triage")
		wantPage(t, "shadow report", status, page, http.StatusOK, "Version 4: running", "Agreement")
		resp, body = bob.post("/rulesets/mh-triage/versions/4/shadow-stop", nil)
		wantRedirect(t, "shadow stop", resp, body, "/rulesets/mh-triage/versions/4?notice=shadow-stopped")

		// A form without the session's CSRF token changes nothing.
		resp, body = bob.post("/rulesets/mh-triage/versions/3/rollback", url.Values{"reason": {"x"}, "csrf_token": {"forged"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("post with a forged CSRF token: %d %.300s", resp.StatusCode, body)
		}
	})
}

// TestPolicyDiffAndImpactPages: the diff page lists changes rule by rule, and the impact page
// shows the from -> to table and its chart over pseudonyms only, recorded in the access audit.
func TestPolicyDiffAndImpactPages(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "ana", "", "", identity.Analyst)
		nine := strings.Replace(strings.Replace(assessment, `"phq9_1":2`, `"phq9_1":1`, 1),
			`"subject":{"ref":"s-1","age":34}`, `"subject":{"ref":"9434765919","birth_date":"1980-02-03","postcode":"NG7 2RD"}`, 1)
		resp, b := do(t, "POST", e.URL+"/v1/assessments", nine, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		var d struct{ ID string }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		ana := e.signIn(t, "ana")

		status, page := ana.get("/rulesets/mh-triage/diff?from=1&to=3")
		wantPage(t, "diff", status, page, http.StatusOK, "What changed from version 1 to version 3", "<table", "Rule added", "under-secondary-care", "cp-policy-after")
		status, page = ana.get("/rulesets/mh-triage/diff?from=1&to=99")
		wantPage(t, "diff of a missing version", status, page, http.StatusUnprocessableEntity, `<a href="#diff-to">`)

		status, page = ana.get("/rulesets/mh-triage/versions/2/impact?days=30")
		wantPage(t, "impact", status, page, http.StatusOK, "<svg", `role="img"`, "<title id=\"impact-chart-title\">", "<table",
			"Watchful waiting", testPseudonyms.Case(d.ID), "Would change pathway")
		for _, s := range []string{d.ID + "<", d.ID + ",", "9434765919", "1980-02-03", "NG7 2RD"} {
			if strings.Contains(page, s) {
				t.Errorf("impact page contains %q", s)
			}
		}
		status, page = ana.get("/rulesets/mh-triage/versions/2/impact?days=0")
		wantPage(t, "impact with bad days", status, page, http.StatusUnprocessableEntity, `<a href="#impact-days">`)
		var n int
		if err := db.GetContext(context.Background(), &n, db.Rebind(`SELECT COUNT(*) FROM access_audit WHERE action = ?`), "impact.preview"); err != nil || n != 1 {
			t.Errorf("impact previews in the access audit: %d %v, want 1", n, err)
		}
		// An analyst reads rule sets but does not change them.
		resp, body := ana.post("/rulesets/mh-triage/versions/3/rollback", url.Values{"reason": {"because"}})
		wantPage(t, "analyst rollback", resp.StatusCode, body, http.StatusForbidden, "needs the permission")
		status, page = ana.get("/rulesets/mh-triage/versions/3")
		wantPage(t, "analyst's version page", status, page, http.StatusOK, "Only policy officers change rule sets")
	})
}

// TestAnalystReplayPage: the replay page and its CSV report what would change over pseudonyms,
// never a subject's reference, birth date or postcode, and clinicians get 403 pages here and on
// the workbench.
func TestAnalystReplayPage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "ana", "", "", identity.Analyst)
		e.user(t, "carol", "central", "", identity.Clinician)
		nine := strings.Replace(strings.Replace(assessment, `"phq9_1":2`, `"phq9_1":1`, 1),
			`"subject":{"ref":"s-1","age":34}`, `"subject":{"ref":"9434765919","birth_date":"1980-02-03","postcode":"NG7 2RD"}`, 1)
		resp, b := do(t, "POST", e.URL+"/v1/assessments", nine, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		var d struct{ ID string }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		personal := []string{d.ID + "<", d.ID + ",", d.ID + "\n", "9434765919", "1980-02-03", "NG7 2RD", "NG72RD"}

		ana := e.signIn(t, "ana")
		status, page := ana.get("/replay")
		wantPage(t, "replay form", status, page, http.StatusOK, `value="mh-triage/2"`, "mh-triage version 3 (active)")
		resp, body := ana.post("/replay", url.Values{"candidate": {""}, "since": {"2026-13-01"}})
		wantPage(t, "replay without a candidate", resp.StatusCode, body, http.StatusUnprocessableEntity, `<a href="#replay-candidate">`, `<a href="#replay-since">`)
		resp, body = ana.post("/replay", url.Values{"candidate": {"mh-triage/2"}, "baseline": {"discharge-pathways/1"}})
		wantPage(t, "replay against another rule set", resp.StatusCode, body, http.StatusUnprocessableEntity, `<a href="#replay-baseline">`)

		resp, body = ana.post("/replay", url.Values{"candidate": {"mh-triage/2"}, "baseline": {"recorded"}, "since": {"2026-11-01"}, "until": {"2026-11-26"}})
		wantPage(t, "replay", resp.StatusCode, body, http.StatusOK, "<svg", `role="img"`, "Cases by pathway before and after", "Cases each rule decided",
			testPseudonyms.Case(d.ID), "Watchful waiting", "caseness", `href="/replay.csv?`)
		for _, s := range personal {
			if strings.Contains(body, s) {
				t.Errorf("replay page contains %q", s)
			}
		}
		// The period is read in local days: the case, authored on 20 November, is outside 21-26 November.
		resp, body = ana.post("/replay", url.Values{"candidate": {"mh-triage/2"}, "since": {"2026-11-21"}})
		wantPage(t, "replay of an empty period", resp.StatusCode, body, http.StatusOK, "<strong>0</strong> cases read")

		_, body = ana.post("/replay", url.Values{"candidate": {"mh-triage/2"}})
		csvURL := regexp.MustCompile(`href="(/replay\.csv\?[^"]+)"`).FindStringSubmatch(body)
		if csvURL == nil {
			t.Fatal("no CSV link")
		}
		hresp, err := ana.client.Get(e.URL + unescapeHTML(csvURL[1]))
		if err != nil {
			t.Fatal(err)
		}
		csv := readAll(t, hresp)
		if hresp.StatusCode != http.StatusOK || !strings.HasPrefix(hresp.Header.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(csv, "record,group,key,baseline,candidate,count,reason,subject") || !strings.Contains(csv, testPseudonyms.Case(d.ID)) {
			t.Fatalf("CSV: %d %s %s", hresp.StatusCode, hresp.Header.Get("Content-Type"), csv)
		}
		for _, s := range personal {
			if strings.Contains(csv, s) {
				t.Errorf("replay CSV contains %q", s)
			}
		}
		var runs, exports int
		ctx := context.Background()
		_ = db.GetContext(ctx, &runs, db.Rebind(`SELECT COUNT(*) FROM access_audit WHERE action = ?`), "replay.run")
		_ = db.GetContext(ctx, &exports, db.Rebind(`SELECT COUNT(*) FROM access_audit WHERE action = ?`), "export.run")
		if runs != 3 || exports != 1 {
			t.Errorf("access audit: %d replay runs, %d exports; want 3 and 1", runs, exports)
		}

		carol := e.signIn(t, "carol")
		for _, path := range []string{"/rulesets", "/rulesets/mh-triage", "/rulesets/mh-triage/versions/3", "/rulesets/mh-triage/draft",
			"/rulesets/mh-triage/diff?from=1&to=2", "/rulesets/mh-triage/versions/2/impact", "/replay", "/replay.csv?candidate=mh-triage/2"} {
			status, page := carol.get(path)
			wantPage(t, "clinician GET "+path, status, page, http.StatusForbidden, "needs the permission", "<html")
		}
		for _, path := range []string{"/rulesets/mh-triage/draft", "/rulesets/mh-triage/versions/3/rollback", "/replay"} {
			resp, body := carol.post(path, url.Values{"from": {"3"}, "candidate": {"mh-triage/2"}})
			wantPage(t, "clinician POST "+path, resp.StatusCode, body, http.StatusForbidden, "needs the permission")
		}
	})
}

// BenchmarkRuleSetPages measures the server time of the workbench's heaviest pages on SQLite: a
// version's page (its tests and the static checks run on every view) and the draft editor.
func BenchmarkRuleSetPages(b *testing.B) {
	e := startEnv(b, databasetest.Open(b, database.SQLite))
	token := e.user(b, "alice", "", "", identity.PolicyOfficer)
	get := func(method, path string) (*http.Response, error) {
		path, form, _ := strings.Cut(path, "?")
		if method == "GET" && form != "" {
			path, form = path+"?"+form, ""
		}
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+token)
		return (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	}
	if resp, err := get("POST", "/rulesets/mh-triage/draft?from=3"); err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("new draft: %v %v", resp, err)
	}
	for _, path := range []string{"/rulesets", "/rulesets/mh-triage/versions/3", "/rulesets/mh-triage/draft?version=4"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := get("GET", path)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", path, resp.StatusCode)
				}
			}
		})
	}
}

// TestBarChart: the chart escapes its labels, scales bars to the largest count, keeps a count
// above zero visible, and describes every bar in words for assistive technology.
func TestBarChart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels []string
		values []int64
		want   []string
		not    []string
	}{
		{"empty", nil, nil, nil, []string{"<svg"}},
		{"scaled", []string{"a → b", "c → d"}, []int64{10, 5},
			[]string{`role="img"`, `aria-labelledby="c-title c-desc"`, `<desc id="c-desc">a → b: 10 cases; c → d: 5 cases.</desc>`, `width="568"`, `width="284"`}, nil},
		{"tiny", []string{"big", "small"}, []int64{100000, 1}, []string{`width="2"`}, nil},
		{"zero", []string{"none"}, []int64{0}, []string{`width="0"`}, nil},
		{"escaped", []string{`<script>alert(1)</script>`}, []int64{1}, []string{"&lt;script&gt;"}, []string{"<script>", "style="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := server.BarChart("c", "Title <b>", "cases", tc.labels, tc.values)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("chart lacks %q: %s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("chart contains %q: %s", n, got)
				}
			}
			if len(tc.labels) > 0 && !strings.Contains(got, "<title id=\"c-title\">Title &lt;b&gt;</title>") {
				t.Errorf("title not escaped: %s", got)
			}
		})
	}
}
