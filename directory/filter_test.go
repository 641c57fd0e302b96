package directory

import (
	"math"
	"reflect"
	"testing"
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
