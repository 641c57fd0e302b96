package directory

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkGolden compares got with testdata/name, rewriting it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from output (run with -update if the change is intended)\ngot:\n%s", name, got)
	}
}

func TestParseHSDSShapes(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantIDs []string
		wantErr string
	}{
		{name: "array", input: `[{"id":"a","name":"A","status":"active"},{"id":"b","name":"B","status":"active"}]`, wantIDs: []string{"a", "b"}},
		{name: "paged", input: `{"total_items":1,"total_pages":1,"page_number":1,"size":10,"contents":[{"id":"p","name":"P","status":"active"}]}`, wantIDs: []string{"p"}},
		{name: "single service", input: `  {"id":"one","name":"One","status":"active"}`, wantIDs: []string{"one"}},
		{name: "empty array", input: `[]`, wantIDs: []string{}},
		{name: "empty document", input: "  \n", wantErr: "empty document"},
		{name: "scalar", input: `42`, wantErr: "want an array"},
		{name: "broken array", input: `[{"id":"a"`, wantErr: "unable to parse HSDS array"},
		{name: "contents not array", input: `{"contents":{"id":"a"}}`, wantErr: "field contents"},
		{name: "bad field names id", input: `[{"id":"a","name":"A"},{"id":"b","minimum_age":"old"}]`, wantErr: `service "b"`},
		{name: "bad field without id names index", input: `[{"id":"a","name":"A"},{"minimum_age":"old"}]`, wantErr: `service [1]`},
		{name: "bad extent", input: `[{"id":"x","service_areas":[{"id":"s","extent":12}]}]`, wantErr: "extent"},
		{name: "a member given twice", input: `[{"id":"x","name":"A","name":"B","status":"active"}]`, wantErr: `service "x": member "name" is given twice`},
		{name: "carepath_eligibility not a string", input: `[{"id":"x","carepath_eligibility":true}]`, wantErr: "carepath_eligibility: want a string"},
		{name: "a UUID id is its own code", input: `[{"id":"ac148810-d857-441c-9679-408f346de14b","name":"U","status":"active"}]`, wantIDs: []string{"ac148810-d857-441c-9679-408f346de14b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHSDS([]byte(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, s := range got {
				ids = append(ids, s.Code)
				if s.ID != RecordUUID(s.Code) {
					t.Errorf("service %s has id %s, want %s", s.Code, s.ID, RecordUUID(s.Code))
				}
			}
			if !reflect.DeepEqual(ids, tc.wantIDs) {
				t.Errorf("codes = %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}

// TestMemberNamesAreExact: a member whose name differs from an HSDS one only in case is kept as
// an unknown member, never read as the HSDS member.
func TestMemberNamesAreExact(t *testing.T) {
	got, err := ParseHSDS([]byte(`{"id":"x","NAME":"Shout","name":"Quiet","status":"active"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Name != "Quiet" {
		t.Errorf("name = %q", got[0].Name)
	}
	out, _ := json.Marshal(got[0])
	if !bytes.Contains(out, []byte(`"NAME":"Shout"`)) || !bytes.Contains(out, []byte(`"name":"Quiet"`)) {
		t.Errorf("members not kept as given: %s", out)
	}
}

func TestServiceAreaExtentForms(t *testing.T) {
	const poly = `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`
	quoted, _ := json.Marshal(poly)
	tests := []struct {
		name, extentJSON, want string
	}{
		{"string", string(quoted), poly},
		{"inline object is compacted", `{ "type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]] }`, poly},
		{"null", `null`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a ServiceArea
			if err := json.Unmarshal([]byte(`{"id":"a","extent_type":"geojson","extent":`+tc.extentJSON+`}`), &a); err != nil {
				t.Fatal(err)
			}
			if a.Extent != tc.want || a.ID != "a" || a.ExtentType != "geojson" {
				t.Errorf("got %+v, want extent %q", a, tc.want)
			}
		})
	}
}

func TestExportRoundTrip(t *testing.T) {
	input := readTestdata(t, "services.json")
	parsed, err := ParseHSDS(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(parsed, nil); err != nil {
		t.Fatalf("fixture should be valid: %v", err)
	}
	exported, err := ExportHSDS(parsed)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "services.golden.json", exported)

	reparsed, err := ParseHSDS(exported)
	if err != nil {
		t.Fatal(err)
	}
	// Lossless: the re-imported services equal the originals once both are in canonical order.
	want := canonicalAll(parsed)
	if !reflect.DeepEqual(canonicalAll(reparsed), want) {
		t.Errorf("re-imported services differ from the originals")
	}
	again, err := ExportHSDS(reparsed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, exported) {
		t.Errorf("export is not stable across a round trip")
	}
}

func canonicalAll(services []Service) []Service {
	out := make([]Service, len(services))
	for i, s := range services {
		out[i] = canonical(s)
	}
	slices.SortFunc(out, func(a, b Service) int { return strings.Compare(a.key(), b.key()) })
	return out
}

// TestExportOrderIndependent checks the determinism property: any permutation of the services
// and of their nested lists exports to the same bytes.
func TestExportOrderIndependent(t *testing.T) {
	parsed, err := ParseHSDS(readTestdata(t, "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ExportHSDS(parsed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := make([]Service, len(parsed))
		copy(shuffled, parsed)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for i := range shuffled {
			s := &shuffled[i]
			s.Schedules = append([]Schedule(nil), s.Schedules...)
			rng.Shuffle(len(s.Schedules), func(i, j int) { s.Schedules[i], s.Schedules[j] = s.Schedules[j], s.Schedules[i] })
			s.Attributes = append([]Attribute(nil), s.Attributes...)
			rng.Shuffle(len(s.Attributes), func(i, j int) { s.Attributes[i], s.Attributes[j] = s.Attributes[j], s.Attributes[i] })
		}
		got, err := ExportHSDS(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("export depends on input order")
		}
	}
	// Exporting must not reorder the caller's slices.
	before := parsed[0].Schedules[0].ID
	if _, err := ExportHSDS(parsed); err != nil || parsed[0].Schedules[0].ID != before {
		t.Errorf("ExportHSDS modified its input")
	}
}

func TestPage(t *testing.T) {
	services := make([]Service, 7)
	for i := range services {
		services[i].ID = string(rune('a' + i))
	}
	tests := []struct {
		name                string
		page, size          int
		wantIDs             string
		wantPages           int
		wantPage            int
		wantFirst, wantLast bool
		wantEmpty           bool
	}{
		{"first", 1, 3, "abc", 3, 1, true, false, false},
		{"middle", 2, 3, "def", 3, 2, false, false, false},
		{"last partial", 3, 3, "g", 3, 3, false, true, false},
		{"beyond end", 4, 3, "", 3, 4, false, true, true},
		{"page zero is first", 0, 3, "abc", 3, 1, true, false, false},
		{"size zero is one", 2, 0, "b", 7, 2, false, false, false},
		{"huge page number", 1 << 62, 1 << 40, "", 1, 1 << 62, false, true, true},
		{"all on one page", 1, 50, "abcdefg", 1, 1, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Page(services, tc.page, tc.size)
			ids := ""
			for _, s := range p.Contents {
				ids += s.ID
			}
			if p.Size != len(p.Contents) {
				t.Errorf("size %d, want the %d services on the page", p.Size, len(p.Contents))
			}
			if ids != tc.wantIDs || p.TotalPages != tc.wantPages || p.PageNumber != tc.wantPage ||
				p.FirstPage != tc.wantFirst || p.LastPage != tc.wantLast || p.Empty != tc.wantEmpty || p.TotalItems != 7 {
				t.Errorf("got ids %q %+v", ids, p)
			}
			if p.Contents == nil {
				t.Errorf("contents must marshal as [] not null")
			}
		})
	}
}

// TestPageCoversAll is a property: walking every page yields every service once, in order.
func TestPageCoversAll(t *testing.T) {
	for n := range 12 {
		services := make([]Service, n)
		for i := range services {
			services[i].ID = string(rune('A' + i))
		}
		for size := 1; size <= 13; size++ {
			var got []Service
			first := Page(services, 1, size)
			for p := 1; p <= first.TotalPages; p++ {
				got = append(got, Page(services, p, size).Contents...)
			}
			if len(got) != n {
				t.Fatalf("n=%d size=%d: pages hold %d services", n, size, len(got))
			}
			for i := range got {
				if got[i].ID != services[i].ID {
					t.Fatalf("n=%d size=%d: order broken at %d", n, size, i)
				}
			}
		}
	}
}

func TestPathways(t *testing.T) {
	s := Service{Attributes: []Attribute{
		{ID: "1", TaxonomyTerm: &TaxonomyTerm{Code: "b", Taxonomy: PathwayTaxonomy}},
		{ID: "2", TaxonomyTerm: &TaxonomyTerm{Code: "a", Taxonomy: PathwayTaxonomy}},
		{ID: "3", TaxonomyTerm: &TaxonomyTerm{Code: "b", Taxonomy: PathwayTaxonomy}},
		{ID: "4", TaxonomyTerm: &TaxonomyTerm{Code: "c", Taxonomy: "other"}},
		{ID: "5"},
	}}
	if got := s.Pathways(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Pathways() = %v", got)
	}
}

// FuzzParseHSDS checks that parsing never panics and that whatever parses survives an
// export/import round trip unchanged.
func FuzzParseHSDS(f *testing.F) {
	f.Add(readTestdata(f, "services.json"))
	f.Add([]byte(`[{"id":"a","name":"A","status":"active","minimum_age":3}]`))
	f.Add([]byte(`{"contents":[{"id":"x","service_areas":[{"id":"s","extent":{"type":"Polygon"}}]}]}`))
	f.Add(readTestdata(f, "hsds-3.1/examples/service_full.json"))
	f.Add(readTestdata(f, "legacy-services.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		services, err := ParseHSDS(data)
		if err != nil {
			return
		}
		_ = Validate(services, nil)
		out, err := ExportHSDS(services)
		if err != nil {
			return // e.g. NaN cannot come from JSON, but a future field might not marshal
		}
		back, err := ParseHSDS(out)
		if err != nil {
			t.Fatalf("export does not re-import: %v\n%s", err, out)
		}
		again, err := ExportHSDS(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("round trip changed the export: %v", err)
		}
	})
}
