package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/rules"
)

// policyPages registers the web pages of the rule-set workbench: the same lifecycle, checks,
// diffs and impact previews as the rule-set API, for people in a browser.
func (s *Server) policyPages(mux *http.ServeMux) {
	s.handlePage(mux, "GET /rulesets", identity.ReadRules, s.pageGoverned(s.rulesetsPage))
	s.handlePage(mux, "GET /rulesets/{id}", identity.ReadRules, s.pageGoverned(s.rulesetPage))
	s.handlePage(mux, "GET /rulesets/{id}/versions/{version}", identity.ReadRules, s.pageGoverned(s.rulesetVersionPage))
	s.handlePage(mux, "POST /rulesets/{id}/versions/{version}/{action}", identity.WriteRules, s.pageGoverned(s.rulesetActionPage))
	s.handlePage(mux, "GET /rulesets/{id}/draft", identity.WriteRules, s.pageGoverned(s.draftPage))
	s.handlePage(mux, "POST /rulesets/{id}/draft", identity.WriteRules, s.pageGoverned(s.saveDraftPage))
	s.handlePage(mux, "GET /rulesets/{id}/diff", identity.ReadRules, s.pageGoverned(s.diffPage))
	s.handlePage(mux, "GET /rulesets/{id}/versions/{version}/impact", identity.PreviewImpact, s.pageGoverned(s.impactPage))
}

// pageGoverned is governed for pages: a missing database is a page, not problem details.
func (s *Server) pageGoverned(h governedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.DB == nil {
			s.pageProblem(w, r, failure.Errorf(failure.Unavailable, "rule governance needs the server's database"))
			return
		}
		g := governance.NewService(s.DB, s.Forms, s.Engine.Rules, s.Engine.Now)
		g.Pseudonymiser = s.Privacy
		if s.Events != nil {
			g.Lifecycle.OnActivate = s.Events.RuleSetActivated
		}
		h(w, r, g)
	}
}

// pageVersion reads the {version} path value, answering a page when it is not a version number.
func (s *Server) pageVersion(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, err := boundedInt("version", r.PathValue("version"), 1, maxVersion)
	if err != nil {
		s.pageProblem(w, r, failure.Errorf(failure.NotFound, "version %q: there is no such version", r.PathValue("version")))
		return 0, false
	}
	return n, true
}

// versionState is where a stored version stands now, in the words a policy officer uses: a stored
// approved version may be active now, scheduled to become active, or neither.
type versionState struct {
	rules.Version
	Label       string    // Draft, In review, Approved, Active, Scheduled, Retired
	Tag         string    // the tag's colour modifier
	Active      bool      // in force now
	WasActive   bool      // in force at some time before now, and not now: a rollback target
	ScheduledAt time.Time // the earliest future activation, if any
}

// ruleSetStates lists every stored version of one rule set (all when id is empty) with its state
// ruleSetVersions is one stored rule set's versions with their states, or NotFound.
func ruleSetVersions(ctx context.Context, g *governance.Service, id string, now time.Time) ([]versionState, error) {
	states, err := ruleSetStates(ctx, g, id, now)
	if err != nil {
		return nil, err
	}
	list, ok := states[id]
	if !ok {
		return nil, failure.Errorf(failure.NotFound, "rule set %s is not stored", id)
	}
	return list, nil
}

// now, by rule set and version.
func ruleSetStates(ctx context.Context, g *governance.Service, id string, now time.Time) (map[string][]versionState, error) {
	versions, err := g.Rules.Versions(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]versionState{}
	acts := map[string][]rules.Activation{}
	for _, v := range versions {
		if id != "" && v.ID != id {
			continue
		}
		if _, ok := acts[v.ID]; !ok {
			if acts[v.ID], err = g.Rules.Activations(ctx, v.ID); err != nil {
				return nil, err
			}
		}
		out[v.ID] = append(out[v.ID], versionState{Version: v})
	}
	for rs, list := range out {
		active, _ := rules.NewTimeline(acts[rs]).VersionAt(now)
		for i := range list {
			st := &list[i]
			for _, a := range acts[rs] {
				if a.Version != st.Version.Version {
					continue
				}
				if a.EffectiveFrom.After(now) {
					if st.ScheduledAt.IsZero() || a.EffectiveFrom.Before(st.ScheduledAt) {
						st.ScheduledAt = a.EffectiveFrom
					}
				} else {
					st.WasActive = true
				}
			}
			st.Active = active == st.Version.Version
			st.WasActive = st.WasActive && !st.Active
			st.Label, st.Tag = stateLabel(st)
		}
		slices.SortFunc(list, func(a, b versionState) int { return cmp.Compare(a.Version.Version, b.Version.Version) })
	}
	return out, nil
}

