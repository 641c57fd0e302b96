package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server"
	"github.com/carepath/carepath/triage"
)

// loadOpenAPI loads and validates the served document. kin-openapi reads OpenAPI 3.1 and
// validates schemas under JSON Schema 2020-12 when the document says 3.1.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(server.OpenAPI())
	if err != nil {
		t.Fatalf("OpenAPI document does not load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("OpenAPI document is version %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("OpenAPI document is not valid: %v", err)
	}
	return doc
}

// docPath is the OpenAPI path of a Go route pattern: Go writes an exact match of a path ending
// in a slash (/, /v1/) with {$}, OpenAPI as the path itself.
func docPath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return method, strings.TrimSuffix(path, "{$}")
}

// goPattern is the Go route pattern of an OpenAPI operation.
func goPattern(method, path string) string {
	if strings.HasSuffix(path, "/") {
		path += "{$}"
	}
	return method + " " + path
}

// TestOpenAPIDocumentsEveryRoute holds the document to the router: every route is documented
// with the permission and security the router gives it, and every documented operation is a
// route.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	s := &server.Server{}
	s.Handler()
	routes := map[string]identity.Permission{}
	for _, rt := range s.Routes() {
		routes[rt.Pattern] = rt.Permission
		if rt.Page {
			continue // web pages are for browsers; the document describes the API
		}
		method, path := docPath(rt.Pattern)
		item := doc.Paths.Value(path)
		var op *openapi3.Operation
		if item != nil {
			op = item.GetOperation(method)
		}
		if op == nil {
			t.Errorf("the OpenAPI document lacks the route %s", rt.Pattern)
			continue
		}
		if got, _ := op.Extensions["x-carepath-permission"].(string); got != string(rt.Permission) {
			t.Errorf("%s: the document says permission %q; the router says %q", rt.Pattern, got, rt.Permission)
		}
		public := rt.Permission == identity.Public
		switch {
		case public && (op.Security == nil || len(*op.Security) != 0):
			t.Errorf("%s is public: its security must be [] (no credentials)", rt.Pattern)
		case !public && op.Security != nil:
			t.Errorf("%s needs %s: it must keep the document's security (a bearer token or a session)", rt.Pattern, rt.Permission)
		case !public && responseOf(op, "401") == nil:
			t.Errorf("%s needs %s: it must document 401", rt.Pattern, rt.Permission)
		}
		if responseOf(op, "default") == nil {
			t.Errorf("%s documents no default (problem details) response", rt.Pattern)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			pattern := goPattern(method, path)
			if _, ok := routes[pattern]; !ok && !strings.HasPrefix(path, "/auth/oidc/") { // only with single sign-on; TestOpenAPISingleSignOnRoutes
				t.Errorf("the OpenAPI document documents %s, which the router does not serve", pattern)
			}
		}
	}
	if len(doc.Components.SecuritySchemes) != 2 || doc.Components.SecuritySchemes["bearerToken"] == nil || doc.Components.SecuritySchemes["sessionCookie"] == nil {
		t.Errorf("security schemes %v, want bearerToken and sessionCookie", doc.Components.SecuritySchemes)
	}
}

func responseOf(op *openapi3.Operation, status string) *openapi3.ResponseRef {
	if op.Responses == nil {
		return nil
	}
	return op.Responses.Value(status)
}

// TestOpenAPISingleSignOnRoutes checks the routes that exist only with single sign-on against the
// document, through the policy table the README also holds them to.
func TestOpenAPISingleSignOnRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, pattern := range []string{"GET /auth/oidc/login", "GET /auth/oidc/callback"} {
		method, path := docPath(pattern)
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("the OpenAPI document lacks %s", pattern)
			continue
		}
		if perm, _ := item.GetOperation(method).Extensions["x-carepath-permission"].(string); perm != string(identity.Public) {
			t.Errorf("%s: permission %q, want public", pattern, perm)
		}
	}
}

// contract validates exchanges with the server against the document, finding each one's
// operation as the router finds its route.
type contract struct {
	doc    *openapi3.T
	mux    *http.ServeMux
	ops    map[string]*routers.Route
	mu     sync.Mutex
	tested map[string]bool
}

