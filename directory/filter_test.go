package directory

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestFilter(t *testing.T) {
	nan := math.NaN()
	intp := func(v int) *int { return &v }
	services := []Service{
		func() Service {
			s := newService("adults", withAges(18, nan), withLocation("l1", leedsLat, leedsLon), withArea(boxExtent(-1.56, 53.79, -1.54, 53.81)))
			s.Description = "Talking therapy for adults"
			return s
		}(),
		func() Service {
			s := newService("children", withAges(0, 17), withPathways("camhs"), withLocation("l2", 53.9, -1.4), withArea(boxExtent(-1.41, 53.89, -1.39, 53.91)))
			s.Name = "CAMHS Leeds North"
			return s
		}(),
		newService("home-team", withoutArea(), withPathways("crisis")),
		newService("older", withAges(65, 120), withLocation("l3", 53.7, -1.7), withArea(boxExtent(-1.71, 53.69, -1.69, 53.71))),
	}
	ix := mustIndex(t, services)
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"no filter keeps all, sorted", Filter{}, []string{"adults", "children", "home-team", "older"}},
		{"taxonomy term id", Filter{TaxonomyTermID: "term-camhs"}, []string{"children"}},
		{"age overlap from below", Filter{MaximumAge: intp(16)}, []string{"children", "home-team"}},
		{"age overlap from above", Filter{MinimumAge: intp(70)}, []string{"adults", "home-team", "older"}},
		{"age window", Filter{MinimumAge: intp(18), MaximumAge: intp(30)}, []string{"adults", "home-team"}},
		{"within 2 km of the city centre", Filter{Lat: 53.80, Lon: -1.55, Proximity: 2000}, []string{"adults", "home-team"}},
		{"within 30 km", Filter{Lat: 53.80, Lon: -1.55, Proximity: 30000}, []string{"adults", "children", "home-team", "older"}},
		{"search matches name and description, all words, any case", Filter{Search: "leeds CAMHS"}, []string{"children"}},
		{"search in description", Filter{Search: "therapy ADULTS"}, []string{"adults"}},
		{"search without match", Filter{Search: "dentist"}, nil},
		{"filters combine", Filter{Search: "service", MinimumAge: intp(60), Lat: 53.7, Lon: -1.7, Proximity: 500}, []string{"home-team", "older"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range ix.Filter(tc.filter) {
				got = append(got, s.ID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIndexAccessors(t *testing.T) {
	ix := mustIndex(t, []Service{newService("b", withPathways("x", "y")), newService("a")})
	if ix.Len() != 2 {
		t.Errorf("Len() = %d", ix.Len())
	}
	if s, ok := ix.Service("b"); !ok || s.ID != "b" {
		t.Errorf("Service(b) = %v, %v", s.ID, ok)
	}
	if _, ok := ix.Service("zz"); ok {
		t.Errorf("Service(zz) found")
	}
	if got := ix.Services(); len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Errorf("Services() not sorted by id")
	}
	if got := ix.Pathways(); !reflect.DeepEqual(got, []string{pathwayStep2, "x", "y"}) {
		t.Errorf("Pathways() = %v", got)
	}
}

func TestFilterHSDSParameters(t *testing.T) {
	org := func(id string) serviceOption { return func(s *Service) { s.OrganizationID = id } }
	modified := func(at string) serviceOption { return func(s *Service) { s.LastModified = at } }
	services := []Service{
		newService("a", org("council"), modified("2026-01-05T08:00:00Z"), withPathways("p1")),
		newService("b", org(RecordUUID("trust")), modified("2026-02-01T00:00:00+01:00")),
		func() Service {
			s := newService("c", withEligibility("true"))
			s.Organization = &Organization{ID: "council"} // only the nested organization names it
			return s
		}(),
	}
	ix := mustIndex(t, services)
	at := func(v string) time.Time {
		tm, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"organization by code", Filter{OrganizationID: "council"}, []string{"a", "c"}},
		{"organization by the UUID of its code", Filter{OrganizationID: RecordUUID("trust")}, []string{"b"}},
		{"organization code mapped to its UUID", Filter{OrganizationID: "trust"}, []string{"b"}},
		{"taxonomy by name", Filter{TaxonomyID: PathwayTaxonomy}, []string{"a", "b", "c"}},
		{"taxonomy of Carepath's eligibility attribute, by UUID", Filter{TaxonomyID: RecordUUID(EligibilityTaxonomy)}, []string{"c"}},
		{"taxonomy term by code", Filter{TaxonomyTermID: "term-p1"}, []string{"a"}},
		{"modified on or after", Filter{ModifiedAfter: at("2026-01-05T08:00:00Z")}, []string{"a", "b"}},
		{"modified after, offsets compared as instants", Filter{ModifiedAfter: at("2026-01-31T23:00:00Z")}, []string{"b"}},
		{"modified after everything", Filter{ModifiedAfter: at("2026-01-31T23:00:01Z")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range ix.Filter(tc.filter) {
				got = append(got, s.ID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRenderViews(t *testing.T) {
	services, err := ParseHSDS(readTestdata(t, "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := RenderPage(Page(services, 1, 10), ListView)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range page.Contents {
		var m map[string]any
		if err := json.Unmarshal(item, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			if _, many := v.([]any); many {
				t.Errorf("list view keeps the one-to-many member %s", k)
			}
		}
		if m["id"] == nil || m["name"] == nil || m["status"] == nil {
			t.Errorf("list view lacks a required member: %s", item)
		}
	}
	minimal, err := services[0].Render(MinimalView)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	_ = json.Unmarshal(minimal, &keys)
	if len(keys) != 3 || keys["id"] == nil || keys["name"] == nil || keys["status"] == nil {
		t.Errorf("minimal view: %s", minimal)
	}
	full, err := services[0].Render(FullView)
	want, _ := json.Marshal(services[0])
	if err != nil || !bytes.Equal(full, want) {
		t.Errorf("full view differs from the service's JSON: %v", err)
	}
}
