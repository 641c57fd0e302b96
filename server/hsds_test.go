package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/directory/hsdstest"
)

// servicePage is the part of a page of GET /v1/services the tests read.
type servicePage struct {
	TotalItems int                          `json:"total_items"`
	Size       int                          `json:"size"`
	Contents   []map[string]json.RawMessage `json:"contents"`
}

func getPage(t *testing.T, url string) (servicePage, []byte) {
	t.Helper()
	resp, b := do(t, "GET", url, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	var p servicePage
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Size != len(p.Contents) {
		t.Errorf("GET %s: size %d, but %d services on the page", url, p.Size, len(p.Contents))
	}
	return p, b
}

func names(p servicePage) []string {
	var out []string
	for _, c := range p.Contents {
		var n string
		_ = json.Unmarshal(c["name"], &n)
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestHSDSAPIConformance validates every HSDS answer of the API against the official HSDS 3.1
// schemas (the profile's own response schemas) and checks the profile's filters and views.
func TestHSDSAPIConformance(t *testing.T) {
	schemas := hsdstest.Load(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		srv := start(t, db)

		resp, b := do(t, "GET", srv.URL+"/v1/", "", nil)
		var root map[string]string
		if err := json.Unmarshal(b, &root); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("root: %d %s", resp.StatusCode, b)
		}
		schemas.Root(t, b)
		if root["version"] != "3.1" || root["profile"] == "" || root["openapi_url"] != srv.URL+"/v1/openapi.json" {
			t.Errorf("root: %s", b)
		}
		if resp, _ := do(t, "GET", srv.URL+"/v1/", "", map[string]string{"Authorization": anonymous}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("root without signing in: %d, want 401", resp.StatusCode)
		}

		list, b := getPage(t, srv.URL+"/v1/services")
		schemas.Page(t, b, false)
		if list.TotalItems != 12 || len(list.Contents) != 12 {
			t.Fatalf("list: %d of %d", len(list.Contents), list.TotalItems)
		}
		for _, c := range list.Contents {
			for k, v := range c {
				if strings.HasPrefix(strings.TrimSpace(string(v)), "[") {
					t.Errorf("the list view shows the one-to-many member %s", k)
				}
			}
		}
		if last, b := getPage(t, srv.URL+"/v1/services?per_page=5&page=3"); last.Size != 2 {
			t.Errorf("last page: size %d, want 2: %s", last.Size, b)
		} else {
			schemas.Page(t, b, false)
		}

		full, b := getPage(t, srv.URL+"/v1/services?full=true&per_page=20")
		schemas.Page(t, b, true)
		for _, c := range full.Contents {
			if _, ok := c["attributes"]; !ok {
				t.Errorf("a full page lacks nested attributes: %s", c["id"])
			}
		}
		minimal, b := getPage(t, srv.URL+"/v1/services?minimal=true")
		schemas.Page(t, b, false)
		for _, c := range minimal.Contents {
			for k := range c {
				if k != "id" && k != "name" && k != "status" && k != "last_modified" {
					t.Errorf("a minimal item carries %s", k)
				}
			}
		}

		// Every service, by its HSDS id and by its code, validates as the full service.
		for _, c := range full.Contents {
			var id string
			_ = json.Unmarshal(c["id"], &id)
			resp, one := do(t, "GET", srv.URL+"/v1/services/"+id, "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("service %s: %d %s", id, resp.StatusCode, one)
			}
			schemas.Service(t, one)
		}
		_, byUUID := do(t, "GET", srv.URL+"/v1/services/"+directory.RecordUUID("svc-crisis"), "", nil)
		_, byCode := do(t, "GET", srv.URL+"/v1/services/svc-crisis", "", nil)
		if string(byUUID) != string(byCode) {
			t.Errorf("a service read by its code differs from the same read by its id")
		}

		council := []string{"Home First Reablement", "Home from Hospital signposting", "Reablement Plus (night support)"}
		for _, tc := range []struct {
			query string
			want  []string // nil: only the count matters
			total int
		}{
			{"organization_id=org-synthetic-council", council, 3},
			{"organization_id=" + directory.RecordUUID("org-synthetic-council"), council, 3},
			{"organization_id=00000000-0000-4000-8000-000000000000", nil, 0},
			{"taxonomy_id=" + directory.PathwayTaxonomy, nil, 12},
			{"taxonomy_id=" + directory.RecordUUID(directory.PathwayTaxonomy), nil, 12},
			{"taxonomy_id=" + directory.RecordUUID(directory.EligibilityTaxonomy), []string{"Talking Therapies (central team)"}, 1},
			{"taxonomy_id=no-such-taxonomy", nil, 0},
			{"taxonomy_term_id=" + directory.RecordUUID("term-discharge-pathway-1"), []string{"Home First Reablement", "Reablement Plus (night support)"}, 2},
			{"modified_after=2026-01-01", nil, 12},
			{"modified_after=2026-01-05T08:00:00Z", nil, 12},
			{"modified_after=2026-01-05T08:00:01Z", nil, 0},
			{"format=json&full=false&minimal=false", nil, 12},
		} {
			p, b := getPage(t, srv.URL+"/v1/services?"+tc.query)
			schemas.Page(t, b, false)
			if p.TotalItems != tc.total || tc.want != nil && !slices.Equal(names(p), tc.want) {
				t.Errorf("%s: %d services %v, want %d %v", tc.query, p.TotalItems, names(p), tc.total, tc.want)
			}
		}
		for _, tc := range []struct{ query, field string }{
			{"modified_after=yesterday", "modified_after"},
			{"minimal=yes", "minimal"},
			{"full=1", "full"},
			{"full=true&minimal=true", "full"},
			{"format=ndjson", "format"},
		} {
			resp, b := do(t, "GET", srv.URL+"/v1/services?"+tc.query, "", nil)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"field":"`+tc.field+`"`) {
				t.Errorf("%s: %d %s, want 422 naming %s", tc.query, resp.StatusCode, b, tc.field)
			}
		}
	})
}
