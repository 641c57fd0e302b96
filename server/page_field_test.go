package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// bookedCase is what a test needs of a decision that booked a visit.
type bookedCase struct {
	ID         string `json:"id"`
	Assignment *struct {
		PractitionerID string `json:"practitioner_id"`
		Appointment    struct {
			ID    string    `json:"id"`
			Start time.Time `json:"start"`
		} `json:"appointment"`
	} `json:"assignment"`
	ManualAllocation bool `json:"manual_allocation"`
	Outcome          struct {
		Pathway string `json:"pathway"`
	} `json:"outcome"`
}

// located is the demo example assessment (it has a location, so it books a visit) for subject
// ref, moved north-east by step hundredths of a degree.
func located(t *testing.T, ref string, step int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(`"demo-0001"`, `"`+ref+`"`,
		`"lat": 52.95`, fmt.Sprintf(`"lat": %.2f`, 52.95+0.01*float64(step)),
		`"lon": -1.15`, fmt.Sprintf(`"lon": %.2f`, -1.15+0.01*float64(step))).Replace(string(b))
}

// submitAs posts an assessment as user and returns the stored decision.
func (e *env) submitAs(t *testing.T, user, body string) bookedCase {
	t.Helper()
	resp, b := do(t, "POST", e.URL+"/v1/assessments", body, e.bearer(user))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST as %s: %d %s", user, resp.StatusCode, b)
	}
	var d bookedCase
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// submitAt stores an assessment for team as if decided at when: the engine's clock is the only
// difference, so respond-by falls where a test needs it.
func (e *env) submitAt(t *testing.T, team, body string, when time.Time) string {
	t.Helper()
	eng := *e.api.Engine
	eng.Now = func() time.Time { return when }
	body = strings.Replace(body, `"2026-11-20T10:15:00Z"`, `"`+when.Add(-time.Hour).Format(time.RFC3339)+`"`, 1)
	d, _, err := eng.Submit(context.Background(), []byte(body), triage.Options{Team: team})
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}

var caseRow = regexp.MustCompile(`<tr id="case-([^"]+)">`)