func stateLabel(st *versionState) (string, string) {
	switch {
	case st.Status == rules.StatusDraft:
		return "Draft", "grey"
	case st.Status == rules.StatusInReview:
		return "In review", "orange"
	case st.Status == rules.StatusRetired:
		return "Retired", "grey"
	case st.Active:
		return "Active", "green"
	case !st.ScheduledAt.IsZero():
		return "Scheduled", ""
	}
	return "Approved", ""
}

// historyRow is one line of a rule set's audit trail as people read it.
type historyRow struct {
	rules.AuditEntry
	Who   string // the name recorded when they acted, or their subject when none was
	WhoID string // their subject, for the cell's title, when the name stands for it
	What  string // the change in words
}

func historyRows(h []rules.AuditEntry, version int) []historyRow {
	var out []historyRow
	for _, e := range h {
		if version != 0 && e.Version != version {
			continue
		}
		row := historyRow{AuditEntry: e, Who: e.Actor, What: transitionWords(e)}
		if e.ActorName != "" && e.ActorName != e.Actor {
			// A subject is an account's random id: people recognise each other by name.
			row.Who, row.WhoID = e.ActorName, e.Actor
		}
		out = append(out, row)
	}
	return out
}

func transitionWords(e rules.AuditEntry) string {
	switch {
	case e.From == "" && e.To == rules.StatusDraft:
		return "created the draft"
	case e.From == rules.StatusDraft && e.To == rules.StatusDraft:
		return "edited the draft"
	case e.To == rules.StatusInReview:
		return "sent it for review"
	case e.From == rules.StatusInReview && e.To == rules.StatusDraft:
		return "sent it back as a draft"
	case e.To == rules.StatusApproved:
		return "approved it"
	case e.To == rules.StatusActive:
		var d struct {
			EffectiveFrom time.Time `json:"effective_from"`
		}
		if json.Unmarshal(e.Detail, &d) == nil && !d.EffectiveFrom.IsZero() && d.EffectiveFrom.After(e.At.Add(time.Minute)) {
			return "scheduled it to become active"
		}
		return "made it active"
	case e.To == rules.StatusRetired:
		return "retired it"
	}
	return string(e.From) + " to " + string(e.To)
}

// rulesetsData is the rule sets page: what waits for review, and every rule set's versions.
type rulesetsData struct {
	Queue []versionState
	Sets  []ruleSetSummary
}

type ruleSetSummary struct {
	ID, Form string
	Versions []versionState
	Recent   []historyRow // the latest changes, newest first
}

func (s *Server) rulesetsPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	states, err := ruleSetStates(r.Context(), g, "", s.Engine.Now())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	var data rulesetsData
	for id, list := range states {
		h, err := g.Rules.History(r.Context(), id)
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		rows := historyRows(h, 0)
		slices.Reverse(rows)
		sum := ruleSetSummary{ID: id, Form: list[0].Form, Versions: list, Recent: rows[:min(len(rows), 5)]}
		data.Sets = append(data.Sets, sum)
		for _, v := range list {
			if v.Status == rules.StatusInReview {
				data.Queue = append(data.Queue, v)
			}
		}
	}
	slices.SortFunc(data.Sets, func(a, b ruleSetSummary) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(data.Queue, func(a, b versionState) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Version.Version, b.Version.Version))
	})
	s.render(w, r, http.StatusOK, "rulesets", view{Title: "Rule sets", Notice: noticeOf(r), Data: data})
}

// rulesetData is one rule set's page: versions, shadow runs and its whole history.
type rulesetData struct {
	ID       string
	Form     string
	Versions []versionState
	History  []historyRow
	Shadow   []shadowRow
	// ShadowShown says the reader may see shadow reports (rules.impact).
	ShadowShown bool
}

// shadowRow is a shadow run's report as the page shows it.
type shadowRow struct {
	*governance.ShadowReport
	Stopped   time.Time
	Agreement string // the agreement rate as a percentage
	Flows     []flowRow
}

