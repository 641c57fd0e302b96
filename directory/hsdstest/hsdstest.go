// Package hsdstest checks documents against the official Open Referral HSDS 3.1 schemas vendored
// in directory/testdata/hsds-3.1, for the tests of any package that writes HSDS.
package hsdstest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The addresses the vendored files are registered under. HSDS's own API profile refers to its
// compiled schemas by their addresses on the 3.0 line; the 3.1 files stand in for them, so the
// profile's response schemas are used exactly as published and nothing is fetched.
const (
	base        = "https://hsds.carepath.test/hsds-3.1/"
	openapiURL  = base + "schema/openapi.json"
	serviceURL  = base + "schema/compiled/service.json"
	listItemURL = base + "schema/compiled/service_list.json"
	upstream    = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/compiled/"
)

// Schemas are the compiled HSDS 3.1 schemas.
type Schemas struct {
	service, services, page, fullPage, root *jsonschema.Schema
}

// load compiles the schemas once per test binary: the compiled service schema is 2.5 MB.
var load = sync.OnceValues(compile)

// Load returns the compiled schemas, failing the test when they cannot be read.
func Load(t testing.TB) *Schemas {
	t.Helper()
	s, err := load()
	if err != nil {
		t.Fatalf("hsdstest: %v", err)
	}
	return s
}

func compile() (*Schemas, error) {
	dir, err := schemaDir()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	files := map[string][]string{
		"schema/openapi.json":               {openapiURL},
		"schema/compiled/service.json":      {serviceURL, upstream + "service.json"},
		"schema/compiled/service_list.json": {listItemURL, upstream + "service_list.json"},
	}
	for name, urls := range files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		for _, u := range urls {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if err := c.AddResource(u, doc); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	wrappers := map[string]any{
		base + "services.json": map[string]any{"type": "array", "items": map[string]any{"$ref": serviceURL}},
		// The profile's Page lists no required members; Carepath always writes them all.
		base + "required-page.json": map[string]any{"type": "object", "required": []any{"total_items", "total_pages",
			"page_number", "size", "first_page", "last_page", "empty", "contents"}},
		base + "full-page.json": map[string]any{"allOf": []any{
			map[string]any{"$ref": base + "required-page.json"},
			map[string]any{"$ref": openapiURL + "#/components/schemas/Page"},
			map[string]any{"properties": map[string]any{"contents": map[string]any{"type": "array", "items": map[string]any{"$ref": serviceURL}}}},
		}},
		base + "page.json": map[string]any{"allOf": []any{
			map[string]any{"$ref": base + "required-page.json"},
			map[string]any{"$ref": openapiURL + "#/paths/~1services/get/responses/200/content/application~1json/schema"},
		}},
	}
	for u, doc := range wrappers {
		if err := c.AddResource(u, doc); err != nil {
			return nil, err
		}
	}
	var s Schemas
	for _, x := range []struct {
		into **jsonschema.Schema
		url  string
	}{
		{&s.service, openapiURL + "#/paths/~1services~1{id}/get/responses/200/content/application~1json/schema"},
		{&s.services, base + "services.json"},
		{&s.page, base + "page.json"},
		{&s.fullPage, base + "full-page.json"},
		{&s.root, openapiURL + "#/paths/~1/get/responses/200/content/application~1json/schema"},
	} {
		sch, err := c.Compile(x.url)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", x.url, err)
		}
		*x.into = sch
	}
	return &s, nil
}

// schemaDir finds directory/testdata/hsds-3.1 from the module root above the working directory,
// where go test runs each package's tests.
func schemaDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "directory", "testdata", "hsds-3.1"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Service checks one service, fully nested, as GET /services/{id} answers it.
func (s *Schemas) Service(t testing.TB, doc []byte) { t.Helper(); check(t, s.service, "service", doc) }

// Services checks a JSON array of fully nested services, as directory export writes it.
func (s *Schemas) Services(t testing.TB, doc []byte) {
	t.Helper()
	check(t, s.services, "services", doc)
}

// Page checks a page of GET /services: the profile's response, with list items; full says the
// items are fully nested services and checks them against the service schema too.
func (s *Schemas) Page(t testing.TB, doc []byte, full bool) {
	t.Helper()
	check(t, s.page, "page", doc)
	if full {
		check(t, s.fullPage, "full page", doc)
	}
}

// Root checks the answer of the API's root endpoint.
func (s *Schemas) Root(t testing.TB, doc []byte) { t.Helper(); check(t, s.root, "root", doc) }

func check(t testing.TB, sch *jsonschema.Schema, what string, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Errorf("%s is not JSON: %v", what, err)
		return
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s does not validate against HSDS 3.1:\n%v", what, err)
	}
}
