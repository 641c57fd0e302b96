package config_test

import (
	"strings"
	"testing"

	"github.com/carepath/carepath/config"
)

func TestDecideLimitAndAccessSampleConfig(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		every int64
		err   string
	}{
		{name: "defaults", every: 1},
		{name: "one in ten", env: map[string]string{"CAREPATH_LOG_ACCESS_SAMPLE": "0.1"}, every: 10},
		{name: "none", env: map[string]string{"CAREPATH_LOG_ACCESS_SAMPLE": "0"}, every: -1},
		{name: "over one", env: map[string]string{"CAREPATH_LOG_ACCESS_SAMPLE": "1.5"}, err: "log.access_sample"},
		{name: "not a number", env: map[string]string{"CAREPATH_LOG_ACCESS_SAMPLE": "NaN"}, err: "log.access_sample"},
		{name: "zero rate", env: map[string]string{"CAREPATH_SERVER_DECIDE_RATE": "0"}, err: "server.decide_rate"},
		{name: "zero burst", env: map[string]string{"CAREPATH_SERVER_DECIDE_BURST": "0"}, err: "server.decide_burst"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("", func(k string) string { return tt.env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Log.AccessLogEvery(); got != tt.every {
				t.Errorf("AccessLogEvery %d, want %d", got, tt.every)
			}
			if cfg.Server.DecideRate != 50 || cfg.Server.DecideBurst != 100 {
				t.Errorf("decide limit %v/%d, want 50/100", cfg.Server.DecideRate, cfg.Server.DecideBurst)
			}
		})
	}
}

func TestFloatSettingRoundTrips(t *testing.T) {
	cfg, err := config.Load("", func(k string) string {
		return map[string]string{"CAREPATH_LOG_ACCESS_SAMPLE": "0.25"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.String()
	if !strings.Contains(out, "access_sample: 0.25") || !strings.Contains(out, "decide_rate: 50") {
		t.Errorf("config shows:\n%s", out)
	}
}
