package directory

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/paulmach/orb"
)

// Problem is one defect in imported services, named precisely enough for a publisher to fix it.
type Problem struct {
	// Record is the service: its quoted id, or its [index] in the input when the id is missing.
	Record string `json:"record"`
	// Field is the HSDS field path inside the service, such as service_areas[0].extent.
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// String formats the problem as one line of an error report.
func (p Problem) String() string {
	return fmt.Sprintf("service %s field %s: %s", p.Record, p.Field, p.Reason)
}

// ValidationError lists every problem found, so an import fails once with a full report.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "directory: invalid services: %d problem(s)", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Validate checks services against the HSDS rules Carepath depends on and reports every problem
// as a *ValidationError. knownPathway, when not nil, says which carepath-pathway codes exist in
// the rule sets; nil skips that check.
func Validate(services []Service, knownPathway func(id string) bool) error {
	comp, err := newEligibilityCompiler()
	if err != nil {
		return err
	}
	_, problems := compileServices(services, knownPathway, comp)
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// locPoint is a service location that has coordinates.
type locPoint struct {
	id    string
	point orb.Point
}

// compiledService is a service with everything Match needs parsed up front.
type compiledService struct {
	svc          Service
	pathways     []string
	status       string
	minAge       float64 // -Inf when unset
	maxAge       float64 // +Inf when unset
	areas        []area
	bound        orb.Bound
	schedules    []openings
	hasSchedules bool
	limited      bool    // has at least one capacity record
	available    float64 // smallest available across capacity records: any exhausted unit blocks
	points       []locPoint
	eligibility  cel.Program
	searchText   string      // lower-cased name and description for Filter
	modified     time.Time   // last_modified; zero when not given
	attributes   []Attribute // every attribute the service's HSDS document has, Carepath's own too
	row          int32       // position of the stored row it was built from, while an index is assembled

	// Precomputed explanations, so Match formats little per query.
	areaReason     []string // per area, for a kept candidate
	outOfArea      string
	ageReason      string
	ageUnknown     string
	eligibleReason string
	capacityReason string
}

// compileServices parses and checks every service, returning the compiled form of each (valid or
// not, aligned with the input) and every problem found.
func compileServices(services []Service, knownPathway func(string) bool, comp *eligibilityCompiler) ([]compiledService, []Problem) {
	var problems []Problem
	out := make([]compiledService, len(services))
	firstByID := make(map[string]int, len(services))
	firstByCode := make(map[string]int, len(services))
	for i := range services {
		s := &services[i]
		rec := recordName(i, s.key())
		add := func(field, reason string) {
			problems = append(problems, Problem{Record: rec, Field: field, Reason: reason})
		}
		if strings.TrimSpace(s.ID) == "" {
			add("id", "missing")
		} else if j, dup := firstByID[s.ID]; dup {
			add("id", fmt.Sprintf("duplicate: also used by service [%d]", j))
		} else {
			firstByID[s.ID] = i
		}
		if code := s.key(); s.Code != "" && s.Code != s.ID {
			if j, dup := firstByCode[code]; dup {
				add("attributes", fmt.Sprintf("duplicate service code %q: also used by service [%d]", code, j))
			} else {
				firstByCode[code] = i
			}
		}
		if strings.TrimSpace(s.Name) == "" {
			add("name", "missing")
		}
		switch s.Status {
		case StatusActive, StatusInactive, StatusDefunct, StatusTemporarilyClosed:
		case "":
			add("status", "missing: want active, inactive, defunct or temporarily closed")
		default:
			add("status", fmt.Sprintf("unknown status %q: want active, inactive, defunct or temporarily closed", s.Status))
		}

		cs := compiledService{svc: *s, status: s.Status, minAge: math.Inf(-1), maxAge: math.Inf(1)}
		if s.LastModified != "" {
			t, err := time.Parse(time.RFC3339, s.LastModified)
			if err != nil {
				add("last_modified", fmt.Sprintf("%q is not an RFC 3339 date-time", s.LastModified))
			}
			cs.modified = t
		}
		if s.MinimumAge != nil {
			cs.minAge = *s.MinimumAge
			if cs.minAge < 0 {
				add("minimum_age", fmt.Sprintf("negative (%g)", cs.minAge))
			}
		}
		if s.MaximumAge != nil {
			cs.maxAge = *s.MaximumAge
			if cs.maxAge < 0 {
				add("maximum_age", fmt.Sprintf("negative (%g)", cs.maxAge))
			}
		}
		if cs.minAge > cs.maxAge {
			add("minimum_age", fmt.Sprintf("minimum_age %g is greater than maximum_age %g", cs.minAge, cs.maxAge))
		}

		if s.CarepathEligibility != "" {
			prg, err := comp.compile(s.CarepathEligibility)
			if err != nil {
				add("carepath_eligibility", fmt.Sprintf("does not compile: %v", err))
			}
			cs.eligibility = prg
		}

		for ai, a := range s.ServiceAreas {
			field := fmt.Sprintf("service_areas[%d]", ai)
			if !strings.EqualFold(strings.TrimSpace(a.ExtentType), ExtentTypeGeoJSON) {
				add(field+".extent_type", fmt.Sprintf("unsupported extent_type %q: want %q", a.ExtentType, ExtentTypeGeoJSON))
				continue
			}
			mp, err := ParseExtent(a.Extent, a.ExtentType)
			if err != nil {
				add(field+".extent", err.Error())
				continue
			}
			cs.areas = append(cs.areas, newArea(a.Name, mp))
		}

		for li, sal := range s.ServiceAtLocations {
			l := sal.Location
			if l == nil {
				continue
			}
			field := fmt.Sprintf("service_at_locations[%d].location", li)
			switch {
			case l.Latitude == nil && l.Longitude == nil:
				continue
			case l.Latitude == nil:
				add(field+".latitude", "missing while longitude is given")
				continue
			case l.Longitude == nil:
				add(field+".longitude", "missing while latitude is given")
				continue
			}
			ok := true
			if *l.Latitude < -90 || *l.Latitude > 90 {
				add(field+".latitude", fmt.Sprintf("%g out of range -90..90", *l.Latitude))
				ok = false
			}
			if *l.Longitude < -180 || *l.Longitude > 180 {
				add(field+".longitude", fmt.Sprintf("%g out of range -180..180", *l.Longitude))
				ok = false
			}
			if ok {
				cs.points = append(cs.points, locPoint{id: l.ID, point: orb.Point{*l.Longitude, *l.Latitude}})
			}
		}

		cs.hasSchedules = len(s.Schedules) > 0
		for si, sc := range s.Schedules {
			w, sp := parseSchedule(sc)
			for _, p := range sp {
				add(fmt.Sprintf("schedules[%d].%s", si, p.field), p.reason)
			}
			if len(sp) == 0 {
				cs.schedules = append(cs.schedules, w)
			}
		}

		for ci, c := range s.Capacities {
			if c.Available < 0 {
				add(fmt.Sprintf("capacities[%d].available", ci), fmt.Sprintf("negative (%g)", c.Available))
			}
			if !cs.limited || c.Available < cs.available {
				cs.available = c.Available
			}
			cs.limited = true
		}

		for ai, a := range s.Attributes {
			t := a.TaxonomyTerm
			if t != nil && (t.Taxonomy == CodeTaxonomy || t.Taxonomy == EligibilityTaxonomy) {
				add(fmt.Sprintf("attributes[%d].taxonomy_term.taxonomy", ai),
					fmt.Sprintf("a second %s attribute: a service has one", t.Taxonomy))
				continue
			}
			if t == nil || t.Taxonomy != PathwayTaxonomy {
				continue
			}
			field := fmt.Sprintf("attributes[%d].taxonomy_term.code", ai)
			if t.Code == "" {
				add(field, "missing: a carepath-pathway term needs the pathway id as code")
				continue
			}
			if knownPathway != nil && !knownPathway(t.Code) {
				add(field, fmt.Sprintf("unknown pathway %q", t.Code))
			}
		}
		cs.pathways = s.Pathways()
		cs.attributes = s.withCarepathAttributes()

		cs.explain()
		out[i] = cs
	}
	return out, problems
}

// explain prepares the fixed parts of Match's reasons for this service.
func (cs *compiledService) explain() {
	s := &cs.svc
	// No service area means the service covers everywhere.
	cs.bound = orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}
	if len(cs.areas) > 0 {
		cs.bound = cs.areas[0].bound
		names := make([]string, len(cs.areas))
		cs.areaReason = make([]string, len(cs.areas))
		for i, a := range cs.areas {
			cs.bound = cs.bound.Union(a.bound)
			names[i] = areaLabel(a.name, i)
			cs.areaReason[i] = "subject is inside service area " + names[i]
		}
		cs.outOfArea = "subject's location is outside service area(s) " + strings.Join(names, ", ")
	}

	switch {
	case s.MinimumAge == nil && s.MaximumAge == nil:
		cs.ageReason = "no age limits"
		cs.ageUnknown = cs.ageReason
	default:
		r := ageRange(s.MinimumAge, s.MaximumAge)
		cs.ageReason = "age within limits: " + r
		cs.ageUnknown = "age unknown; service takes " + r
	}
	if s.CarepathEligibility != "" {
		cs.eligibleReason = "meets eligibility: " + s.CarepathEligibility
	}
	if cs.limited {
		cs.capacityReason = "capacity available: " + formatNumber(cs.available)
	} else {
		cs.capacityReason = "no capacity limit recorded"
	}
	var text strings.Builder
	text.WriteString(strings.ToLower(s.Name))
	text.WriteByte('\n')
	text.WriteString(strings.ToLower(s.Description))
	cs.searchText = text.String()
}

func areaLabel(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("#%d", i)
	}
	return strconv.Quote(name)
}

func ageRange(minAge, maxAge *float64) string {
	switch {
	case minAge == nil:
		return "up to " + formatNumber(*maxAge)
	case maxAge == nil:
		return formatNumber(*minAge) + " and over"
	}
	return formatNumber(*minAge) + " to " + formatNumber(*maxAge)
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
