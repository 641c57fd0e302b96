package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// The day's map is drawn in a viewport of these SVG units; CSS scales it to the page.
const (
	mapWidth   = 640
	mapHeight  = 420
	mapPadding = 28
)

// practitionerPages registers the web pages of the practitioner's day and its map.
func (s *Server) practitionerPages(mux *http.ServeMux) {
	s.handlePage(mux, "GET /day", identity.ReadDay, s.dayPage)
}

// dayVisit is one visit of the day as the page lists it.
type dayVisit struct {
	N          int
	ID         string
	CaseID     string
	Start, End time.Time
	Pathway    string
	Priority   rules.Priority
	// Where is the person's address and postcode, or their location when they gave neither.
	Where string
	// Name is the person's name, when the clinician's form gave it.
	Name string
}

// dayData is the day page's content.
type dayData struct {
	Date         string // YYYY-MM-DD
	Day          time.Time
	Prev, Next   string // links to the days either side
	Practitioner string
	Name         string
	Visits       []dayVisit
	Map          routing.DayMap
	Base         string // the practitioner's name, for the base marker's title
	// Choose lists the roster for a coordinator to pick whose day to see; empty for a practitioner.
	Choose []option
	// Unlinked: the account works as no practitioner and none was asked for.
	Unlinked bool
}

// Label is the marker's accessible title of visit n, as the list below the map names it.
func (d dayData) Label(n int) string {
	for _, v := range d.Visits {
		if v.N == n {
			return fmt.Sprintf("Visit %d: %s, %s", n, v.Pathway, v.Where)
		}
	}
	return fmt.Sprintf("Visit %d", n)
}

func (s *Server) dayPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	who := identity.FromContext(ctx)
	p := s.Engine.Placement
	if p == nil {
		s.pageProblem(w, r, failure.Errorf(failure.Unavailable, "routing is not configured"))
		return
	}
	loc, err := p.Zone()
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	q := r.URL.Query()
	data := dayData{Date: q.Get("date"), Practitioner: cmp.Or(q.Get("practitioner"), who.Practitioner)}
	if data.Date == "" {
		data.Date = s.Engine.Now().In(loc).Format(time.DateOnly)
	}
	// As the API: a practitioner reads only their own day; a coordinator anyone's.
	if !who.Has(identity.Coordinator) && data.Practitioner != who.Practitioner {
		s.pageProblem(w, r, failure.Errorf(failure.Forbidden, "a practitioner reads only their own day; practitioner %s is not you", data.Practitioner))
		return
	}
	roster, err := p.Routing.Practitioners(ctx)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if who.Has(identity.Coordinator) {
		for _, pr := range roster {
			data.Choose = append(data.Choose, option{Value: pr.ID, Label: pr.Name, Selected: pr.ID == data.Practitioner})
		}
	}
	v := view{Title: "My day", Data: &data}
	from, _, err := p.DayBounds(data.Date)
	if err != nil {
		v.Errors = fieldErrors(err, nil)
		data.Map = routing.DayMap{Width: mapWidth, Height: mapHeight}
		s.render(w, r, http.StatusUnprocessableEntity, "day", v)
		return
	}
	data.Day = from
	data.Prev, data.Next = dayLink(from.AddDate(0, 0, -1), q), dayLink(from.AddDate(0, 0, 1), q)
	if data.Practitioner == "" {
		data.Unlinked = true
		data.Map = routing.DayMap{Width: mapWidth, Height: mapHeight}
		s.render(w, r, http.StatusOK, "day", v)
		return
	}
	visits, err := p.DayVisits(ctx, data.Date, data.Practitioner)
	if failure.CodeOf(err) == failure.NotFound && q.Get("practitioner") != "" {
		v.Errors = []fieldError{{Field: "practitioner", ID: "day-practitioner", Message: "Select a practitioner from the list"}}
		data.Map = routing.DayMap{Width: mapWidth, Height: mapHeight}
		s.render(w, r, http.StatusUnprocessableEntity, "day", v)
		return
	} else if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	for _, pr := range roster {
		if pr.ID == data.Practitioner {
			data.Name = pr.Name
		}
	}
	data.Name = cmp.Or(data.Name, data.Practitioner)
	pathways, err := s.pathways(ctx)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	ids := make([]string, len(visits))
	for i, vs := range visits {
		ids[i] = vs.ID
	}
	// The same record of access the API's day makes, before any of the cases is read.
	if s.Audit != nil {
		if err := s.Audit.Append(ctx, s.accessEntry(r, audit.ActionDayRead, ids)); err != nil {
			s.pageProblem(w, r, err)
			return
		}
	}
	// The export with each practitioner's route, as straight segments: a page load asks no road
	// service, and the line's order (base, the visits in order, back to base) is what matters here.
	geo, err := routing.DayRoutesGeoJSON(ctx, visits, roster, loc, nil)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	areas, err := s.serviceAreas(r, p, visits)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	data.Map, err = routing.ProjectDay(geo, areas, routing.MapOptions{Width: mapWidth, Height: mapHeight, Padding: mapPadding,
		Practitioner: data.Practitioner, TileURL: s.TileURL})
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	spreadColocated(&data.Map)
	if data.Map.Route, err = routeLine(geo, data.Map, data.Practitioner); err != nil {
		s.pageProblem(w, r, err)
		return
	}
	order := map[string]int{}
	for _, m := range data.Map.Visits {
		order[m.ID] = m.N
	}
	for _, vs := range visits {
		dv := dayVisit{N: order[vs.ID], ID: vs.ID, CaseID: vs.CaseID, Start: vs.Start, End: vs.End,
			Pathway: cmp.Or(pathways[vs.Pathway].Name, vs.Pathway), Where: fmt.Sprintf("%.4f, %.4f", vs.Loc.Lat, vs.Loc.Lon)}
		if d, err := s.Forms.Decision(ctx, vs.CaseID); err == nil {
			dv.Priority = d.Outcome.Priority
			to := recipientOf(d.Input)
			if where := strings.Join(append(to.Lines, to.Postcode), ", "); strings.Trim(where, ", ") != "" {
				dv.Where = strings.Trim(where, ", ")
			}
			dv.Name = to.Name
		} else if failure.CodeOf(err) != failure.NotFound {
			s.pageProblem(w, r, err)
			return
		}
		data.Visits = append(data.Visits, dv)
	}
	s.render(w, r, http.StatusOK, "day", v)
}

