package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/replay"
	"github.com/carepath/carepath/triage"
)

// analystPages registers the replay page: stored cases decided again under another rule-set
// version, reported over pseudonymised data only, as `carepath replay` does.
func (s *Server) analystPages(mux *http.ServeMux) {
	s.handlePage(mux, "GET /replay", identity.RunReplay, s.replayPage)
	s.handlePage(mux, "POST /replay", identity.RunReplay, s.runReplayPage)
	s.handlePage(mux, "GET /replay.csv", identity.RunReplay, s.replayCSV)
}

// maxChangedShown bounds the changed cases a replay page lists; the CSV has them all.
const maxChangedShown = 100

// replayRequest is what the replay form asks: a candidate version, a baseline, a period of
// authored times (local dates, both days included).
type replayRequest struct {
	RuleSet   string
	Candidate int
	Baseline  int // 0: what was recorded when each case was decided
	Since     string
	Until     string // YYYY-MM-DD, inclusive

	since, until time.Time
}

// query is the request as the CSV link's query string, so the download replays the same thing.
func (q replayRequest) query() string {
	v := url.Values{"candidate": {q.RuleSet + "/" + strconv.Itoa(q.Candidate)}, "baseline": {"recorded"}}
	if q.Baseline != 0 {
		v.Set("baseline", q.RuleSet+"/"+strconv.Itoa(q.Baseline))
	}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	if q.Until != "" {
		v.Set("until", q.Until)
	}
	return v.Encode()
}

// replayOption is one version offered in the form's lists.
type replayOption struct {
	Value, Label string
}

type replayGroup struct {
	RuleSet string
	Options []replayOption
}

// replayData is the replay page: the form and, after a run, its report.
type replayData struct {
	Groups    []replayGroup
	Request   replayRequest
	Candidate string // the chosen values, as the lists name them
	Baseline  string
	Report    *replay.Report
	Flows     []replayFlow
	Rules     []replay.RuleCount
	Changed   []replay.ChangedCase // the first maxChangedShown changed cases
	More      int64                // changed cases not listed
	Chart     template.HTML
	RuleChart template.HTML
	CSV       string // the download's address
}

type replayFlow struct {
	replay.Transition
	FromName, ToName string
	Moved            bool
}

