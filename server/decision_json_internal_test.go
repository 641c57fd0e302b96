package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// sampleDecision is a stored decision with every part filled, its strings, numbers and input
// taken from s, f, i and input.
func sampleDecision(s string, f float64, i int64, input []byte) triage.Decision {
	o := sampleOutcome(s, f, i)
	zone := time.FixedZone(s, int(i%(18*3600)))
	return triage.Decision{
		ID: "d-" + s, Form: o.Form, FormVersion: o.FormVersion, SubjectRef: s, Scores: o.Scores, RuleSet: o.RuleSet,
		Outcome: rules.Outcome{Pathway: o.Pathway, Priority: o.Priority, RespondWithin: s, Flags: o.Flags},
		Rule:    o.Rule, Explanation: o.Explanation,
		Authored: o.Authored.In(zone), Decided: o.Authored.Add(time.Duration(i % int64(time.Hour))),
		EngineVersion: triage.EngineVersion, Input: input, InputSHA256: strings.Repeat("0f", 32),
		Team: s, SubmittedBy: "carol" + s,
		Services: []directory.Candidate{
			{ServiceID: s, ServiceName: s, OrganizationID: s, LocationID: s + "-loc", TravelMinutes: &f, Available: &f,
				OpensAt: o.Authored.In(zone), Reasons: []string{s, "open"}},
			{ServiceID: "plain", ServiceName: "Plain", OpensAt: o.Authored},
		},
		RejectedServices: []directory.Rejection{{ServiceID: s, ServiceName: s, Reason: directory.ReasonCode(s), Detail: s}},
		Assignment: &triage.Assignment{PractitionerID: s, PractitionerName: s, ServiceID: s, TravelMinutes: f,
			Appointment: triage.AppointmentSlot{ID: "a-" + s, Start: o.Authored.In(zone), End: o.Authored.Add(time.Hour)},
			Continuity:  i%2 == 0, Why: s},
		UnassignedReason: s, ManualAllocation: i%3 == 0,
	}
}

// checkAppended fails t unless appendTo writes what encoding/json writes for v.
func checkAppended[T any](t testing.TB, v *T, appendTo func([]byte, *T) ([]byte, bool)) {
	t.Helper()
	want, err := referenceJSON(t, v)
	if err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	got, ok := appendTo(nil, v)
	if !ok || !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("ok %v; differs at byte %d:\n got  %.200q\n want %.200q", ok, i, got[i:], want[i:])
	}
}

// fuzzAppended fails t when appendTo writes other than encoding/json for v, or writes what
// encoding/json refuses.
func fuzzAppended[T any](t *testing.T, v *T, appendTo func([]byte, *T) ([]byte, bool)) {
	want, err := referenceJSON(t, v)
	got, ok := appendTo(nil, v)
	if err != nil {
		if ok {
			t.Fatalf("encoding/json refuses (%v), the fast path wrote %.200q", err, got)
		}
		return
	}
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("ok %v\n got  %.300q\n want %.300q", ok, got, want)
	}
}

// checkDecision fails t unless appendDecision writes what encoding/json writes for d.
func checkDecision(t testing.TB, d *triage.Decision) {
	t.Helper()
	checkAppended(t, d, appendDecision)
}

// TestDecisionJSONMatchesEncodingJSON: the stored decision's response is written as encoding/json
// writes it, byte for byte, for the corners of strings, numbers, times and inputs and for every part
// present or absent, and steps aside for what encoding/json refuses.
func TestDecisionJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline", "\x00\x1f\x7f",
		"é 中文 🙂", "\u2028\u2029", "bad \xff utf-8 \xe2\x80"}
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 12.25, 1e21, 1e-7, 5e-324}
	inputs := [][]byte{nil, []byte(`{}`), []byte(`null`), []byte(" {\n  \"form\" : \"x\",\t\"a\": [1, 2.50, true, null, \"<&>\\u2028\"] }\n"),
		[]byte(`{"s":"` + "\xff\u2028" + `"}`)}
	for _, s := range strs {
		for _, f := range floats {
			for _, i := range []int64{0, -7, 3, 5401, math.MaxInt64} {
				for _, in := range inputs {
					d := sampleDecision(s, f, i, in)
					checkDecision(t, &d)
				}
			}
		}
	}
	// Absent parts: omitted when empty, null when nil, and empty slices kept.
	checkDecision(t, &triage.Decision{})
	checkDecision(t, &triage.Decision{Services: []directory.Candidate{}, RejectedServices: []directory.Rejection{},
		Outcome: rules.Outcome{Flags: []string{}}, Scores: map[string]rules.Value{}, Input: json.RawMessage(`[]`),
		Assignment: &triage.Assignment{}})

	refused := map[string]triage.Decision{
		"NaN score":         sampleDecision("x", math.NaN(), 1, nil),
		"infinite travel":   sampleDecision("x", math.Inf(1), 1, nil),
		"year 10000":        {Decided: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"offset of a day":   {Authored: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))},
		"empty input":       {Input: json.RawMessage{}},
		"input not JSON":    {Input: json.RawMessage(`{"a":`)},
		"two values":        {Input: json.RawMessage(`1 2`)},
		"appointment early": {Assignment: &triage.Assignment{Appointment: triage.AppointmentSlot{Start: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}},
	}
	for name, d := range refused {
		if _, ok := appendDecision(nil, &d); ok {
			t.Errorf("%s: accepted what encoding/json refuses", name)
		}
		if _, err := referenceJSON(t, &d); err == nil {
			t.Errorf("%s: encoding/json accepts it, so the fast path need not refuse it", name)
		}
	}
}

