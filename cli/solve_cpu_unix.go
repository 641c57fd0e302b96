//go:build unix

package cli

import (
	"syscall"
	"time"
)

// cpuNow reads the process's CPU time (user and system) as an instant after the epoch, so a time
// limit measured with it gives a search the same work on a loaded machine as on an idle core.
func cpuNow() time.Time {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Now()
	}
	return time.Unix(0, ru.Utime.Nano()+ru.Stime.Nano())
}
