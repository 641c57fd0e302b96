package rules

import (
	"fmt"
	"strconv"
	"time"
)

// ParseDuration reads an ISO 8601 duration such as PT4H, P7D or P1DT12H.
//
// Years and months are refused because their length depends on the calendar, and a response
// target must mean the same span whenever it is read.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 3 || s[0] != 'P' {
		return 0, fmt.Errorf("duration %q: want an ISO 8601 duration such as PT4H or P7D", s)
	}
	var total time.Duration
	inTime := false
	lastRank := 0
	i := 1
	for i < len(s) {
		if s[i] == 'T' {
			if inTime {
				return 0, fmt.Errorf("duration %q: T appears twice", s)
			}
			inTime = true
			i++
			if i == len(s) {
				return 0, fmt.Errorf("duration %q: nothing after T", s)
			}
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j == len(s) {
			return 0, fmt.Errorf("duration %q: want a number followed by a unit", s)
		}
		n, err := strconv.ParseInt(s[i:j], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		unit := s[j]
		var step time.Duration
		var rank int
		switch {
		case !inTime && unit == 'W':
			step, rank = 7*24*time.Hour, 1
		case !inTime && unit == 'D':
			step, rank = 24*time.Hour, 2
		case inTime && unit == 'H':
			step, rank = time.Hour, 3
		case inTime && unit == 'M':
			step, rank = time.Minute, 4
		case inTime && unit == 'S':
			step, rank = time.Second, 5
		case !inTime && (unit == 'Y' || unit == 'M'):
			return 0, fmt.Errorf("duration %q: years and months are not fixed spans; use days or weeks", s)
		default:
			return 0, fmt.Errorf("duration %q: unknown unit %c", s, unit)
		}
		// Units must come in ISO order, once each, so one span has one spelling.
		if rank <= lastRank {
			return 0, fmt.Errorf("duration %q: unit %c is repeated or out of order", s, unit)
		}
		lastRank = rank
		total += time.Duration(n) * step
		i = j + 1
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %q: must be longer than zero", s)
	}
	return total, nil
}
