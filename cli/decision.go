package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/carepath/carepath/rules"
)

// Output formats of a decision.
const (
	formatText = "text"
	formatJSON = "json"
)

func decisionFormatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Usage: "json or text (default: text on a terminal, json when standard output is a file or a pipe)"}
}

// decisionFormat is --format, or text when standard output is a terminal (a person reads it) and
// JSON otherwise (a program does).
func (c *commands) decisionFormat(ctx *cli.Context) (string, error) {
	switch f := ctx.String("format"); f {
	case formatText, formatJSON:
		return f, nil
	case "":
		if f, ok := c.io.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return formatText, nil
		}
		return formatJSON, nil
	default:
		return "", cli.Exit(fmt.Sprintf("carepath %s: --format %q: want json or text", commandPath(ctx), f), ExitInvalid)
	}
}

// printDecision writes a decision given as its JSON. A dry run's has no id, because nothing was
// stored that the id could find, and says it is a dry run.
func (c *commands) printDecision(raw []byte, format string, dryRun bool, loc *time.Location) error {
	if dryRun {
		var err error
		if raw, err = markDryRun(raw); err != nil {
			return err
		}
	}
	if format == formatJSON {
		var out bytes.Buffer
		if err := json.Indent(&out, bytes.TrimSpace(raw), "", "  "); err != nil {
			return fmt.Errorf("cli: unable to print the decision: %w", err)
		}
		out.WriteByte('\n')
		_, err := c.io.Stdout.Write(out.Bytes())
		return err
	}
	var d decisionView
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("cli: unable to read the decision: %w", err)
	}
	return writeDecisionText(c.io.Stdout, &d, loc)
}

