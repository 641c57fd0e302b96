// Package directory holds the services directory: the Open Referral HSDS 3.0 records Carepath
// imports, and the matching that turns a chosen care pathway into the services able to deliver it.
package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// PathwayTaxonomy is the taxonomy whose term codes are Carepath pathway ids; a service delivers a
// pathway when one of its attributes links a term of this taxonomy with the pathway id as code.
const PathwayTaxonomy = "carepath-pathway"

// The HSDS 3.0 service statuses.
const (
	StatusActive            = "active"
	StatusInactive          = "inactive"
	StatusDefunct           = "defunct"
	StatusTemporarilyClosed = "temporarily closed"
)

// Organization is the HSDS organization that runs services.
type Organization struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Website is HSDS 3.0's name for the organization's url.
	Website string `json:"website,omitempty"`
}

// Service is one HSDS 3.0 "full" service object: the service with its organization, locations,
// areas, schedules, capacities and taxonomy attributes nested inside it.
type Service struct {
	ID                     string   `json:"id"`
	OrganizationID         string   `json:"organization_id,omitempty"`
	Name                   string   `json:"name"`
	Description            string   `json:"description,omitempty"`
	URL                    string   `json:"url,omitempty"`
	Status                 string   `json:"status"`
	EligibilityDescription string   `json:"eligibility_description,omitempty"`
	MinimumAge             *float64 `json:"minimum_age,omitempty"`
	MaximumAge             *float64 `json:"maximum_age,omitempty"`
	// CarepathEligibility is Carepath's extension: a CEL expression over subject.* and outcome.*
	// that must be true for the service to be offered; empty admits everyone.
	CarepathEligibility string              `json:"carepath_eligibility,omitempty"`
	Organization        *Organization       `json:"organization,omitempty"`
	ServiceAtLocations  []ServiceAtLocation `json:"service_at_locations,omitempty"`
	ServiceAreas        []ServiceArea       `json:"service_areas,omitempty"`
	Schedules           []Schedule          `json:"schedules,omitempty"`
	Capacities          []ServiceCapacity   `json:"capacities,omitempty"`
	Attributes          []Attribute         `json:"attributes,omitempty"`
}

// ServiceAtLocation links a service to a place where it is delivered.
type ServiceAtLocation struct {
	ID          string    `json:"id"`
	ServiceID   string    `json:"service_id,omitempty"`
	LocationID  string    `json:"location_id,omitempty"`
	Description string    `json:"description,omitempty"`
	Location    *Location `json:"location,omitempty"`
}

// Location is a physical place; coordinates are WGS84 degrees and may be absent.
type Location struct {
	ID          string    `json:"id"`
	Name        string    `json:"name,omitempty"`
	Description string    `json:"description,omitempty"`
	Latitude    *float64  `json:"latitude,omitempty"`
	Longitude   *float64  `json:"longitude,omitempty"`
	Addresses   []Address `json:"addresses,omitempty"`
}

// Address is a postal address of a location.
type Address struct {
	ID            string `json:"id"`
	LocationID    string `json:"location_id,omitempty"`
	Address1      string `json:"address_1,omitempty"`
	City          string `json:"city,omitempty"`
	StateProvince string `json:"state_province,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
	AddressType   string `json:"address_type,omitempty"`
}

// ServiceArea is the geographic area a service covers; Carepath reads extents of type geojson.
type ServiceArea struct {
	ID          string `json:"id"`
	ServiceID   string `json:"service_id,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Extent is the area's definition as text; HSDS types it as a string, so a GeoJSON object
	// given inline is kept as its compact JSON text.
	Extent     string `json:"extent,omitempty"`
	ExtentType string `json:"extent_type,omitempty"`
}

