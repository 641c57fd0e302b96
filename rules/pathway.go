package rules

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Pathway is one entry of the care-pathway catalogue that rule outcomes must name.
type Pathway struct {
	ID           string   `json:"id" yaml:"id"`
	Name         string   `json:"name" yaml:"name"`
	Description  string   `json:"description" yaml:"description"`
	Skills       []string `json:"skills,omitempty" yaml:"skills,omitempty"`
	VisitMinutes int      `json:"visit_minutes,omitempty" yaml:"visit_minutes,omitempty"`
}

// ParsePathways reads a YAML list of pathways and checks each has an id, a name and no duplicate.
func ParsePathways(src []byte) ([]Pathway, error) {
	var ps []Pathway
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("rules: unable to read pathways: %w", err)
	}
	seen := map[string]bool{}
	for i, p := range ps {
		switch {
		case !idPattern.MatchString(p.ID):
			return nil, fmt.Errorf("rules: pathway %d: id %q: want lower-case letters, digits, - or _", i, p.ID)
		case seen[p.ID]:
			return nil, fmt.Errorf("rules: pathway %s: id is used twice", p.ID)
		case p.Name == "":
			return nil, fmt.Errorf("rules: pathway %s: name is missing", p.ID)
		case p.VisitMinutes < 0:
			return nil, fmt.Errorf("rules: pathway %s: visit_minutes must not be negative", p.ID)
		}
		seen[p.ID] = true
	}
	return ps, nil
}