func (s *Server) rulesetPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	id := r.PathValue("id")
	list, err := ruleSetVersions(r.Context(), g, id, s.Engine.Now())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	h, err := g.Rules.History(r.Context(), id)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	rows := historyRows(h, 0)
	slices.Reverse(rows)
	data := rulesetData{ID: id, Form: list[0].Form, Versions: list, History: rows}
	if p := identity.FromContext(r.Context()); p.Can(identity.PreviewImpact) {
		data.ShadowShown = true
		if data.Shadow, err = shadowReports(r.Context(), g, id); err != nil {
			s.pageProblem(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "ruleset", view{Title: "Rule set " + id, Notice: noticeOf(r), Data: data})
}

func shadowReports(ctx context.Context, g *governance.Service, id string) ([]shadowRow, error) {
	runs, err := governance.ShadowRuns(ctx, g.DB, id)
	if err != nil {
		return nil, err
	}
	names, err := pathwayNames(ctx, g.Rules)
	if err != nil {
		return nil, err
	}
	out := make([]shadowRow, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- { // newest first
		rep, err := governance.ShadowReportOf(ctx, g.DB, g.Pseudonymiser, runs[i].ID)
		if err != nil {
			return nil, err
		}
		row := shadowRow{ShadowReport: rep, Agreement: strconv.FormatFloat(rep.AgreementRate*100, 'f', 1, 64) + "%", Flows: flowRows(rep.Flows, names)}
		if rep.Run.StoppedAt != nil {
			row.Stopped = *rep.Run.StoppedAt
		}
		out = append(out, row)
	}
	return out, nil
}

// flowRows names the pathways of from -> to counts.
func flowRows(flows []governance.Flow, names map[string]string) []flowRow {
	out := make([]flowRow, 0, len(flows))
	for _, f := range flows {
		out = append(out, flowRow{Flow: f, FromName: cmp.Or(names[f.From], f.From), ToName: cmp.Or(names[f.To], f.To)})
	}
	return out
}

// pathwayNames maps the catalogue's pathway ids to their names, which pages show.
func pathwayNames(ctx context.Context, store rules.Store) (map[string]string, error) {
	ps, err := store.Pathways(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(ps))
	for _, p := range ps {
		names[p.ID] = p.Name
	}
	return names, nil
}

// versionData is one version's page: its rules as a table, its tests and checks, its history,
// and the lifecycle actions its state allows.
type versionData struct {
	State    versionState
	RuleSet  *rules.RuleSet
	Params   []paramRow
	Rules    []ruleRow
	Compile  []rules.Problem // when the stored version no longer compiles
	Tests    *rules.TestReport
	Lint     *rules.LintReport
	History  []historyRow
	Others   []versionState // every version of the rule set, for the diff form
	Latest   int
	Shadowed bool // a shadow run of this version is open
	// Form values given back after a refused action.
	Comment, Reason, EffectiveFrom string
	Now                            string // the earliest datetime-local value an activation takes
}

type paramRow struct{ Name, Value string }

// ruleRow is one rule as the table shows it.
type ruleRow struct {
	ID, When, Because    string
	Pathway, PathwayName string
	Priority             string
	RespondWithin        string
	Flags                []string
}

func (s *Server) rulesetVersionPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	version, ok := s.pageVersion(w, r)
	if !ok {
		return
	}
	data, err := s.versionData(r.Context(), g, r.PathValue("id"), version)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ruleset-version", view{Title: fmt.Sprintf("Rule set %s version %d", data.State.ID, version), Notice: noticeOf(r), Data: data})
}

func (s *Server) versionData(ctx context.Context, g *governance.Service, id string, version int) (*versionData, error) {
	now := s.Engine.Now()
	states, err := ruleSetStates(ctx, g, id, now)
	if err != nil {
		return nil, err
	}
	d := &versionData{Others: states[id], Now: now.In(s.location()).Format(datetimeLocal)}
	found := false
	for _, st := range states[id] {
		if st.Version.Version == version {
			d.State, found = st, true
		}
		d.Latest = max(d.Latest, st.Version.Version)
	}
	if !found {
		return nil, failure.Errorf(failure.NotFound, "rule set %s version %d is not stored", id, version)
	}
	if d.RuleSet, err = d.State.Version.Parse(); err != nil {
		return nil, failure.Errorf(failure.Unavailable, "stored rule set %s v%d does not parse: %w", id, version, err)
	}
	names, err := pathwayNames(ctx, g.Rules)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedParamNames(d.RuleSet.Params) {
		b, _ := json.Marshal(d.RuleSet.Params[k])
		d.Params = append(d.Params, paramRow{Name: k, Value: string(b)})
	}
	for _, rule := range d.RuleSet.Rules {
		d.Rules = append(d.Rules, ruleRow{ID: rule.ID, When: rule.When, Because: rule.Because, Pathway: rule.Then.Pathway,
			PathwayName: names[rule.Then.Pathway], Priority: string(rule.Then.Priority), RespondWithin: isoDurationWords(rule.Then.RespondWithin), Flags: rule.Then.Flags})
	}
	p, m, err := g.Compile(ctx, d.RuleSet)
	var ce *rules.CompileError
	switch {
	case errors.As(err, &ce):
		d.Compile = ce.Problems
	case err != nil:
		return nil, err
	default:
		d.Tests = rules.RunTests(p, m)
		// The static checks search the inputs' whole domain (a fifth of a second or more), so a
		// page runs them only while they can still stop a version: a draft or one in review.
		if d.State.Status == rules.StatusDraft || d.State.Status == rules.StatusInReview {
			d.Lint = rules.Lint(p, m, g.Lint)
		}
	}
	h, err := g.Rules.History(ctx, id)
	if err != nil {
		return nil, err
	}
	d.History = historyRows(h, version)
	runs, err := governance.ShadowRuns(ctx, g.DB, id)
	if err != nil {
		return nil, err
	}
	for _, run := range runs {
		if run.Version == version && run.StoppedAt == nil {
			d.Shadowed = true
		}
	}
	return d, nil
}

func sortedParamNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isoDurationWords says an ISO 8601 duration as people do: "4 hours", "28 days".
func isoDurationWords(iso string) string {
	d, err := rules.ParseDuration(iso)
	if err != nil || d <= 0 {
		return iso
	}
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return iso
}

// datetimeLocal is the value format of an <input type="datetime-local">, read in the council's zone.
const datetimeLocal = "2006-01-02T15:04"

// notices are the confirmations a lifecycle action redirects with; the query names one, so no
// text of the request reaches the page.
var notices = map[string]string{
	"saved":          "Draft saved. The checks below are of the saved draft.",
	"created":        "New draft created. Change it below and save it to check it.",
	"submitted":      "Sent for review. A second policy officer must approve it.",
	"approved":       "Approved, with your comment and the impact preview you were shown.",
	"rejected":       "Sent back to its author as a draft, with your reason.",
	"activated":      "Activation recorded. The status below says when the version is in force.",
	"rolledback":     "Rolled back: this version is in force again from now.",
	"retired":        "Retired. It can no longer be activated.",
	"shadow-started": "Shadow run started: live decisions are now also evaluated under this version.",
	"shadow-stopped": "Shadow run stopped.",
}

func noticeOf(r *http.Request) string { return notices[r.URL.Query().Get("notice")] }

// pageActor is the signed-in person acting on a rule set.
func pageActor(r *http.Request) rules.Actor {
	p := identity.FromContext(r.Context())
	if p == nil {
		return rules.Actor{}
	}
	return rules.Actor{Subject: p.Subject, Name: p.Name}
}

// actionFieldIDs are the inputs of each action's form, so that the error summary links to them.
var actionFieldIDs = map[string]map[string]string{
	"approve":  {"comment": "approve-comment"},
	"reject":   {"reason": "reject-reason"},
	"activate": {"effective_from": "activate-at", "reason": "activate-reason"},
	"rollback": {"reason": "rollback-reason"},
	"retire":   {"reason": "retire-reason"},
}

// rulesetActionPage runs one lifecycle action from a version's page, then sends the browser back
// to the page with a confirmation; a refusal shows the page again with the reason at the top.
func (s *Server) rulesetActionPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	version, ok := s.pageVersion(w, r)
	if !ok {
		return
	}
	ctx, id, action, actor := r.Context(), r.PathValue("id"), r.PathValue("action"), pageActor(r)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	back := fmt.Sprintf("/rulesets/%s/versions/%d", url.PathEscape(id), version)
	var err error
	var notice string
	switch action {
	case "submit":
		var gate *rules.GateReport
		gate, err = g.Lifecycle.Submit(ctx, actor, id, version, reason)
		if err != nil && gate != nil {
			err = failure.Errorf(failure.Invalid, "the draft did not pass its checks: %d lint errors, %d failed tests, coverage %.1f%% of the %.1f%% required; see the checks below",
				gate.Lint.Errors(), gate.Tests.Failed(), gate.Tests.Coverage.Percent(), gate.Tests.Required)
		}
		notice = "submitted"
	case "approve":
		comment := strings.TrimSpace(r.PostFormValue("comment"))
		err = s.pageApprove(r, g, actor, id, version, comment)
		notice = "approved"
	case "reject":
		err = g.Lifecycle.Reject(ctx, actor, id, version, reason)
		notice = "rejected"
	case "activate":
		var at time.Time
		if at, err = s.localTime("effective_from", r.PostFormValue("effective_from")); err == nil {
			err = g.Lifecycle.Activate(ctx, actor, id, version, at, reason)
		}
		notice = "activated"
	case "rollback":
		if reason == "" {
			err = failure.Errorf(failure.Invalid, "reason: say why the rule set goes back to version %d", version)
		} else {
			err = g.Lifecycle.Activate(ctx, actor, id, version, time.Time{}, "rollback: "+reason)
		}
		notice = "rolledback"
	case "retire":
		err = g.Lifecycle.Retire(ctx, actor, id, version, reason)
		notice = "retired"
	case "shadow-start":
		_, err = governance.StartShadow(ctx, g.DB, id, version, actor.Subject, s.Engine.Now())
		notice = "shadow-started"
	case "shadow-stop":
		_, err = governance.StopShadow(ctx, g.DB, id, actor.Subject, s.Engine.Now())
		notice = "shadow-stopped"
	case "draft":
		var v rules.Version
		if v, err = s.draftFrom(ctx, g, actor, id, version); err == nil {
			http.Redirect(w, r, fmt.Sprintf("/rulesets/%s/draft?version=%d&notice=created", url.PathEscape(id), v.Version), http.StatusSeeOther)
			return
		}
	default:
		s.pageProblem(w, r, failure.Errorf(failure.NotFound, "action %q: there is no such action", action))
		return
	}
	if err != nil {
		s.refuseAction(w, r, g, id, version, action, err)
		return
	}
	http.Redirect(w, r, back+"?notice="+notice, http.StatusSeeOther)
}