func newContract(t *testing.T) *contract {
	t.Helper()
	c := &contract{doc: loadOpenAPI(t), mux: http.NewServeMux(), ops: map[string]*routers.Route{}, tested: map[string]bool{}}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := goPattern(method, path)
			c.mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
			c.ops[pattern] = &routers.Route{Spec: c.doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return c
}

func init() {
	// Pages and the stylesheet are text for browsers; their bodies are checked only for type.
	for _, ct := range []string{"text/html", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// exchange is one request sent and what came back.
type exchange struct {
	method, path, body string
	header             map[string]string
	status             int
}

// check sends ex and validates the response, and the request when it succeeded, against the
// operation the document gives for it. A request no operation answers must be refused with
// problem details.
func (c *contract) check(t *testing.T, base string, ex exchange) []byte {
	t.Helper()
	resp, body := do(t, ex.method, base+ex.path, ex.body, ex.header)
	if resp.StatusCode != ex.status {
		t.Errorf("%s %s: %d %s, want %d", ex.method, ex.path, resp.StatusCode, body, ex.status)
		return body
	}
	req, err := http.NewRequest(ex.method, ex.path, strings.NewReader(ex.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ex.header {
		if v != anonymous {
			req.Header.Set(k, v)
		}
	}
	_, pattern := c.mux.Handler(req)
	route := c.ops[pattern]
	if route == nil {
		c.checkProblem(t, ex, resp, body)
		return body
	}
	c.mu.Lock()
	c.tested[pattern+" "+resp.Status[:3]] = true
	c.mu.Unlock()
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}}
	if resp.StatusCode/100 == 2 {
		params := map[string]string{}
		for _, p := range route.Operation.Parameters {
			if p.Value.In == "path" {
				params[p.Value.Name] = pathValue(route.Path, ex.path, p.Value.Name)
			}
		}
		in.PathParams = params
		if ex.body != "" && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: the request does not match the document: %v", ex.method, ex.path, err)
		}
		req.Body = io.NopCloser(strings.NewReader(ex.body))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: in.Options}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s → %d: the response does not match the document: %v\n%.600s", ex.method, ex.path, resp.StatusCode, err, body)
	}
	return body
}

// checkProblem holds a response to a request the document has no operation for to the
// Problem schema.
func (c *contract) checkProblem(t *testing.T, ex exchange, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s %s: %d with %s, want problem details", ex.method, ex.path, resp.StatusCode, ct)
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s %s: %v", ex.method, ex.path, err)
	}
	if err := c.doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s %s: not a Problem: %v\n%s", ex.method, ex.path, err, body)
	}
}

// pathValue reads the segment of path that template names {name}.
func pathValue(template, path, name string) string {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	for i, seg := range ts {
		if seg == "{"+name+"}" && i < len(ps) {
			p, _, _ := strings.Cut(ps[i], "?")
			return p
		}
	}
	return ""
}

