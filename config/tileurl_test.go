package config_test

import (
	"strings"
	"testing"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/failure"
)

func TestTileURL(t *testing.T) {
	tests := []struct {
		url    string
		origin string // the origin the pages' policy must admit
		bad    bool
	}{
		{url: "", origin: ""},
		{url: "/tiles/{z}/{x}/{y}.png", origin: ""},
		{url: "/tiles/{z}/{x}/{y}.png?style=plain", origin: ""},
		{url: "https://tiles.example.gov.uk/{z}/{x}/{y}.png", origin: "https://tiles.example.gov.uk"},
		{url: "https://maps.example.gov.uk:8443/osm/{z}/{y}/{x}", origin: "https://maps.example.gov.uk:8443"},
		{url: "http://tiles.example.gov.uk/{z}/{x}/{y}.png", bad: true},
		{url: "//tiles.example.gov.uk/{z}/{x}/{y}.png", bad: true},
		{url: "tiles/{z}/{x}/{y}.png", bad: true},
		{url: "/tiles/{z}/{x}.png", bad: true},
		{url: "https://user:pw@tiles.example.gov.uk/{z}/{x}/{y}.png", bad: true},
		{url: "https://tiles.example.gov.uk/{z}/{x}/{y}.png; script-src *", bad: true},
		{url: "https://a.example,https://b.example/{z}/{x}/{y}", bad: true},
		{url: "/\\evil.example/{z}/{x}/{y}", bad: true},
		{url: "javascript:alert(1)//{z}{x}{y}", bad: true},
		{url: "https:///{z}/{x}/{y}", bad: true},
		{url: "https://tiles{z}.example.gov.uk/{x}/{y}.png", bad: true}, // the origin must not vary
	}
	for _, tt := range tests {
		cfg := config.Default()
		cfg.Server.TileURL = tt.url
		err := cfg.Validate()
		if tt.bad {
			if err == nil || !strings.Contains(err.Error(), "server.tile_url") || failure.CodeOf(err) != failure.Invalid {
				t.Errorf("%q: %v, want server.tile_url refused", tt.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.url, err)
		}
		if got := cfg.Server.TileOrigin(); got != tt.origin {
			t.Errorf("%q: origin %q, want %q", tt.url, got, tt.origin)
		}
	}
}

// FuzzTileURL: a tile URL that passes validation yields an origin that is empty or a bare https
// origin, with nothing that could end or add a directive of the content security policy.
func FuzzTileURL(f *testing.F) {
	for _, s := range []string{"/tiles/{z}/{x}/{y}.png", "https://tiles.example.gov.uk/{z}/{x}/{y}.png", "https://a:1/{z}{x}{y}", "//x/{z}{x}{y}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg := config.Default()
		cfg.Server.TileURL = s
		if cfg.Server.Validate() != nil {
			return
		}
		o := cfg.Server.TileOrigin()
		if o == "" {
			if s != "" && !strings.HasPrefix(s, "/") {
				t.Errorf("%q accepted as a same-site path", s)
			}
			return
		}
		if !strings.HasPrefix(o, "https://") || strings.ContainsAny(o, " \t\r\n;,'\"\\") || strings.Contains(o[len("https://"):], "/") {
			t.Errorf("%q: origin %q", s, o)
		}
	})
}
