//go:build !linux

package cli

import "errors"

// readCPUSample reports the counters unavailable: only Linux has /proc/stat, and the report then
// leaves the CPU fields out.
func readCPUSample() (cpuSample, error) {
	return cpuSample{}, errors.New("cli: the machine's CPU counters are not available on this system")
}
