// Package directory holds the services directory: the Open Referral HSDS 3.1 records Carepath
// imports, and the matching that turns a chosen care pathway into the services able to deliver it.
package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The HSDS service statuses.
const (
	StatusActive            = "active"
	StatusInactive          = "inactive"
	StatusDefunct           = "defunct"
	StatusTemporarilyClosed = "temporarily closed"
)

// Service is one HSDS 3.1 service with everything nested in it, the shape of GET /services/{id}.
// The Go fields are what matching reads; every other member the publisher sent, at every level
// (phones, contacts, languages, email, accessibility, metadata and any extension), is kept
// verbatim and written back, so nothing HSDS defines is lost between import and export.
//
// Its JSON is always normalised HSDS 3.1 (see normalizeService): decoding upgrades 3.0 documents
// and council codes, encoding writes UUIDs and Carepath's attributes.
type Service struct {
	ID                 string              `json:"id"`
	OrganizationID     string              `json:"organization_id,omitempty"`
	Name               string              `json:"name"`
	Description        string              `json:"description,omitempty"`
	Status             string              `json:"status"`
	MinimumAge         *float64            `json:"minimum_age,omitempty"`
	MaximumAge         *float64            `json:"maximum_age,omitempty"`
	LastModified       string              `json:"last_modified,omitempty"`
	Organization       *Organization       `json:"organization,omitempty"`
	ServiceAtLocations []ServiceAtLocation `json:"service_at_locations,omitempty"`
	ServiceAreas       []ServiceArea       `json:"service_areas,omitempty"`
	Schedules          []Schedule          `json:"schedules,omitempty"`
	Capacities         []ServiceCapacity   `json:"capacities,omitempty"`
	Attributes         []Attribute         `json:"attributes,omitempty"`

	// Code is the publisher's own code for the service (carried in HSDS as an attribute of
	// CodeTaxonomy), or its id when the publisher gave a UUID. Decisions, bookings and
	// practitioners' service_ids name services by it, so a council's codes stay readable there
	// and a re-import under new UUIDs cannot orphan them.
	Code string `json:"-"`
	// CarepathEligibility is a CEL expression over subject.* and outcome.* that must be true for
	// the service to be offered; empty admits everyone. HSDS carries it as an attribute of
	// EligibilityTaxonomy.
	CarepathEligibility string `json:"-"`

	rest rest
}

// Organization is the HSDS organization that runs a service.
type Organization struct {
	ID   string `json:"id"`
	rest rest
}

// ServiceAtLocation links a service to a place where it is delivered.
type ServiceAtLocation struct {
	ID         string    `json:"id"`
	LocationID string    `json:"location_id,omitempty"`
	Location   *Location `json:"location,omitempty"`
	rest       rest
}

