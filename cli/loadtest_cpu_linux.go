//go:build linux

package cli

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// readCPUSample reads the machine's CPU counters from /proc/stat and the load generator's own CPU
// time from getrusage, one right after the other.
func readCPUSample() (cpuSample, error) {
	text, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}, fmt.Errorf("cli: unable to read the CPU counters: %w", err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuSample{}, fmt.Errorf("cli: unable to read the load generator's CPU time: %w", err)
	}
	st, err := parseProcStat(text)
	if err != nil {
		return cpuSample{}, fmt.Errorf("cli: unable to parse the CPU counters: %w", err)
	}
	return cpuSample{machine: st, self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}, nil
}
