package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/config"
)

// TestOutboxGather: outbox.gather defaults to the deliverer's 20 ms, is read from the file and
// its variable, and a value outside (0, 1s] stops the load naming the key.
func TestOutboxGather(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		want time.Duration
		bad  string
	}{
		{name: "default", want: 20 * time.Millisecond},
		{name: "file", file: "outbox:\n  gather: 5ms\n", want: 5 * time.Millisecond},
		{name: "environment over file", file: "outbox:\n  gather: 5ms\n", env: map[string]string{"CAREPATH_OUTBOX_GATHER": "250ms"}, want: 250 * time.Millisecond},
		{name: "the upper bound", env: map[string]string{"CAREPATH_OUTBOX_GATHER": "1s"}, want: time.Second},
		{name: "zero", env: map[string]string{"CAREPATH_OUTBOX_GATHER": "0s"}, bad: "outbox.gather"},
		{name: "negative", file: "outbox:\n  gather: -1ms\n", bad: "outbox.gather"},
		{name: "over a second", env: map[string]string{"CAREPATH_OUTBOX_GATHER": "1001ms"}, bad: "outbox.gather"},
		{name: "not a duration", env: map[string]string{"CAREPATH_OUTBOX_GATHER": "soon"}, bad: "CAREPATH_OUTBOX_GATHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = write(t, tc.file)
			}
			cfg, err := config.Load(path, envOf(tc.env))
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Errorf("error %v, want one naming %s", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Outbox.Gather != tc.want {
				t.Errorf("outbox.gather = %s, want %s", cfg.Outbox.Gather, tc.want)
			}
		})
	}
}