// pageApprove approves as the API does: the impact preview the approver could see is stored with
// the approval.
func (s *Server) pageApprove(r *http.Request, g *governance.Service, actor rules.Actor, id string, version int, comment string) error {
	if comment == "" {
		return failure.Errorf(failure.Invalid, "comment: say what you checked; an approval needs a comment")
	}
	imp, err := s.impact(r, g, id, version, 0)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(imp)
	if err != nil {
		return fmt.Errorf("server: unable to encode the impact preview: %w", err)
	}
	return g.Lifecycle.Approve(r.Context(), actor, id, version, comment, raw)
}

// refuseAction shows the version's page again with the refusal in the error summary, under the
// status the API would answer, keeping what was typed.
func (s *Server) refuseAction(w http.ResponseWriter, r *http.Request, g *governance.Service, id string, version int, action string, refusal error) {
	p := s.problemOf(w, r, refusal)
	if p.Status == http.StatusInternalServerError || p.Status == http.StatusNotFound {
		s.pageProblem(w, r, refusal)
		return
	}
	data, err := s.versionData(r.Context(), g, id, version)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	data.Comment, data.Reason, data.EffectiveFrom = r.PostFormValue("comment"), r.PostFormValue("reason"), r.PostFormValue("effective_from")
	ids := actionFieldIDs[action]
	errs := fieldErrors(refusal, func(field string) string { return ids[field] })
	for i := range errs {
		if errs[i].ID == "" {
			errs[i].ID = "actions" // the refusal is about the action itself: link to its buttons
		}
	}
	s.render(w, r, p.Status, "ruleset-version", view{Title: fmt.Sprintf("Rule set %s version %d", id, version), Errors: errs, Data: data})
}

