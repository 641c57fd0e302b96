package directory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/directory/hsdstest"
)

func readFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// specExample is the specification's own fully nested service.
func specExample(t *testing.T) []byte {
	return readFile(t, "testdata", "hsds-3.1", "examples", "service_full.json")
}

func decodeAny(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return v
}

// TestExportConformsToHSDS31 validates what directory export writes, and each service as
// GET /services/{id} writes it, against the official compiled schema, for the demo directory,
// a directory written by an older Carepath (council codes as ids, carepath_eligibility), and the
// specification's example.
func TestExportConformsToHSDS31(t *testing.T) {
	schemas := hsdstest.Load(t)
	for name, input := range map[string][]byte{
		"demo directory":        readFile(t, "..", "fixtures", "directory", "services.json"),
		"older carepath export": readFile(t, "testdata", "legacy-services.json"),
		"specification example": specExample(t),
		"specification list":    readFile(t, "testdata", "hsds-3.1", "examples", "service_list.json"),
		"go-built service, ids as codes": []byte(`[{"id":"svc-x","name":"X","status":"active","organization_id":"org-x",
			"organization":{"id":"org-x","name":"Org","description":"An organisation"},
			"service_at_locations":[{"id":"sal-x","location_id":"loc-x","location":{"id":"loc-x","latitude":52,"longitude":-1,
				"addresses":[{"id":"a","location_id":"loc-x","address_1":"1 Road","city":"Town","postal_code":"ZX1 1AA","country":"GB","address_type":"physical"}]}}],
			"attributes":[{"id":"attr","link_id":"svc-x","taxonomy_term_id":"t","taxonomy_term":{"id":"t","code":"p","taxonomy":"carepath-pathway"}}]}]`),
	} {
		t.Run(name, func(t *testing.T) {
			services, err := directory.ParseHSDS(input)
			if err != nil {
				t.Fatal(err)
			}
			out, err := directory.ExportHSDS(services)
			if err != nil {
				t.Fatal(err)
			}
			schemas.Services(t, out)
			for _, s := range services {
				one, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				schemas.Service(t, one)
			}
		})
	}
}

// TestSpecExampleRoundTrip imports the specification's example and exports it: every member,
// at every level, comes back with its value.
func TestSpecExampleRoundTrip(t *testing.T) {
	example := specExample(t)
	services, err := directory.ParseHSDS(example)
	if err != nil {
		t.Fatal(err)
	}
	out, err := directory.ExportHSDS(services)
	if err != nil {
		t.Fatal(err)
	}
	var exported []any
	if err := json.Unmarshal(out, &exported); err != nil || len(exported) != 1 {
		t.Fatalf("export: %v %s", err, out)
	}
	assertSameJSON(t, "", decodeAny(t, example), exported[0])
	if s := services[0]; s.Code != s.ID || s.ID != "ac148810-d857-441c-9679-408f346de14b" {
		t.Errorf("a service with a UUID keeps it as id and code: id %s code %s", s.ID, s.Code)
	}
}

// assertSameJSON reports every path where got differs from want, so a dropped member is named.
func assertSameJSON(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", path, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s.%s: dropped", path, k)
				continue
			}
			assertSameJSON(t, path+"."+k, wv, gv)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s.%s: added", path, k)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %d items", path, got, len(w))
			return
		}
		for i := range w {
			assertSameJSON(t, path+"["+string(rune('0'+i))+"]", w[i], g[i])
		}
	default:
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
}

// TestSpecExampleThroughTheStore stores the example (with coordinates and an extent matching can
// use) and reads it back: the stored document keeps every member too.
func TestSpecExampleThroughTheStore(t *testing.T) {
	usable := strings.NewReplacer(`"latitude": 100`, `"latitude": 52.95`, `"longitude": 101`, `"longitude": -1.15`,
		`"extent": "extent"`, `"extent": "{\"type\":\"Polygon\",\"coordinates\":[[[-1.3,52.9],[-1.0,52.9],[-1.0,53.0],[-1.3,53.0],[-1.3,52.9]]]}"`).
		Replace(string(specExample(t)))
	want := decodeAny(t, []byte(usable))
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		services, err := directory.ParseHSDS([]byte(usable))
		if err != nil {
			t.Fatal(err)
		}
		store := directory.NewSQLStore(db)
		if _, err := store.PutServices(ctx, services, nil, storeNow); err != nil {
			t.Fatal(err)
		}
		stored, err := store.Services(ctx)
		if err != nil || len(stored) != 1 {
			t.Fatalf("%d services, %v", len(stored), err)
		}
		one, err := json.Marshal(stored[0])
		if err != nil {
			t.Fatal(err)
		}
		assertSameJSON(t, "", want, decodeAny(t, one))
		hsdstest.Load(t).Service(t, one)
	})
}

