package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
)

// osrmLoopback answers OSRM's table service with 2 minutes between any two different points and
// its route service with a line through the points, on loopback.
func osrmLoopback(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		path := r.URL.Path
		switch {
		case strings.HasPrefix(path, "/table/v1/driving/"):
			q := map[string]string{}
			for _, kv := range strings.Split(r.URL.RawQuery, "&") {
				k, v, _ := strings.Cut(kv, "=")
				q[k] = v
			}
			src, dst := strings.Split(q["sources"], ";"), strings.Split(q["destinations"], ";")
			coords := strings.Split(strings.TrimPrefix(path, "/table/v1/driving/"), ";")
			var rows []string
			for _, i := range src {
				var cells []string
				for _, j := range dst {
					var a, b int
					fmt.Sscan(i, &a)
					fmt.Sscan(j, &b)
					d := "120"
					if coords[a] == coords[b] {
						d = "0"
					}
					cells = append(cells, d)
				}
				rows = append(rows, "["+strings.Join(cells, ",")+"]")
			}
			fmt.Fprintf(w, `{"code":"Ok","durations":[%s]}`, strings.Join(rows, ","))
		case strings.HasPrefix(path, "/route/v1/driving/"):
			var pts []string
			for _, c := range strings.Split(strings.TrimPrefix(path, "/route/v1/driving/"), ";") {
				pts = append(pts, "["+c+"]")
			}
			fmt.Fprintf(w, `{"code":"Ok","routes":[{"geometry":{"type":"LineString","coordinates":[%s]}}]}`, strings.Join(pts, ","))
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code":"InvalidUrl","message":"URL string malformed"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestRoutingPlanCommand plans a demo day on both databases and both travel sources: the report
// lists each change with its reason, --apply makes them, and a second plan finds nothing to move.
func TestRoutingPlanCommand(t *testing.T) {
	var examples []string
	for _, name := range []string{"discharge.json", "mental-health.json"} {
		b, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		examples = append(examples, string(b))
	}
	for _, travel := range []string{"greatcircle", "osrm"} {
		t.Run(travel, func(t *testing.T) {
			t.Setenv("CAREPATH_ROUTING_TRAVEL", travel)
			var calls *int
			if travel == "osrm" {
				var srv *httptest.Server
				srv, calls = osrmLoopback(t)
				t.Setenv("CAREPATH_ROUTING_OSRM_URL", srv.URL)
			}
			eachDSN(t, func(t *testing.T, dsn string) {
				if code, _, stderr := run(t, "", "--db", dsn, "migrate"); code != 0 {
					t.Fatal(stderr)
				}
				if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
					t.Fatal(stderr)
				}
				days := map[string]int{}
				for i := range 6 {
					code, out, stderr := run(t, examples[i%2], "--db", dsn, "assess", "-")
					if code != 0 {
						t.Fatal(stderr)
					}
					var d struct {
						Assignment *struct{ Appointment struct{ Start string } }
					}
					if err := json.Unmarshal([]byte(out), &d); err == nil && d.Assignment != nil {
						days[d.Assignment.Appointment.Start[:10]]++
					}
				}
				date, most := "", 0
				for d, n := range days {
					if n > most || (n == most && d < date) {
						date, most = d, n
					}
				}
				if date == "" {
					t.Fatal("the demo assessments booked nothing")
				}
				type report struct {
					Applied bool `json:"applied"`
					Moved   int  `json:"moved"`
					Changes []struct {
						VisitID string `json:"visit_id"`
						Reason  string `json:"reason"`
					} `json:"changes"`
					Routes []struct {
						VisitIDs []string `json:"visit_ids"`
					} `json:"routes"`
					Movable int `json:"movable"`
					Fixed   int `json:"fixed"`
				}
				plan := func(args ...string) report {
					t.Helper()
					code, out, stderr := run(t, "", append([]string{"--db", dsn, "routing", "plan", "--date", date, "--iterations", "40"}, args...)...)
					if code != 0 {
						t.Fatalf("plan: %d %s", code, stderr)
					}
					var r report
					if err := json.Unmarshal([]byte(out), &r); err != nil {
						t.Fatalf("plan: %v\n%s", err, out)
					}
					return r
				}
				first := plan("--move-penalty", "0")
				if first.Applied || first.Moved != len(first.Changes) || first.Movable+first.Fixed != most {
					t.Errorf("dry plan: %+v (want %d visits)", first, most)
				}
				for _, c := range first.Changes {
					if c.Reason == "" {
						t.Errorf("change of %s without a reason", c.VisitID)
					}
				}
				applied := plan("--move-penalty", "0", "--apply")
				if applied.Moved > 0 && !applied.Applied {
					t.Errorf("--apply with %d changes did not apply", applied.Moved)
				}
				if again := plan(); again.Moved != 0 {
					t.Errorf("a planned day re-planned moves %d visits: %+v", again.Moved, again.Changes)
				}
				code, out, stderr := run(t, "", "--db", dsn, "routing", "export", "--date", date)
				if code != 0 || !strings.Contains(out, `"kind": "route"`) {
					t.Errorf("export: %d %s %.400s", code, stderr, out)
				}
				want := `"geometry": "straight"`
				if travel == "osrm" {
					want = `"geometry": "road"`
				}
				if !strings.Contains(out, want) {
					t.Errorf("export lacks %s", want)
				}
			})
			if calls != nil && *calls == 0 {
				t.Error("the OSRM source was configured but never asked")
			}
		})
	}
	if code, _, stderr := run(t, "", "routing", "plan", "--date", "2026-11-27", "--time-limit", "soon"); code != cli.ExitInvalid || !strings.Contains(stderr, "--time-limit") {
		t.Errorf("bad time limit: %d %s", code, stderr)
	}
}