// localTime reads a datetime-local value in the council's time zone; empty is the zero time (now).
func (s *Server) localTime(field, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(datetimeLocal, v, s.location())
	if err != nil {
		// Some browsers send seconds too.
		if t, err = time.ParseInLocation("2006-01-02T15:04:05", v, s.location()); err != nil {
			return time.Time{}, failure.Errorf(failure.Invalid, "%s: give a date and time such as 2026-12-01T09:00, or leave it empty for now", field)
		}
	}
	if err := checkDate(field, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// draftFrom starts a new draft with the source of a stored version.
func (s *Server) draftFrom(ctx context.Context, g *governance.Service, actor rules.Actor, id string, version int) (rules.Version, error) {
	v, err := g.Rules.Version(ctx, id, version)
	if err != nil {
		return rules.Version{}, err
	}
	return g.Lifecycle.CreateDraft(ctx, actor, []byte(v.Source), fmt.Sprintf("new draft from version %d", version))
}

// draftData is the draft editor: the source in a textarea, and the checks of what was saved.
type draftData struct {
	ID      string
	Version int // 0 when the rule set has no draft
	Source  string
	Drafts  []versionState // every draft of the rule set
	From    []versionState // versions a new draft may start from
	Reason  string
	Checks  *draftChecks
	Saved   bool // Source is what is stored; false when a refused save is shown back
	Invalid bool // the source did not parse, so nothing was saved
}

// draftChecks are the checks submitting for review runs, run on every save so that a policy
// officer sees at once what review would refuse.
type draftChecks struct {
	Compile []sourceProblem
	Lint    *rules.LintReport
	Tests   *rules.TestReport
	Lines   []sourceLine // the source with problem lines marked, when there are problems
}

// sourceProblem is a compile problem or a lint finding at its place in the source.
type sourceProblem struct {
	Line, Column int
	Rule         string
	Message      string
	Severity     string
}

// sourceLine is one numbered line of the source, with the problems found on it.
type sourceLine struct {
	N        int
	Text     string
	Problems []sourceProblem
}

func (s *Server) draftPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	id := r.PathValue("id")
	list, err := ruleSetVersions(r.Context(), g, id, s.Engine.Now())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	data := draftData{ID: id, Saved: true}
	for _, v := range list {
		if v.Status == rules.StatusDraft {
			data.Drafts = append(data.Drafts, v)
		} else {
			data.From = append(data.From, v)
		}
	}
	if q := r.URL.Query().Get("version"); q != "" {
		n, err := boundedInt("version", q, 1, maxVersion)
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		data.Version = n
	} else if len(data.Drafts) > 0 {
		data.Version = data.Drafts[len(data.Drafts)-1].Version.Version
	}
	if data.Version != 0 {
		v, err := g.Rules.Version(r.Context(), id, data.Version)
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		if v.Status != rules.StatusDraft {
			http.Redirect(w, r, fmt.Sprintf("/rulesets/%s/versions/%d", url.PathEscape(id), v.Version), http.StatusSeeOther)
			return
		}
		data.Source = v.Source
		if data.Checks, err = checkDraft(r.Context(), g, []byte(v.Source)); err != nil {
			s.pageProblem(w, r, err)
			return
		}
	}
	title := "Edit a draft of " + id
	if data.Version != 0 {
		title = fmt.Sprintf("Edit draft version %d of %s", data.Version, id)
	}
	s.render(w, r, http.StatusOK, "ruleset-draft", view{Title: title, Notice: noticeOf(r), Scripts: []string{"ruleedit.js"}, Data: data, Errors: checkErrors(data.Checks)})
}

// saveDraftPage saves the textarea's source over the draft, or starts a new draft from a stored
// version (the field "from"), and sends the browser to the draft's checks.
func (s *Server) saveDraftPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	id, actor := r.PathValue("id"), pageActor(r)
	if from := r.PostFormValue("from"); from != "" {
		n, err := boundedInt("from", from, 1, maxVersion)
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		v, err := s.draftFrom(r.Context(), g, actor, id, n)
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/rulesets/%s/draft?version=%d&notice=created", url.PathEscape(id), v.Version), http.StatusSeeOther)
		return
	}
	version, err := boundedInt("version", r.PostFormValue("version"), 1, maxVersion)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	// Browsers send a textarea's lines ending in CR LF; the stored source keeps the author's LF.
	src := strings.ReplaceAll(r.PostFormValue("source"), "\r\n", "\n")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	data := draftData{ID: id, Version: version, Source: src, Reason: reason}
	var saveErr error
	switch {
	case strings.TrimSpace(src) == "":
		saveErr = failure.Errorf(failure.Invalid, "source: the rule set is empty; give its YAML")
	case len(src) > rules.MaxRuleSetBytes:
		saveErr = failure.Errorf(failure.Invalid, "source: is %d bytes, over the limit of %d", len(src), rules.MaxRuleSetBytes)
	case !storable(src):
		saveErr = failure.Errorf(failure.Invalid, "source: contains the character U+0000 or bytes that are not UTF-8; a rule set is UTF-8 text")
	default:
		_, saveErr = g.Lifecycle.UpdateDraft(r.Context(), actor, id, version, []byte(src), reason)
	}
	if saveErr == nil {
		http.Redirect(w, r, fmt.Sprintf("/rulesets/%s/draft?version=%d&notice=saved", url.PathEscape(id), version), http.StatusSeeOther)
		return
	}
	p := s.problemOf(w, r, saveErr)
	if p.Status != http.StatusUnprocessableEntity {
		s.pageProblem(w, r, saveErr)
		return
	}
	// Nothing was saved: show the source back, with where it fails to parse.
	data.Invalid = true
	var errs []fieldError
	var ce *rules.CompileError
	if errors.As(saveErr, &ce) {
		data.Checks = &draftChecks{}
		for _, pr := range ce.Problems {
			data.Checks.Compile = append(data.Checks.Compile, sourceProblem{Line: pr.Line, Column: pr.Column, Rule: pr.Rule, Message: pr.Msg, Severity: "error"})
		}
		data.Checks.Lines = markLines(src, data.Checks.Compile)
		errs = checkErrors(data.Checks)
	} else {
		errs = fieldErrors(saveErr, func(string) string { return "source" })
	}
	s.render(w, r, http.StatusUnprocessableEntity, "ruleset-draft", view{Title: fmt.Sprintf("Edit draft version %d of %s", version, id),
		Scripts: []string{"ruleedit.js"}, Errors: errs, Data: data})
}

