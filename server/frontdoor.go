package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/internal/strictjson"
	"github.com/carepath/carepath/triage"
)

// Bounds of the numbers and dates the API reads. Anything outside is refused with 422 before it
// reaches storage, where PostgreSQL (32-bit integers, a smaller range of dates than Go's) would
// otherwise fail with a 500 that SQLite never shows.
const (
	maxVersion     = math.MaxInt32 // versions are stored as 32-bit integers
	maxImpactDays  = 3660          // ten years of stored decisions is the longest impact preview
	defaultImpact  = 90            // days an impact preview covers when none are given
	minYear        = 1900          // dates outside 1900–9999 are typing mistakes
	maxYear        = 9999
	maxIdempotency = 255
)

// frontDoor checks what every route reads before the router picks one: the path and query must
// be text that storage can hold (UTF-8 without U+0000). Requests that no route matches get
// problem details, as every other error does, instead of the router's plain text: 404, or 405
// with the Allow header the router set.
func (s *Server) frontDoor(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !storable(r.URL.Path) {
			s.writeFieldProblem(w, r, http.StatusUnprocessableEntity, "path", "contains the character U+0000 or bytes that are not UTF-8; ids are plain text")
			return
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				s.writeFieldProblem(w, r, http.StatusBadRequest, "query", "is not a well-formed query string: each parameter is name=value, with % followed by two hex digits")
				return
			}
			for name, values := range q {
				for _, v := range values {
					if !storable(name) || !storable(v) {
						s.writeFieldProblem(w, r, http.StatusUnprocessableEntity, queryField(name), "contains the character U+0000 or bytes that are not UTF-8")
						return
					}
				}
			}
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			mux.ServeHTTP(&unmatchedWriter{ResponseWriter: w, s: s, r: r}, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// storable reports whether s is text both databases can hold.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// queryField names a query parameter in a problem, quoting a name that is not plain.
func queryField(name string) string {
	if storable(name) {
		return name
	}
	return "query parameter " + strconv.QuoteToASCII(name)
}

// unmatchedWriter turns the router's plain-text 404 and 405 into problem details; the Allow header
// the router set for 405 is kept.
type unmatchedWriter struct {
	http.ResponseWriter
	s         *Server
	r         *http.Request
	rewritten bool
}

func (u *unmatchedWriter) WriteHeader(code int) {
	if u.rewritten {
		return
	}
	if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		u.ResponseWriter.WriteHeader(code)
		return
	}
	u.rewritten = true
	h := u.Header()
	h.Del("Content-Type")
	h.Del("X-Content-Type-Options")
	p := Problem{Status: code, Instance: u.r.URL.Path}
	if code == http.StatusNotFound {
		p.Type, p.Title = "not-found", "Not found"
		p.Detail = fmt.Sprintf("no route answers %s %s; the routes are listed in the OpenAPI document at %s", u.r.Method, u.r.URL.Path, openAPIPath)
	} else {
		p.Type, p.Title = "method-not-allowed", "Method not allowed"
		p.Detail = fmt.Sprintf("%s answers %s, not %s", u.r.URL.Path, h.Get("Allow"), u.r.Method)
	}
	if wantsFHIR(u.r) {
		u.s.writeOutcome(u.ResponseWriter, p, nil)
		return
	}
	u.s.writeProblemBody(u.ResponseWriter, p)
}

func (u *unmatchedWriter) Write(b []byte) (int, error) {
	if u.rewritten {
		return len(b), nil // the router's plain text, replaced above
	}
	return u.ResponseWriter.Write(b)
}

// writeProblemBody writes p, whose Type is the short name, as problem details.
func (s *Server) writeProblemBody(w http.ResponseWriter, p Problem) {
	p.Type = problemBase + p.Type
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		s.Logger.Debug("unable to write problem", "error", err)
	}
}

