package directory

import (
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// Filter holds the HSDS and Open Referral UK query filters of GET /services; zero fields do not
// filter. Ids may be given as UUIDs or as the publisher's own codes, which are mapped by
// RecordUUID as on import.
type Filter struct {
	// TaxonomyTermID keeps services with an attribute linking this taxonomy term id.
	TaxonomyTermID string
	// TaxonomyID keeps services with an attribute linking a term of this taxonomy.
	TaxonomyID string
	// OrganizationID keeps services this organization provides.
	OrganizationID string
	// ModifiedAfter keeps services whose last_modified is on or after it.
	ModifiedAfter time.Time
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

// Filter returns the services that pass every filter in f, sorted by code and read-only like
// Service; page the result with Page.
func (ix *Index) Filter(f Filter) []Service {
	words := strings.Fields(strings.ToLower(f.Search))
	pt := orb.Point{f.Lon, f.Lat}
	term, taxonomy, org := idMatcher(f.TaxonomyTermID), idMatcher(f.TaxonomyID), idMatcher(f.OrganizationID)
	var out []Service
	for i := range ix.services {
		cs := &ix.services[i]
		if term != nil && !hasTerm(cs.attributes, term) {
			continue
		}
		if taxonomy != nil && !hasTaxonomy(cs.attributes, taxonomy) {
			continue
		}
		if org != nil && !org(cs.svc.organizationID()) {
			continue
		}
		if !f.ModifiedAfter.IsZero() && (cs.modified.IsZero() || cs.modified.Before(f.ModifiedAfter)) {
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

// idMatcher matches an id given as a UUID or as a code; nil when no id is given.
func idMatcher(want string) func(string) bool {
	if want == "" {
		return nil
	}
	mapped := RecordUUID(want)
	return func(id string) bool { return id != "" && (id == want || id == mapped) }
}

func hasTerm(attrs []Attribute, match func(string) bool) bool {
	for _, a := range attrs {
		if match(a.TaxonomyTermID) || a.TaxonomyTerm != nil && match(a.TaxonomyTerm.ID) {
			return true
		}
	}
	return false
}

// hasTaxonomy matches a term's taxonomy by its id, its detail's id, or its name.
func hasTaxonomy(attrs []Attribute, match func(string) bool) bool {
	for _, a := range attrs {
		t := a.TaxonomyTerm
		if t == nil {
			continue
		}
		if match(t.TaxonomyID) || match(t.Taxonomy) || t.TaxonomyDetail != nil && match(t.TaxonomyDetail.ID) {
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