// TestOpenAPIValidatesResponses runs the API's main exchanges on both databases and validates
// every response (and every successful request) against the document.
func TestOpenAPIValidatesResponses(t *testing.T) {
	fhir, err := os.ReadFile("../triage/testdata/fhir/mental-health.json")
	if err != nil {
		t.Fatal(err)
	}
	draft, err := fixtures.FS().Open("rulesets/mh-triage.v2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := io.ReadAll(draft)
	c := newContract(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "bob", "", "", identity.PolicyOfficer)
		asJSON := map[string]string{"Content-Type": "application/json"}
		nobody := map[string]string{"Authorization": anonymous}
		body := c.check(t, e.URL, exchange{method: "POST", path: "/v1/assessments", body: assessment, header: asJSON, status: http.StatusCreated})
		var d triage.Decision
		if err := jsonUnmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		located := strings.Replace(assessment, `"ref":"s-1","age":34`, `"ref":"s-9","age":34,"location":{"lat":52.95,"lon":-1.15}`, 1)
		body = c.check(t, e.URL, exchange{method: "POST", path: "/v1/assessments?include_rejected=true", body: located, status: http.StatusCreated})
		var booked triage.Decision
		if err := jsonUnmarshal(body, &booked); err != nil || booked.Assignment == nil {
			t.Fatalf("no booked visit (%v): %.300s", err, body)
		}
		date := booked.Assignment.Appointment.Start.UTC().Format("2006-01-02")
		key := map[string]string{"Idempotency-Key": "0b9e4c38-5d6f-4a1e-9a53-2f1c0d7e8a11"}
		c.check(t, e.URL, exchange{method: "POST", path: "/v1/assessments", body: strings.Replace(assessment, "s-1", "s-3", 1), header: key, status: http.StatusCreated})
		c.check(t, e.URL, exchange{method: "POST", path: "/v1/assessments", body: strings.Replace(assessment, "s-1", "s-3", 1), header: key, status: http.StatusOK})
		fhirJSON := map[string]string{"Content-Type": "application/fhir+json"}
		c.check(t, e.URL, exchange{method: "POST", path: "/v1/assessments", body: string(fhir), header: fhirJSON, status: http.StatusCreated})
		for _, ex := range []exchange{
			{method: "POST", path: "/v1/assessments", body: strings.Replace(assessment, `"phq9_3":1`, `"phq9_3":4`, 1), status: http.StatusUnprocessableEntity},
			{method: "POST", path: "/v1/assessments", body: strings.Replace(assessment, `"risk_plan":false`, `"risk_plan":true,"risk_plan":false`, 1), status: http.StatusUnprocessableEntity},
			{method: "POST", path: "/v1/assessments", body: `{"form":`, status: http.StatusBadRequest},
			{method: "POST", path: "/v1/assessments", body: assessment, header: map[string]string{"Content-Type": "text/plain"}, status: http.StatusUnsupportedMediaType},
			{method: "POST", path: "/v1/assessments", body: assessment, header: map[string]string{"Content-Type": "text/plain", "Accept": "application/fhir+json"}, status: http.StatusUnsupportedMediaType},
			{method: "POST", path: "/v1/assessments", body: strings.Replace(string(fhir), `"completed"`, `"in-progress"`, 1), header: fhirJSON, status: http.StatusUnprocessableEntity},
			{method: "POST", path: "/v1/assessments", body: assessment, header: map[string]string{"Authorization": "Bearer " + e.tokens["bob"]}, status: http.StatusForbidden},
			{method: "POST", path: "/v1/assessments", body: assessment, header: key, status: http.StatusConflict},
			{method: "GET", path: "/v1/assessments/" + d.ID, status: http.StatusOK},
			{method: "GET", path: "/v1/assessments/nope", status: http.StatusNotFound},
			{method: "GET", path: "/v1/assessments/" + d.ID + "/why-not/crisis-home-treatment", status: http.StatusOK},
			{method: "GET", path: "/v1/forms", status: http.StatusOK},
			{method: "GET", path: "/v1/forms", header: nobody, status: http.StatusUnauthorized},
			{method: "GET", path: "/v1/forms/mental-health?version=1", status: http.StatusOK},
			{method: "GET", path: "/v1/forms/mental-health?version=99999999999", status: http.StatusUnprocessableEntity},
			{method: "GET", path: "/v1/forms/mental-health/questionnaire", status: http.StatusOK},
			{method: "GET", path: "/v1/forms/nope/questionnaire", header: map[string]string{"Accept": "application/fhir+json"}, status: http.StatusNotFound},
			{method: "GET", path: "/v1/pathways", status: http.StatusOK},
			{method: "GET", path: "/v1/services", status: http.StatusOK},
			{method: "GET", path: "/v1/services?per_page=2&page=2", status: http.StatusOK},
			{method: "GET", path: "/v1/", status: http.StatusOK},
			{method: "GET", path: "/v1/services?minimal=true", status: http.StatusOK},
			{method: "GET", path: "/v1/services?full=true&per_page=3", status: http.StatusOK},
			{method: "GET", path: "/v1/services?per_page=501", status: http.StatusUnprocessableEntity},
			{method: "GET", path: "/v1/rulesets", status: http.StatusOK},
			{method: "GET", path: "/v1/rulesets", header: map[string]string{"Authorization": "Bearer " + e.tokens["carol"]}, status: http.StatusForbidden},
			{method: "GET", path: "/v1/rulesets/mh-triage/versions/1", status: http.StatusOK},
			{method: "GET", path: "/v1/rulesets/mh-triage/versions/1?format=yaml", status: http.StatusOK},
			{method: "GET", path: "/v1/rulesets/mh-triage/versions/2/tests", status: http.StatusOK},
			{method: "GET", path: "/v1/rulesets/mh-triage/versions/2/impact?days=30", status: http.StatusOK},
			{method: "GET", path: "/v1/rulesets/mh-triage/versions/2/impact?days=1000000000", status: http.StatusUnprocessableEntity},
			{method: "GET", path: "/v1/rulesets/mh-triage/diff?from=1&to=2", status: http.StatusOK},
			{method: "GET", path: "/v1/rulesets/mh-triage/history", status: http.StatusOK},
			{method: "GET", path: "/v1/rulesets/mh-triage/shadow", status: http.StatusOK},
			{method: "GET", path: "/v1/me", status: http.StatusOK},
			{method: "GET", path: "/v1/practitioners", status: http.StatusOK},
			{method: "GET", path: "/v1/practitioners/" + booked.Assignment.PractitionerID + "/day?date=" + date, status: http.StatusOK},
			{method: "GET", path: "/v1/routing/visits?date=" + date, status: http.StatusOK},
			{method: "POST", path: "/v1/routing/optimise?date=" + date + "&dry_run=true", status: http.StatusOK},
			{method: "GET", path: "/healthz", header: nobody, status: http.StatusOK},
			{method: "GET", path: "/metrics", status: http.StatusOK},
			{method: "GET", path: "/v1/openapi.json", header: nobody, status: http.StatusOK},
			{method: "GET", path: "/signin", header: nobody, status: http.StatusOK},
			{method: "GET", path: "/assets/carepath.css", header: nobody, status: http.StatusOK},
			{method: "GET", path: "/v1/nope", status: http.StatusNotFound},
			{method: "DELETE", path: "/v1/forms", status: http.StatusMethodNotAllowed},
		} {
			c.check(t, e.URL, ex)
		}
		// A draft through review: the version is the next free one.
		body = c.check(t, e.URL, exchange{method: "POST", path: "/v1/rulesets?reason=check", body: string(src), header: map[string]string{"Content-Type": "application/yaml"}, status: http.StatusCreated})
		var created struct {
			Version int `json:"version"`
		}
		if err := jsonUnmarshal(body, &created); err != nil {
			t.Fatal(err)
		}
		v := "/v1/rulesets/mh-triage/versions/" + strconv.Itoa(created.Version)
		for _, ex := range []exchange{
			{method: "POST", path: v + "/submit", body: `{"reason":"ready"}`, header: asJSON, status: http.StatusOK},
			{method: "POST", path: v + "/approve", body: `{"comment":"checked","impact_days":30}`, header: map[string]string{"Authorization": "Bearer " + e.tokens["bob"]}, status: http.StatusOK},
			{method: "POST", path: "/v1/rulesets/mh-triage/shadow", body: `{"version":` + strconv.Itoa(created.Version) + `}`, header: asJSON, status: http.StatusCreated},
			{method: "DELETE", path: "/v1/rulesets/mh-triage/shadow", status: http.StatusOK},
		} {
			c.check(t, e.URL, ex)
		}
		_, b := do(t, "GET", e.URL+"/v1/services?per_page=1", "", nil)
		var page struct {
			Contents []struct {
				ID string `json:"id"`
			} `json:"contents"`
		}
		if err := jsonUnmarshal(b, &page); err != nil || len(page.Contents) != 1 {
			t.Fatalf("services page (%v): %.300s", err, b)
		}
		c.check(t, e.URL, exchange{method: "GET", path: "/v1/services/" + page.Contents[0].ID, status: http.StatusOK})
	})
	for _, want := range []string{"POST /v1/assessments 201", "POST /v1/assessments 422", "GET /v1/assessments/{id} 200", "GET /v1/forms 200",
		"GET /v1/services 200", "GET /v1/rulesets 200", "GET /v1/me 200", "GET /v1/forms 401", "GET /v1/rulesets 403"} {
		if !c.tested[want] {
			t.Errorf("no response validated for %s", want)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.NewDecoder(bytes.NewReader(b)).Decode(v) }

// TestOpenAPIServed checks the document is served to anyone, as it is embedded.
func TestOpenAPIServed(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		resp, b := do(t, "GET", srv.URL+"/v1/openapi.json", "", map[string]string{"Authorization": anonymous})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(b, server.OpenAPI()) {
			t.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}
