package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

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
	fc := geojson.NewFeatureCollection()
	visiting := map[string]int{}
	for _, v := range vs {
		visiting[v.PractitionerID]++
		f := geojson.NewFeature(orb.Point{v.Loc.Lon, v.Loc.Lat})
		f.Properties = geojson.Properties{
			"kind":         "visit",
			"id":           v.ID,
			"decision_id":  v.CaseID,
			"practitioner": v.PractitionerID,
			"service":      v.ServiceID,
			"pathway":      v.Pathway,
			"time":         v.Start.In(loc).Format(time.RFC3339),
			"end":          v.End.In(loc).Format(time.RFC3339),
			"pinned":       v.Pinned,
		}
		fc.Append(f)
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
		f := geojson.NewFeature(orb.Point{p.Base.Lon, p.Base.Lat})
		f.Properties = geojson.Properties{
			"kind":         "base",
			"practitioner": p.ID,
			"name":         p.Name,
			"visits":       visiting[id],
		}
		fc.Append(f)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(fc); err != nil {
		return nil, fmt.Errorf("routing: unable to export visits: %w", err)
	}
	return buf.Bytes(), nil
}
