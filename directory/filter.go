package directory

import (
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// Filter holds the HSDS and Open Referral UK query filters of GET /services; zero fields do not
// filter.
type Filter struct {
	// TaxonomyTermID keeps services with an attribute linking this taxonomy term id.
	TaxonomyTermID string
	// Lat and Lon are the point a postcode resolved to (the caller resolves it); with Proximity
	// in metres above zero, a service is kept when one of its locations lies within Proximity of
	// the point or one of its service areas contains it, so visiting teams are found too; a
	// service with neither serves everywhere.
	Lat, Lon  float64
	Proximity float64
	// MinimumAge and MaximumAge keep services whose age range overlaps [MinimumAge, MaximumAge].
	MinimumAge, MaximumAge *int
	// Search keeps services whose name or description contains every word, ignoring case.
	Search string
}

// Filter returns the services that pass every filter in f, sorted by id and read-only like
// Service; page the result with Page.
func (ix *Index) Filter(f Filter) []Service {
	words := strings.Fields(strings.ToLower(f.Search))
	pt := orb.Point{f.Lon, f.Lat}
	var out []Service
	for i := range ix.services {
		cs := &ix.services[i]
		if f.TaxonomyTermID != "" && !hasTerm(&cs.svc, f.TaxonomyTermID) {
			continue
		}
		if f.MinimumAge != nil && float64(*f.MinimumAge) > cs.maxAge {
			continue
		}
		if f.MaximumAge != nil && float64(*f.MaximumAge) < cs.minAge {
			continue
		}
		if f.Proximity > 0 && !near(cs, pt, f.Proximity) {
			continue
		}
		if !containsAll(cs.searchText, words) {
			continue
		}
		out = append(out, cs.svc)
	}
	return out
}

func hasTerm(s *Service, id string) bool {
	for _, a := range s.Attributes {
		if a.TaxonomyTermID == id || a.TaxonomyTerm != nil && a.TaxonomyTerm.ID == id {
			return true
		}
	}
	return false
}

// near applies the proximity filter. A service with neither locations nor areas serves
// everywhere, as in Match, so it is near every point.
func near(cs *compiledService, pt orb.Point, metres float64) bool {
	if len(cs.points) == 0 && len(cs.areas) == 0 {
		return true
	}
	for _, p := range cs.points {
		if geo.DistanceHaversine(pt, p.point) <= metres {
			return true
		}
	}
	for i := range cs.areas {
		if cs.areas[i].contains(pt) {
			return true
		}
	}
	return false
}

func containsAll(text string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}
