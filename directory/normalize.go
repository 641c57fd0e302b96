package directory

import (
	"encoding/json"
	"errors"

	"github.com/google/uuid"
)

// HSDSVersion is the Open Referral HSDS version Carepath reads and writes.
const HSDSVersion = "3.1"

// HSDSProfile is the address of the HSDS profile Carepath's API follows: plain HSDS 3.1, with
// Carepath's own codes and rules carried as attributes of the taxonomies named below.
const HSDSProfile = "https://docs.openreferral.org/en/latest/hsds/overview.html"

// CodeNamespace is the namespace of the name-based (version 5) UUIDs Carepath gives records that
// a publisher identified by its own codes instead of UUIDs; it is the version 5 UUID of
// https://github.com/carepath/carepath/directory#hsds-code in the URL namespace.
const CodeNamespace = "ca03c6ce-657b-54d9-948f-55f504f55cad"

// The taxonomies of Carepath's attributes. A service delivers a pathway when an attribute links a
// term of PathwayTaxonomy whose code is the pathway id. A service's own code, when the publisher
// identified it by one, is the value of an attribute of CodeTaxonomy; its eligibility rule (a CEL
// expression over subject.* and outcome.*) is the value of an attribute of EligibilityTaxonomy.
const (
	PathwayTaxonomy     = "carepath-pathway"
	CodeTaxonomy        = "carepath-code"
	EligibilityTaxonomy = "carepath-eligibility"
)

// RecordUUID is the id Carepath gives a record the publisher identified as code: code itself when
// it is already a UUID, else the version 5 UUID of code in CodeNamespace. The same code always
// gives the same UUID, so re-imports keep ids and foreign keys keep pointing at their records;
// an empty code stays empty so that validation can report it missing.
func RecordUUID(code string) string {
	if code == "" || isUUID(code) {
		return code
	}
	return uuid.NewSHA1(uuid.MustParse(CodeNamespace), []byte(code)).String()
}

// isUUID reports whether s is a UUID in the 8-4-4-4-12 hexadecimal form JSON Schema's uuid
// format asks for.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isUUIDMember reports whether HSDS 3.1 types the member as a UUID: ids and foreign keys.
func isUUIDMember(key string) bool {
	switch key {
	case "id", "contact_id", "link_id", "location_id", "organization_id", "parent_id", "parent_organization_id",
		"phone_id", "program_id", "resource_id", "service_at_location_id", "service_id", "taxonomy_id",
		"taxonomy_term_id", "unit_id":
		return true
	}
	return false
}

// carepathTaxonomy reports whether name is one of Carepath's own taxonomies.
func carepathTaxonomy(name string) bool {
	return name == PathwayTaxonomy || name == CodeTaxonomy || name == EligibilityTaxonomy
}

// normalizeService turns one service document, HSDS 3.0 or 3.1 and possibly written by an older
// Carepath, into the HSDS 3.1 form Carepath stores and serves. It is idempotent:
//   - every id and foreign key that is not a UUID is read as the publisher's own code and replaced
//     by RecordUUID(code); the service's own code is kept as an attribute of CodeTaxonomy;
//   - the old carepath_eligibility member becomes an attribute of EligibilityTaxonomy;
//   - required members Carepath can supply are filled: a location's location_type (from what it
//     holds), an address's state_province (empty when not given), a taxonomy term's name (its
//     code) and description (its name), and the taxonomy_id of Carepath's own taxonomies.
//
// Members HSDS does not define are left as they are.
func normalizeService(doc any) error {
	o, ok := doc.(*object)
	if !ok {
		return errors.New("want a JSON object")
	}
	id, _ := o.str("id")
	key := id
	var code string
	if id != "" && !isUUID(id) {
		code = id
	}
	if v, ok := o.get("carepath_eligibility"); ok {
		o.del("carepath_eligibility")
		expr, isString := v.(string)
		if v != nil && !isString {
			return errors.New("carepath_eligibility: want a string (a CEL expression)")
		}
		if expr != "" && !hasTaxonomyAttribute(o, EligibilityTaxonomy) {
			if err := appendAttribute(o, eligibilityAttribute(key, id, expr)); err != nil {
				return err
			}
		}
	}
	if code != "" && !hasTaxonomyAttribute(o, CodeTaxonomy) {
		if err := appendAttribute(o, codeAttribute(key, id, code)); err != nil {
			return err
		}
	}
	mapIDs(o)
	fillRequired(o, "")
	return nil
}

// hasTaxonomyAttribute reports whether the service already has an attribute of taxonomy.
func hasTaxonomyAttribute(o *object, taxonomy string) bool {
	attrs, _ := o.get("attributes")
	list, _ := attrs.([]any)
	for _, a := range list {
		ao, ok := a.(*object)
		if !ok {
			continue
		}
		term, _ := ao.get("taxonomy_term")
		if to, ok := term.(*object); ok {
			if t, _ := to.str("taxonomy"); t == taxonomy {
				return true
			}
		}
	}
	return false
}

