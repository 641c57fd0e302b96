package directory

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// Test subjects live in Leeds; the default service area is a box around the city.
const (
	leedsLat, leedsLon = 53.7997, -1.5492
	pathwayStep2       = "talking-therapies-step2"
)

func boxExtent(minLon, minLat, maxLon, maxLat float64) string {
	return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}`,
		minLon, minLat, maxLon, minLat, maxLon, maxLat, minLon, maxLat, minLon, minLat)
}

type serviceOption func(*Service)

// newService builds an active service delivering pathwayStep2 over a box around Leeds.
func newService(id string, opts ...serviceOption) Service {
	s := Service{
		ID:     id,
		Name:   "Service " + id,
		Status: StatusActive,
		ServiceAreas: []ServiceArea{{
			ID: id + "-area", Name: "Leeds", ExtentType: "geojson",
			Extent: boxExtent(-1.8, 53.7, -1.3, 53.95),
		}},
		Attributes: []Attribute{pathwayAttr(id, pathwayStep2)},
	}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func pathwayAttr(id, pathway string) Attribute {
	return Attribute{ID: id + "-" + pathway, TaxonomyTerm: &TaxonomyTerm{ID: "term-" + pathway, Code: pathway, Name: pathway, Taxonomy: PathwayTaxonomy}}
}

func withStatus(status string) serviceOption { return func(s *Service) { s.Status = status } }

func withAges(minAge, maxAge float64) serviceOption {
	return func(s *Service) {
		if !math.IsNaN(minAge) {
			s.MinimumAge = &minAge
		}
		if !math.IsNaN(maxAge) {
			s.MaximumAge = &maxAge
		}
	}
}

func withEligibility(expr string) serviceOption {
	return func(s *Service) { s.CarepathEligibility = expr }
}

func withCapacity(available ...float64) serviceOption {
	return func(s *Service) {
		for i, a := range available {
			s.Capacities = append(s.Capacities, ServiceCapacity{ID: fmt.Sprintf("%s-cap%d", s.ID, i), Available: a})
		}
	}
}

func withSchedule(sc Schedule) serviceOption {
	return func(s *Service) { s.Schedules = append(s.Schedules, sc) }
}

func withLocation(id string, lat, lon float64) serviceOption {
	return func(s *Service) {
		s.ServiceAtLocations = append(s.ServiceAtLocations, ServiceAtLocation{
			ID: s.ID + "-" + id, LocationID: id, Location: &Location{ID: id, Latitude: &lat, Longitude: &lon},
		})
	}
}

func withArea(extent string) serviceOption {
	return func(s *Service) {
		s.ServiceAreas = []ServiceArea{{ID: s.ID + "-area", Name: "custom", ExtentType: "geojson", Extent: extent}}
	}
}

func withoutArea() serviceOption { return func(s *Service) { s.ServiceAreas = nil } }

func withPathways(pathways ...string) serviceOption {
	return func(s *Service) {
		s.Attributes = nil
		for _, p := range pathways {
			s.Attributes = append(s.Attributes, pathwayAttr(s.ID, p))
		}
	}
}

// greatCircleMinutes is the tests' own travel model: haversine distance, 1.3 detour, 30 km/h.
func greatCircleMinutes(fromLat, fromLon, toLat, toLon float64) float64 {
	metres := geo.DistanceHaversine(orb.Point{fromLon, fromLat}, orb.Point{toLon, toLat})
	return metres * 1.3 / 30000 * 60
}
