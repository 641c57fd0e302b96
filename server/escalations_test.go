package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/triage"
)

// saturdayNight is a time the demo rota does not cover, so a crisis case then is escalated.
var saturdayNight = time.Date(2026, 11, 28, 21, 40, 0, 0, time.UTC)

// escalatedCase stores, for team central, a crisis case nobody could be booked for on a
// Saturday night, with its case opened as the API opens it, and returns its id.
func (e *env) escalatedCase(t *testing.T, ref string) string {
	t.Helper()
	eng := *e.api.Engine
	eng.Now = func() time.Time { return saturdayNight }
	crisis := strings.Replace(located(t, ref, 0), `"risk_plan": false`, `"risk_plan": true`, 1)
	d, _, err := eng.Submit(context.Background(), []byte(crisis), triage.Options{Team: "central", InTx: cases.OpenInTx})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Escalated(); !ok {
		t.Fatalf("the Saturday-night crisis case was not escalated: %+v %q", d.Assignment, d.UnassignedReason)
	}
	return d.ID
}

// escalationAccesses lists the access audit's records of resolving decision id, newest first.
func escalationAccesses(t *testing.T, db *database.DB, id string) []audit.Access {
	t.Helper()
	found, err := (&audit.Log{DB: db}).Search(context.Background(), audit.Filter{Record: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Access
	for _, a := range found {
		if a.Action == "escalation.resolve" {
			out = append(out, a)
		}
	}
	return out
}

type escalationList struct {
	Escalations []struct {
		DecisionID string `json:"decision_id"`
		Team       string `json:"team"`
		Reason     string `json:"reason"`
	} `json:"escalations"`
}

// TestEscalationsAPI: coordinators list their teams' open escalations and resolve one with a
// note; the resolution, the case's step, the escalation.resolved event and the access record
// commit together. Bad bodies (400), unknown decisions (404), decisions never escalated or
// already resolved (409), another team's coordinator (403, recorded) and a clinician (the
// policy's 403) change nothing.
func TestEscalationsAPI(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.api.Events = &outbox.Publisher{Now: testNow}
		e.user(t, "cora", "central", "", identity.Coordinator)
		e.user(t, "solly", "south", "", identity.Coordinator)
		e.user(t, "carol", "central", "", identity.Clinician)
		id := e.escalatedCase(t, "esc-api")
		plain := e.submitAt(t, "central", assessment, testNow())
		asJSON := func(user string) map[string]string {
			h := e.bearer(user)
			h["Content-Type"] = "application/json"
			return h
		}
		list := func(user, query string, want int) escalationList {
			t.Helper()
			resp, body := do(t, "GET", e.URL+"/v1/escalations"+query, "", e.bearer(user))
			var l escalationList
			if resp.StatusCode != want {
				t.Fatalf("GET /v1/escalations%s as %s: %d %s, want %d", query, user, resp.StatusCode, body, want)
			}
			if want == http.StatusOK {
				if err := json.Unmarshal(body, &l); err != nil {
					t.Fatal(err)
				}
			}
			return l
		}
		if l := list("cora", "", http.StatusOK); len(l.Escalations) != 1 || l.Escalations[0].DecisionID != id || l.Escalations[0].Reason == "" {
			t.Fatalf("cora's escalations: %+v", l)
		}
		if l := list("cora", "?team=central", http.StatusOK); len(l.Escalations) != 1 {
			t.Errorf("cora's escalations of central: %+v", l)
		}
		list("cora", "?team=south", http.StatusForbidden)
		if l := list("solly", "", http.StatusOK); len(l.Escalations) != 0 {
			t.Errorf("the south coordinator is shown central's escalations: %+v", l)
		}
		list("carol", "", http.StatusForbidden)

		resolve := "/v1/escalations/" + id + "/resolve"
		for _, tc := range []struct {
			name, user, path, body string
			status                 int
			field, detail          string
		}{
			{"clinician", "carol", resolve, `{"note":"handled"}`, http.StatusForbidden, "", "needs the permission"},
			{"another team's coordinator", "solly", resolve, `{"note":"handled"}`, http.StatusForbidden, "", "not filed under your team"},
			{"no body", "cora", resolve, ``, http.StatusBadRequest, "body", "empty"},
			{"no note", "cora", resolve, `{}`, http.StatusBadRequest, "note", "missing"},
			{"blank note", "cora", resolve, `{"note":" \n "}`, http.StatusBadRequest, "note", "missing"},
			{"note not a string", "cora", resolve, `{"note":5}`, http.StatusBadRequest, "note", "string"},
			{"note too long", "cora", resolve, `{"note":"` + strings.Repeat("é", 501) + `"}`, http.StatusBadRequest, "note", "at most 500"},
			{"control character", "cora", resolve, `{"note":"ok\u0007"}`, http.StatusBadRequest, "note", "plain text"},
			{"unknown field", "cora", resolve, `{"note":"ok","by":"x"}`, http.StatusBadRequest, "by", "not a field"},
			{"not JSON", "cora", resolve, `{"note":`, http.StatusBadRequest, "body", "JSON"},
			{"unknown decision", "cora", "/v1/escalations/nope/resolve", `{"note":"handled"}`, http.StatusNotFound, "", "nope"},
			{"never escalated", "cora", "/v1/escalations/" + plain + "/resolve", `{"note":"handled"}`, http.StatusConflict, "", "never escalated"},
		} {
			resp, body := do(t, "POST", e.URL+tc.path, tc.body, asJSON(tc.user))
			var p struct {
				Detail string
				Errors []struct{ Field, Reason string }
			}
			_ = json.Unmarshal(body, &p)
			switch {
			case resp.StatusCode != tc.status:
				t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
			case resp.Header.Get("Content-Type") != "application/problem+json":
				t.Errorf("%s: %s, want problem details", tc.name, resp.Header.Get("Content-Type"))
			case !strings.Contains(p.Detail, tc.detail):
				t.Errorf("%s: detail %q lacks %q", tc.name, p.Detail, tc.detail)
			case tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field):
				t.Errorf("%s: errors %+v, want the field %s named", tc.name, p.Errors, tc.field)
			}
		}
		if l := list("cora", "", http.StatusOK); len(l.Escalations) != 1 {
			t.Fatalf("a refused resolution cleared the escalation: %+v", l)
		}
		if got := escalationAccesses(t, db, id); len(got) != 1 || got[0].Outcome != audit.Denied || got[0].Subject != e.subjectOf(t, "solly") {
			t.Errorf("the refusal of another team's coordinator is not recorded as denied: %+v", got)
		}

		note := "Rang the crisis team; Dr Lee visits at 23:00"
		resp, body := do(t, "POST", e.URL+resolve, `{"note":"  `+note+`  "}`, asJSON("cora"))
		var got struct {
			DecisionID string     `json:"decision_id"`
			ResolvedAt *time.Time `json:"resolved_at"`
			ResolvedBy string     `json:"resolved_by"`
			Note       string     `json:"note"`
			CaseStep   bool       `json:"case_step"`
		}
		cora := e.subjectOf(t, "cora")
		if err := json.Unmarshal(body, &got); resp.StatusCode != http.StatusOK || err != nil || got.DecisionID != id || got.ResolvedAt == nil ||
			!got.ResolvedAt.Equal(testNow()) || got.ResolvedBy != cora || got.Note != note || !got.CaseStep {
			t.Fatalf("resolve: %d %s", resp.StatusCode, body)
		}
		if l := list("cora", "", http.StatusOK); len(l.Escalations) != 0 {
			t.Errorf("resolved, still listed: %+v", l)
		}
		// Everything the resolution wrote: the case's step, the event, the access record.
		c, err := (&cases.Store{DB: db}).Case(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		last := c.Steps[len(c.Steps)-1]
		if last.Step != cases.ResolveEscalation || last.Actor != cora || last.From != last.To || !strings.Contains(string(last.Detail), note) {
			t.Errorf("the case's last step: %+v %s", last, last.Detail)
		}
		var events []struct {
			Payload string `db:"payload"`
		}
		if err := db.Select(&events, db.Rebind(`SELECT payload FROM outbox_events WHERE type = ? AND case_key = ?`), outbox.EscalationResolved, id); err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || !strings.Contains(events[0].Payload, note) || !strings.Contains(events[0].Payload, `"resolved_by":"`+cora+`"`) {
			t.Errorf("escalation.resolved events: %+v", events)
		}
		if acc := escalationAccesses(t, db, id); len(acc) != 2 || acc[0].Outcome != audit.Allowed || acc[0].Subject != cora {
			t.Errorf("the resolution's access record: %+v", acc)
		}

		resp, body = do(t, "POST", e.URL+resolve, `{"note":"again"}`, asJSON("cora"))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "already resolved") {
			t.Errorf("second resolution: %d %s", resp.StatusCode, body)
		}
		var n int
		if err := db.Get(&n, db.Rebind(`SELECT COUNT(*) FROM outbox_events WHERE type = ?`), outbox.EscalationResolved); err != nil || n != 1 {
			t.Errorf("events after a refused second resolution: %d %v", n, err)
		}
	})
}