func appendAttribute(o *object, a Attribute) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	v, err := decodeOrdered(b)
	if err != nil {
		return err
	}
	attrs, _ := o.get("attributes")
	list, ok := attrs.([]any)
	if attrs != nil && !ok {
		return errors.New("attributes: want an array")
	}
	o.set("attributes", append(list, v))
	return nil
}

// mapIDs replaces every id and foreign key that is not a UUID by RecordUUID of it. Service area
// extents are GeoJSON, whose own "id" members are not HSDS ids, and are left alone.
func mapIDs(v any) {
	switch t := v.(type) {
	case *object:
		for i, m := range t.members {
			if m.key == "extent" {
				continue
			}
			if s, ok := m.value.(string); ok && isUUIDMember(m.key) {
				t.members[i].value = RecordUUID(s)
				continue
			}
			mapIDs(m.value)
		}
	case []any:
		for _, x := range t {
			mapIDs(x)
		}
	}
}

// fillRequired supplies the required members Carepath can infer; parent is the member the value
// was found under (array items inherit their array's name).
func fillRequired(v any, parent string) {
	switch t := v.(type) {
	case *object:
		switch parent {
		case "location", "locations":
			if _, ok := t.get("location_type"); !ok {
				t.set("location_type", inferLocationType(t))
			}
		case "addresses":
			if _, ok := t.get("state_province"); !ok {
				t.set("state_province", "")
			}
		case "taxonomy_term":
			if name, _ := t.str("name"); name == "" {
				if code, ok := t.str("code"); ok && code != "" {
					t.set("name", code)
				}
			}
			if d, _ := t.str("description"); d == "" {
				if name, ok := t.str("name"); ok {
					t.set("description", name)
				}
			}
			if tax, _ := t.str("taxonomy"); carepathTaxonomy(tax) {
				if _, ok := t.get("taxonomy_id"); !ok {
					t.set("taxonomy_id", RecordUUID(tax))
				}
			}
		case "taxonomy_detail":
			if _, ok := t.get("description"); !ok {
				if name, ok := t.str("name"); ok {
					t.set("description", name)
				}
			}
		}
		for _, m := range t.members {
			if m.key != "extent" {
				fillRequired(m.value, m.key)
			}
		}
	case []any:
		for _, x := range t {
			fillRequired(x, parent)
		}
	}
}

// inferLocationType reads a location's type from what it holds: coordinates or a physical address
// make it physical, only postal addresses postal, only a url virtual.
func inferLocationType(loc *object) string {
	_, hasLat := loc.get("latitude")
	addrs, _ := loc.get("addresses")
	list, _ := addrs.([]any)
	if hasLat || len(list) == 0 {
		if _, hasURL := loc.get("url"); !hasLat && hasURL {
			return "virtual"
		}
		return "physical"
	}
	for _, a := range list {
		if ao, ok := a.(*object); ok {
			if t, _ := ao.str("address_type"); t != "postal" {
				return "physical"
			}
		}
	}
	return "postal"
}

// normalizeDocument normalises one service's JSON and returns it compact.
func normalizeDocument(data []byte) ([]byte, error) {
	doc, err := decodeOrdered(data)
	if err != nil {
		return nil, err
	}
	if err := normalizeService(doc); err != nil {
		return nil, err
	}
	return encodeOrdered(doc)
}

// codeAttribute carries a service's own code, given by its publisher, as an HSDS attribute.
func codeAttribute(key, serviceID, code string) Attribute {
	term := carepathTerm(CodeTaxonomy, "service-code", "Service code",
		"The code the publisher gave this service; Carepath's decisions, bookings and rosters name the service by it.")
	return Attribute{ID: RecordUUID(key + "/" + CodeTaxonomy), LinkID: serviceID, LinkType: "identifier", LinkEntity: "service",
		TaxonomyTermID: term.ID, Value: code, Label: "Service code", TaxonomyTerm: &term}
}

// eligibilityAttribute carries a service's Carepath eligibility rule as an HSDS attribute.
func eligibilityAttribute(key, serviceID, expr string) Attribute {
	term := carepathTerm(EligibilityTaxonomy, "cel", "Carepath eligibility rule",
		"A CEL expression over subject.* and outcome.* that must be true for Carepath to offer the service.")
	return Attribute{ID: RecordUUID(key + "/" + EligibilityTaxonomy), LinkID: serviceID, LinkType: "eligibility", LinkEntity: "service",
		TaxonomyTermID: term.ID, Value: expr, Label: "Carepath eligibility rule", TaxonomyTerm: &term}
}

func carepathTerm(taxonomy, code, name, description string) TaxonomyTerm {
	return TaxonomyTerm{ID: RecordUUID(taxonomy + "/" + code), Code: code, Name: name, Description: description,
		Taxonomy: taxonomy, TaxonomyID: RecordUUID(taxonomy)}
}
