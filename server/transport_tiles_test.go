package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestTileOriginInPolicy: a tile server on another site is admitted for images only, and only
// that origin; tiles on this site, or none, leave the policy as it is.
func TestTileOriginInPolicy(t *testing.T) {
	for _, tc := range []struct {
		tileURL string
		want    string
	}{
		{"", ContentSecurityPolicy},
		{"/tiles/{z}/{x}/{y}.png", ContentSecurityPolicy},
		{"https://tiles.example.gov.uk/osm/{z}/{x}/{y}.png", ContentSecurityPolicy + "; img-src 'self' https://tiles.example.gov.uk"},
	} {
		cfg := quickServer()
		cfg.TileURL = tc.tileURL
		_, base := serveOn(t, cfg, http.NotFoundHandler(), nil)
		resp, err := http.Get(base + "/day")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Content-Security-Policy")
		if got != tc.want {
			t.Errorf("tile_url %q: Content-Security-Policy %q, want %q", tc.tileURL, got, tc.want)
		}
		if !strings.HasPrefix(got, "default-src 'self';") || strings.Count(got, "img-src") > 1 || strings.Contains(got, "script-src") {
			t.Errorf("tile_url %q: the policy loosened more than images: %q", tc.tileURL, got)
		}
	}
	cfg := quickServer()
	cfg.TileURL = "https://tiles.example.gov.uk/{z}/{x}/{y}.png; script-src *"
	if _, _, err := Listen(cfg, http.NotFoundHandler(), nil); err == nil || !strings.Contains(err.Error(), "server.tile_url") {
		t.Errorf("Listen with a tile URL that would add a directive: %v", err)
	}
}