// Location is a place a service is delivered at; coordinates are WGS84 degrees and may be absent.
type Location struct {
	ID        string   `json:"id"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	rest      rest
}

// ServiceArea is the geographic area a service covers; Carepath reads extents of type geojson.
type ServiceArea struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Extent is the area's definition as text; HSDS types it as a string, so a GeoJSON object
	// given inline is kept as its compact JSON text.
	Extent     string `json:"extent,omitempty"`
	ExtentType string `json:"extent_type,omitempty"`
	rest       rest
}

// Schedule is an HSDS schedule: an RFC 5545 recurrence of opening sessions.
type Schedule struct {
	ID         string   `json:"id"`
	ValidFrom  string   `json:"valid_from,omitempty"`
	ValidTo    string   `json:"valid_to,omitempty"`
	DTStart    string   `json:"dtstart,omitempty"`
	Timezone   *float64 `json:"timezone,omitempty"`
	Until      string   `json:"until,omitempty"`
	Count      *float64 `json:"count,omitempty"`
	Wkst       string   `json:"wkst,omitempty"`
	Freq       string   `json:"freq,omitempty"`
	Interval   *float64 `json:"interval,omitempty"`
	Byday      string   `json:"byday,omitempty"`
	Byweekno   string   `json:"byweekno,omitempty"`
	Bymonthday string   `json:"bymonthday,omitempty"`
	Byyearday  string   `json:"byyearday,omitempty"`
	OpensAt    string   `json:"opens_at,omitempty"`
	ClosesAt   string   `json:"closes_at,omitempty"`
	rest       rest
}

// ServiceCapacity is how much of a resource a service has left.
type ServiceCapacity struct {
	ID        string  `json:"id"`
	Available float64 `json:"available"`
	rest      rest
}

// Attribute links a record to a taxonomy term.
type Attribute struct {
	ID             string        `json:"id"`
	LinkID         string        `json:"link_id,omitempty"`
	LinkType       string        `json:"link_type,omitempty"`
	LinkEntity     string        `json:"link_entity,omitempty"`
	TaxonomyTermID string        `json:"taxonomy_term_id,omitempty"`
	Value          string        `json:"value,omitempty"`
	Label          string        `json:"label,omitempty"`
	TaxonomyTerm   *TaxonomyTerm `json:"taxonomy_term,omitempty"`
	rest           rest
}

// TaxonomyTerm is one term of a taxonomy; for PathwayTaxonomy the code is a pathway id.
type TaxonomyTerm struct {
	ID             string          `json:"id"`
	Code           string          `json:"code,omitempty"`
	Name           string          `json:"name,omitempty"`
	Description    string          `json:"description,omitempty"`
	Taxonomy       string          `json:"taxonomy,omitempty"`
	TaxonomyID     string          `json:"taxonomy_id,omitempty"`
	TaxonomyDetail *TaxonomyDetail `json:"taxonomy_detail,omitempty"`
	rest           rest
}

// TaxonomyDetail is the taxonomy a term belongs to.
type TaxonomyDetail struct {
	ID   string `json:"id"`
	rest rest
}

// UnmarshalJSON reads a service document of HSDS 3.0 or 3.1, normalising it first.
func (s *Service) UnmarshalJSON(data []byte) error {
	norm, err := normalizeDocument(data)
	if err != nil {
		return err
	}
	type plain Service
	var p plain
	extra, err := decodeKeeping(norm, &p)
	if err != nil {
		return err
	}
	*s = Service(p)
	s.rest = extra
	s.liftCarepathAttributes()
	return nil
}

// MarshalJSON writes the service as normalised HSDS 3.1.
func (s Service) MarshalJSON() ([]byte, error) {
	type plain Service
	p := plain(s)
	p.Attributes = s.withCarepathAttributes()
	b, err := encodeKeeping(p, s.rest)
	if err != nil {
		return nil, err
	}
	return normalizeDocument(b)
}

// liftCarepathAttributes moves the first code and eligibility attributes into Code and
// CarepathEligibility; Validate reports any second one.
func (s *Service) liftCarepathAttributes() {
	var code, elig bool
	kept := s.Attributes[:0:0]
	for _, a := range s.Attributes {
		tax := ""
		if a.TaxonomyTerm != nil {
			tax = a.TaxonomyTerm.Taxonomy
		}
		switch {
		case tax == CodeTaxonomy && !code:
			s.Code, code = a.Value, true
		case tax == EligibilityTaxonomy && !elig:
			s.CarepathEligibility, elig = a.Value, true
		default:
			kept = append(kept, a)
		}
	}
	if len(kept) == 0 {
		kept = nil
	}
	s.Attributes = kept
	if s.Code == "" {
		s.Code = s.ID
	}
}

// withCarepathAttributes is the service's attributes with Code and CarepathEligibility added back.
func (s Service) withCarepathAttributes() []Attribute {
	key := s.key()
	out := s.Attributes
	if s.Code != "" && s.Code != s.ID {
		out = append(slices.Clip(out), codeAttribute(key, s.ID, s.Code))
	}
	if s.CarepathEligibility != "" {
		out = append(slices.Clip(out), eligibilityAttribute(key, s.ID, s.CarepathEligibility))
	}
	return out
}

// key is how Carepath names the service in decisions and bookings: its Code, or its id for a
// service built in Go without one.
func (s *Service) key() string {
	if s.Code != "" {
		return s.Code
	}
	return s.ID
}

// organizationID is the id of the organization providing the service, from organization_id or
// the nested organization.
func (s *Service) organizationID() string {
	if s.OrganizationID == "" && s.Organization != nil {
		return s.Organization.ID
	}
	return s.OrganizationID
}

// UnmarshalJSON keeps the members Organization does not model.
func (o *Organization) UnmarshalJSON(data []byte) error {
	type plain Organization
	*o = Organization{}
	extra, err := decodeKeeping(data, (*plain)(o))
	o.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (o Organization) MarshalJSON() ([]byte, error) {
	type plain Organization
	return encodeKeeping(plain(o), o.rest)
}

// UnmarshalJSON keeps the members ServiceAtLocation does not model.
func (l *ServiceAtLocation) UnmarshalJSON(data []byte) error {
	type plain ServiceAtLocation
	*l = ServiceAtLocation{}
	extra, err := decodeKeeping(data, (*plain)(l))
	l.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (l ServiceAtLocation) MarshalJSON() ([]byte, error) {
	type plain ServiceAtLocation
	return encodeKeeping(plain(l), l.rest)
}

// UnmarshalJSON keeps the members Location does not model.
func (l *Location) UnmarshalJSON(data []byte) error {
	type plain Location
	*l = Location{}
	extra, err := decodeKeeping(data, (*plain)(l))
	l.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (l Location) MarshalJSON() ([]byte, error) {
	type plain Location
	return encodeKeeping(plain(l), l.rest)
}

// UnmarshalJSON accepts extent either as the HSDS string or as an inline GeoJSON object, because
// publishers do both, and keeps the members ServiceArea does not model.
func (a *ServiceArea) UnmarshalJSON(data []byte) error {
	var wire struct {
		ID         string          `json:"id"`
		Name       string          `json:"name,omitempty"`
		Extent     json.RawMessage `json:"extent,omitempty"`
		ExtentType string          `json:"extent_type,omitempty"`
	}
	extra, err := decodeKeeping(data, &wire)
	if err != nil {
		return err
	}
	*a = ServiceArea{ID: wire.ID, Name: wire.Name, ExtentType: wire.ExtentType, rest: extra}
	ext := bytes.TrimSpace(wire.Extent)
	switch {
	case len(ext) == 0 || string(ext) == "null":
	case ext[0] == '"':
		if err := json.Unmarshal(ext, &a.Extent); err != nil {
			return fmt.Errorf("extent: %w", err)
		}
	case ext[0] == '{':
		var buf bytes.Buffer
		if err := json.Compact(&buf, ext); err != nil {
			return fmt.Errorf("extent: %w", err)
		}
		a.Extent = validUTF8(buf.String())
	default:
		return errors.New("extent: want a string or a GeoJSON object")
	}
	return nil
}

// MarshalJSON writes the modelled members, then the kept ones.
func (a ServiceArea) MarshalJSON() ([]byte, error) {
	type plain ServiceArea
	return encodeKeeping(plain(a), a.rest)
}

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json does when it writes a
// string, so that an inline extent reads back unchanged after export.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// UnmarshalJSON keeps the members Schedule does not model.
func (sc *Schedule) UnmarshalJSON(data []byte) error {
	type plain Schedule
	*sc = Schedule{}
	extra, err := decodeKeeping(data, (*plain)(sc))
	sc.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (sc Schedule) MarshalJSON() ([]byte, error) {
	type plain Schedule
	return encodeKeeping(plain(sc), sc.rest)
}

// UnmarshalJSON keeps the members ServiceCapacity does not model.
func (c *ServiceCapacity) UnmarshalJSON(data []byte) error {
	type plain ServiceCapacity
	*c = ServiceCapacity{}
	extra, err := decodeKeeping(data, (*plain)(c))
	c.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (c ServiceCapacity) MarshalJSON() ([]byte, error) {
	type plain ServiceCapacity
	return encodeKeeping(plain(c), c.rest)
}

// UnmarshalJSON keeps the members Attribute does not model.
func (a *Attribute) UnmarshalJSON(data []byte) error {
	type plain Attribute
	*a = Attribute{}
	extra, err := decodeKeeping(data, (*plain)(a))
	a.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (a Attribute) MarshalJSON() ([]byte, error) {
	type plain Attribute
	return encodeKeeping(plain(a), a.rest)
}

// UnmarshalJSON keeps the members TaxonomyTerm does not model.
func (t *TaxonomyTerm) UnmarshalJSON(data []byte) error {
	type plain TaxonomyTerm
	*t = TaxonomyTerm{}
	extra, err := decodeKeeping(data, (*plain)(t))
	t.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (t TaxonomyTerm) MarshalJSON() ([]byte, error) {
	type plain TaxonomyTerm
	return encodeKeeping(plain(t), t.rest)
}

// UnmarshalJSON keeps the members TaxonomyDetail does not model.
func (d *TaxonomyDetail) UnmarshalJSON(data []byte) error {
	type plain TaxonomyDetail
	*d = TaxonomyDetail{}
	extra, err := decodeKeeping(data, (*plain)(d))
	d.rest = extra
	return err
}

// MarshalJSON writes the modelled members, then the kept ones.
func (d TaxonomyDetail) MarshalJSON() ([]byte, error) {
	type plain TaxonomyDetail
	return encodeKeeping(plain(d), d.rest)
}

// Pathways returns the pathway ids the service delivers, sorted and without duplicates.
func (s Service) Pathways() []string {
	var out []string
	for _, a := range s.Attributes {
		if a.TaxonomyTerm != nil && a.TaxonomyTerm.Taxonomy == PathwayTaxonomy && a.TaxonomyTerm.Code != "" {
			out = append(out, a.TaxonomyTerm.Code)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PagedResponse is the HSDS API envelope of a page of GET /services.
type PagedResponse[T any] struct {
	TotalItems int  `json:"total_items"`
	TotalPages int  `json:"total_pages"`
	PageNumber int  `json:"page_number"`
	Size       int  `json:"size"` // the number of items on this page
	FirstPage  bool `json:"first_page"`
	LastPage   bool `json:"last_page"`
	Empty      bool `json:"empty"`
	Contents   []T  `json:"contents"`
}

// Page cuts one page of at most size items out of items, keeping their order; page numbers start
// at 1 as in the HSDS API, and a size below 1 is treated as 1 so that a bad query never divides
// by zero.
func Page[T any](items []T, pageNumber, size int) PagedResponse[T] {
	if size < 1 {
		size = 1
	}
	if pageNumber < 1 {
		pageNumber = 1
	}
	total := len(items)
	pages := (total + size - 1) / size
	start := total
	if pageNumber-1 <= total/size { // checked first so absurd page numbers cannot overflow
		start = min((pageNumber-1)*size, total)
	}
	end := min(start+size, total)
	contents := items[start:end:end]
	if contents == nil {
		contents = []T{}
	}
	return PagedResponse[T]{
		TotalItems: total,
		TotalPages: pages,
		PageNumber: pageNumber,
		Size:       len(contents),
		FirstPage:  pageNumber == 1,
		LastPage:   pageNumber >= pages,
		Empty:      len(contents) == 0,
		Contents:   contents,
	}
}

// ParseHSDS reads full service objects of HSDS 3.0 or 3.1 given as a JSON array, as an HSDS
// paged response, or as a single service object (the GET /services/{id} shape), normalising each
// to HSDS 3.1.
func ParseHSDS(data []byte) ([]Service, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("directory: unable to parse HSDS: empty document")
	}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, fmt.Errorf("directory: unable to parse HSDS array: %w", err)
		}
	case '{':
		var envelope map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &envelope); err != nil {
			return nil, fmt.Errorf("directory: unable to parse HSDS object: %w", err)
		}
		contents, paged := envelope["contents"]
		if !paged {
			raws = []json.RawMessage{trimmed}
			break
		}
		if err := json.Unmarshal(contents, &raws); err != nil {
			return nil, fmt.Errorf("directory: unable to parse HSDS paged response field contents: %w", err)
		}
	default:
		return nil, errors.New("directory: unable to parse HSDS: want an array of services or a paged response")
	}
	services := make([]Service, 0, len(raws))
	for i, raw := range raws {
		var s Service
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("directory: unable to parse service %s: %w", recordName(i, peekID(raw)), err)
		}
		services = append(services, s)
	}
	return services, nil
}

// peekID recovers a record's id for an error message even when the rest of the record is broken.
func peekID(raw json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.ID
}

// recordName names a service by its code or id when it has one, else by its position in the input.
func recordName(index int, id string) string {
	if strings.TrimSpace(id) == "" {
		return fmt.Sprintf("[%d]", index)
	}
	return fmt.Sprintf("%q", id)
}

// ExportHSDS writes services as an indented JSON array of HSDS 3.1 services sorted by code, with
// nested lists sorted by id, so that the same directory always exports to the same bytes
// whatever order it was loaded in.
func ExportHSDS(services []Service) ([]byte, error) {
	out := make([]Service, len(services))
	for i, s := range services {
		out[i] = canonical(s)
	}
	slices.SortStableFunc(out, func(a, b Service) int { return strings.Compare(a.key(), b.key()) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // eligibility expressions use && and < and should stay readable
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("directory: unable to export HSDS: %w", err)
	}
	return buf.Bytes(), nil
}

// canonical copies s with every modelled nested list sorted by id, leaving s itself untouched.
func canonical(s Service) Service {
	s.ServiceAtLocations = sortedByID(s.ServiceAtLocations, func(x ServiceAtLocation) string { return x.ID })
	s.ServiceAreas = sortedByID(s.ServiceAreas, func(x ServiceArea) string { return x.ID })
	s.Schedules = sortedByID(s.Schedules, func(x Schedule) string { return x.ID })
	s.Capacities = sortedByID(s.Capacities, func(x ServiceCapacity) string { return x.ID })
	s.Attributes = sortedByID(s.Attributes, func(x Attribute) string { return x.ID })
	return s
}

func sortedByID[T any](in []T, id func(T) string) []T {
	if in == nil {
		return nil
	}
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return out
}