func (s *Server) replayGroups(ctx context.Context) ([]replayGroup, error) {
	versions, err := s.Rules.Versions(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Engine.Now()
	var out []replayGroup
	active := map[string]int{}
	for _, v := range versions {
		if len(out) == 0 || out[len(out)-1].RuleSet != v.ID {
			out = append(out, replayGroup{RuleSet: v.ID})
			n, err := s.Rules.ActiveAt(ctx, v.ID, now)
			if err != nil && failure.CodeOf(err) != failure.Unavailable && failure.CodeOf(err) != failure.NotFound {
				return nil, err
			}
			active[v.ID] = n
		}
		label := fmt.Sprintf("%s version %d (%s)", v.ID, v.Version, strings.ReplaceAll(string(v.Status), "_", " "))
		if active[v.ID] == v.Version {
			label = fmt.Sprintf("%s version %d (active)", v.ID, v.Version)
		}
		g := &out[len(out)-1]
		g.Options = append(g.Options, replayOption{Value: v.ID + "/" + strconv.Itoa(v.Version), Label: label})
	}
	return out, nil
}

func (s *Server) replayPage(w http.ResponseWriter, r *http.Request) {
	groups, err := s.replayGroups(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "replay", view{Title: "Replay stored cases", Data: replayData{Groups: groups, Baseline: "recorded"}})
}

// replayFieldIDs are the form's inputs by the field names the checks use.
var replayFieldIDs = map[string]string{"candidate": "replay-candidate", "baseline": "replay-baseline", "since": "replay-since", "until": "replay-until"}

func (s *Server) runReplayPage(w http.ResponseWriter, r *http.Request) {
	groups, err := s.replayGroups(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	data := replayData{Groups: groups, Candidate: r.PostFormValue("candidate"), Baseline: r.PostFormValue("baseline")}
	req, errs := s.readReplayRequest(r.PostFormValue)
	data.Request = req
	var rep *replay.Report
	if len(errs) == 0 {
		if rep, err = s.runReplay(r.Context(), req); err != nil {
			errs = s.replayRefusal(w, r, err)
			if errs == nil {
				return
			}
		}
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "replay", view{Title: "Replay stored cases", Errors: errs, Data: data})
		return
	}
	if !s.recordPageAccess(w, r, s.accessEntry(r, audit.ActionReplayRun, []string{"ruleset:" + req.RuleSet})) {
		return
	}
	names, err := pathwayNames(r.Context(), s.Rules)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	data.Report, data.Rules, data.CSV = rep, rep.Rules, "/replay.csv?"+req.query()
	var moved []chartBar
	for _, t := range rep.Transitions {
		f := replayFlow{Transition: t, FromName: cmp.Or(names[t.From], t.From), ToName: cmp.Or(names[t.To], t.To), Moved: t.From != t.To}
		data.Flows = append(data.Flows, f)
		if f.Moved {
			moved = append(moved, chartBar{Label: f.FromName + " → " + f.ToName, Value: t.Cases})
		}
	}
	// Moves first, most cases first: what an analyst looks for.
	slices.SortStableFunc(data.Flows, func(a, b replayFlow) int {
		if a.Moved != b.Moved {
			if a.Moved {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Cases, a.Cases)
	})
	slices.SortStableFunc(moved, func(a, b chartBar) int { return cmp.Compare(b.Value, a.Value) })
	data.Chart = barChart("replay-chart", "Cases that would move, by pathway before and after", "cases", moved)
	var ruleBars []chartBar
	for _, rc := range rep.Rules {
		if rc.Candidate > 0 {
			ruleBars = append(ruleBars, chartBar{Label: rc.Rule, Value: rc.Candidate})
		}
	}
	data.RuleChart = barChart("replay-rule-chart", "Cases decided by each rule under the candidate", "cases", ruleBars)
	data.Changed = rep.ChangedCases[:min(len(rep.ChangedCases), maxChangedShown)]
	data.More = int64(len(rep.ChangedCases) - len(data.Changed))
	s.render(w, r, http.StatusOK, "replay", view{Title: "Replay stored cases", Data: data})
}

// replayCSV downloads the replay the query describes, in the CLI's CSV format.
func (s *Server) replayCSV(w http.ResponseWriter, r *http.Request) {
	req, errs := s.readReplayRequest(r.URL.Query().Get)
	if len(errs) > 0 {
		s.pageProblem(w, r, failure.Errorf(failure.Invalid, "%s", errs[0].Message))
		return
	}
	rep, err := s.runReplay(r.Context(), req)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if !s.recordPageAccess(w, r, s.accessEntry(r, audit.ActionExportRun, []string{"ruleset:" + req.RuleSet})) {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="replay-%s-v%d.csv"`, req.RuleSet, req.Candidate))
	w.Header().Set("Cache-Control", "no-store")
	if err := rep.Write(w, replay.FormatCSV); err != nil {
		s.Logger.Error("unable to write a replay export", "error", err)
	}
}

// readReplayRequest checks the form (or the CSV link's query): versions as "ruleset/N", dates
// as YYYY-MM-DD read in the council's time zone.
func (s *Server) readReplayRequest(get func(string) string) (replayRequest, []fieldError) {
	var req replayRequest
	var errs []fieldError
	bad := func(field, msg string) {
		errs = append(errs, fieldError{Field: field, ID: replayFieldIDs[field], Message: msg})
	}
	cand := strings.TrimSpace(get("candidate"))
	id, n, ok := strings.Cut(cand, "/")
	v, err := strconv.Atoi(n)
	switch {
	case cand == "":
		bad("candidate", "Choose the rule-set version to replay the cases under")
	case !ok || err != nil || v < 1 || id == "":
		bad("candidate", "Choose a rule-set version from the list")
	default:
		req.RuleSet, req.Candidate = id, v
	}
	if b := strings.TrimSpace(get("baseline")); b != "" && b != "recorded" {
		bid, bn, ok := strings.Cut(b, "/")
		v, err := strconv.Atoi(bn)
		switch {
		case !ok || err != nil || v < 1:
			bad("baseline", "Choose what to compare with from the list")
		case req.RuleSet != "" && bid != req.RuleSet:
			bad("baseline", fmt.Sprintf("Compare with a version of %s, the rule set you replay, or with what was recorded", req.RuleSet))
		default:
			req.Baseline = v
		}
	}
	day := func(field, label string) (time.Time, string) {
		raw := strings.TrimSpace(get(field))
		if raw == "" {
			return time.Time{}, ""
		}
		t, err := time.ParseInLocation("2006-01-02", raw, s.location())
		if err != nil {
			bad(field, label+" must be a real date, such as 2026-11-01")
			return time.Time{}, raw
		}
		if err := checkDate(field, t); err != nil {
			bad(field, label+" must be a date from 1900 to 9999")
			return time.Time{}, raw
		}
		return t, raw
	}
	req.since, req.Since = day("since", "The first day")
	var until time.Time
	until, req.Until = day("until", "The last day")
	if !until.IsZero() {
		req.until = until.AddDate(0, 0, 1) // the last day is included
	}
	if !req.since.IsZero() && !req.until.IsZero() && !req.since.Before(req.until) {
		bad("until", "The last day must be the same as or after the first day")
	}
	return req, errs
}

// runReplay is `carepath replay --candidate N [--baseline M] --since --until` over the server's
// database: the same engine, the same pseudonyms.
func (s *Server) runReplay(ctx context.Context, req replayRequest) (*replay.Report, error) {
	if s.DB == nil {
		return nil, failure.Errorf(failure.Unavailable, "replay needs the server's database")
	}
	if s.Privacy == nil {
		return nil, errors.New("server: unable to replay: no pseudonym key is configured, and replay reports carry pseudonyms only")
	}
	var form string
	for _, n := range []int{req.Candidate, req.Baseline} {
		if n == 0 {
			continue
		}
		v, err := s.Rules.Version(ctx, req.RuleSet, n)
		if failure.CodeOf(err) == failure.NotFound {
			return nil, failure.Errorf(failure.Invalid, "candidate: version %d of %s is not stored; choose one from the list", n, req.RuleSet)
		} else if err != nil {
			return nil, err
		}
		form = v.Form
	}
	all, err := s.Forms.Forms(ctx)
	if err != nil {
		return nil, err
	}
	var forms []*triage.Form
	for _, f := range all {
		if f.ID == form {
			forms = append(forms, f)
		}
	}
	cfg := replay.Config{
		RuleSet:       req.RuleSet,
		Source:        &replay.SQLSource{Store: triage.NewSQLStore(s.DB), Filter: triage.DecisionFilter{RuleSet: req.RuleSet, Since: req.since, Until: req.until}},
		Forms:         forms,
		Candidate:     &replay.Version{Registry: s.Engine.Rules, ID: req.RuleSet, Version: req.Candidate},
		Pseudonymiser: s.Privacy,
	}
	if req.Baseline != 0 {
		cfg.Baseline = &replay.Version{Registry: s.Engine.Rules, ID: req.RuleSet, Version: req.Baseline}
	}
	return replay.Run(ctx, cfg)
}

// replayRefusal turns a refused replay into the error summary; other failures are answered as a
// page here, and nil returned.
func (s *Server) replayRefusal(w http.ResponseWriter, r *http.Request, err error) []fieldError {
	if failure.CodeOf(err) != failure.Invalid {
		s.pageProblem(w, r, err)
		return nil
	}
	return fieldErrors(err, func(field string) string { return replayFieldIDs[field] })
}
