package routing

import (
	"bytes"
	"context"
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
	fc, err := dayFeatures(visits, practitioners, loc)
	if err != nil {
		return nil, err
	}
	return encodeFeatures(fc)
}

// dayFeatures is DayGeoJSON's collection before encoding.
func dayFeatures(visits []StoredVisit, practitioners []Practitioner, loc *time.Location) (*geojson.FeatureCollection, error) {
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
	return fc, nil
}

func encodeFeatures(fc *geojson.FeatureCollection) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(fc); err != nil {
		return nil, fmt.Errorf("routing: unable to export visits: %w", err)
	}
	return buf.Bytes(), nil
}

// DayRoutesGeoJSON is DayGeoJSON with each practitioner's route added as a LineString in visit
// order, from the base through the visits by start time and back, after the points. The line
// follows the roads when geom draws them (OSRM's route service); without geom, or when it fails,
// it is straight segments, and the feature's "geometry" property says which.
func DayRoutesGeoJSON(ctx context.Context, visits []StoredVisit, practitioners []Practitioner, loc *time.Location, geom Geometry) ([]byte, error) {
	fc, err := dayFeatures(visits, practitioners, loc)
	if err != nil {
		return nil, err
	}
	byPrac := map[string][]StoredVisit{}
	for _, v := range visits {
		byPrac[v.PractitionerID] = append(byPrac[v.PractitionerID], v)
	}
	ids := make([]string, 0, len(byPrac))
	for id := range byPrac {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	roster := make(map[string]*Practitioner, len(practitioners))
	for i := range practitioners {
		roster[practitioners[i].ID] = &practitioners[i]
	}
	for _, id := range ids {
		p, ok := roster[id]
		if !ok {
			continue // no base to start from
		}
		vs := byPrac[id]
		sort.Slice(vs, func(i, j int) bool {
			if !vs[i].Start.Equal(vs[j].Start) {
				return vs[i].Start.Before(vs[j].Start)
			}
			return vs[i].ID < vs[j].ID
		})
		stops := []Point{p.Base}
		visitIDs := make([]string, len(vs))
		for i, v := range vs {
			stops = append(stops, v.Loc)
			visitIDs[i] = v.ID
		}
		stops = append(stops, p.Base)
		path, source := stops, "straight"
		if geom != nil {
			if road, err := geom.Path(ctx, stops); err == nil && len(road) >= 2 {
				path, source = road, "road"
			} else if ctx.Err() != nil {
				return nil, fmt.Errorf("routing: unable to export routes: %w", ctx.Err())
			}
		}
		line := make(orb.LineString, len(path))
		for i, q := range path {
			line[i] = orb.Point{q.Lon, q.Lat}
		}
		f := geojson.NewFeature(line)
		f.Properties = geojson.Properties{
			"kind":         "route",
			"practitioner": p.ID,
			"name":         p.Name,
			"visit_ids":    visitIDs,
			"geometry":     source,
		}
		fc.Append(f)
	}
	return encodeFeatures(fc)
}
