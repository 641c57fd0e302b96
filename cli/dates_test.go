package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		end  bool
		want string // RFC 3339, or "error"
	}{
		{"", false, "0001-01-01T00:00:00Z"},
		{"2026-11-26", false, "2026-11-26T00:00:00Z"},
		{"2026-11-26", true, "2026-11-27T00:00:00Z"},
		{"2026-11-26T09:30:00Z", true, "2026-11-26T09:30:00Z"},
		{"2026-06-01T09:30:00+01:00", false, "2026-06-01T08:30:00Z"},
		{"26/11/2026", false, "error"},
		{"2026-11-26 09:30", false, "error"},
	} {
		got, err := parseWhen(tc.in, tc.end)
		switch {
		case tc.want == "error":
			if err == nil || !strings.Contains(err.Error(), dateHint) {
				t.Errorf("%q: %v, %v; want an error saying %q", tc.in, got, err, dateHint)
			}
		case err != nil || !got.Equal(mustTime(t, tc.want)):
			t.Errorf("%q end %v: %v, %v; want %s", tc.in, tc.end, got, err, tc.want)
		}
	}
	// A day given as a time is the day that time falls on in the council's zone.
	for in, want := range map[string]string{"2026-06-30": "2026-06-30", "2026-06-30T23:30:00Z": "2026-07-01", "2026-12-31T23:30:00Z": "2026-12-31"} {
		if got, err := localDay("date", in, london); err != nil || got != want {
			t.Errorf("localDay %s: %q %v, want %s", in, got, err, want)
		}
	}
	if _, err := localDay("date", "tomorrow", london); err == nil {
		t.Error("localDay took tomorrow")
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVersionText(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/carepath/carepath", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-26T09:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "carepath v1.2.3\nrevision  abc123 (with uncommitted changes)\ncommitted 2026-11-26T09:00:00Z\ngo        go1.26.8\nengine    carepath/"
	if got := versionText(info, true); !strings.HasPrefix(got, want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := versionText(nil, false); !strings.Contains(got, "revision  unknown (built without version control information)") {
		t.Errorf("without build information: %s", got)
	}
}

func TestMarkDryRunAndLineCol(t *testing.T) {
	got, err := markDryRun([]byte(`{"id":"x","form":"f","nested":{"id":"kept"}}`))
	if err != nil || string(got) != `{"dry_run":true,"form":"f","nested":{"id":"kept"}}` {
		t.Errorf("markDryRun: %s %v", got, err)
	}
	for _, tc := range []struct {
		in        string
		line, col int
	}{
		{"{\n  \"a\": 1,}", 2, 10},
		{"{\"é\": x}", 1, 7},
		{"{\n", 2, 1},
	} {
		err := checkJSON("assess", "f.json", []byte(tc.in))
		want := fmt.Sprintf("f.json:%d:%d: not valid JSON", tc.line, tc.col)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", tc.in, err, want)
		}
	}
}