// UnmarshalJSON accepts extent either as the HSDS string or as an inline GeoJSON object, because
// publishers do both.
func (a *ServiceArea) UnmarshalJSON(data []byte) error {
	type plain ServiceArea
	var raw struct {
		plain
		Extent json.RawMessage `json:"extent"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*a = ServiceArea(raw.plain)
	ext := bytes.TrimSpace(raw.Extent)
	switch {
	case len(ext) == 0 || string(ext) == "null":
		a.Extent = ""
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

// Schedule is an RFC 5545 style opening pattern; Carepath models weekly recurrence.
type Schedule struct {
	ID          string `json:"id"`
	ServiceID   string `json:"service_id,omitempty"`
	Freq        string `json:"freq,omitempty"`
	Byday       string `json:"byday,omitempty"`
	OpensAt     string `json:"opens_at,omitempty"`
	ClosesAt    string `json:"closes_at,omitempty"`
	ValidFrom   string `json:"valid_from,omitempty"`
	ValidTo     string `json:"valid_to,omitempty"`
	Description string `json:"description,omitempty"`
}

// ServiceCapacity is how much of a resource a service has left.
type ServiceCapacity struct {
	ID          string    `json:"id"`
	ServiceID   string    `json:"service_id,omitempty"`
	Unit        *Unit     `json:"unit,omitempty"`
	Available   float64   `json:"available"`
	Maximum     *float64  `json:"maximum,omitempty"`
	Description string    `json:"description,omitempty"`
	Updated     time.Time `json:"updated,omitzero"`
}

// Unit names what a capacity counts, such as places or beds.
type Unit struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Scheme     string `json:"scheme,omitempty"`
	Identifier string `json:"identifier,omitempty"`
	URI        string `json:"uri,omitempty"`
}

// Attribute links a record to a taxonomy term.
type Attribute struct {
	ID             string        `json:"id"`
	LinkID         string        `json:"link_id,omitempty"`
	LinkType       string        `json:"link_type,omitempty"`
	LinkEntity     string        `json:"link_entity,omitempty"`
	TaxonomyTermID string        `json:"taxonomy_term_id,omitempty"`
	Value          string        `json:"value,omitempty"`
	TaxonomyTerm   *TaxonomyTerm `json:"taxonomy_term,omitempty"`
}

// TaxonomyTerm is one term of a taxonomy; for PathwayTaxonomy the code is a pathway id.
type TaxonomyTerm struct {
	ID          string `json:"id"`
	Code        string `json:"code,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Taxonomy    string `json:"taxonomy,omitempty"`
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

// PagedResponse is the HSDS API envelope for GET /services.
type PagedResponse struct {
	TotalItems int       `json:"total_items"`
	TotalPages int       `json:"total_pages"`
	PageNumber int       `json:"page_number"`
	Size       int       `json:"size"`
	FirstPage  bool      `json:"first_page"`
	LastPage   bool      `json:"last_page"`
	Empty      bool      `json:"empty"`
	Contents   []Service `json:"contents"`
}

// Page cuts one page out of services, keeping their order; page numbers start at 1 as in the HSDS
// API, and a size below 1 is treated as 1 so that a bad query never divides by zero.
func Page(services []Service, pageNumber, size int) PagedResponse {
	if size < 1 {
		size = 1
	}
	if pageNumber < 1 {
		pageNumber = 1
	}
	total := len(services)
	pages := (total + size - 1) / size
	start := total
	if pageNumber-1 <= total/size { // checked first so absurd page numbers cannot overflow
		start = min((pageNumber-1)*size, total)
	}
	end := min(start+size, total)
	contents := services[start:end:end]
	if contents == nil {
		contents = []Service{}
	}
	return PagedResponse{
		TotalItems: total,
		TotalPages: pages,
		PageNumber: pageNumber,
		Size:       size,
		FirstPage:  pageNumber == 1,
		LastPage:   pageNumber >= pages,
		Empty:      len(contents) == 0,
		Contents:   contents,
	}
}

// ParseHSDS reads full service objects given as a JSON array, as an HSDS paged response, or as a
// single service object (the GET /services/{id} shape).
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

// recordName names a service by id when it has one, else by its position in the input.
func recordName(index int, id string) string {
	if strings.TrimSpace(id) == "" {
		return fmt.Sprintf("[%d]", index)
	}
	return fmt.Sprintf("%q", id)
}

// ExportHSDS writes services as an indented JSON array sorted by id, with nested lists sorted by
// id too, so that the same directory always exports to the same bytes whatever order it was
// loaded in.
func ExportHSDS(services []Service) ([]byte, error) {
	out := make([]Service, len(services))
	for i, s := range services {
		out[i] = canonical(s)
	}
	slices.SortStableFunc(out, func(a, b Service) int { return strings.Compare(a.ID, b.ID) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // eligibility expressions use && and < and should stay readable
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("directory: unable to export HSDS: %w", err)
	}
	return buf.Bytes(), nil
}

// canonical copies s with every nested list sorted by id, leaving s itself untouched.
func canonical(s Service) Service {
	s.ServiceAtLocations = sortedByID(s.ServiceAtLocations, func(x ServiceAtLocation) string { return x.ID })
	for i, sal := range s.ServiceAtLocations {
		if sal.Location != nil {
			loc := *sal.Location
			loc.Addresses = sortedByID(loc.Addresses, func(x Address) string { return x.ID })
			s.ServiceAtLocations[i].Location = &loc
		}
	}
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