// writeFieldProblem refuses a request for one field or parameter, naming it.
func (s *Server) writeFieldProblem(w http.ResponseWriter, r *http.Request, status int, field, reason string) {
	p := Problem{Status: status, Instance: r.URL.Path, Detail: field + ": " + reason,
		Errors: []triage.Problem{{Field: field, Reason: reason}}}
	switch status {
	case http.StatusBadRequest:
		p.Type, p.Title = "malformed", "Malformed request"
	case http.StatusUnsupportedMediaType:
		p.Type, p.Title = "unsupported-media-type", "Unsupported media type"
	default:
		p.Type, p.Title = "invalid", "Invalid request"
	}
	if wantsFHIR(r) {
		s.writeOutcome(w, p, nil)
		return
	}
	s.writeProblemBody(w, p)
}

// jsonBody refuses, with 415, a request whose body is declared as something other than JSON:
// application/json, a +json type such as application/fhir+json, or FHIR's older
// application/json+fhir, in UTF-8. A body sent without a Content-Type is taken as JSON, as
// clients written before this check did; an empty body is left to the handler.
func (s *Server) jsonBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if ct == "" || r.ContentLength == 0 {
			h(w, r)
			return
		}
		if reason := jsonMediaType(ct); reason != "" {
			if r.Method == http.MethodPost {
				w.Header().Set("Accept-Post", "application/json, application/fhir+json")
			}
			s.writeFieldProblem(w, r, http.StatusUnsupportedMediaType, "Content-Type", reason)
			return
		}
		h(w, r)
	}
}

// jsonMediaType says what is wrong with a Content-Type for a JSON body, or "" when it is JSON.
func jsonMediaType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Sprintf("%q is not a media type; send application/json", ct)
	}
	typ, sub, _ := strings.Cut(mt, "/")
	if typ != "application" || sub != "json" && !strings.HasSuffix(sub, "+json") && sub != "json+fhir" {
		return fmt.Sprintf("the body must be JSON (application/json, or application/fhir+json for FHIR), not %s", mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Sprintf("JSON is read as UTF-8, not %s", cs)
	}
	return ""
}

// decodeBody reads a small JSON request body into v, as strictly as assessments are read: no
// field given twice or in another case, no U+0000, no unknown field, one value. An empty body
// leaves v as it is when optional. Errors name the field, in words for a person.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return failure.Errorf(failure.Invalid, "body: is empty; send a JSON object")
	}
	if err := checkStrictJSON(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	return nil
}

// jsonProblem words a decoding error for a person, naming the field.
func jsonProblem(err error) error {
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return failure.Errorf(failure.Invalid, "%s: must be %s, not a JSON %s", field, jsonKind(te.Type), te.Value)
	case errors.As(err, &pe):
		return failure.Errorf(failure.Invalid, "body: a time is not in RFC 3339 form, such as 2026-12-01T09:00:00Z")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return failure.Errorf(failure.Invalid, "%s: is not a field of this request", name)
	}
	return failure.Errorf(failure.Invalid, "body: is not valid JSON")
}

// jsonKind names what a JSON value of Go type t must be, for a person.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "an RFC 3339 time"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "a JSON object"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "a JSON array"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a JSON string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	}
	return "a JSON number"
}

// boundedInt reads a whole number from lowest to highest; name is the parameter's, for the
// message.
func boundedInt(name, v string, lowest, highest int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lowest || n > highest {
		return 0, failure.Errorf(failure.Invalid, "%s %q: want a whole number from %d to %d", name, v, lowest, highest)
	}
	return n, nil
}

// checkDate refuses a time outside the years storage and people use.
func checkDate(name string, t time.Time) error {
	if y := t.UTC().Year(); y < minYear || y > maxYear {
		return failure.Errorf(failure.Invalid, "%s: %s is outside the years %d to %d", name, t.UTC().Format(time.RFC3339), minYear, maxYear)
	}
	return nil
}

