package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/server"
)

// fhirSchema compiles the official FHIR R4 JSON schema (vendored with the triage tests, see the
// README beside it) once per test binary, for each resource type asked for.
var fhirSchema struct {
	once     sync.Once
	err      error
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	byType   map[string]*jsonschema.Schema
}

const fhirSchemaURL = "https://carepath.test/fhir.schema.json"

// checkFHIRSchema fails t unless data is a valid FHIR R4 resource of resourceType.
func checkFHIRSchema(t testing.TB, resourceType string, data []byte) {
	t.Helper()
	s := &fhirSchema
	s.once.Do(func() {
		raw, err := os.ReadFile(filepath.Join("..", "triage", "testdata", "fhir-r4", "fhir.schema.json"))
		if err != nil {
			s.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			s.err = err
			return
		}
		s.compiler = jsonschema.NewCompiler()
		s.err = s.compiler.AddResource(fhirSchemaURL, doc)
		s.byType = map[string]*jsonschema.Schema{}
	})
	if s.err != nil {
		t.Fatalf("FHIR schema: %v", s.err)
	}
	s.mu.Lock()
	sch, ok := s.byType[resourceType]
	if !ok {
		var err error
		if sch, err = s.compiler.Compile(fhirSchemaURL + "#/definitions/" + resourceType); err != nil {
			s.mu.Unlock()
			t.Fatalf("FHIR schema for %s: %v", resourceType, err)
		}
		s.byType[resourceType] = sch
	}
	s.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", resourceType, err, data)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("not a valid FHIR R4 %s: %v\n%s", resourceType, err, data)
	}
}

type outcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity    string   `json:"severity"`
		Code        string   `json:"code"`
		Diagnostics string   `json:"diagnostics"`
		Expression  []string `json:"expression"`
	} `json:"issue"`
}

