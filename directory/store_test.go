package directory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/fixtures"
)

var storeNow = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) // a Thursday

func demoServices(t *testing.T) []directory.Service {
	t.Helper()
	services, err := fixtures.Services()
	if err != nil {
		t.Fatal(err)
	}
	return services
}

func TestStoredDirectoryRoundTrip(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := directory.NewSQLStore(db)
		services := demoServices(t)
		if n, err := store.PutServices(ctx, services, nil, storeNow); err != nil || n != len(services) {
			t.Fatalf("put: %d %v", n, err)
		}
		stored, err := store.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := directory.ExportHSDS(services)
		got, _ := directory.ExportHSDS(stored)
		if string(got) != string(want) {
			t.Errorf("export after import is not lossless:\n%s\nwant\n%s", got, want)
		}
		// Export, parse and import again: the same document.
		again, err := directory.ParseHSDS(got)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.PutServices(ctx, again, nil, storeNow); err != nil {
			t.Fatal(err)
		}
		stored, _ = store.Services(ctx)
		if twice, _ := directory.ExportHSDS(stored); string(twice) != string(want) {
			t.Errorf("second round trip changed the directory")
		}
	})
}

func TestStoredDirectoryRefusesBadImportAndChangesNothing(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := directory.NewSQLStore(db)
		services := demoServices(t)
		if _, err := store.PutServices(ctx, services[:2], nil, storeNow); err != nil {
			t.Fatal(err)
		}
		before, _ := store.Marker(ctx)
		for _, tc := range []struct {
			name, want string
			mutate     func(s *directory.Service)
			known      func(string) bool
		}{
			{"bad polygon", `service "svc-crisis" field service_areas[0].extent`, func(s *directory.Service) {
				s.ServiceAreas[0].Extent = `{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}`
			}, nil},
			{"missing id", `service "svc-crisis" field id: missing`, func(s *directory.Service) { s.ID = "" }, nil},
			{"missing id and code", "service [4] field id", func(s *directory.Service) { s.ID, s.Code = "", "" }, nil},
			{"unknown pathway", "no-such-pathway", func(s *directory.Service) {
				s.Attributes[0].TaxonomyTerm.Code = "no-such-pathway"
			}, func(id string) bool { return id != "no-such-pathway" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := append([]directory.Service(nil), services...)
				s := bad[4]
				s.ServiceAreas = append([]directory.ServiceArea(nil), s.ServiceAreas...)
				s.Attributes = append([]directory.Attribute(nil), s.Attributes...)
				term := *s.Attributes[0].TaxonomyTerm
				s.Attributes[0].TaxonomyTerm = &term
				tc.mutate(&s)
				bad[4] = s
				_, err := store.PutServices(ctx, bad, tc.known, storeNow.Add(time.Hour))
				if failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an invalid error naming %s", err, tc.want)
				}
				if after, _ := store.Marker(ctx); after != before {
					t.Errorf("a refused import changed the directory: %+v -> %+v", before, after)
				}
			})
		}
	})
}

func TestEveryRejectionReasonThroughTheStore(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := directory.NewSQLStore(db)
		services := demoServices(t)
		// An inactive copy of the crisis team, so every reason has a service showing it.
		retired := services[4]
		retired.Code, retired.Status = "svc-crisis-retired", directory.StatusInactive
		retired.ID = directory.RecordUUID(retired.Code)
		services = append(services, retired)
		if _, err := store.PutServices(ctx, services, nil, storeNow); err != nil {
			t.Fatal(err)
		}
		cache := directory.NewCachedIndex(store)
		ix, err := cache.Index(ctx)
		if err != nil {
			t.Fatal(err)
		}
		north := directory.Query{Lat: 52.99, Lon: -1.15, At: storeNow, RespondWithin: 28 * 24 * time.Hour, Age: directory.YearsOld(40), IncludeRejected: true}
		for _, tc := range []struct {
			name    string
			query   func(q directory.Query) directory.Query
			service string
			reason  directory.ReasonCode
		}{
			{"out of area", func(q directory.Query) directory.Query { q.Pathway = "talking-therapies-step2"; return q }, "svc-talking-south", directory.ReasonOutOfArea},
			{"age", func(q directory.Query) directory.Query { q.Pathway = "talking-therapies-step2"; return q }, "svc-talking-youth", directory.ReasonAge},
			{"eligibility", func(q directory.Query) directory.Query {
				q.Pathway, q.Flags = "talking-therapies-step2", []string{"active-risk"}
				return q
			}, "svc-talking-central", directory.ReasonEligibility},
			{"no capacity", func(q directory.Query) directory.Query { q.Pathway = "discharge-pathway-1"; return q }, "svc-reablement-plus", directory.ReasonNoCapacity},
			{"temporarily closed", func(q directory.Query) directory.Query { q.Pathway = "specialist-psychological-therapy"; return q }, "svc-psychology-east", directory.ReasonClosed},
			{"closed in the window", func(q directory.Query) directory.Query {
				q.Pathway, q.At, q.RespondWithin = "discharge-pathway-1", time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC), time.Hour
				return q
			}, "svc-reablement", directory.ReasonClosed},
			{"inactive", func(q directory.Query) directory.Query { q.Pathway = "crisis-home-treatment"; return q }, "svc-crisis-retired", directory.ReasonInactive},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := ix.Match(tc.query(north))
				for _, r := range res.Rejected {
					if r.ServiceID == tc.service {
						if r.Reason != tc.reason || r.Detail == "" {
							t.Errorf("%s rejected for %s (%s), want %s", tc.service, r.Reason, r.Detail, tc.reason)
						}
						return
					}
				}
				t.Errorf("%s not rejected; candidates %+v, rejected %+v", tc.service, res.Candidates, res.Rejected)
			})
		}

		// An import through any connection (another replica) reaches the cache at once, even at the same clock time.
		renamed := services[0]
		renamed.Name = "Renamed talking therapies"
		if _, err := directory.NewSQLStore(db).PutServices(ctx, []directory.Service{renamed}, nil, storeNow); err != nil {
			t.Fatal(err)
		}
		fresh, err := cache.Index(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if svc, _ := fresh.Service(renamed.ID); fresh == ix || svc.Name != renamed.Name {
			t.Errorf("cached index not rebuilt after an import: %q", svc.Name)
		}
		if same, _ := cache.Index(ctx); same != fresh {
			t.Errorf("cached index rebuilt without a change")
		}
	})
}

func TestStoredGazetteerLocates(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		g, err := fixtures.Gazetteer()
		if err != nil {
			t.Fatal(err)
		}
		store := directory.NewSQLStore(db)
		if n, err := store.PutGazetteer(ctx, g); err != nil || n != g.Len() {
			t.Fatalf("put: %d %v", n, err)
		}
		for _, e := range g.Entries() {
			lat, lon, ok, err := store.Locate(ctx, strings.ToLower(strings.ReplaceAll(e.Postcode, " ", "")))
			if err != nil || !ok || lat != e.Lat || lon != e.Lon {
				t.Fatalf("%s: %v %v %v %v", e.Postcode, lat, lon, ok, err)
			}
		}
		if _, _, ok, err := store.Locate(ctx, "ZX9 9ZZ"); ok || err != nil {
			t.Errorf("unknown postcode located: %v %v", ok, err)
		}
	})
}
