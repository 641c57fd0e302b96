package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/directory/hsdstest"
)

func TestDirectoryAndRoutingCommands(t *testing.T) {
	services, err := os.ReadFile(filepath.Join("..", "fixtures", "directory", "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "discharge.json"))
	if err != nil {
		t.Fatal(err)
	}
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, _, stderr := run(t, "", "--db", dsn, "migrate"); code != 0 {
			t.Fatal(stderr)
		}
		// The catalogue must exist for pathway codes to be known; fixtures load brings the demo directory too.
		if code, _, stderr := run(t, "", "--db", dsn, "fixtures", "load"); code != 0 {
			t.Fatal(stderr)
		}
		code, exported, stderr := run(t, "", "--db", dsn, "directory", "export")
		if code != 0 {
			t.Fatal(stderr)
		}
		if code, out, stderr := run(t, exported, "--db", dsn, "directory", "import", "-"); code != 0 || out != "imported 12 services\n" {
			t.Fatalf("re-import: %d %q %s", code, out, stderr)
		}
		if _, again, _ := run(t, "", "--db", dsn, "directory", "export"); again != exported {
			t.Errorf("export after import differs")
		}
		var original []map[string]any
		_ = json.Unmarshal(services, &original)
		if len(original) != 12 || !strings.Contains(exported, `"value": "svc-reablement-plus"`) {
			t.Errorf("export lacks the demo services")
		}
		hsdstest.Load(t).Services(t, []byte(exported))
		bad := strings.Replace(exported, `"code": "discharge-pathway-1"`, `"code": "discharge-pathway-9"`, 1)
		if code, _, stderr := run(t, bad, "--db", dsn, "directory", "import", "-"); code != cli.ExitInvalid || !strings.Contains(stderr, "discharge-pathway-9") {
			t.Errorf("unknown pathway import: %d %s", code, stderr)
		}
		if code, _, stderr := run(t, `[{"id":"x"}]`, "--db", dsn, "practitioners", "import", "-"); code != cli.ExitInvalid || !strings.Contains(stderr, `practitioner 0 (id "x")`) {
			t.Errorf("bad practitioners: %d %s", code, stderr)
		}
		if code, out, stderr := run(t, "pcds,lat,long,oslaua\nZX7 7ZZ,52.9,-1.1,E99000001\n", "--db", dsn, "gazetteer", "import", "-"); code != 0 || out != "imported 1 postcodes\n" {
			t.Errorf("gazetteer: %d %q %s", code, out, stderr)
		}

		code, out, stderr := run(t, string(example), "--db", dsn, "assess", "-")
		if code != 0 {
			t.Fatal(stderr)
		}
		var d struct {
			ID         string `json:"id"`
			Assignment *struct {
				PractitionerID string `json:"practitioner_id"`
				Appointment    struct{ ID, Start string }
			}
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil || d.Assignment == nil {
			t.Fatalf("assess booked nothing: %s", out)
		}
		date := d.Assignment.Appointment.Start[:10]
		if code, out, _ := run(t, "", "--db", dsn, "routing", "day", "--practitioner", d.Assignment.PractitionerID, "--date", date); code != 0 || !strings.Contains(out, d.Assignment.Appointment.ID) {
			t.Errorf("day: %d %s", code, out)
		}
		if code, out, _ := run(t, "", "--db", dsn, "routing", "export", "--date", date); code != 0 || !strings.Contains(out, `"kind": "base"`) {
			t.Errorf("export: %d %s", code, out)
		}
		if code, out, stderr := run(t, "", "--db", dsn, "routing", "optimise", "--date", date, "--dry-run"); code != 0 || !strings.Contains(out, `"travel_before_minutes"`) {
			t.Errorf("optimise: %d %s %s", code, out, stderr)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "routing", "move", "--start", "2026-11-27T03:07:00Z", d.Assignment.Appointment.ID); code != cli.ExitInvalid || !strings.Contains(stderr, "start:") {
			t.Errorf("move at night: %d %s, want refused naming the start", code, stderr)
		}
		if code, out, stderr := run(t, "", "--db", dsn, "routing", "reassign", d.ID); code != 0 || strings.Contains(out, `"practitioner_id": "`+d.Assignment.PractitionerID+`"`) {
			t.Errorf("reassign: %d %s %s", code, out, stderr)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "routing", "cancel", d.Assignment.Appointment.ID); code != cli.ExitInvalid || !strings.Contains(stderr, "already cancelled") {
			t.Errorf("cancel twice: %d %s", code, stderr)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "routing", "day", "--practitioner", "nobody", "--date", date); code != cli.ExitInvalid {
			t.Errorf("unknown practitioner: %d %s", code, stderr)
		}
	})
}
