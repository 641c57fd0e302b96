package routing

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func dayOf(t testing.TB) []byte {
	t.Helper()
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	visit := func(id, who string, hour int, lat, lon float64) StoredVisit {
		return StoredVisit{Visit: Visit{ID: id, CaseID: "c-" + id, PractitionerID: who, ServiceID: "svc", Pathway: "p",
			Start: at.Add(time.Duration(hour) * time.Hour), End: at.Add(time.Duration(hour)*time.Hour + 45*time.Minute),
			Loc: Point{Lat: lat, Lon: lon}}, Status: StatusBooked}
	}
	// Stored out of order: the map numbers them by start.
	visits := []StoredVisit{visit("v3", "a", 3, 52.96, -1.12), visit("v1", "a", 0, 52.94, -1.16), visit("v2", "a", 1, 52.95, -1.14),
		visit("w1", "b", 0, 53.5, -2.0)}
	roster := []Practitioner{{ID: "a", Name: "A", Base: Point{Lat: 52.93, Lon: -1.15}}, {ID: "b", Name: "B", Base: Point{Lat: 53.4, Lon: -2.1}}}
	geo, err := DayGeoJSON(visits, roster, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return geo
}

func TestProjectDay(t *testing.T) {
	geo := dayOf(t)
	area := MapArea{Name: "City", Shape: orb.MultiPolygon{{{{-1.2, 52.9}, {-1.1, 52.9}, {-1.1, 53.0}, {-1.2, 53.0}, {-1.2, 52.9}}}}}
	opt := MapOptions{Width: 640, Height: 420, Padding: 20, Practitioner: "a"}
	m, err := ProjectDay(geo, []MapArea{area}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Visits) != 3 || m.Visits[0].ID != "v1" || m.Visits[1].ID != "v2" || m.Visits[2].ID != "v3" || m.Visits[2].N != 3 {
		t.Fatalf("visits %+v, want v1, v2, v3 numbered 1 to 3", m.Visits)
	}
	if len(m.Bases) != 1 || m.Bases[0].ID != "a" {
		t.Fatalf("bases %+v, want a's only", m.Bases)
	}
	if pts := strings.Fields(m.Route); len(pts) != 4 || !strings.HasPrefix(m.Route, "") {
		t.Errorf("route %q: want the base and three visits", m.Route)
	}
	for _, p := range append(m.Visits, m.Bases...) {
		if p.X < opt.Padding-0.1 || p.X > opt.Width-opt.Padding+0.1 || p.Y < opt.Padding-0.1 || p.Y > opt.Height-opt.Padding+0.1 {
			t.Errorf("%s at (%g, %g) is outside the padded viewport", p.ID, p.X, p.Y)
		}
	}
	// North is up and east is right: v3 is north-east of v1.
	if !(m.Visits[2].X > m.Visits[0].X && m.Visits[2].Y < m.Visits[0].Y) {
		t.Errorf("v3 %+v is not north-east of v1 %+v", m.Visits[2], m.Visits[0])
	}
	// Equal distances on the ground are equal on the map: cos(latitude) scales longitude.
	dx := math.Abs(m.Visits[1].X - m.Visits[0].X)
	dy := math.Abs(m.Visits[1].Y - m.Visits[0].Y)
	if want := 0.02 * math.Cos(52.945*math.Pi/180) / 0.01; math.Abs(dx/dy-want) > 0.02 {
		t.Errorf("x:y of a 0.02° east, 0.01° north step is %.3f, want %.3f", dx/dy, want)
	}
	if len(m.Areas) != 1 || !strings.HasPrefix(m.Areas[0].Path, "M") || !strings.HasSuffix(m.Areas[0].Path, "Z") {
		t.Errorf("areas %+v", m.Areas)
	}
	if len(m.Tiles) != 0 {
		t.Error("tiles listed without a tile server")
	}

	all, err := ProjectDay(geo, nil, MapOptions{Width: 640, Height: 420, Padding: 20})
	if err != nil || len(all.Visits) != 4 || len(all.Bases) != 2 || all.Route != "" {
		t.Errorf("everyone's day: %+v %v (no route across practitioners)", all, err)
	}
	empty, err := ProjectDay(geo, nil, MapOptions{Width: 640, Height: 420, Padding: 20, Practitioner: "nobody"})
	if err != nil || len(empty.Visits) != 0 || empty.Width != 640 {
		t.Errorf("nobody's day: %+v %v", empty, err)
	}
	if _, err := ProjectDay(geo, nil, MapOptions{Width: 10, Height: 10, Padding: 5}); err == nil {
		t.Error("padding filling the viewport was accepted")
	}
}

func TestProjectDayTiles(t *testing.T) {
	m, err := ProjectDay(dayOf(t), nil, MapOptions{Width: 640, Height: 420, Padding: 20, Practitioner: "a", TileURL: "/tiles/{z}/{x}/{y}.png"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Tiles) == 0 || len(m.Tiles) > 64 {
		t.Fatalf("%d tiles", len(m.Tiles))
	}
	for _, tile := range m.Tiles {
		if !strings.HasPrefix(tile.URL, "/tiles/") || strings.ContainsAny(tile.URL, "{}") || tile.Size < 128 || tile.Size > 512 {
			t.Errorf("tile %+v", tile)
		}
		if tile.X > 640 || tile.Y > 420 || tile.X+tile.Size < 0 || tile.Y+tile.Size < 0 {
			t.Errorf("tile %+v is off the viewport", tile)
		}
	}
}

func FuzzProjectDay(f *testing.F) {
	f.Add(dayOf(f), "a")
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[0,90]},"properties":{"kind":"visit"}}]}`), "")
	f.Add([]byte(`{}`), "")
	f.Fuzz(func(t *testing.T, geo []byte, who string) {
		opt := MapOptions{Width: 300, Height: 200, Padding: 10, Practitioner: who, TileURL: "/t/{z}/{x}/{y}"}
		m, err := ProjectDay(geo, nil, opt)
		if err != nil {
			return
		}
		for i, p := range m.Visits {
			if p.N != i+1 {
				t.Fatalf("visit %d numbered %d", i, p.N)
			}
			if math.IsNaN(p.X) || math.IsNaN(p.Y) {
				t.Fatalf("visit %d at NaN", i)
			}
		}
		if len(m.Tiles) > 64 {
			t.Fatalf("%d tiles", len(m.Tiles))
		}
	})
}
