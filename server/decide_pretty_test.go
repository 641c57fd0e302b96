package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
)

// TestDecideCompactAndPretty: POST /v1/decide answers compact JSON on one line with its length
// declared, and the same document indented when asked, for decisions that fall through every rule
// and that stop at the first.
func TestDecideCompactAndPretty(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		auth := map[string]string{"Authorization": "Bearer " + e.tokens["carol"]}
		pretty := map[string]string{"Authorization": auth["Authorization"], "Accept": "application/json; indent=2"}
		risk := `{"form":"mental-health","subject":{"ref":"t-2"},"answers":{"phq9_1":0,"phq9_2":0,"phq9_3":0,"phq9_4":0,"phq9_5":0,"phq9_6":0,"phq9_7":0,"phq9_8":0,"phq9_9":0,"gad7_1":0,"gad7_2":0,"gad7_3":0,"gad7_4":0,"gad7_5":0,"gad7_6":0,"gad7_7":0,"risk_plan":true,"risk_intent":false,"previous_high_intensity_treatment":false,"under_secondary_care":false}}`
		for _, body := range []string{assessment, risk} {
			resp, compact := do(t, "POST", e.URL+"/v1/decide", body, auth)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
				resp.Header.Get("Content-Length") != strconv.Itoa(len(compact)) {
				t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, compact)
			}
			if !json.Valid(compact) || bytes.Count(compact, []byte("\n")) != 1 || compact[len(compact)-1] != '\n' {
				t.Errorf("not compact JSON on one line: %s", compact)
			}
			resp, indented := do(t, "POST", e.URL+"/v1/decide", body, pretty)
			if resp.StatusCode != http.StatusOK || !bytes.Contains(indented, []byte("\n  \"explanation\": {")) {
				t.Fatalf("%d %s", resp.StatusCode, indented)
			}
			var c bytes.Buffer
			if err := json.Compact(&c, indented); err != nil {
				t.Fatal(err)
			}
			// authored is the time of the request when the submission gives none.
			a, b := map[string]any{}, map[string]any{}
			_ = json.Unmarshal(compact, &a)
			_ = json.Unmarshal(c.Bytes(), &b)
			delete(a, "authored")
			delete(b, "authored")
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if !bytes.Equal(ja, jb) {
				t.Errorf("compact and indented differ:\n%s\n%s", ja, jb)
			}
		}
	})
}
