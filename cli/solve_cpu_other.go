//go:build !unix

package cli

import "time"

// cpuNow falls back to the wall clock where the process's CPU time cannot be read.
func cpuNow() time.Time { return time.Now() }