// idempotencyKey reads the Idempotency-Key header: at most 255 visible ASCII characters (a UUID
// is typical), since it is stored and compared byte for byte.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotency {
		return "", failure.Errorf(failure.Invalid, "Idempotency-Key: is longer than %d characters", maxIdempotency)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return "", failure.Errorf(failure.Invalid, "Idempotency-Key: use only visible ASCII characters (letters, digits and punctuation), such as a UUID")
		}
	}
	return key, nil
}

// fieldProblems names the field of an invalid-request error whose message is "field: reason",
// "field "value": reason" or "Name header: reason", so that every 422 lists its fields as
// assessments do.
func fieldProblems(err error) []triage.Problem {
	var fe *failure.Error
	if !errors.As(err, &fe) || fe.Code != failure.Invalid {
		return nil
	}
	field, reason, ok := strings.Cut(fe.Message, ": ")
	if name, value, quoted := strings.Cut(field, ` "`); quoted && strings.HasSuffix(value, `"`) {
		field = name
	}
	field = strings.TrimSuffix(field, " header")
	if !ok || field == "" || strings.ContainsAny(field, " \n") {
		return nil
	}
	return []triage.Problem{{Field: field, Reason: reason}}
}

// validationDetail is the detail of an invalid assessment: its problems in a sentence, where the
// error itself is a list for logs.
func validationDetail(ve *triage.ValidationError) string {
	parts := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		parts[i] = p.Field + ": " + p.Reason
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strconv.Itoa(len(parts)) + " problems: " + strings.Join(parts, "; ")
}

// goPackages are the prefixes Carepath's packages put on their errors ("rules: unable to …"),
// which say where in the code a message arose: useful in logs, noise to the person reading a
// problem.
var goPackages = []string{"audit", "config", "database", "directory", "governance", "identity", "privacy", "replay",
	"routing", "rules", "server", "triage", "json", "yaml"}

// personDetail is an error's message without the package prefixes of the chain it came through.
func personDetail(err error) string {
	msg := err.Error()
	for again := true; again; {
		again = false
		for _, pkg := range goPackages {
			if trimmed, ok := strings.CutPrefix(msg, pkg+": "); ok {
				msg, again = trimmed, true
			}
			msg = strings.ReplaceAll(msg, ": "+pkg+": ", ": ")
		}
	}
	return msg
}

// gateProblem is the problem details of a draft refused by the review gate, with the gate's
// report as an extension member.
type gateProblem struct {
	Problem
	Gate any `json:"gate"`
}

// writeGateProblem refuses a submission for review whose draft did not pass the gate: it stays a
// draft, and the report says why.
func (s *Server) writeGateProblem(w http.ResponseWriter, r *http.Request, err error, gate any) {
	p := gateProblem{Problem: Problem{Type: problemBase + "gate-failed", Title: "The draft did not pass the review gate", Status: http.StatusUnprocessableEntity,
		Detail: personDetail(err) + "; it stays a draft", Instance: r.URL.Path}, Gate: gate}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		s.Logger.Debug("unable to write problem", "error", err)
	}
}

// maxProximity bounds the proximity filter of the services directory, in metres.
const maxProximity = 1_000_000

// paramCeiling is the highest value of each whole-number query parameter of the services
// directory: ages are human, a page number past a million is a mistake.
func paramCeiling(name string) int {
	switch name {
	case "minimum_age", "maximum_age":
		return 150
	case "per_page":
		return 500
	}
	return 1_000_000
}

// checkStrictJSON refuses a body of type t with a field given twice or wrongly cased, or with
// U+0000, naming the first; a body that is not JSON is left to its decoder.
func checkStrictJSON(body []byte, t reflect.Type) error {
	var se *strictjson.Error
	if err := strictjson.Check(body, strictjson.ShapeOf(t)); errors.As(err, &se) {
		return failure.Errorf(failure.Invalid, "%s: %s", pathOrBody(se.Problems[0].Path), se.Problems[0].Reason)
	}
	return nil
}

// pathOrBody names the document itself "body" where a path into it is empty.
func pathOrBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}
