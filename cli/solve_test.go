package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
)

func TestRoutingSolve(t *testing.T) {
	const file = "../vrptw/testdata/C101.txt"
	for _, tc := range []struct {
		name     string
		vehicles string
		served   int
	}{
		{"best known fleet", "10", 100},
		{"too few vehicles", "1", -1}, // some customers cannot be served: still exit 0
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "", "routing", "solve", "--solomon", file, "--vehicles", tc.vehicles, "--iterations", "20", "--seed", "3")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var res struct {
				Served       int     `json:"served"`
				VehiclesUsed int     `json:"vehicles_used"`
				Distance     float64 `json:"distance"`
				Routes       [][]int `json:"routes"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			n := 0
			seen := map[int]bool{}
			for _, r := range res.Routes {
				for _, c := range r {
					if seen[c] || c < 1 || c > 100 {
						t.Errorf("customer %d repeated or unknown", c)
					}
					seen[c] = true
					n++
				}
			}
			if n != res.Served || len(res.Routes) != res.VehiclesUsed || res.Distance <= 0 {
				t.Errorf("inconsistent: %+v", res)
			}
			if tc.served >= 0 && res.Served != tc.served {
				t.Errorf("served %d, want %d", res.Served, tc.served)
			}
			if tc.served < 0 && (res.Served >= 100 || res.VehiclesUsed != 1) {
				t.Errorf("one vehicle served %d with %d routes", res.Served, res.VehiclesUsed)
			}
		})
	}
}

func TestRoutingSolveDir(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../vrptw/testdata/C101.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "C101.txt"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "best-known.csv"), []byte("instance,vehicles,best_known_distance\nC101,10,828.94\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "routing", "solve", "--solomon-dir", dir, "--iterations", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "| C101 | 10 | 100/100 | yes |") || !strings.Contains(out, "| average (1) |") {
		t.Errorf("table:\n%s", out)
	}
}

func TestRoutingSolveRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"routing", "solve"},
		{"routing", "solve", "--solomon", "x", "--solomon-dir", "y"},
		{"routing", "solve", "--solomon", "no-such-file.txt"},
		{"routing", "solve", "--solomon", "../vrptw/testdata/C101.txt", "--time-limit", "0s"},
		{"routing", "solve", "--solomon", "../vrptw/testdata/C101.txt", "--time-limit", "ten seconds"},
	} {
		if code, _, _ := run(t, "", args...); code != cli.ExitInvalid {
			t.Errorf("%v: exit %d, want %d", args, code, cli.ExitInvalid)
		}
	}
}

func TestRoutingSolveOpensNoDatabase(t *testing.T) {
	code, _, errOut := run(t, "", "--db", "mysql://nowhere", "routing", "solve", "--solomon", "../vrptw/testdata/C101.txt", "--iterations", "2")
	if code != 0 {
		t.Errorf("with a database that cannot be opened: exit %d %s", code, errOut)
	}
}