// checkDraft compiles a draft against its form and, when it compiles, runs the static checks and
// its tests, as review will.
func checkDraft(ctx context.Context, g *governance.Service, src []byte) (*draftChecks, error) {
	c := &draftChecks{}
	rs, err := rules.Parse("draft", src)
	if err == nil {
		var p *rules.Program
		var m governance.FormModel
		if p, m, err = g.Compile(ctx, rs); err == nil {
			c.Lint, c.Tests = rules.Lint(p, m, g.Lint), rules.RunTests(p, m)
		}
	}
	var ce *rules.CompileError
	if errors.As(err, &ce) {
		for _, pr := range ce.Problems {
			c.Compile = append(c.Compile, sourceProblem{Line: pr.Line, Column: pr.Column, Rule: pr.Rule, Message: pr.Msg, Severity: "error"})
		}
	} else if err != nil {
		return nil, err
	}
	var marks []sourceProblem
	marks = append(marks, c.Compile...)
	if c.Lint != nil {
		for _, f := range c.Lint.Findings {
			marks = append(marks, sourceProblem{Line: f.Line, Column: f.Column, Rule: f.Rule, Message: f.Check + ": " + f.Msg, Severity: string(f.Severity)})
		}
	}
	if len(marks) > 0 {
		c.Lines = markLines(string(src), marks)
	}
	return c, nil
}