// TestStoredDecisionsJSON: decisions the engine makes and stores from the case generator's
// assessments of both forms (booked, left unassigned, without a service, with rejected services,
// and replayed for a repeated idempotency key) are written as encoding/json writes them.
func TestStoredDecisionsJSON(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		now := func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }
		forms, rs := triage.NewSQLStore(db), rules.NewSQLStore(db)
		if _, err := fixtures.Load(ctx, forms, rs, now()); err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		engine := &triage.Engine{Store: forms, Rules: rules.NewRegistry(rs), Now: now, Placement: triage.NewPlacement(db, rs, ""),
			NewID: func() string { return fmt.Sprintf("d%d", n.Add(1)) }}
		seen := map[string]int{}
		for _, form := range fixtures.GeneratedForms {
			var lines bytes.Buffer
			if err := fixtures.Generate(&lines, fixtures.Generation{Form: form, Cases: 120, Seed: 13,
				From: now().AddDate(0, 0, -3), To: now()}); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(&lines)
			for i := 0; sc.Scan(); i++ {
				opts := triage.Options{Team: "central", SubmittedBy: "u-carol", IncludeRejected: i%3 == 0}
				if i%10 == 0 {
					opts.IdempotencyKey = fmt.Sprintf("%s-%d", form, i)
				}
				line := sc.Bytes()
				if i%7 == 3 {
					// Far outside the demo area, where no service reaches.
					line = bytes.Replace(line, []byte(`"location":{"lat":5`), []byte(`"location":{"lat":4`), 1)
				}
				d, _, err := engine.Submit(ctx, line, opts)
				if err != nil {
					t.Fatalf("%s case %d: %v", form, i, err)
				}
				checkDecision(t, d)
				seen[form]++
				switch {
				case d.Assignment != nil:
					seen["booked"]++
				case d.UnassignedReason != "":
					seen["unassigned"]++
				}
				if len(d.Services) == 0 {
					seen["no service"]++
				}
				if len(d.RejectedServices) > 0 {
					seen["rejected services"]++
				}
				if len(d.Explanation.Evaluated) > 0 {
					seen["explained"]++
				}
				if opts.IdempotencyKey != "" {
					again, created, err := engine.Submit(ctx, line, opts)
					if err != nil || created {
						t.Fatalf("%s case %d replayed: created %v, %v", form, i, created, err)
					}
					checkDecision(t, again)
					seen["replayed"]++
				}
			}
		}
		t.Logf("shapes written: %v", seen)
		for _, shape := range append([]string{"booked", "unassigned", "no service", "rejected services", "explained", "replayed"}, fixtures.GeneratedForms...) {
			if seen[shape] == 0 {
				t.Errorf("no decision %s among the generated cases, so that shape went unchecked", shape)
			}
		}
	})
}

// TestAppendedResponses: a response written by hand carries the headers writeJSON sends, its length,
// and the same body compact or indented, whichever the request asked for.
func TestAppendedResponses(t *testing.T) {
	s := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d := sampleDecision("<plain> & \u2028", 0.5, 9, []byte(` {"a": [1, {}, []]} `))
	o := sampleOutcome("watchful-waiting", 1e-7, 3)
	for _, indent := range []bool{false, true} {
		for name, write := range map[string]func(w http.ResponseWriter) (reference func(http.ResponseWriter)){
			"decision": func(w http.ResponseWriter) func(http.ResponseWriter) {
				writeAppended(s, w, http.StatusCreated, &d, appendDecision)
				return func(w http.ResponseWriter) { s.writeJSON(w, http.StatusCreated, d) }
			},
			"decide": func(w http.ResponseWriter) func(http.ResponseWriter) {
				writeAppended(s, w, http.StatusOK, &o, appendDecideOutcome)
				return func(w http.ResponseWriter) { s.writeJSON(w, http.StatusOK, o) }
			},
		} {
			got, want := httptest.NewRecorder(), httptest.NewRecorder()
			write(&statusRecorder{ResponseWriter: got, indent: indent})(&statusRecorder{ResponseWriter: want, indent: indent})
			if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("%s indented %v: %d %.300q, want %d %.300q", name, indent, got.Code, got.Body, want.Code, want.Body)
			}
			if ct := got.Header().Get("Content-Type"); ct != want.Header().Get("Content-Type") {
				t.Errorf("%s indented %v: Content-Type %q", name, indent, ct)
			}
			if cl := got.Header().Get("Content-Length"); cl != fmt.Sprint(got.Body.Len()) {
				t.Errorf("%s indented %v: Content-Length %q for %d bytes", name, indent, cl, got.Body.Len())
			}
			if bytes.Contains(got.Body.Bytes(), []byte("\n  ")) != indent {
				t.Errorf("%s indented %v: %.100q", name, indent, got.Body)
			}
		}
	}
}

func FuzzDecisionJSON(f *testing.F) {
	f.Add("plain", 1.5, int64(3), []byte(`{"form":"mental-health","answers":{"a":1}}`))
	f.Add("<&>\u2028\xff\"\\\n", 1e-7, int64(-3601), []byte(" [1 , \"\\u2028<\" ]\n"))
	f.Add("", 1e21, int64(0), []byte(nil))
	f.Add("x", 0.0, int64(86399), []byte(`{"a":`))
	f.Fuzz(func(t *testing.T, s string, x float64, i int64, input []byte) {
		d := sampleDecision(s, x, i, input)
		fuzzAppended(t, &d, appendDecision)
	})
}

// BenchmarkDecisionJSON compares the stored decision's two encodings on one with every part.
func BenchmarkDecisionJSON(b *testing.B) {
	d := sampleDecision("talking-therapies-step2", 12.5, 9, []byte(`{"form":"mental-health","subject":{"ref":"s-1"},"answers":{"phq9_1":2}}`))
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referenceJSON(b, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf, _ = appendDecision(buf[:0], &d)
		}
	})
}
