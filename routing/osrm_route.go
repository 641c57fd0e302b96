package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Geometry draws the road a route takes through points, in order.
type Geometry interface {
	// Path returns the road's shape from the first point through each to the last.
	Path(ctx context.Context, points []Point) ([]Point, error)
}

// Path implements Geometry with OSRM's route service, in requests of at most MaxTable
// coordinates that share their joining point.
func (o OSRM) Path(ctx context.Context, points []Point) ([]Point, error) {
	if len(points) < 2 {
		return append([]Point(nil), points...), nil
	}
	var out []Point
	step := o.maxTable() - 1
	for i := 0; i < len(points)-1; i += step {
		part, err := o.route(ctx, points[i:min(i+step+1, len(points))])
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && len(part) > 0 {
			part = part[1:] // the joining point is already there
		}
		out = append(out, part...)
	}
	return out, nil
}

// osrmRoute is the part of OSRM's route answer we use.
type osrmRoute struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Routes  []struct {
		Geometry struct {
			Type        string       `json:"type"`
			Coordinates [][2]float64 `json:"coordinates"`
		} `json:"geometry"`
	} `json:"routes"`
}

func (o OSRM) route(ctx context.Context, points []Point) ([]Point, error) {
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		return nil, fmt.Errorf("routing: unable to query OSRM route: BaseURL is empty")
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("/route/v1/driving/")
	for i, p := range points {
		if !p.Valid() {
			return nil, fmt.Errorf("routing: unable to query OSRM route: point %d has invalid coordinates %s", i, p)
		}
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strconv.FormatFloat(p.Lon, 'f', 6, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(p.Lat, 'f', 6, 64))
	}
	b.WriteString("?overview=full&geometries=geojson")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to build OSRM route request: %w", err)
	}
	resp, err := o.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to query OSRM route: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOSRMResponse))
	if err != nil {
		return nil, fmt.Errorf("routing: unable to read OSRM route answer: %w", err)
	}
	return parseOSRMRoute(body, resp.StatusCode)
}

// parseOSRMRoute reads a route answer's geometry, refusing any answer that is not "Ok" or has no
// line of valid coordinates.
func parseOSRMRoute(body []byte, status int) ([]Point, error) {
	var r osrmRoute
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("routing: unable to decode OSRM route answer (HTTP %d): %w", status, err)
	}
	if r.Code != "Ok" {
		msg := r.Message
		if msg == "" {
			msg = "no message"
		}
		return nil, fmt.Errorf("routing: OSRM route answered code %q (HTTP %d): %s", r.Code, status, msg)
	}
	if len(r.Routes) == 0 || len(r.Routes[0].Geometry.Coordinates) < 2 {
		return nil, fmt.Errorf("routing: OSRM route answer has no geometry")
	}
	out := make([]Point, 0, len(r.Routes[0].Geometry.Coordinates))
	for _, c := range r.Routes[0].Geometry.Coordinates {
		p := Point{Lat: c[1], Lon: c[0]}
		if !p.Valid() {
			return nil, fmt.Errorf("routing: OSRM route answer has invalid coordinates %s", p)
		}
		out = append(out, p)
	}
	return out, nil
}
