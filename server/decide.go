package server

import (
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

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
	if indented(w) {
		s.writeJSON(w, http.StatusOK, out)
		return
	}
	buf := decideBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledDecideBuffer {
			decideBuffers.Put(buf)
		}
	}()
	b, ok := appendDecideOutcome((*buf)[:0], &out)
	*buf = b
	if !ok {
		s.writeJSON(w, http.StatusOK, out) // a value the fast path does not write; encoding/json says why
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
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

// decideBuffers holds response buffers between requests: the reflective encoder cost a third of a
// decision's CPU and most of its allocations, which this path, the busiest there is, can avoid.
var decideBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledDecideBuffer keeps an unusually large answer's buffer out of the pool.
const maxPooledDecideBuffer = 64 << 10

// appendDecideOutcome appends o as encoding/json writes it for writeJSON (compact, HTML left
// unescaped, a final newline), byte for byte, which TestDecideJSONMatchesEncodingJSON and
// FuzzDecideJSON hold it to. It reports false, having appended part of it, for what it does not
// write: a double that is not finite or a time outside years 0 to 9999, which encoding/json refuses.
func appendDecideOutcome(b []byte, o *decideOutcome) ([]byte, bool) {
	ok := true
	b = append(b, `{"form":`...)
	b = appendJSONString(b, o.Form, false)
	b = append(b, `,"form_version":`...)
	b = strconv.AppendInt(b, int64(o.FormVersion), 10)
	b = append(b, `,"ruleset":{"id":`...)
	b = appendJSONString(b, o.RuleSet.ID, false)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(o.RuleSet.Version), 10)
	b = append(b, `,"sha256":`...)
	b = appendJSONString(b, o.RuleSet.SHA256, false)
	b = append(b, `},"pathway":`...)
	b = appendJSONString(b, o.Pathway, false)
	b = append(b, `,"priority":`...)
	b = appendJSONString(b, string(o.Priority), false)
	b = append(b, `,"respond_within":`...)
	b = appendJSONString(b, o.RespondWithin, false)
	b = append(b, `,"flags":`...)
	b = appendJSONStrings(b, o.Flags)
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, o.Rule, false)

	e := &o.Explanation
	b = append(b, `,"explanation":{"rule":`...)
	b = appendJSONString(b, e.Rule, false)
	b = append(b, `,"because":`...)
	b = appendJSONString(b, e.Because, false)
	if len(e.Variables) > 0 {
		b = append(b, `,"variables":[`...)
		for i := range e.Variables {
			v := &e.Variables[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, v.Name, false)
			b = append(b, `,"expr":`...)
			b = appendJSONString(b, v.Expr, false)
			b = append(b, `,"value":`...)
			b = appendJSONValue(b, v.Value, &ok)
			b = append(b, `,"values":`...)
			b = appendNamedValues(b, v.Values, &ok)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"evaluated":`...)
	if e.Evaluated == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range e.Evaluated {
			ev := &e.Evaluated[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendJSONString(b, ev.Rule, false)
			b = append(b, `,"when":`...)
			b = appendJSONString(b, ev.When, false)
			b = append(b, `,"result":`...)
			b = strconv.AppendBool(b, ev.Result)
			b = append(b, `,"values":`...)
			b = appendNamedValues(b, ev.Values, &ok)
			if len(ev.Parts) > 0 {
				b = append(b, `,"parts":[`...)
				for j := range ev.Parts {
					pv := &ev.Parts[j]
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"op":`...)
					b = appendJSONString(b, pv.Op, false)
					b = append(b, `,"expr":`...)
					b = appendJSONString(b, pv.Expr, false)
					b = append(b, `,"value":`...)
					b = appendJSONValue(b, pv.Value, &ok)
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, '}')

	b = append(b, `,"scores":`...)
	if o.Scores == nil {
		b = append(b, "null"...)
	} else {
		// encoding/json writes a map's keys in order; a form has a handful of scores.
		var stack [16]string
		names := stack[:0]
		for name := range o.Scores {
			names = append(names, name)
		}
		slices.Sort(names)
		b = append(b, '{')
		for i, name := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name, false)
			b = append(b, ':')
			b = appendJSONValue(b, o.Scores[name], &ok)
		}
		b = append(b, '}')
	}
	b = append(b, `,"authored":`...)
	if y := o.Authored.Year(); y < 0 || y > 9999 {
		ok = false
	}
	b = append(b, '"')
	b = o.Authored.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","engine_version":`...)
	b = appendJSONString(b, o.EngineVersion, false)
	b = append(b, "}\n"...)
	return b, ok
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s, false)
	}
	return append(b, ']')
}

func appendNamedValues(b []byte, vs []rules.NamedValue, ok *bool) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, vs[i].Name, false)
		b = append(b, `,"value":`...)
		b = appendJSONValue(b, vs[i].Value, ok)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONValue writes a rules.Value as its MarshalJSON does: through json.Marshal, so a string
// has <, > and & escaped even though the response around it does not.
func appendJSONValue(b []byte, v rules.Value, ok *bool) []byte {
	switch v.Kind {
	case rules.KindInt:
		return strconv.AppendInt(b, v.I, 10)
	case rules.KindDouble:
		return appendJSONFloat(b, v.F, ok)
	case rules.KindBool:
		return strconv.AppendBool(b, v.B)
	case rules.KindString:
		return appendJSONString(b, v.S, true)
	}
	return append(b, "null"...)
}

// appendJSONFloat formats f as encoding/json does: like ES6, plain digits unless very small or large.
func appendJSONFloat(b []byte, f float64, ok *bool) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		*ok = false
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029
// are escaped, and with html so are <, > and &.
func appendJSONString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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