// markLines numbers the source's lines and puts each located problem on its line.
func markLines(src string, probs []sourceProblem) []sourceLine {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	out := make([]sourceLine, len(lines))
	for i, l := range lines {
		out[i] = sourceLine{N: i + 1, Text: l}
	}
	for _, p := range probs {
		if p.Line >= 1 && p.Line <= len(out) {
			out[p.Line-1].Problems = append(out[p.Line-1].Problems, p)
		}
	}
	return out
}

// checkErrors is the error summary of a draft's compile problems: "line L, column C: message",
// each linking to the textarea (the enhancing script moves the caret to the place).
func checkErrors(c *draftChecks) []fieldError {
	if c == nil {
		return nil
	}
	var out []fieldError
	for _, p := range c.Compile {
		msg := p.Message
		if p.Rule != "" {
			msg = "rule " + p.Rule + ": " + msg
		}
		if p.Line > 0 {
			msg = fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, msg)
		}
		out = append(out, fieldError{Field: "source", ID: "source", Message: msg})
	}
	return out
}

// diffData is the rule-by-rule comparison of two versions.
type diffData struct {
	ID       string
	From, To int
	Versions []versionState
	Changes  []diffRow
}

type diffRow struct {
	rules.Change
	What string
}

var changeWords = map[string]string{
	"added": "Rule added", "removed": "Rule removed", "moved": "Rule moved", "condition": "Condition changed",
	"outcome": "Outcome changed", "because": "Reason changed", "param": "Parameter changed", "variable": "Variable changed",
	"tests": "Tests changed", "description": "Description changed",
}

