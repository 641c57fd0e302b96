package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func readProcStat(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "procstat", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseProcStat: captured texts give the aggregate counters and the number of CPUs; a
// malformed aggregate line, or none, is an error naming what is wrong.
func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    procStat
		wantErr string
	}{
		{file: "vm-2core-before.txt", want: procStat{cores: 2, user: 3909830, nice: 53593, system: 816427, idle: 2099971, iowait: 61043, irq: 0, softirq: 83407, steal: 198630}},
		{file: "old-kernel-4core-no-guest.txt", want: procStat{cores: 4, user: 100, system: 50, idle: 800, iowait: 10, softirq: 5, steal: 35}},
		{file: "odd-lines.txt", want: procStat{cores: 2, user: 1, nice: 2, system: 3, idle: 4, iowait: 5, irq: 6, softirq: 7, steal: 8}},
		{file: "malformed-no-steal.txt", wantErr: "line 1: the cpu line has 7 counters, want at least 8"},
		{file: "malformed-negative.txt", wantErr: `line 1: counter 8 "-5": want an unsigned integer`},
		{file: "malformed-letter.txt", wantErr: `line 1: counter 5 "6l043": want an unsigned integer`},
		{file: "malformed-overflow.txt", wantErr: `line 1: counter 8 "18446744073709551616": want an unsigned integer`},
		{file: "malformed-no-aggregate.txt", wantErr: "no aggregate cpu line"},
		{file: "malformed-no-cores.txt", wantErr: "no line of a single CPU"},
		{file: "malformed-two-aggregates.txt", wantErr: "line 2: a second aggregate cpu line"},
		{file: "malformed-truncated.txt", wantErr: "line 1: the cpu line has 3 counters"},
		{file: "malformed-empty.txt", wantErr: "no aggregate cpu line"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := parseProcStat(readProcStat(t, tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestCPUUse: shares are of the CPU time that passed between the samples, whatever the counters
// stood at before; the generator's CPU is divided by the requests.
func TestCPUUse(t *testing.T) {
	at := func(cores int, user, nice, system, idle, iowait, irq, softirq, steal uint64, self time.Duration) cpuSample {
		return cpuSample{machine: procStat{cores: cores, user: user, nice: nice, system: system, idle: idle, iowait: iowait, irq: irq, softirq: softirq, steal: steal}, self: self}
	}
	base := at(2, 1e6, 5e4, 8e5, 2e6, 6e4, 0, 8e4, 2e5, 3*time.Second)
	for _, tc := range []struct {
		name          string
		before, after cpuSample
		requests      int
		want          *cpuReport
	}{{
		name:   "28% steal, as on the day",
		before: base,
		// 1,000 ticks: user 500, nice 0, system 150, softirq 30, irq 0 (busy 680); idle 30, iowait 10; steal 280.
		after:    at(2, 1e6+500, 5e4, 8e5+150, 2e6+30, 6e4+10, 0, 8e4+30, 2e5+280, 3*time.Second+2100*time.Millisecond),
		requests: 200000,
		want:     &cpuReport{Cores: 2, BusyShare: 0.68, StealShare: 0.28, GeneratorCPUSeconds: 2.1, GeneratorCPUPerRequest: 10.5e-6},
	}, {
		name:     "quiet machine",
		before:   base,
		after:    at(2, 1e6+100, 5e4+20, 8e5+30, 2e6+850, 6e4, 0, 8e4, 2e5, 3*time.Second+500*time.Millisecond),
		requests: 1000,
		want:     &cpuReport{Cores: 2, BusyShare: 0.15, StealShare: 0, GeneratorCPUSeconds: 0.5, GeneratorCPUPerRequest: 0.0005},
	}, {
		name:   "iowait going backwards counts as none",
		before: base,
		after:  at(2, 1e6+50, 5e4, 8e5, 2e6+50, 6e4-7, 0, 8e4, 2e5, 3*time.Second),
		want:   &cpuReport{Cores: 2, BusyShare: 0.5},
	}, {
		name:   "the CPUs online at the end",
		before: base,
		after:  at(4, 1e6+10, 5e4, 8e5, 2e6+30, 6e4, 0, 8e4, 2e5, 3*time.Second),
		want:   &cpuReport{Cores: 4, BusyShare: 0.25},
	}, {
		name:   "counters near the top of uint64 do not overflow",
		before: at(1, math.MaxUint64-10, 0, 0, 0, 0, 0, 0, math.MaxUint64-10, 0),
		after:  at(1, math.MaxUint64, 0, 0, 0, 0, 0, 0, math.MaxUint64, 0),
		want:   &cpuReport{Cores: 1, BusyShare: 0.5, StealShare: 0.5},
	}, {
		name:   "no time passed",
		before: base, after: base, requests: 10,
	}, {
		name:   "samples the wrong way round",
		before: at(2, 1e6+500, 5e4, 8e5+150, 2e6+30, 6e4+10, 0, 8e4+30, 2e5+280, 5*time.Second),
		after:  base, requests: 10,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := cpuUse(tc.before, tc.after, tc.requests)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCPUUseCaptured: the arithmetic on pairs of samples captured on this kind of machine (2-core
// virtual machine), worked by hand from their first lines.
func TestCPUUseCaptured(t *testing.T) {
	for _, tc := range []struct {
		name        string
		busy, steal float64
	}{
		// 4 s during a load test: 882 ticks, busy user 793, system 78, softirq 3; no steal then.
		{name: "vm-2core-loaded", busy: 0.9909, steal: 0},
		// 5 s on a lightly loaded machine: 996 ticks, busy user 73, system 60, softirq 13; steal 34.
		{name: "vm-2core-steal", busy: 0.1466, steal: 0.0341},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := parseProcStat(readProcStat(t, tc.name+"-before.txt"))
			if err != nil {
				t.Fatal(err)
			}
			after, err := parseProcStat(readProcStat(t, tc.name+"-after.txt"))
			if err != nil {
				t.Fatal(err)
			}
			got := cpuUse(cpuSample{machine: before}, cpuSample{machine: after, self: time.Second}, 10000)
			want := &cpuReport{Cores: 2, BusyShare: tc.busy, StealShare: tc.steal, GeneratorCPUSeconds: 1, GeneratorCPUPerRequest: 1e-4}
			if got == nil || *got != *want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestCPUReportText: the machine's lines, and the warning only past 5% steal.
func TestCPUReportText(t *testing.T) {
	for _, tc := range []struct {
		report      cpuReport
		want        []string
		warns       bool
		wantMissing string
	}{
		{report: cpuReport{Cores: 2, BusyShare: 0.931, StealShare: 0.2812, GeneratorCPUSeconds: 4.2, GeneratorCPUPerRequest: 10.6e-6},
			want:  []string{"machine           2 cores  busy 93.1%  steal 28.1%\n", "load generator    4.200 s CPU  10.6 µs per request\n", "losing 28.1% of its CPU to other tenants"},
			warns: true},
		{report: cpuReport{Cores: 2, BusyShare: 0.5, StealShare: 0.0501}, warns: true, want: []string{"losing 5.0% of its CPU"}},
		{report: cpuReport{Cores: 2, BusyShare: 0.5, StealShare: 0.05}, want: []string{"steal 5.0%\n"}},
		{report: cpuReport{Cores: 8, BusyShare: 0.1, GeneratorCPUSeconds: 0.01}, want: []string{"8 cores  busy 10.0%  steal 0.0%\n", "load generator    0.010 s CPU\n"}, wantMissing: "per request"},
	} {
		var b strings.Builder
		tc.report.writeText(&b)
		out := b.String()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%+v: text lacks %q:\n%s", tc.report, w, out)
			}
		}
		if warns := strings.Contains(out, "\nwarning "); warns != tc.warns {
			t.Errorf("%+v: warning %v, want %v:\n%s", tc.report, warns, tc.warns, out)
		}
		if tc.wantMissing != "" && strings.Contains(out, tc.wantMissing) {
			t.Errorf("%+v: text says %q:\n%s", tc.report, tc.wantMissing, out)
		}
	}
}

// TestLoadtestReportsCPU: on Linux a run reports the machine's CPU in both formats; elsewhere the
// fields are absent.
func TestLoadtestReportsCPU(t *testing.T) {
	srv := newCountingServer(t, "mental-health")
	code, out, stderr := runLoadtest(t, "--url", srv.URL, "--form", "mental-health", "--connections", "2",
		"--duration", "500ms", "--warmup", "0s", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d %s %s", code, out, stderr)
	}
	var rep loadtestReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.ReadFile("/proc/stat"); runtime.GOOS != "linux" || err != nil {
		if rep.CPU != nil || strings.Contains(out, `"cpu"`) {
			t.Fatalf("CPU reported where it cannot be read: %s", out)
		}
		return
	}
	c := rep.CPU
	if c == nil {
		t.Fatalf("no CPU in the report: %s", out)
	}
	stat, _ := os.ReadFile("/proc/stat")
	if want := strings.Count("\n"+string(stat), "\ncpu") - 1; c.Cores != want || want < 1 {
		t.Errorf("cores %d, want %d", c.Cores, want)
	}
	if c.BusyShare <= 0 || c.BusyShare > 1 || c.StealShare < 0 || c.BusyShare+c.StealShare > 1.0001 {
		t.Errorf("busy %v steal %v: want shares of the machine", c.BusyShare, c.StealShare)
	}
	// The counting server runs in this process, so the process did at least the generator's work.
	if c.GeneratorCPUSeconds <= 0 || c.GeneratorCPUPerRequest <= 0 || c.GeneratorCPUPerRequest > 0.01 {
		t.Errorf("generator %v s, %v s a request over %d requests", c.GeneratorCPUSeconds, c.GeneratorCPUPerRequest, rep.Requests)
	}
	if got := c.GeneratorCPUPerRequest * float64(rep.Requests); math.Abs(got-c.GeneratorCPUSeconds) > 0.01*c.GeneratorCPUSeconds+0.001 {
		t.Errorf("%v s a request × %d requests is %v s, not the %v s reported", c.GeneratorCPUPerRequest, rep.Requests, got, c.GeneratorCPUSeconds)
	}

	code, out, stderr = runLoadtest(t, "--url", srv.URL, "--form", "mental-health", "--connections", "2", "--duration", "200ms", "--warmup", "0s")
	for _, want := range []string{"\nmachine           ", " cores  busy ", "\nload generator    ", " per request\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("text report lacks %q: exit %d %s %s", want, code, out, stderr)
		}
	}
}

// TestLoadtestWithoutCPU: counters that cannot be read, before or after the window, leave the CPU
// fields out and are no error.
func TestLoadtestWithoutCPU(t *testing.T) {
	srv := newCountingServer(t, "mental-health")
	target, err := url.Parse(srv.URL + "/v1/assessments")
	if err != nil {
		t.Fatal(err)
	}
	good := cpuSample{machine: procStat{cores: 2, user: 10, idle: 10}}
	unreadable := errors.New("unreadable")
	for name, sampler := range map[string]func() func() (cpuSample, error){
		"no sampler": func() func() (cpuSample, error) { return nil },
		"unreadable": func() func() (cpuSample, error) { return func() (cpuSample, error) { return cpuSample{}, unreadable } },
		"unreadable after": func() func() (cpuSample, error) {
			read := false
			return func() (cpuSample, error) {
				if read {
					return cpuSample{}, unreadable
				}
				read = true
				return good, nil
			}
		},
		"no time in between": func() func() (cpuSample, error) { return func() (cpuSample, error) { return good, nil } },
	} {
		t.Run(name, func(t *testing.T) {
			lt := &loadtest{target: target, body: []byte(`{}`), connections: 1, duration: 100 * time.Millisecond,
				now: time.Now, dialer: loadtestDialer(false), sampleCPU: sampler()}
			rep, err := lt.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Requests == 0 || rep.CPU != nil {
				t.Fatalf("%d requests, CPU %+v", rep.Requests, rep.CPU)
			}
			js, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			if err := rep.writeText(&text); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(js, []byte(`"cpu"`)) || strings.Contains(text.String(), "machine") {
				t.Fatalf("CPU fields present: %s\n%s", js, text.String())
			}
		})
	}
}

// FuzzParseProcStat: no text makes the parser or the arithmetic panic, and whatever parses gives
// shares of the machine between 0 and 1.
func FuzzParseProcStat(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "procstat"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(readProcStat(f, e.Name()))
	}
	f.Add([]byte("cpu 1 2 3 4 5 6 7 8\ncpu0\n"))
	f.Add([]byte("cpu\t1\t2\t3\t4\t5\t6\t7\t8\ncpu0\t1\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		st, err := parseProcStat(text)
		if err != nil {
			return
		}
		if st.cores < 1 {
			t.Fatalf("parsed with %d cores", st.cores)
		}
		if r := cpuUse(cpuSample{machine: st}, cpuSample{machine: st}, 1); r != nil {
			t.Fatalf("no time passed, yet %+v", r)
		}
		if r := cpuUse(cpuSample{machine: procStat{cores: 1}}, cpuSample{machine: st, self: time.Second}, 3); r != nil {
			if r.BusyShare < 0 || r.BusyShare > 1 || r.StealShare < 0 || r.StealShare > 1 || r.Cores != st.cores {
				t.Fatalf("%+v from %+v", r, st)
			}
		}
	})
}