// markDryRun returns the decision's JSON object with "dry_run": true first and without its id,
// keeping the order of the other members.
func markDryRun(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("cli: unable to mark the dry run: the decision is not a JSON object")
	}
	var b bytes.Buffer
	b.WriteString(`{"dry_run":true`)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("cli: unable to mark the dry run: %w", err)
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("cli: unable to mark the dry run: %w", err)
		}
		if key == "id" {
			continue
		}
		k, _ := json.Marshal(key)
		b.WriteByte(',')
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decisionView is the part of a decision's JSON that the text form shows; it reads the JSON, so a
// decision from a server prints the same as one made here.
type decisionView struct {
	DryRun      bool           `json:"dry_run"`
	ID          string         `json:"id"`
	Form        string         `json:"form"`
	FormVersion int            `json:"form_version"`
	SubjectRef  string         `json:"subject_ref"`
	Scores      map[string]any `json:"scores"`
	RuleSet     struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	} `json:"ruleset"`
	Outcome struct {
		Pathway       string   `json:"pathway"`
		Priority      string   `json:"priority"`
		RespondWithin string   `json:"respond_within"`
		Flags         []string `json:"flags"`
	} `json:"outcome"`
	Rule        string `json:"rule"`
	Explanation struct {
		Because   string `json:"because"`
		Evaluated []struct {
			Rule   string `json:"rule"`
			When   string `json:"when"`
			Result bool   `json:"result"`
			Parts  []struct {
				Expr  string `json:"expr"`
				Value any    `json:"value"`
			} `json:"parts"`
		} `json:"evaluated"`
	} `json:"explanation"`
	Authored time.Time `json:"authored"`
	Decided  time.Time `json:"decided"`
	Services []struct {
		ServiceID     string    `json:"service_id"`
		ServiceName   string    `json:"service_name"`
		TravelMinutes *float64  `json:"travel_minutes"`
		Available     *float64  `json:"available"`
		OpensAt       time.Time `json:"opens_at"`
	} `json:"services"`
	Assignment *struct {
		PractitionerID   string  `json:"practitioner_id"`
		PractitionerName string  `json:"practitioner_name"`
		ServiceID        string  `json:"service_id"`
		TravelMinutes    float64 `json:"travel_minutes"`
		Appointment      struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"appointment"`
		Why string `json:"why"`
	} `json:"assignment"`
	UnassignedReason string `json:"unassigned_reason"`
	ManualAllocation bool   `json:"manual_allocation"`
}

// writeDecisionText prints a decision for a person: what was decided and why, then what happens
// next; times are in the council's zone.
func writeDecisionText(out io.Writer, d *decisionView, loc *time.Location) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%s\t%s\n", label, fmt.Sprintf(format, args...))
	}
	when := func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST") }
	if d.DryRun {
		row("DRY RUN", "decided but not stored: there is no decision id, and no visit was booked")
	} else {
		row("decision", "%s", d.ID)
	}
	row("outcome", "%s, %s, respond within %s", d.Outcome.Pathway, d.Outcome.Priority, spanText(d.Outcome.RespondWithin))
	if len(d.Outcome.Flags) > 0 {
		row("flags", "%s", strings.Join(d.Outcome.Flags, ", "))
	}
	row("rule", "%s (%s v%d)", d.Rule, d.RuleSet.ID, d.RuleSet.Version)
	if d.Explanation.Because != "" {
		row("because", "%s", d.Explanation.Because)
	}
	for _, e := range d.Explanation.Evaluated {
		if e.Rule != d.Rule || !e.Result {
			continue
		}
		if len(e.Parts) == 0 {
			row("condition", "%s", e.When)
		}
		for i, p := range e.Parts {
			label := ""
			if i == 0 {
				label = "condition"
			}
			row(label, "%s: %s", p.Expr, valueText(p.Value))
		}
	}
	row("form", "%s v%d", d.Form, d.FormVersion)
	row("subject", "%s", d.SubjectRef)
	if len(d.Scores) > 0 {
		names := make([]string, 0, len(d.Scores))
		for k := range d.Scores {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = k + " " + valueText(d.Scores[k])
		}
		row("scores", "%s", strings.Join(parts, ", "))
	}
	row("authored", "%s", when(d.Authored))
	row("decided", "%s", when(d.Decided))
	if len(d.Services) == 0 {
		row("services", "none matched")
	}
	for i, s := range d.Services {
		label := ""
		if i == 0 {
			label = "services"
		}
		var notes []string
		if s.TravelMinutes != nil {
			notes = append(notes, fmt.Sprintf("%.0f min away", *s.TravelMinutes))
		}
		if s.Available != nil {
			notes = append(notes, fmt.Sprintf("%g places", *s.Available))
		}
		if !s.OpensAt.IsZero() {
			notes = append(notes, "opens "+when(s.OpensAt))
		}
		row(label, "%d. %s (%s): %s", i+1, s.ServiceName, s.ServiceID, strings.Join(notes, ", "))
	}
	switch a := d.Assignment; {
	case a != nil:
		name := a.PractitionerID
		if a.PractitionerName != "" {
			name = a.PractitionerName + " (" + a.PractitionerID + ")"
		}
		verb := "visit"
		if d.DryRun {
			verb = "would visit"
		}
		row(verb, "%s to %s, %s, for %s, %.0f min travel", when(a.Appointment.Start), a.Appointment.End.In(loc).Format("15:04"), name, a.ServiceID, a.TravelMinutes)
		if a.Why != "" {
			row("", "%s", a.Why)
		}
	case d.UnassignedReason != "":
		row("visit", "none: %s", d.UnassignedReason)
	default:
		row("visit", "none: the pathway has no visit")
	}
	if d.ManualAllocation {
		row("ACTION", "allocate manually: no service or practitioner could be found automatically")
	}
	return w.Flush()
}

// spanText reads an ISO 8601 response target as words, keeping the code a person may search for.
func spanText(iso string) string {
	d, err := rules.ParseDuration(iso)
	switch {
	case err != nil || d <= 0:
		return iso
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%s (%s)", plural(int(d/(24*time.Hour)), "day"), iso)
	case d%time.Hour == 0:
		return fmt.Sprintf("%s (%s)", plural(int(d/time.Hour), "hour"), iso)
	}
	return fmt.Sprintf("%s (%s)", d, iso)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// valueText prints a JSON value as a person reads it.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return x
	case float64:
		return fmt.Sprintf("%g", x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// checkJSON refuses input that is not JSON with the line and column of the mistake, as editors
// count them, before anything reads it.
func checkJSON(command, source string, data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v struct{}
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return nil
	}
	line, col := lineCol(data, se.Offset, se.Offset >= int64(len(data)) && strings.Contains(se.Error(), "unexpected end"))
	if source == "-" {
		source = "standard input"
	}
	return cli.Exit(fmt.Sprintf("carepath %s: %s:%d:%d: not valid JSON: %s; nothing was stored", command, source, line, col, se.Error()), ExitInvalid)
}

// lineCol is the line and column (both from 1, the column in characters) of the byte a JSON
// syntax error's offset points after, or of the end of the input when it ended too soon.
func lineCol(data []byte, offset int64, ended bool) (int, int) {
	pos := len(data)
	if !ended {
		pos = int(min(max(offset-1, 0), int64(len(data))))
	}
	line := 1 + bytes.Count(data[:pos], []byte("\n"))
	start := bytes.LastIndexByte(data[:pos], '\n') + 1
	return line, utf8.RuneCount(data[start:pos]) + 1
}
