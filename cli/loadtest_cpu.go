package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// stealWarning is the steal share above which the text report warns that its figures are not
// comparable with those of a quiet machine: below it, day-to-day noise hides the loss.
const stealWarning = 0.05

// procStat is the aggregate line of /proc/stat (in the kernel's clock ticks since boot) and the
// number of CPUs it sums over.
type procStat struct {
	cores                                                 int
	user, nice, system, idle, iowait, irq, softirq, steal uint64
}

// cpuSample is the machine's counters and the load generator's own CPU time (user and system)
// read at one moment.
type cpuSample struct {
	machine procStat
	self    time.Duration
}

// cpuReport is how the machine's CPU was used over the measured window; its JSON is part of the
// --format json output.
type cpuReport struct {
	Cores      int     `json:"cores"`
	BusyShare  float64 `json:"busy_share"`  // user, nice, system, irq and softirq over all CPU time
	StealShare float64 `json:"steal_share"` // taken by the hypervisor for other tenants, over all CPU time
	// The load generator's own CPU (user and system), which the server did not get when they share cores.
	GeneratorCPUSeconds    float64 `json:"generator_cpu_s"`
	GeneratorCPUPerRequest float64 `json:"generator_cpu_s_per_request,omitempty"`
}

// parseProcStat reads the text of /proc/stat: the aggregate "cpu" line, which must carry at least
// the eight counters up to steal (kernels since 2.6.11), and one "cpuN" line per online CPU. Lines
// of other kinds are skipped; a malformed aggregate line is an error rather than a guess.
func parseProcStat(text []byte) (procStat, error) {
	var st procStat
	found := false
	n := 0
	for line := range bytes.Lines(text) {
		n++
		line = bytes.TrimSpace(line)
		if !bytes.HasPrefix(line, []byte("cpu")) {
			continue
		}
		label, rest := line, []byte(nil)
		if i := bytes.IndexAny(line, " \t"); i >= 0 {
			label, rest = line[:i], line[i:]
		}
		switch id := label[3:]; {
		case len(id) == 0:
			if found {
				return procStat{}, fmt.Errorf("line %d: a second aggregate cpu line", n)
			}
			counters, err := parseCounters(rest)
			if err != nil {
				return procStat{}, fmt.Errorf("line %d: %w", n, err)
			}
			if len(counters) < 8 {
				return procStat{}, fmt.Errorf("line %d: the cpu line has %d counters, want at least 8 (user to steal)", n, len(counters))
			}
			st.user, st.nice, st.system, st.idle = counters[0], counters[1], counters[2], counters[3]
			st.iowait, st.irq, st.softirq, st.steal = counters[4], counters[5], counters[6], counters[7]
			found = true
		case isDigits(id):
			st.cores++
		}
	}
	if !found {
		return procStat{}, errors.New("no aggregate cpu line")
	}
	if st.cores == 0 {
		return procStat{}, errors.New("no line of a single CPU (cpu0, cpu1, ...)")
	}
	return st, nil
}

// parseCounters parses the space-separated unsigned counters of a cpu line.
func parseCounters(fields []byte) ([]uint64, error) {
	var counters []uint64
	for i, f := range strings.Fields(string(fields)) {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("counter %d %q: want an unsigned integer", i+1, f)
		}
		counters = append(counters, v)
	}
	return counters, nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// cpuUse is how the machine's CPU was used between two samples, and the load generator's CPU per
// request over requests; nil when no CPU time passed between them. A counter that went backwards
// (iowait does on some kernels) counts as zero. Guest time is left out: the kernel already counts
// it in user and nice.
func cpuUse(before, after cpuSample, requests int) *cpuReport {
	delta := func(a, b uint64) float64 {
		if b < a {
			return 0
		}
		return float64(b - a)
	}
	a, b := before.machine, after.machine
	busy := delta(a.user, b.user) + delta(a.nice, b.nice) + delta(a.system, b.system) + delta(a.irq, b.irq) + delta(a.softirq, b.softirq)
	steal := delta(a.steal, b.steal)
	total := busy + steal + delta(a.idle, b.idle) + delta(a.iowait, b.iowait)
	if total <= 0 || math.IsInf(total, 0) {
		return nil
	}
	self := max(after.self-before.self, 0)
	r := &cpuReport{
		Cores:               b.cores,
		BusyShare:           math.Round(min(busy/total, 1)*1e4) / 1e4,
		StealShare:          math.Round(min(steal/total, 1)*1e4) / 1e4,
		GeneratorCPUSeconds: math.Round(self.Seconds()*1e3) / 1e3,
	}
	if requests > 0 {
		r.GeneratorCPUPerRequest = math.Round(self.Seconds()/float64(requests)*1e9) / 1e9
	}
	return r
}

// writeText adds the machine's lines to the text report; a warning when steal makes the figures
// incomparable with those of a quiet machine.
func (r *cpuReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "machine           %d cores  busy %.1f%%  steal %.1f%%\n", r.Cores, r.BusyShare*100, r.StealShare*100)
	fmt.Fprintf(w, "load generator    %.3f s CPU", r.GeneratorCPUSeconds)
	if r.GeneratorCPUPerRequest > 0 {
		fmt.Fprintf(w, "  %.1f µs per request", r.GeneratorCPUPerRequest*1e6)
	}
	fmt.Fprintln(w)
	if r.StealShare > stealWarning {
		fmt.Fprintf(w, "warning           these figures were taken on a machine losing %.1f%% of its CPU to other tenants (steal); they are not comparable with those of a quiet machine\n",
			r.StealShare*100)
	}
}
