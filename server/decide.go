package server

import (
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Defaults of the per-principal limit on POST /v1/decide, when Server.DecideRate and
// Server.DecideBurst are zero.
const (
	DefaultDecideRate  = 50.0
	DefaultDecideBurst = 100
)

// maxDecideBuckets bounds the limiter's memory: past it, buckets idle long enough to have
// refilled are dropped (they are the same as a new one), then arbitrary ones if need be.
const maxDecideBuckets = 10_000

// decideOutcome is what POST /v1/decide answers: the decision as it would be made now, with the
// scores and explanation, and nothing of the person it was made about.
type decideOutcome struct {
	Form          string                 `json:"form"`
	FormVersion   int                    `json:"form_version"`
	RuleSet       triage.RuleSetRef      `json:"ruleset"`
	Pathway       string                 `json:"pathway"`
	Priority      rules.Priority         `json:"priority"`
	RespondWithin string                 `json:"respond_within"`
	Flags         []string               `json:"flags"`
	Rule          string                 `json:"rule"`
	Explanation   rules.Explanation      `json:"explanation"`
	Scores        map[string]rules.Value `json:"scores"`
	Authored      time.Time              `json:"authored"`
	EngineVersion string                 `json:"engine_version"`
}

// postDecide decides a submission without storing it, for an online form that shows the pathway
// before the assessment is submitted. It parses and validates exactly as POST /v1/assessments
// does, so a body refused here is refused there with the same problems. Nothing is written: no
// decision, case, booking, outbox event or access record. There is no access record because
// nothing about a person is stored or read; the answers go no further than this response.
// Services are not matched, as that would read the gazetteer and the directory on a path meant
// to cost no more than the rules.
func (s *Server) postDecide(w http.ResponseWriter, r *http.Request) {
	p := identity.FromContext(r.Context())
	if ok, wait := s.decideLimit.allow(p.Subject, time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.writeProblemBody(w, Problem{Type: "too-many-requests", Title: "Too many requests", Status: http.StatusTooManyRequests,
			Instance: r.URL.Path, Detail: "over the limit of decisions without storing for this account; wait and try again"})
		return
	}
	body, err := readSized(http.MaxBytesReader(w, r.Body, triage.MaxSubmissionBytes), r.ContentLength, triage.MaxSubmissionBytes)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	sub, err := triage.ParseSubmission(body)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	d, err := s.Engine.Decide(r.Context(), sub, s.Engine.Now())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	flags := d.Outcome.Flags
	if flags == nil {
		flags = []string{}
	}
	out := decideOutcome{Form: d.Form, FormVersion: d.FormVersion, RuleSet: d.RuleSet,
		Pathway: d.Outcome.Pathway, Priority: d.Outcome.Priority, RespondWithin: d.Outcome.RespondWithin, Flags: flags,
		Rule: d.Rule, Explanation: d.Explanation, Scores: d.Scores, Authored: d.Authored.UTC(), EngineVersion: d.EngineVersion}
	writeAppended(s, w, http.StatusOK, &out, appendDecideOutcome)
}

// readSized reads rd to its end into one buffer of the declared length, where io.ReadAll would
// start small and copy as it grows; a length that is unknown or over limit reads as io.ReadAll.
func readSized(rd io.Reader, length, limit int64) ([]byte, error) {
	if length <= 0 || length > limit {
		return io.ReadAll(rd)
	}
	b := make([]byte, 0, length+1) // a byte to spare, so the end is seen without growing
	for {
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = slices.Grow(b, 512)
		}
	}
}

// appendDecideOutcome appends o as writeJSON writes it, byte for byte, which
// TestDecideJSONMatchesEncodingJSON and FuzzDecideJSON hold it to. It reports false, having
// appended part of it, for what encoding/json refuses: a double that is not finite or a time
// MarshalJSON refuses.
func appendDecideOutcome(b []byte, o *decideOutcome) ([]byte, bool) {
	ok := true
	b = append(b, `{"form":`...)
	b = appendJSONString(b, o.Form, false)
	b = append(b, `,"form_version":`...)
	b = strconv.AppendInt(b, int64(o.FormVersion), 10)
	b = append(b, `,"ruleset":`...)
	b = appendRuleSetRef(b, o.RuleSet.ID, o.RuleSet.Version, o.RuleSet.SHA256)
	b = append(b, ',')
	b = appendOutcomeFields(b, rules.Outcome{Pathway: o.Pathway, Priority: o.Priority, RespondWithin: o.RespondWithin, Flags: o.Flags})
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, o.Rule, false)
	b = append(b, `,"explanation":`...)
	b = appendExplanation(b, &o.Explanation, &ok)
	b = append(b, `,"scores":`...)
	b = appendScores(b, o.Scores, &ok)
	b = append(b, `,"authored":`...)
	b = appendJSONTime(b, o.Authored, &ok)
	b = append(b, `,"engine_version":`...)
	b = appendJSONString(b, o.EngineVersion, false)
	b = append(b, "}\n"...)
	return b, ok
}

// tokenBuckets limits requests per key (a principal's subject) with a token bucket each:
// rate tokens a second, up to burst held.
type tokenBuckets struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newTokenBuckets(rate float64, burst int) *tokenBuckets {
	if rate <= 0 {
		rate = DefaultDecideRate
	}
	if burst <= 0 {
		burst = DefaultDecideBurst
	}
	return &tokenBuckets{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// allow takes a token for key and reports whether there was one, and if not, how long until
// there will be.
func (t *tokenBuckets) allow(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[key]
	if b == nil {
		t.evict(now)
		b = &bucket{tokens: t.burst, last: now}
		t.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(t.burst, b.tokens+elapsed.Seconds()*t.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / t.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// evict makes room for one more bucket when the map is full: first the buckets that have
// refilled (forgetting them changes nothing), then any, which at worst forgives one key's debt.
func (t *tokenBuckets) evict(now time.Time) {
	if len(t.buckets) < maxDecideBuckets {
		return
	}
	full := time.Duration(t.burst / t.rate * float64(time.Second))
	for k, b := range t.buckets {
		if now.Sub(b.last) >= full {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < maxDecideBuckets {
			break
		}
		delete(t.buckets, k)
	}
}
