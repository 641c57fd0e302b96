package config_test

import (
	"strings"
	"testing"

	"github.com/carepath/carepath/config"
)

// TestRoutingTravelSettings: the travel source is chosen by routing.travel or its variable, and an
// OSRM source without a usable server URL, limit or timeout stops at start naming the key.
func TestRoutingTravelSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		bad  string
	}{
		{name: "default", env: nil},
		{name: "osrm", env: map[string]string{"CAREPATH_ROUTING_TRAVEL": "osrm", "CAREPATH_ROUTING_OSRM_URL": "http://127.0.0.1:5000", "CAREPATH_ROUTING_OSRM_MAX_TABLE": "500", "CAREPATH_ROUTING_OSRM_TIMEOUT": "3s"}},
		{name: "unknown source", env: map[string]string{"CAREPATH_ROUTING_TRAVEL": "crow"}, bad: "routing.travel"},
		{name: "osrm without URL", env: map[string]string{"CAREPATH_ROUTING_TRAVEL": "osrm"}, bad: "routing.osrm_url"},
		{name: "tiny table", env: map[string]string{"CAREPATH_ROUTING_OSRM_MAX_TABLE": "1"}, bad: "routing.osrm_max_table"},
		{name: "no timeout", env: map[string]string{"CAREPATH_ROUTING_OSRM_TIMEOUT": "0s"}, bad: "routing.osrm_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load("", func(k string) string { return tc.env[k] })
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Errorf("error %v, want one naming %s", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.env == nil && (cfg.Routing.Travel != "greatcircle" || cfg.Routing.OSRMMaxTable != 100) {
				t.Errorf("defaults: %+v", cfg.Routing)
			}
			if tc.env != nil && (cfg.Routing.Travel != "osrm" || cfg.Routing.OSRMMaxTable != 500 || cfg.Routing.OSRMTimeout.Seconds() != 3) {
				t.Errorf("from the environment: %+v", cfg.Routing)
			}
		})
	}
}
