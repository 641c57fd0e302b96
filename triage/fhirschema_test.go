package triage

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// fhirSchemas holds the FHIR R4 JSON schema, compiled once per test binary: it is several megabytes,
// and compiling it for every test would dominate the suite.
var fhirSchemas struct {
	once    sync.Once
	err     error
	byType  map[string]*jsonschema.Schema
	compile func(resourceType string) (*jsonschema.Schema, error)
	mu      sync.Mutex
}

// checkFHIRSchema fails t unless data is a valid FHIR R4 resource of resourceType by the official
// JSON schema (testdata/fhir-r4, see its README).
func checkFHIRSchema(t testing.TB, resourceType string, data []byte) {
	t.Helper()
	s := &fhirSchemas
	s.once.Do(func() {
		raw, err := os.ReadFile(filepath.Join("testdata", "fhir-r4", "fhir.schema.json"))
		if err != nil {
			s.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			s.err = err
			return
		}
		c := jsonschema.NewCompiler()
		if s.err = c.AddResource("https://carepath.test/fhir.schema.json", doc); s.err != nil {
			return
		}
		s.byType = map[string]*jsonschema.Schema{}
		s.compile = func(resourceType string) (*jsonschema.Schema, error) {
			return c.Compile("https://carepath.test/fhir.schema.json#/definitions/" + resourceType)
		}
	})
	if s.err != nil {
		t.Fatalf("FHIR schema: %v", s.err)
	}
	s.mu.Lock()
	sch, ok := s.byType[resourceType]
	if !ok {
		var err error
		if sch, err = s.compile(resourceType); err != nil {
			s.mu.Unlock()
			t.Fatalf("FHIR schema for %s: %v", resourceType, err)
		}
		s.byType[resourceType] = sch
	}
	s.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not JSON: %v", resourceType, err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("not a valid FHIR R4 %s: %v\n%s", resourceType, err, data)
	}
}
