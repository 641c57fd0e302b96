package bulkimport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

// TestImportRefusesAmbiguousLines holds bulk import, whose fast decoder takes only the plain
// shape, to the same rules: such lines fall back to ParseSubmission and are rejected with the
// field named.
func TestImportRefusesAmbiguousLines(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(string(generated(t, "mental-health", 4, 5)), "\n"), "\n")
	lines[0] = strings.Replace(lines[0], `"risk_plan":false`, `"risk_plan":true,"risk_plan":false`, 1)
	lines[1] = strings.Replace(lines[1], `"form"`, `"FORM"`, 1)
	lines[2] = strings.Replace(lines[2], `"form_version":1`, `"form_version":99999999999999`, 1)
	lines[3] = strings.Replace(lines[3], `"ref":"`, `"ref":"\u0000`, 1)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		im := newImporter(t, db)
		var reasons []string
		sum, err := im.Import(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), func(r bulkimport.Rejected) error {
			reasons = append(reasons, r.Reason)
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Stored != 0 || sum.Rejected != 4 {
			t.Fatalf("summary %+v, rejects %q", sum, reasons)
		}
		for i, want := range []string{"answers.risk_plan: is given more than once", `FORM: is not a field`, "form_version: 99999999999999 is not a form version", "subject.ref: contains the character U+0000"} {
			if !strings.HasPrefix(reasons[i], want) {
				t.Errorf("line %d: %q, want %q…", i+1, reasons[i], want)
			}
		}
	})
}
