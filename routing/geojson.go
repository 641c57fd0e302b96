package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// feature is one GeoJSON Feature with a Point geometry.
type feature struct {
	Type       string         `json:"type"`
	Geometry   pointGeometry  `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type pointGeometry struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

// DayGeoJSON writes a day's visits and the bases of the practitioners making them as a GeoJSON
// FeatureCollection for a mapping platform: visits first by start then id, then bases by
// practitioner id; times are local to loc so a map shows the council's clock.
func DayGeoJSON(visits []StoredVisit, practitioners []Practitioner, loc *time.Location) ([]byte, error) {
	if loc == nil {
		return nil, fmt.Errorf("routing: unable to export visits: time zone is nil")
	}
	vs := append([]StoredVisit(nil), visits...)
	sort.Slice(vs, func(i, j int) bool {
		if !vs[i].Start.Equal(vs[j].Start) {
			return vs[i].Start.Before(vs[j].Start)
		}
		return vs[i].ID < vs[j].ID
	})
	byID := make(map[string]*Practitioner, len(practitioners))
	for i := range practitioners {
		byID[practitioners[i].ID] = &practitioners[i]
	}
	features := make([]feature, 0, len(vs)*2)
	visiting := map[string]int{}
	for _, v := range vs {
		visiting[v.PractitionerID]++
		features = append(features, feature{
			Type:     "Feature",
			Geometry: pointGeometry{Type: "Point", Coordinates: [2]float64{v.Loc.Lon, v.Loc.Lat}},
			Properties: map[string]any{
				"kind":         "visit",
				"id":           v.ID,
				"decision_id":  v.CaseID,
				"practitioner": v.PractitionerID,
				"service":      v.ServiceID,
				"pathway":      v.Pathway,
				"time":         v.Start.In(loc).Format(time.RFC3339),
				"end":          v.End.In(loc).Format(time.RFC3339),
				"pinned":       v.Pinned,
			},
		})
	}
	ids := make([]string, 0, len(visiting))
	for id := range visiting {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p, ok := byID[id]
		if !ok {
			continue // a practitioner removed from the roster still has visits, but no base to show
		}
		features = append(features, feature{
			Type:     "Feature",
			Geometry: pointGeometry{Type: "Point", Coordinates: [2]float64{p.Base.Lon, p.Base.Lat}},
			Properties: map[string]any{
				"kind":         "base",
				"practitioner": p.ID,
				"name":         p.Name,
				"visits":       visiting[id],
			},
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"type": "FeatureCollection", "features": features}); err != nil {
		return nil, fmt.Errorf("routing: unable to export visits: %w", err)
	}
	return buf.Bytes(), nil
}