// caseIDs lists the worklist's cases in the order shown.
func caseIDs(page string) []string {
	var out []string
	for _, m := range caseRow.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// rowOf is the worklist's table row of one case.
func rowOf(page, id string) string {
	i := strings.Index(page, `<tr id="case-`+id+`">`)
	if i < 0 {
		return ""
	}
	j := strings.Index(page[i:], "</tr>")
	return page[i : i+j]
}

// TestWorklistPage: a coordinator sees the manual-allocation, overdue and due-soon cases of their
// own team, never another team's; filters and sorts them by query; and reassigns, moves and
// cancels from the page, each recorded in the access audit under their name.
func TestWorklistPage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "sam", "south", "", identity.Clinician)
		e.user(t, "cora", "central", "", identity.Coordinator)
		e.user(t, "solly", "south", "", identity.Coordinator)

		// The example's subject has no location: a case for manual allocation (respond within P28D).
		manual := e.submitAs(t, "carol", assessment)
		if !manual.ManualAllocation {
			t.Fatalf("the unlocated case was not flagged for manual allocation: %+v", manual)
		}
		overdue := e.submitAt(t, "central", assessment, testNow().AddDate(0, 0, -40))
		soon := e.submitAt(t, "central", assessment, testNow().Add(-28*24*time.Hour+6*time.Hour))
		booked := e.submitAs(t, "carol", located(t, "w-1", 0))
		other := e.submitAs(t, "carol", located(t, "w-2", 1))
		southern := e.submitAs(t, "sam", assessment)
		if booked.Assignment == nil || other.Assignment == nil {
			t.Fatalf("located cases were not booked: %+v %+v", booked, other)
		}

		cora := e.signIn(t, "cora")
		status, page := cora.get("/worklist")
		if status != http.StatusOK {
			t.Fatalf("worklist: %d %s", status, page)
		}
		ids := caseIDs(page)
		// Needing attention, by respond-by: overdue, due soon, then the manual case decided now.
		if want := []string{overdue, soon, manual.ID}; strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("worklist shows %v, want %v", ids, want)
		}
		if strings.Contains(page, "case-"+southern.ID+`"`) {
			t.Error("the central coordinator sees a case of the south team")
		}
		for id, want := range map[string][]string{
			overdue:   {"Overdue", "Needs manual allocation", "the subject has no location", `href="/decisions/` + overdue + `"`},
			soon:      {"Due soon"},
			manual.ID: {"Needs manual allocation"},
		} {
			row := rowOf(page, id)
			for _, w := range want {
				if !strings.Contains(row, w) {
					t.Errorf("row of case %s lacks %q: %s", id, w, row)
				}
			}
		}
		if strings.Contains(rowOf(page, manual.ID), "Overdue") || strings.Contains(rowOf(page, manual.ID), "Due soon") {
			t.Errorf("a case decided now is shown as due: %s", rowOf(page, manual.ID))
		}

		for _, tc := range []struct {
			query   string
			want    []string
			ordered bool // else the cases are compared as a set: some were decided at one instant
		}{
			{"status=overdue", []string{overdue}, true},
			{"status=due-soon", []string{soon}, true},
			{"status=booked&sort=decided", []string{other.ID, booked.ID}, false},
			{"status=all&priority=emergency", nil, true},
			{"status=all&priority=" + "routine&sort=priority", []string{overdue, soon, manual.ID, booked.ID, other.ID}, false},
			{"status=manual&sort=decided", []string{manual.ID, soon, overdue}, true},
			{"status=all&pathway=crisis-home-treatment", nil, true},
			{"status=all&pathway=" + booked.Outcome.Pathway, []string{overdue, soon, manual.ID, booked.ID, other.ID}, false},
		} {
			status, page := cora.get("/worklist?" + tc.query)
			got := caseIDs(page)
			if !tc.ordered {
				slices.Sort(got)
				tc.want = slices.Sorted(slices.Values(tc.want))
			}
			if status != http.StatusOK || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("worklist?%s: %d %v, want %v", tc.query, status, got, tc.want)
			}
		}
		status, page = cora.get("/worklist?status=nonsense&sort=sideways")
		if status != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#filter-status"`) || !strings.Contains(page, `href="#filter-sort"`) {
			t.Errorf("bad filter: %d, want 422 with the fields in the error summary: %s", status, page)
		}

		// The south coordinator sees only the south case, and cannot act on central's.
		solly := e.signIn(t, "solly")
		if _, page := solly.get("/worklist?status=all"); strings.Join(caseIDs(page), ",") != southern.ID {
			t.Errorf("south's worklist: %v, want only %s", caseIDs(page), southern.ID)
		}
		if resp, _ := solly.post("/worklist/"+booked.ID+"/reassign", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("south coordinator reassigning a central case: %d, want 403", resp.StatusCode)
		}

		// Reassign through the form: the decision's practitioner changes, and the audit says who.
		resp, _ := cora.post("/worklist/"+booked.ID+"/reassign", url.Values{"status": {"booked"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/worklist?") {
			t.Fatalf("reassign: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		status, page = cora.get(resp.Header.Get("Location"))
		if status != http.StatusOK || !strings.Contains(page, "Case "+booked.ID+" has been reassigned") {
			t.Errorf("after reassigning: %d, no notice: %s", status, page)
		}
		resp, b := do(t, "GET", e.URL+"/v1/assessments/"+booked.ID, "", nil)
		var after bookedCase
		if err := json.Unmarshal(b, &after); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("decision after reassigning: %d %s", resp.StatusCode, b)
		}
		if after.Assignment == nil || after.Assignment.PractitionerID == booked.Assignment.PractitionerID {
			t.Errorf("reassigned decision still with %s: %s", booked.Assignment.PractitionerID, b)
		}
		log := &audit.Log{DB: db}
		entries, err := log.Search(context.Background(), audit.Filter{Record: booked.ID})
		if err != nil {
			t.Fatal(err)
		}
		var recorded bool
		for _, a := range entries {
			if a.Action == audit.ActionDecisionReassign && a.Outcome == audit.Allowed && a.Subject == e.subjectOf(t, "cora") {
				recorded = true
			}
		}
		if !recorded {
			t.Errorf("no allowed reassignment by cora in the access audit: %+v", entries)
		}

		// Move: a time outside working hours is refused naming the field and the reason, with
		// what was typed kept.
		appt := other.Assignment.Appointment
		local := appt.Start.In(london)
		night := time.Date(local.Year(), local.Month(), local.Day()+1, 3, 7, 0, 0, london).Format("2006-01-02T15:04")
		resp, page = cora.post("/worklist/appointments/"+appt.ID+"/move", url.Values{"start": {night}, "status": {"booked"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#start-`+appt.ID+`"`) || !strings.Contains(page, "working hours") ||
			!strings.Contains(page, `value="`+night+`"`) {
			t.Errorf("move at night: %d, want 422 naming the field and the working hours: %s", resp.StatusCode, page)
		}
		// The move box is filled with a time the server accepts: submitted as it is, it moves.
		_, page = cora.get("/worklist?status=booked")
		prefill := regexp.MustCompile(`id="start-` + regexp.QuoteMeta(appt.ID) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(page)
		if prefill == nil {
			t.Fatalf("no move box for %s: %s", appt.ID, rowOf(page, other.ID))
		}
		if resp, page := cora.post("/worklist/appointments/"+appt.ID+"/move", url.Values{"start": {prefill[1]}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the pre-filled time %s was refused: %d %s", prefill[1], resp.StatusCode, page)
		}
		resp, page = cora.post("/worklist/appointments/"+appt.ID+"/move", url.Values{"start": {""}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#start-`+appt.ID+`"`) {
			t.Errorf("move without a time: %d, want 422 naming the field", resp.StatusCode)
		}
		var moved bool
		for _, hours := range []int{1, 2, 3, 24, 25, 26} {
			target := local.Truncate(time.Hour).Add(time.Duration(hours) * time.Hour)
			resp, _ = cora.post("/worklist/appointments/"+appt.ID+"/move", url.Values{"start": {target.Format("2006-01-02T15:04")}})
			if resp.StatusCode == http.StatusSeeOther {
				_, page = cora.get("/worklist?status=booked")
				if !strings.Contains(rowOf(page, other.ID), `datetime="`+target.Format(time.RFC3339)+`"`) {
					t.Errorf("moved to %s, but the worklist shows: %s", target, rowOf(page, other.ID))
				}
				moved = true
				break
			}
		}
		if !moved {
			t.Error("no move to a nearby slot succeeded")
		}

		// Cancel: the case shows as cancelled; a second cancel is a conflict shown on the worklist.
		resp, _ = cora.post("/worklist/appointments/"+appt.ID+"/cancel", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("cancel: %d", resp.StatusCode)
		}
		_, page = cora.get("/worklist?status=cancelled")
		if ids := caseIDs(page); len(ids) != 1 || ids[0] != other.ID || !strings.Contains(rowOf(page, other.ID), "Appointment cancelled") {
			t.Errorf("cancelled cases: %v", ids)
		}
		resp, page = cora.post("/worklist/appointments/"+appt.ID+"/cancel", nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "already cancelled") {
			t.Errorf("second cancel: %d, want 409 with the reason", resp.StatusCode)
		}
		entries, err = log.Search(context.Background(), audit.Filter{Record: appt.ID})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]int{}
		for _, a := range entries {
			actions[a.Action]++
		}
		if actions[audit.ActionAppointmentMove] == 0 || actions[audit.ActionAppointmentCancel] == 0 {
			t.Errorf("the audit of appointment %s lacks the move or the cancel: %v", appt.ID, actions)
		}

		// Without the permission, and anonymously.
		carol := e.signIn(t, "carol")
		if status, _ := carol.get("/worklist"); status != http.StatusForbidden {
			t.Errorf("clinician's worklist: %d, want 403", status)
		}
		resp, err = http.Get(e.URL + "/worklist")
		if err != nil {
			t.Fatal(err)
		}
		if page := readAll(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `action="/signin"`) {
			t.Errorf("anonymous worklist: %d, want 401 with the sign-in form", resp.StatusCode)
		}
	})
}

// subjectOf is the access audit's subject of a user: their account's id.
func (e *env) subjectOf(t *testing.T, username string) string {
	t.Helper()
	resp, body := do(t, "GET", e.URL+"/v1/me", "", e.bearer(username))
	var me struct {
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(body, &me); err != nil || resp.StatusCode != http.StatusOK || me.Subject == "" {
		t.Fatalf("/v1/me of %s: %d %s", username, resp.StatusCode, body)
	}
	return me.Subject
}

var (
	visitMarker = regexp.MustCompile(`<g class="cp-map__visit" data-visit="(\d+)"><title>([^<]*)</title><circle cx="([^"]+)" cy="([^"]+)"`)
	routeLine   = regexp.MustCompile(`<polyline class="cp-map__route" points="([^"]+)"`)
)

// TestDayPage: a practitioner's day lists their visits in order with a map drawn on the server,
// one numbered marker per visit and the route through them; nobody else's day is theirs to see,
// though a coordinator may see anyone's, as the API allows.
func TestDayPage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		cases := make([]bookedCase, 5)
		for i := range cases {
			cases[i] = e.submitAs(t, "carol", located(t, "day-"+string(rune('a'+i)), i))
			if cases[i].Assignment == nil {
				t.Fatalf("case %d was not booked", i)
			}
		}
		// The practitioner and date with the most visits.
		type key struct{ who, date string }
		count := map[key]int{}
		var best key
		for _, c := range cases {
			k := key{c.Assignment.PractitionerID, c.Assignment.Appointment.Start.In(london).Format(time.DateOnly)}
			count[k]++
			if count[k] > count[best] {
				best = k
			}
		}
		var visits struct {
			Visits []struct {
				ID    string    `json:"id"`
				Start time.Time `json:"start"`
			} `json:"visits"`
		}
		resp, b := do(t, "GET", e.URL+"/v1/practitioners/"+best.who+"/day?date="+best.date, "", nil)
		if err := json.Unmarshal(b, &visits); err != nil || resp.StatusCode != http.StatusOK || len(visits.Visits) == 0 {
			t.Fatalf("API day: %d %s", resp.StatusCode, b)
		}
		e.user(t, "pia", "central", best.who, identity.Practitioner)
		other := "pwp-02"
		if best.who == other {
			other = "pwp-01"
		}
		e.user(t, "pete", "central", other, identity.Practitioner)
		e.user(t, "cora", "central", "", identity.Coordinator)

		pia := e.signIn(t, "pia")
		status, page := pia.get("/day?date=" + best.date)
		if status != http.StatusOK {
			t.Fatalf("day: %d %s", status, page)
		}
		markers := visitMarker.FindAllStringSubmatch(page, -1)
		if len(markers) != len(visits.Visits) {
			t.Fatalf("%d markers for %d visits: %s", len(markers), len(visits.Visits), page)
		}
		for i, m := range markers {
			if m[1] != string(rune('1'+i)) || !strings.HasPrefix(m[2], "Visit "+m[1]+": ") {
				t.Errorf("marker %d: number %s, title %q", i, m[1], m[2])
			}
		}
		route := routeLine.FindStringSubmatch(page)
		if route == nil || len(strings.Fields(route[1])) != len(visits.Visits)+2 {
			t.Fatalf("route line %v: want the base, %d visits and the base again", route, len(visits.Visits))
		}
		// The route runs from the base through each marker in turn, and back.
		points := strings.Fields(route[1])
		if points[0] != points[len(points)-1] {
			t.Errorf("the route ends at %s, not at the base %s", points[len(points)-1], points[0])
		}
		for i, pt := range points[1 : len(points)-1] {
			if want := markers[i][3] + "," + markers[i][4]; pt != want {
				t.Errorf("route point %d is %s, marker %d is at %s", i+1, pt, i+1, want)
			}
		}
		if len(markers) > 1 && markers[0][3] == markers[1][3] {
			t.Errorf("visits at different places drawn at one x: %v", markers)
		}
		for _, want := range []string{`role="img"`, `aria-labelledby="day-map-title day-map-desc"`, `class="cp-map__base"`, `<ol class="cp-visits">`} {
			if !strings.Contains(page, want) {
				t.Errorf("day page lacks %q", want)
			}
		}
		// The list is in visit order, each visit at its time, linked to its case.
		last := -1
		for _, v := range visits.Visits {
			i := strings.Index(page, `<time datetime="`+v.Start.In(london).Format(time.RFC3339)+`"`)
			if i < 0 || i < last {
				t.Errorf("visit %s at %s is missing or out of order", v.ID, v.Start)
			}
			last = i
		}
		if strings.Contains(page, "score") {
			t.Error("the day page shows a score")
		}
		if status, _ := pia.get("/day?date=2026-13-40"); status != http.StatusUnprocessableEntity {
			t.Errorf("bad date: %d, want 422", status)
		}

		pete := e.signIn(t, "pete")
		if status, _ := pete.get("/day?date=" + best.date + "&practitioner=" + best.who); status != http.StatusForbidden {
			t.Errorf("another practitioner's day: %d, want 403", status)
		}
		if _, page := pete.get("/day?date=" + best.date); len(visitMarker.FindAllString(page, -1)) != 0 && best.who != other {
			t.Errorf("pete's own day shows pia's visits")
		}
		cora := e.signIn(t, "cora")
		if status, page := cora.get("/day?date=" + best.date + "&practitioner=" + best.who); status != http.StatusOK || len(visitMarker.FindAllString(page, -1)) != len(visits.Visits) {
			t.Errorf("coordinator's view of pia's day: %d", status)
		}
		resp, err := http.Get(e.URL + "/day")
		if err != nil {
			t.Fatal(err)
		}
		if page := readAll(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `action="/signin"`) {
			t.Errorf("anonymous day: %d, want 401 with the sign-in form", resp.StatusCode)
		}
	})
}

// TestWorklistEscalatedCaseFirst: a crisis case nobody could be booked for before its deadline,
// on call included (a Saturday night, which the demo rota does not cover), heads the worklist
// whatever the sort, tagged with its reason and counted above the list; once the escalation is
// resolved it takes its usual place.
func TestWorklistEscalatedCaseFirst(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "cora", "central", "", identity.Coordinator)
		e.user(t, "solly", "south", "", identity.Coordinator)
		ctx := context.Background()

		overdue := e.submitAt(t, "central", assessment, testNow().AddDate(0, 0, -40))
		saturdayNight := time.Date(2026, 11, 28, 21, 40, 0, 0, time.UTC)
		eng := *e.api.Engine
		eng.Now = func() time.Time { return saturdayNight }
		crisis := strings.Replace(located(t, "esc-1", 0), `"risk_plan": false`, `"risk_plan": true`, 1)
		d, _, err := eng.Submit(ctx, []byte(crisis), triage.Options{Team: "central"})
		if err != nil {
			t.Fatal(err)
		}
		reason, escalated := d.Escalated()
		if !escalated || d.Outcome.Pathway != "crisis-home-treatment" {
			t.Fatalf("the Saturday-night crisis case was not escalated: pathway %s, assignment %+v, %q", d.Outcome.Pathway, d.Assignment, d.UnassignedReason)
		}
		// Decided after the escalated case, so newest-first would otherwise put it on top.
		later := e.submitAt(t, "central", assessment, saturdayNight.Add(12*time.Hour))

		cora := e.signIn(t, "cora")
		for _, tc := range []struct {
			query string
			next  string // the case that follows the escalated one
		}{
			{"", overdue},
			{"sort=due", overdue},
			{"sort=priority", overdue},
			{"sort=decided", later},
			{"status=manual&sort=decided", later},
			{"status=all&sort=due", overdue},
		} {
			status, page := cora.get("/worklist?" + tc.query)
			ids := caseIDs(page)
			if status != http.StatusOK || len(ids) < 2 || ids[0] != d.ID || ids[1] != tc.next {
				t.Errorf("worklist?%s: %d %v, want %s first then %s", tc.query, status, ids, d.ID, tc.next)
				continue
			}
			row := rowOf(page, d.ID)
			if !strings.Contains(row, ">Escalated<") || !strings.Contains(row, html.EscapeString(reason)) {
				t.Errorf("worklist?%s: the escalated row lacks the tag or the reason %q: %s", tc.query, reason, row)
			}
			if strings.Contains(rowOf(page, tc.next), ">Escalated<") {
				t.Errorf("worklist?%s: case %s tagged escalated", tc.query, tc.next)
			}
			summary := strings.Index(page, `id="escalated-summary"`)
			if summary < 0 || summary > strings.Index(page, `<tr id="case-`) || !strings.Contains(page, "<strong>1 escalated case</strong>") {
				t.Errorf("worklist?%s: no count of escalated cases above the list: %s", tc.query, page)
			}
		}
		// A filter that leaves the case out still counts it at the top.
		if _, page := cora.get("/worklist?status=overdue"); strings.Contains(page, "case-"+d.ID+`"`) || !strings.Contains(page, "<strong>1 escalated case</strong>") {
			t.Errorf("overdue filter: %v, want the escalated case counted but not listed", caseIDs(page))
		}
		// Another team's coordinator sees no escalation.
		if _, page := e.signIn(t, "solly").get("/worklist"); strings.Contains(page, "escalated-summary") {
			t.Error("the south coordinator is told of central's escalation")
		}

		// Resolved: no longer tagged nor counted, and back in respond-by order.
		if err := routing.NewSQLStore(db).ResolveEscalation(ctx, d.ID, saturdayNight.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, page := cora.get("/worklist?sort=decided")
		if ids := caseIDs(page); len(ids) < 2 || ids[0] != later || ids[1] != d.ID {
			t.Errorf("after resolving, newest first: %v, want %s then %s", ids, later, d.ID)
		}
		if strings.Contains(page, "escalated-summary") || strings.Contains(rowOf(page, d.ID), ">Escalated<") {
			t.Errorf("a resolved escalation is still shown: %s", rowOf(page, d.ID))
		}
	})
}
