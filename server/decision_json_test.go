package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

// TestStoredDecisionResponse: POST /v1/assessments answers its decision with its length declared
// (not chunked), compact or indented as asked, in the very bytes GET /v1/assessments/{id} answers
// for the stored decision, and so does the replay of an idempotency key.
func TestStoredDecisionResponse(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		// The demo discharge assessment, indented as a client may send it.
		example, err := os.ReadFile("../fixtures/examples/discharge.json")
		if err != nil {
			t.Fatal(err)
		}
		discharge := string(example)
		post := func(url, body string, header map[string]string, status int) (string, []byte) {
			t.Helper()
			resp, b := do(t, "POST", url, body, header)
			if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("POST %s: %d %s %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) || len(resp.TransferEncoding) != 0 {
				t.Errorf("POST %s: Content-Length %q, Transfer-Encoding %v for %d bytes", url, resp.Header.Get("Content-Length"), resp.TransferEncoding, len(b))
			}
			return resp.Header.Get("Location"), b
		}
		get := func(path string, header map[string]string) []byte {
			t.Helper()
			resp, b := do(t, "GET", e.URL+path, "", header)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
			}
			return b
		}
		indent := map[string]string{"Accept": "application/json; indent=2"}
		located := strings.Replace(assessment, `"ref":"s-1","age":34`, `"ref":"s-9","age":34,"location":{"lat":52.95,"lon":-1.15}`, 1)
		cases := []struct {
			name, url, body string
			header          map[string]string
			pretty          bool
		}{
			{"compact", "/v1/assessments", assessment, nil, false},
			{"pretty query", "/v1/assessments?pretty=1&include_rejected=true", located, nil, true},
			{"indent in Accept", "/v1/assessments", strings.Replace(assessment, `"s-1"`, `"s-3"`, 1), indent, true},
			{"discharge", "/v1/assessments", discharge, map[string]string{"Idempotency-Key": "dis-1"}, false},
		}
		for _, tc := range cases {
			loc, b := post(e.URL+tc.url, tc.body, tc.header, http.StatusCreated)
			if !json.Valid(b) || bytes.Contains(b, []byte("\n  ")) != tc.pretty || b[len(b)-1] != '\n' {
				t.Errorf("%s: compact or indented not as asked: %.300s", tc.name, b)
			}
			query := ""
			if tc.pretty {
				query = "?pretty=true"
			}
			if stored := get(loc+query, nil); !bytes.Equal(b, stored) {
				t.Errorf("%s: POST and GET differ:\n%s\n%s", tc.name, b, stored)
			}
		}
		// The replay answers the stored decision as GET does, in either layout.
		_, replay := post(e.URL+"/v1/assessments", discharge, map[string]string{"Idempotency-Key": "dis-1"}, http.StatusOK)
		loc, pretty := post(e.URL+"/v1/assessments", discharge, map[string]string{"Idempotency-Key": "dis-1", "Accept": "application/json; indent=2"}, http.StatusOK)
		if !bytes.Equal(replay, get(loc, nil)) || !bytes.Equal(pretty, get(loc, indent)) {
			t.Errorf("replay differs from the stored decision:\n%s\n%s", replay, pretty)
		}
	})
}