// dayLink is the day page for another date, keeping whose day it is.
func dayLink(day time.Time, q url.Values) string {
	out := url.Values{"date": {day.Format(time.DateOnly)}}
	if p := q.Get("practitioner"); p != "" {
		out.Set("practitioner", p)
	}
	return "/day?" + out.Encode()
}

// serviceAreas are the areas of the services the day's visits are for, to draw under the map.
func (s *Server) serviceAreas(r *http.Request, p *triage.Placement, visits []routing.StoredVisit) ([]routing.MapArea, error) {
	if len(visits) == 0 || p.Directory == nil {
		return nil, nil
	}
	ix, err := p.Directory.Index(r.Context())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []routing.MapArea
	for _, v := range visits {
		if seen[v.ServiceID] {
			continue
		}
		seen[v.ServiceID] = true
		svc, ok := ix.Service(v.ServiceID)
		if !ok {
			continue
		}
		for _, a := range svc.ServiceAreas {
			if a.ExtentType != "geojson" || a.Extent == "" {
				continue
			}
			shape, err := directory.ParseExtent(a.Extent, a.ExtentType)
			if err != nil {
				continue // the directory refused bad extents on import; one it cannot read is not drawn
			}
			out = append(out, routing.MapArea{Name: cmp.Or(a.Name, svc.Name), Shape: shape})
		}
	}
	return out, nil
}

// spreadColocated moves apart the markers of visits at one place (a care home, a block of flats),
// which would otherwise be drawn on top of each other with only the last number showing: each
// group is set on a small circle around the place, first visit at the top, then clockwise. The
// same day always gives the same picture.
func spreadColocated(m *routing.DayMap) {
	const near = 8.0 // closer than this, in viewport units, two markers hide each other's numbers
	const gap = 14.0 // half the distance between neighbours on the circle: just more than a marker's radius
	done := make([]bool, len(m.Visits))
	for i := range m.Visits {
		if done[i] {
			continue
		}
		group := []int{i}
		for j := i + 1; j < len(m.Visits); j++ {
			if !done[j] && math.Hypot(m.Visits[j].X-m.Visits[i].X, m.Visits[j].Y-m.Visits[i].Y) < near {
				group = append(group, j)
				done[j] = true
			}
		}
		if len(group) < 2 {
			continue
		}
		cx, cy := m.Visits[i].X, m.Visits[i].Y
		radius := gap / math.Sin(math.Pi/float64(len(group)))
		for k, j := range group {
			angle := 2*math.Pi*float64(k)/float64(len(group)) - math.Pi/2
			m.Visits[j].X = clamp(math.Round((cx+radius*math.Cos(angle))*10)/10, mapPadding/2, m.Width-mapPadding/2)
			m.Visits[j].Y = clamp(math.Round((cy+radius*math.Sin(angle))*10)/10, mapPadding/2, m.Height-mapPadding/2)
		}
	}
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// routeLine is the practitioner's route as SVG polyline points, in the order of the route
// LineString the day's GeoJSON carries (its visit_ids: from the base through the visits and back),
// drawn between the markers as placed, so that the line meets every numbered marker.
func routeLine(geo []byte, m routing.DayMap, practitioner string) (string, error) {
	var fc struct {
		Features []struct {
			Properties struct {
				Kind         string   `json:"kind"`
				Practitioner string   `json:"practitioner"`
				VisitIDs     []string `json:"visit_ids"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(geo, &fc); err != nil {
		return "", fmt.Errorf("server: unable to read the day's routes: %w", err)
	}
	at := map[string]routing.MapPoint{}
	for _, v := range m.Visits {
		at[v.ID] = v
	}
	var base *routing.MapPoint
	for i := range m.Bases {
		if m.Bases[i].ID == practitioner {
			base = &m.Bases[i]
		}
	}
	for _, f := range fc.Features {
		p := f.Properties
		if p.Kind != "route" || p.Practitioner != practitioner || base == nil {
			continue
		}
		pts := []string{mapXY(*base)}
		for _, id := range p.VisitIDs {
			if v, ok := at[id]; ok {
				pts = append(pts, mapXY(v))
			}
		}
		if len(pts) == 1 {
			return "", nil
		}
		return strings.Join(append(pts, mapXY(*base)), " "), nil
	}
	return "", nil
}

func mapXY(p routing.MapPoint) string {
	return strconv.FormatFloat(p.X, 'f', -1, 64) + "," + strconv.FormatFloat(p.Y, 'f', -1, 64)
}