func (s *Server) diffPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	id := r.PathValue("id")
	list, err := ruleSetVersions(r.Context(), g, id, s.Engine.Now())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	data := diffData{ID: id, Versions: list, To: list[len(list)-1].Version.Version, From: list[0].Version.Version}
	for _, v := range list {
		if v.Active {
			data.From = v.Version.Version
		}
	}
	q := r.URL.Query()
	var errs []fieldError
	for _, f := range []struct {
		name string
		dst  *int
	}{{"from", &data.From}, {"to", &data.To}} {
		if v := q.Get(f.name); v != "" {
			n, err := boundedInt(f.name, v, 1, maxVersion)
			if err != nil {
				errs = append(errs, fieldError{Field: f.name, ID: "diff-" + f.name, Message: personDetail(err)})
				continue
			}
			*f.dst = n
		}
	}
	var sets [2]*rules.RuleSet
	for i, n := range []int{data.From, data.To} {
		if len(errs) > 0 {
			break
		}
		v, err := g.Rules.Version(r.Context(), id, n)
		if failure.CodeOf(err) == failure.NotFound {
			name := [2]string{"from", "to"}[i]
			errs = append(errs, fieldError{Field: name, ID: "diff-" + name, Message: fmt.Sprintf("version %d of %s is not stored; pick one of the list", n, id)})
			continue
		} else if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		if sets[i], err = v.Parse(); err != nil {
			s.pageProblem(w, r, failure.Errorf(failure.Unavailable, "stored rule set %s v%d does not parse: %w", id, n, err))
			return
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		for _, c := range rules.Diff(sets[0], sets[1]) {
			data.Changes = append(data.Changes, diffRow{Change: c, What: cmp.Or(changeWords[c.Kind], c.Kind)})
		}
	}
	s.render(w, r, status, "ruleset-diff", view{Title: fmt.Sprintf("Changes to %s from version %d to %d", id, data.From, data.To), Errors: errs, Data: data})
}

// impactData is an impact preview: how many stored cases the version would move between pathways.
type impactData struct {
	ID      string
	Version int
	Days    int
	Impact  *governance.Impact
	Flows   []flowRow
	Chart   template.HTML // the SVG bar chart
}

type flowRow struct {
	governance.Flow
	FromName, ToName string
}

func (s *Server) impactPage(w http.ResponseWriter, r *http.Request, g *governance.Service) {
	version, ok := s.pageVersion(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	days := defaultImpact
	var errs []fieldError
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := boundedInt("days", v, 1, maxImpactDays)
		if err != nil {
			errs = append(errs, fieldError{Field: "days", ID: "impact-days", Message: personDetail(err)})
		} else {
			days = n
		}
	}
	data := impactData{ID: id, Version: version, Days: days}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "ruleset-impact", view{Title: fmt.Sprintf("Impact of %s version %d", id, version), Errors: errs, Data: data})
		return
	}
	imp, err := s.impact(r, g, id, version, days)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if !s.recordPageAccess(w, r, s.accessEntry(r, audit.ActionImpactPreview, []string{id + " v" + strconv.Itoa(version)})) {
		return
	}
	names, err := pathwayNames(r.Context(), g.Rules)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	data.Impact = imp
	data.Flows = flowRows(imp.Flows, names)
	var bars []chartBar
	for _, f := range data.Flows {
		bars = append(bars, chartBar{Label: f.FromName + " → " + f.ToName, Value: int64(f.Count)})
	}
	data.Chart = barChart("impact-chart", fmt.Sprintf("Cases that version %d would move, by pathway before and after", version), "cases", bars)
	s.render(w, r, http.StatusOK, "ruleset-impact", view{Title: fmt.Sprintf("Impact of %s version %d", id, version), Data: data})
}

// recordPageAccess writes an access record before a page shows pseudonymised case data; a page
// whose record cannot be written is not shown.
func (s *Server) recordPageAccess(w http.ResponseWriter, r *http.Request, e audit.Access) bool {
	if s.Audit == nil {
		return true
	}
	if err := s.Audit.Append(r.Context(), e); err != nil {
		s.pageProblem(w, r, err)
		return false
	}
	return true
}