// TestWorklistResolveEscalation: an escalated row has a labelled "Mark handled" form; a blank
// note is refused beside the field, another team's coordinator is refused, and a note clears the
// escalation, so the case no longer heads the worklist, with a notice saying so.
func TestWorklistResolveEscalation(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "cora", "central", "", identity.Coordinator)
		e.user(t, "solly", "south", "", identity.Coordinator)
		overdue := e.submitAt(t, "central", assessment, testNow().AddDate(0, 0, -40))
		id := e.escalatedCase(t, "esc-page")
		cora := e.signIn(t, "cora")

		_, page := cora.get("/worklist")
		row := rowOf(page, id)
		if ids := caseIDs(page); len(ids) < 2 || ids[0] != id {
			t.Fatalf("the escalated case does not head the worklist: %v", ids)
		}
		for _, want := range []string{`action="/worklist/` + id + `/resolve"`, `<label class="cp-label" for="note-` + id + `">`,
			`id="note-` + id + `" name="note"`, `aria-describedby="note-` + id + `-hint"`, "Mark handled", `name="csrf_token"`} {
			if !strings.Contains(row, want) {
				t.Errorf("the escalated row lacks %q: %s", want, row)
			}
		}
		if strings.Contains(rowOf(page, overdue), "/resolve") {
			t.Error("a case not escalated has a Mark handled form")
		}

		path := "/worklist/" + id + "/resolve"
		resp, page := cora.post(path, url.Values{"note": {"  "}, "sort": {"decided"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#note-`+id+`"`) || !strings.Contains(page, "Enter how the escalation was handled") ||
			!strings.Contains(rowOf(page, id), "cp-form-group--error") || !strings.Contains(rowOf(page, id), "<details class=\"cp-details cp-worklist__actions\" open>") {
			t.Errorf("blank note: %d, want 422 with the error beside the open form: %s", resp.StatusCode, rowOf(page, id))
		}
		long := strings.Repeat("x", 501)
		if resp, page := cora.post(path, url.Values{"note": {long}}); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(rowOf(page, id), ">"+long+"</textarea>") || !strings.Contains(page, "Enter at most 500 characters; this note has 501") {
			t.Errorf("long note: %d, want 422 keeping what was typed", resp.StatusCode)
		}
		if resp, _ := e.signIn(t, "solly").post(path, url.Values{"note": {"handled"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("another team's coordinator: %d, want 403", resp.StatusCode)
		}
		if resp, _ := cora.client.PostForm(cora.base+path, url.Values{"note": {"handled"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("without the CSRF token: %d, want 403", resp.StatusCode)
		}
		if _, page := cora.get("/worklist"); !strings.Contains(rowOf(page, id), ">Escalated<") {
			t.Fatal("a refused resolution cleared the escalation")
		}

		resp, _ = cora.post(path, url.Values{"note": {"Crisis team phoned"}, "status": {"all"}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "done=resolved") || !strings.Contains(loc, "status=all") {
			t.Fatalf("resolve: %d to %q", resp.StatusCode, loc)
		}
		_, page = cora.get(loc)
		if !strings.Contains(page, "The escalation of case "+id+" has been marked handled.") {
			t.Error("no notice of the resolution")
		}
		if strings.Contains(page, "escalated-summary") || strings.Contains(rowOf(page, id), ">Escalated<") || strings.Contains(rowOf(page, id), "/resolve") {
			t.Errorf("a resolved escalation is still shown: %s", rowOf(page, id))
		}
		// Back in respond-by order: the overdue case comes first.
		if ids := caseIDs(page); len(ids) < 2 || ids[0] != overdue {
			t.Errorf("after resolving: %v, want %s first", ids, overdue)
		}
		if acc := escalationAccesses(t, db, id); len(acc) != 2 || acc[0].Outcome != audit.Allowed || acc[0].Subject != e.subjectOf(t, "cora") {
			t.Errorf("access records: %+v", acc)
		}

		resp, page = cora.post(path, url.Values{"note": {"again"}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "already resolved") {
			t.Errorf("second resolution: %d", resp.StatusCode)
		}
	})
}

// TestReassignResolvesEscalationThroughAPI: reassigning an escalated case once someone can take
// it books the visit and resolves the escalation in the same change, so it leaves the list and
// no longer heads the worklist.
func TestReassignResolvesEscalationThroughAPI(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "cora", "central", "", identity.Coordinator)
		id := e.escalatedCase(t, "esc-reassign")
		// Reassigned on a weekday morning (the server's clock), when the crisis team works.
		resp, body := do(t, "POST", e.URL+"/v1/assessments/"+id+"/reassign", "", e.bearer("cora"))
		var d bookedCase
		if err := json.Unmarshal(body, &d); resp.StatusCode != http.StatusOK || err != nil || d.Assignment == nil || d.Assignment.Appointment.ID == "" {
			t.Fatalf("reassign: %d %s", resp.StatusCode, body)
		}
		resp, body = do(t, "GET", e.URL+"/v1/escalations", "", e.bearer("cora"))
		var l escalationList
		if err := json.Unmarshal(body, &l); resp.StatusCode != http.StatusOK || err != nil || len(l.Escalations) != 0 {
			t.Errorf("after booking it: %d %s", resp.StatusCode, body)
		}
		_, page := e.signIn(t, "cora").get("/worklist?status=all")
		if strings.Contains(page, "escalated-summary") || strings.Contains(rowOf(page, id), ">Escalated<") {
			t.Errorf("the booked case is still shown escalated: %s", rowOf(page, id))
		}
		resp, body = do(t, "POST", e.URL+"/v1/escalations/"+id+"/resolve", `{"note":"x"}`, e.bearer("cora"))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "already resolved") {
			t.Errorf("resolving after the reassignment: %d %s", resp.StatusCode, body)
		}
	})
}
