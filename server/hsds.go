package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/carepath/carepath/directory"
)

// hsdsRoot answers the HSDS API's root endpoint, which the profile puts at the API's base: the
// HSDS version, the profile, and where the OpenAPI document of the whole API is.
func (s *Server) hsdsRoot(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if s.TLS || r.TLS != nil {
		scheme = "https"
	}
	// HSDS types openapi_url as an absolute URI, so it is written against the address the
	// client used.
	s.writeJSON(w, http.StatusOK, map[string]string{
		"version":     directory.HSDSVersion,
		"profile":     directory.HSDSProfile,
		"openapi_url": scheme + "://" + r.Host + "/v1/openapi.json",
	})
}

// hsdsListParams reads GET /v1/services' HSDS parameters: modified_after into f, and minimal,
// full and format, which choose the view. A bare date in modified_after is midnight in loc, the
// council's zone.
func hsdsListParams(r *http.Request, f *directory.Filter, loc *time.Location) (directory.View, error) {
	q := r.URL.Query()
	if loc == nil {
		loc = time.UTC
	}
	if v := q.Get("modified_after"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d, derr := time.ParseInLocation(time.DateOnly, v, loc)
			if derr != nil {
				return 0, invalid("modified_after", "%q is not an RFC 3339 date-time (2026-01-05T08:00:00Z) or a date (2026-01-05)", v)
			}
			t = d
		}
		f.ModifiedAfter = t
	}
	minimal, err := boolParam(r, "minimal")
	if err != nil {
		return 0, err
	}
	full, err := boolParam(r, "full")
	if err != nil {
		return 0, err
	}
	if format := q.Get("format"); format != "" && format != "json" {
		return 0, invalid("format", "%q is not served: only json (pages of at most 500 services)", format)
	}
	switch {
	case minimal && full:
		return 0, invalid("full", "cannot be combined with minimal=true")
	case minimal:
		return directory.MinimalView, nil
	case full:
		return directory.FullView, nil
	}
	return directory.ListView, nil
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, invalid(name, "%q is not true or false", v)
	}
}