// sampleFHIR is the triage package's sample QuestionnaireResponse with edits: each pair of strings
// replaces one occurrence of the first with the second.
func sampleFHIR(t *testing.T, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "triage", "testdata", "fhir", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			t.Fatalf("sample lacks %q", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return s
}

// TestFHIRErrors checks that FHIR clients get errors as OperationOutcomes, with the status problem
// details would have had, and everyone else still gets problem details.
func TestFHIRErrors(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)
		acceptFHIR := map[string]string{"Accept": "application/fhir+json"}
		sendsFHIR := map[string]string{"Content-Type": "application/fhir+json"}
		const phq9_1 = "QuestionnaireResponse.item.where(linkId='assessment').item.where(linkId='44249-1').item.where(linkId='44250-9')"
		tests := []struct {
			name, method, path, body string
			header                   map[string]string
			status                   int
			code, diagnosticHas      string
			expression               string
		}{
			{"entered in error", "POST", "/v1/assessments", sampleFHIR(t, `"completed"`, `"entered-in-error"`), acceptFHIR,
				http.StatusUnprocessableEntity, "value", `status: is "entered-in-error"`, "QuestionnaireResponse.status"},
			{"in progress, sent as FHIR", "POST", "/v1/assessments", sampleFHIR(t, `"completed"`, `"in-progress"`), sendsFHIR,
				http.StatusUnprocessableEntity, "value", `status: is "in-progress"`, "QuestionnaireResponse.status"},
			{"modifier extension", "POST", "/v1/assessments", sampleFHIR(t, `"linkId": "44250-9",`, `"linkId": "44250-9", "modifierExtension": [{"url": "https://example.org/x"}],`), acceptFHIR,
				http.StatusUnprocessableEntity, "not-supported", `modifier extension "https://example.org/x" is not understood`, phq9_1 + ".modifierExtension[0]"},
			{"coding in another system", "POST", "/v1/assessments", sampleFHIR(t, `"system": "http://loinc.org",
                    "code": "LA6569-3"`, `"system": "http://snomed.info/sct",
                    "code": "LA6569-3"`), acceptFHIR,
				http.StatusUnprocessableEntity, "value", `answers.phq9_1: coding system "http://snomed.info/sct"`, phq9_1},
			{"missing answer", "POST", "/v1/assessments", sampleFHIR(t, `"linkId": "69736-7"`, `"linkId": "69736-7-not"`), acceptFHIR,
				http.StatusUnprocessableEntity, "required", "answers.gad7_7: is required", "QuestionnaireResponse"},
			{"wrong questionnaire", "POST", "/v1/assessments", sampleFHIR(t, `https://carepath.org.uk/fhir/Questionnaire/mental-health|1`, `https://example.org/Questionnaire/mental-health|1`), acceptFHIR,
				http.StatusUnprocessableEntity, "value", "questionnaire: must be the form's canonical URL", "QuestionnaireResponse.questionnaire"},
			{"malformed", "POST", "/v1/assessments", `{"resourceType":"QuestionnaireResponse",`, acceptFHIR,
				http.StatusBadRequest, "structure", "body: ", ""},
			{"too large", "POST", "/v1/assessments", `{"resourceType":"QuestionnaireResponse","id":"` + strings.Repeat("x", 1<<20) + `"}`, acceptFHIR,
				http.StatusRequestEntityTooLarge, "too-long", "over the limit", ""},
			{"signed out", "POST", "/v1/assessments", sampleFHIR(t), map[string]string{"Accept": "application/fhir+json", "Authorization": anonymous},
				http.StatusUnauthorized, "login", "", ""},
			{"no such form", "GET", "/v1/forms/nope/questionnaire", "", acceptFHIR, http.StatusNotFound, "not-found", "nope", ""},
			{"bad version", "GET", "/v1/forms/mental-health/questionnaire?version=x", "", map[string]string{"Accept": "application/problem+json;q=0.5, application/fhir+json"},
				http.StatusUnprocessableEntity, "invalid", `version "x"`, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, b := do(t, tt.method, srv.URL+tt.path, tt.body, tt.header)
				if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/fhir+json" {
					t.Fatalf("%d %s, want %d application/fhir+json: %.500s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, b)
				}
				checkFHIRSchema(t, "OperationOutcome", b)
				var o outcome
				if err := json.Unmarshal(b, &o); err != nil {
					t.Fatal(err)
				}
				found := false
				for _, is := range o.Issue {
					if is.Severity != "error" || is.Diagnostics == "" {
						t.Errorf("issue %+v", is)
					}
					if is.Code == tt.code && strings.Contains(is.Diagnostics, tt.diagnosticHas) &&
						(tt.expression == "" || len(is.Expression) == 1 && is.Expression[0] == tt.expression) {
						found = true
					}
				}
				if o.ResourceType != "OperationOutcome" || !found {
					t.Errorf("no %s issue with %q at %q in %s", tt.code, tt.diagnosticHas, tt.expression, b)
				}
				if tt.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}

				// Without asking for FHIR, the same request gets problem details with the same status.
				plain := map[string]string{}
				for k, v := range tt.header {
					if k != "Accept" && k != "Content-Type" {
						plain[k] = v
					}
				}
				resp, b = do(t, tt.method, srv.URL+tt.path, tt.body, plain)
				if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("plain request: %d %s, want %d application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status)
				}
				var p server.Problem
				if err := json.Unmarshal(b, &p); err != nil || p.Status != tt.status {
					t.Errorf("plain request: %v %s", err, b)
				}
			})
		}

		// Problem details stay for clients that prefer them, and for endpoints that are not FHIR.
		for _, tc := range []struct {
			path   string
			header map[string]string
		}{
			{"/v1/assessments", map[string]string{"Accept": "application/problem+json", "Content-Type": "application/fhir+json"}},
			{"/v1/assessments", map[string]string{"Accept": "application/fhir+json;q=0.2, application/problem+json"}},
			{"/v1/assessments/nope", map[string]string{"Accept": "application/fhir+json"}},
		} {
			method, body := "POST", sampleFHIR(t, `"completed"`, `"in-progress"`)
			if tc.path != "/v1/assessments" {
				method, body = "GET", ""
			}
			resp, b := do(t, method, srv.URL+tc.path, body, tc.header)
			if resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %v: %d %s: %.300s", tc.path, tc.header, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		}

		// Successes are unchanged: a decision for a QuestionnaireResponse, a valid Questionnaire.
		resp, b := do(t, "POST", srv.URL+"/v1/assessments", sampleFHIR(t), map[string]string{"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"})
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("FHIR assessment: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "GET", srv.URL+"/v1/forms/mental-health/questionnaire", "", acceptFHIR)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("questionnaire: %d %s", resp.StatusCode, b)
		}
		checkFHIRSchema(t, "Questionnaire", b)
	})
}
