package cli

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

// dateHint is how every date flag says what it accepts.
const dateHint = "want a date YYYY-MM-DD or an RFC 3339 time such as 2026-11-26T09:00:00Z"

// parseWhen reads a date or time given on the command line: YYYY-MM-DD is midnight UTC that day
// (the next midnight when end is true, so that the end of a range includes the day) and an RFC
// 3339 time is taken as written; empty is the zero time, no bound.
func parseWhen(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: %s", s, dateHint)
}

// parseInstant reads a flag's date (midnight UTC) or RFC 3339 time; empty is the zero time.
func parseInstant(flag, s string) (time.Time, error) {
	t, err := parseWhen(s, false)
	if err != nil {
		return time.Time{}, cli.Exit(fmt.Sprintf("carepath: --%s %v", flag, err), ExitInvalid)
	}
	return t, nil
}

// parseDay is parseInstant for a flag that must be given.
func parseDay(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, cli.Exit(fmt.Sprintf("carepath: --%s is empty: %s", flag, dateHint), ExitInvalid)
	}
	return parseInstant(flag, s)
}

// localDay reads a day given as YYYY-MM-DD, or as an RFC 3339 time, which names the day it falls
// on in loc (the council's time zone).
func localDay(flag, s string, loc *time.Location) (string, error) {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(loc).Format(time.DateOnly), nil
	}
	return "", cli.Exit(fmt.Sprintf("carepath: --%s %q: %s", flag, s, dateHint), ExitInvalid)
}