// TestImportHSDS30 reads an HSDS 3.0 document (the example without what 3.1 added) and writes it
// as valid 3.1 without losing a member.
func TestImportHSDS30(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(specExample(t), &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "capacities")
	delete(doc, "additional_urls")
	delete(doc["organization"].(map[string]any), "additional_websites")
	for _, a := range doc["attributes"].([]any) {
		delete(a.(map[string]any), "label")
	}
	v30, _ := json.Marshal(doc)
	services, err := directory.ParseHSDS(v30)
	if err != nil {
		t.Fatal(err)
	}
	out, err := directory.ExportHSDS(services)
	if err != nil {
		t.Fatal(err)
	}
	hsdstest.Load(t).Services(t, out)
	exported := decodeAny(t, out).([]any)
	assertSameJSON(t, "", decodeAny(t, v30), exported[0])
}

// TestCouncilCodesBecomeStableUUIDs checks the mapping of a publisher's own codes: ids and
// foreign keys become UUIDs derived from the code, the service's code stays Carepath's key, and
// exporting and importing again changes nothing.
func TestCouncilCodesBecomeStableUUIDs(t *testing.T) {
	legacy, err := directory.ParseHSDS(readFile(t, "testdata", "legacy-services.json"))
	if err != nil {
		t.Fatal(err)
	}
	current, err := directory.ParseHSDS(readFile(t, "..", "fixtures", "directory", "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(legacy) != len(current) {
		t.Fatalf("%d legacy services, %d current", len(legacy), len(current))
	}
	for i, s := range legacy {
		if s.ID != directory.RecordUUID(s.Code) || s.ID != current[i].ID || s.Code != current[i].Code {
			t.Errorf("service %d: legacy %s/%s, current %s/%s", i, s.Code, s.ID, current[i].Code, current[i].ID)
		}
		if s.OrganizationID != directory.RecordUUID("org-synthetic-nhs") && s.OrganizationID != directory.RecordUUID("org-synthetic-council") {
			t.Errorf("service %s: organization_id %s is not the UUID of its code", s.Code, s.OrganizationID)
		}
		if s.CarepathEligibility != current[i].CarepathEligibility {
			t.Errorf("service %s: eligibility %q, current fixture %q", s.Code, s.CarepathEligibility, current[i].CarepathEligibility)
		}
	}
	if legacy[0].Code != "svc-talking-central" || legacy[0].CarepathEligibility != "!('active-risk' in outcome.flags)" {
		t.Errorf("first legacy service: code %q eligibility %q", legacy[0].Code, legacy[0].CarepathEligibility)
	}
	out, _ := directory.ExportHSDS(legacy)
	again, err := directory.ParseHSDS(out)
	if err != nil {
		t.Fatal(err)
	}
	twice, _ := directory.ExportHSDS(again)
	if !bytes.Equal(out, twice) {
		t.Errorf("export, import, export changed the document")
	}
	if bytes.Contains(out, []byte("carepath_eligibility")) || bytes.Contains(out, []byte(`"id": "svc-`)) {
		t.Errorf("export still carries a non-HSDS member or a code as an id")
	}
}

func TestRecordUUID(t *testing.T) {
	ns := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/carepath/carepath/directory#hsds-code"))
	if ns.String() != directory.CodeNamespace {
		t.Errorf("CodeNamespace = %s, want %s", directory.CodeNamespace, ns)
	}
	got := directory.RecordUUID("svc-crisis")
	if want := uuid.NewSHA1(ns, []byte("svc-crisis")).String(); got != want || directory.RecordUUID("svc-crisis") != got {
		t.Errorf("RecordUUID(svc-crisis) = %s, want %s every time", got, want)
	}
	if u, err := uuid.Parse(got); err != nil || u.Version() != 5 {
		t.Errorf("%s is not a version 5 UUID: %v", got, err)
	}
	for _, in := range []string{"", "ac148810-d857-441c-9679-408f346de14b", "AC148810-D857-441C-9679-408F346DE14B"} {
		if out := directory.RecordUUID(in); out != in {
			t.Errorf("RecordUUID(%q) = %q, want it unchanged", in, out)
		}
	}
	if directory.RecordUUID("{ac148810-d857-441c-9679-408f346de14b}") == "{ac148810-d857-441c-9679-408f346de14b}" {
		t.Errorf("a braced UUID is not in the schema's form and must be mapped")
	}
}
