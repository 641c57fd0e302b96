package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/fixtures"
)

// loadtestChunk is how many synthetic assessments are generated at a time; each chunk has its own
// seed, so no two requests of a run carry the same assessment.
const loadtestChunk = 1024

// loadtestTimeout bounds one request, so a stalled server shows up as errors rather than a hang.
const loadtestTimeout = 30 * time.Second

// maxLoadtestConnections keeps a typing slip from opening more sockets than a machine allows.
const maxLoadtestConnections = 10000

func (c *commands) loadtestCommand() *cli.Command {
	return &cli.Command{
		Name:  "loadtest",
		Usage: "measure a running server: throughput, latency percentiles and errors of synthetic assessments (loopback only unless --allow-remote)",
		Description: "Sends synthetic assessments from the case generator (illustrative, no real person), a different one each\n" +
			"request and the same sequence for the same --seed, over N keep-alive connections; with --body, the same file's\n" +
			"content every request instead, such as one fixed assessment or another engine's input. Without --rate each connection\n" +
			"sends its next request as soon as the last is answered (closed model); with --rate requests are scheduled at that\n" +
			"rate and latency is measured from the scheduled time, so a slow server cannot hide its queue (open model). The\n" +
			"API token is read from " + TokenEnv + ", never from a flag; unset, requests carry no Authorization header. Requests\n" +
			"made during --warmup are not counted. For http:// targets each connection is a lean HTTP/1.1 client, so the generator\n" +
			"takes little of the CPU it may share with the server; https:// targets (a remote deployment behind TLS, with\n" +
			"--allow-remote) go through Go's standard client, which costs more CPU per request. On Linux the report adds the\n" +
			"machine's cores, busy and steal shares over the measured window and the generator's own CPU per request, with a\n" +
			"warning when steal (CPU the hypervisor gave other tenants) is over 5%.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Required: true, Usage: "the server's base URL, such as http://127.0.0.1:8080"},
			&cli.StringFlag{Name: "form", Usage: "discharge or mental-health: generate assessments of this form (required unless --body)"},
			&cli.StringFlag{Name: "body", Usage: "send this file's content as the body of every request, in place of generated assessments"},
			&cli.IntFlag{Name: "connections", Value: 16, Usage: "concurrent keep-alive connections"},
			&cli.StringFlag{Name: "duration", Value: "10s", Usage: "how long to measure, after the warm-up"},
			&cli.StringFlag{Name: "warmup", Value: "1s", Usage: "how long to send before measuring (not counted)"},
			&cli.StringFlag{Name: "path", Value: "/v1/assessments", Usage: "the route to POST to: /v1/assessments (stores and books), /v1/decide, or any other with --body"},
			&cli.Float64Flag{Name: "rate", Usage: "requests per second, scheduled (open model); 0 sends as fast as answers come (closed model)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "the same seed sends the same assessments in the same order"},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow a target that is not this machine's loopback"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return cli.Exit("carepath loadtest: takes no arguments", ExitInvalid)
			}
			lt, err := c.newLoadtest(ctx)
			if err != nil {
				return err
			}
			rep, err := lt.run(ctx.Context)
			if err != nil {
				return fmt.Errorf("carepath loadtest: %w", err)
			}
			if ctx.String("format") == "json" {
				enc := json.NewEncoder(c.io.Stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.writeText(c.io.Stdout)
			}
			if err != nil {
				return err
			}
			if rep.Requests > 0 && rep.Requests == rep.TransportErrors {
				return cli.Exit(fmt.Sprintf("carepath loadtest: no request was answered; first error: %s", rep.ErrorSamples[0]), ExitFailure)
			}
			return nil
		},
	}
}

// loadtest is one run of the load generator, its settings checked.
type loadtest struct {
	target      *url.URL
	form        string
	body        []byte // sent every request when set, in place of generated assessments
	bodyFile    string
	token       string
	connections int
	warmup      time.Duration
	duration    time.Duration
	rate        float64
	seed        uint64
	allowRemote bool
	now         func() time.Time
	dialer      *net.Dialer  // refuses addresses other than loopback unless --allow-remote
	client      *http.Client // for https:// targets only
	// sampleCPU reads the machine's CPU counters around the measured window; nil, or an error,
	// leaves the CPU fields out of the report.
	sampleCPU func() (cpuSample, error)
}

func (c *commands) newLoadtest(ctx *cli.Context) (*loadtest, error) {
	invalid := func(format string, args ...any) error {
		return cli.Exit("carepath loadtest: "+fmt.Sprintf(format, args...), ExitInvalid)
	}
	lt := &loadtest{
		form:        ctx.String("form"),
		connections: ctx.Int("connections"),
		rate:        ctx.Float64("rate"),
		seed:        ctx.Uint64("seed"),
		allowRemote: ctx.Bool("allow-remote"),
		token:       strings.TrimSpace(os.Getenv(TokenEnv)),
		now:         c.now,
		sampleCPU:   readCPUSample,
	}
	if lt.bodyFile = ctx.String("body"); lt.bodyFile != "" {
		if lt.form != "" {
			return nil, invalid("--form %q and --body %q: give one, generated assessments of a form or one body for every request", lt.form, lt.bodyFile)
		}
		var err error
		if lt.body, err = readLoadtestBody(lt.bodyFile); err != nil {
			return nil, invalid("--body %q: %v", lt.bodyFile, err)
		}
	} else if lt.form == "" {
		return nil, invalid("--form is required unless --body is given: want %s", strings.Join(fixtures.GeneratedForms, " or "))
	} else if !slices.Contains(fixtures.GeneratedForms, lt.form) {
		return nil, invalid("--form %q: want %s", lt.form, strings.Join(fixtures.GeneratedForms, " or "))
	}
	if lt.connections < 1 || lt.connections > maxLoadtestConnections {
		return nil, invalid("--connections %d: want 1 to %d", lt.connections, maxLoadtestConnections)
	}
	var err error
	if lt.duration, err = time.ParseDuration(ctx.String("duration")); err != nil || lt.duration <= 0 {
		return nil, invalid("--duration %q: want a positive duration such as 10s or 2m", ctx.String("duration"))
	}
	if lt.warmup, err = time.ParseDuration(ctx.String("warmup")); err != nil || lt.warmup < 0 {
		return nil, invalid("--warmup %q: want a duration such as 1s, or 0 for none", ctx.String("warmup"))
	}
	if math.IsNaN(lt.rate) || math.IsInf(lt.rate, 0) || lt.rate < 0 {
		return nil, invalid("--rate %v: want requests per second, or 0 for as fast as answers come", lt.rate)
	}
	if f := ctx.String("format"); f != "text" && f != "json" {
		return nil, invalid("--format %q: want text or json", f)
	}
	path := ctx.String("path")
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") {
		return nil, invalid("--path %q: want a route such as /v1/assessments or /v1/decide", path)
	}
	raw := strings.TrimSpace(ctx.String("url"))
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, invalid("--url %q: want the http:// or https:// URL of a Carepath server, without credentials, query or fragment", raw)
	}
	if !lt.allowRemote {
		if err := checkLoopback(ctx.Context, u.Hostname()); err != nil {
			return nil, invalid("--url %q: %v; load testing is allowed only against this machine unless --allow-remote is given (and only against a deployment you are responsible for)", raw, err)
		}
	} else if u.Scheme == "http" && lt.token != "" && !isLoopback(u.Hostname()) {
		return nil, invalid("--url %q: plain http is allowed only to this machine; use https so the token is not sent in the clear", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	lt.target = u

	lt.dialer = loadtestDialer(lt.allowRemote)
	lt.client = &http.Client{
		Timeout: loadtestTimeout,
		Transport: &http.Transport{
			Proxy:               nil, // a proxy would measure itself and could carry the load off the machine
			DialContext:         lt.dialer.DialContext,
			MaxIdleConns:        lt.connections,
			MaxIdleConnsPerHost: lt.connections,
			MaxConnsPerHost:     lt.connections,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   false, // one request per connection at a time, as --connections promises
		},
	}
	return lt, nil
}

// loadtestDialer dials the target; unless allowRemote, it refuses any address that is not loopback.
func loadtestDialer(allowRemote bool) *net.Dialer {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowRemote {
		// The name was checked when the run began; checking every connection too means a name
		// that resolves differently later cannot take the load elsewhere.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing to connect to %s, which is not loopback", address)
			}
			return nil
		}
	}
	return dialer
}

// maxLoadtestBody is the largest --body file: past it the client, not the server, would be measured.
const maxLoadtestBody = 16 << 20

// readLoadtestBody reads a --body file; an empty one is refused, as it is almost always a mistake
// (a redirect that failed) and every request would be refused for it.
func readLoadtestBody(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLoadtestBody+1))
	switch {
	case err != nil:
		return nil, err
	case len(b) == 0:
		return nil, errors.New("is empty")
	case len(b) > maxLoadtestBody:
		return nil, fmt.Errorf("is over %d MiB", maxLoadtestBody>>20)
	}
	return b, nil
}

// checkLoopback returns nil when every address the host resolves to is loopback.
func checkLoopback(ctx context.Context, host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address", host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("unable to resolve %s: %v", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s resolves to no address", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, which is not a loopback address", host, a.IP)
		}
	}
	return nil
}

// bodySource hands out the body of each request.
type bodySource interface {
	next() ([]byte, error)
}

// fixedBody is one body for every request (--body).
type fixedBody []byte

func (b fixedBody) next() ([]byte, error) { return b, nil }

// caseSource hands out synthetic assessments in a fixed order, generating them a chunk at a time.
type caseSource struct {
	mu       sync.Mutex
	form     string
	seed     uint64
	from, to time.Time
	chunk    uint64
	lines    [][]byte
}

func (s *caseSource) next() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lines) == 0 {
		var buf bytes.Buffer
		// A distinct seed per chunk gives distinct subjects (their references carry the seed).
		err := fixtures.Generate(&buf, fixtures.Generation{
			Form: s.form, Cases: loadtestChunk, Seed: s.seed*0x9E3779B97F4A7C15 + s.chunk, From: s.from, To: s.to,
		})
		if err != nil {
			return nil, err
		}
		s.chunk++
		lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
		s.lines = lines[:len(lines)-1] // after the last newline, nothing
	}
	line := s.lines[0]
	s.lines = s.lines[1:]
	return line, nil
}

// tally is what one connection saw in one phase; tallies are merged when the phase ends, so
// connections never contend while sending.
type tally struct {
	latency   histogram
	statuses  map[int]int
	requests  int
	transport int
	samples   []string
}

const maxErrorSamples = 5

func (t *tally) merge(o *tally) {
	t.latency.merge(&o.latency)
	for k, v := range o.statuses {
		t.statuses[k] += v
	}
	t.requests += o.requests
	t.transport += o.transport
	for _, s := range o.samples {
		if len(t.samples) < maxErrorSamples && !slices.Contains(t.samples, s) {
			t.samples = append(t.samples, s)
		}
	}
}

func (lt *loadtest) run(ctx context.Context) (*loadtestReport, error) {
	var cases bodySource = fixedBody(lt.body)
	if lt.body == nil {
		at := lt.now().UTC().Truncate(time.Second)
		gen := &caseSource{form: lt.form, seed: lt.seed, from: at.Add(-24 * time.Hour), to: at}
		// Generated up front, so the first requests do not wait for it.
		if _, err := gen.next(); err != nil {
			return nil, err
		}
		cases = gen
	}
	// The connections outlive the warm-up, so the measured phase starts on warm connections.
	senders := make([]requestSender, lt.connections)
	for i := range senders {
		senders[i] = lt.newSender()
		defer senders[i].close()
	}
	if lt.warmup > 0 {
		if _, _, err := lt.phase(ctx, cases, senders, lt.warmup); err != nil {
			return nil, err
		}
	}
	var before cpuSample
	cpuErr := errors.ErrUnsupported
	if lt.sampleCPU != nil {
		before, cpuErr = lt.sampleCPU()
	}
	total, elapsed, err := lt.phase(ctx, cases, senders, lt.duration)
	if err != nil {
		return nil, err
	}
	rep := lt.report(total, elapsed)
	if cpuErr == nil {
		// Unreadable counters are no reason to lose the run's figures: the CPU fields are left out.
		if after, err := lt.sampleCPU(); err == nil {
			rep.CPU = cpuUse(before, after, total.requests)
		}
	}
	return rep, nil
}

// phase sends for d on every connection and returns what they saw and how long it took until
// the last answer came.
func (lt *loadtest) phase(ctx context.Context, cases bodySource, senders []requestSender, d time.Duration) (*tally, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	var slot atomic.Int64
	tallies := make([]*tally, lt.connections)
	errs := make([]error, lt.connections)
	var wg sync.WaitGroup
	for i := range tallies {
		tallies[i] = &tally{statuses: map[int]int{}}
		wg.Go(func() {
			t := tallies[i]
			sender := senders[i]
			var timer *time.Timer
			for ctx.Err() == nil {
				var began time.Time
				if lt.rate > 0 {
					// Open model: request k is due at start + k/rate whoever sends it, and its
					// latency counts from then, so time spent queued for a connection counts too.
					k := slot.Add(1) - 1
					began = start.Add(time.Duration(float64(k) / lt.rate * float64(time.Second)))
					if !began.Before(deadline) {
						return
					}
					if wait := time.Until(began); wait > 0 {
						// One timer per connection, reset each wait, rather than one per request.
						if timer == nil {
							timer = time.NewTimer(wait)
						} else {
							timer.Reset(wait)
						}
						select {
						case <-timer.C:
						case <-ctx.Done():
							timer.Stop()
							return
						}
					}
				} else {
					began = time.Now()
					if !began.Before(deadline) {
						return
					}
				}
				body, err := cases.next()
				if err != nil {
					errs[i] = err
					return
				}
				lt.send(ctx, t, sender, body, began)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	total := &tally{statuses: map[int]int{}}
	for _, t := range tallies {
		total.merge(t)
	}
	return total, elapsed, ctx.Err()
}

// send sends one request and counts its answer, its latency from began to after the last byte of
// the answer, or its transport error.
func (lt *loadtest) send(ctx context.Context, t *tally, sender requestSender, body []byte, began time.Time) {
	status, err := sender.send(ctx, body)
	if ctx.Err() != nil {
		return // interrupted: neither an answer nor the server's error
	}
	t.requests++
	if err != nil {
		t.transport++
		if len(t.samples) < maxErrorSamples {
			msg := err.Error()
			if _, ok := sender.(*rawConn); ok {
				msg = "Post \"" + lt.target.String() + "\": " + msg // as net/http words its errors
			}
			t.sample(msg)
		}
		return
	}
	t.statuses[status]++
	t.latency.record(time.Since(began))
}

func (t *tally) sample(msg string) {
	if len(t.samples) < maxErrorSamples && !slices.Contains(t.samples, msg) {
		t.samples = append(t.samples, msg)
	}
}

// loadtestReport is what a run measured; its JSON is the --format json output.
type loadtestReport struct {
	URL             string         `json:"url"`
	Form            string         `json:"form,omitempty"`
	Body            string         `json:"body,omitempty"` // the --body file, when one was sent every request
	Model           string         `json:"model"`          // closed or open
	Connections     int            `json:"connections"`
	Rate            float64        `json:"rate,omitempty"` // scheduled requests per second (open model)
	WarmupSeconds   float64        `json:"warmup_s"`
	DurationSeconds float64        `json:"duration_s"`
	ElapsedSeconds  float64        `json:"elapsed_s"` // until the last answer of the measured phase
	Requests        int            `json:"requests"`
	Throughput      float64        `json:"throughput"` // answered requests per second, transport errors excluded
	Latency         latencyReport  `json:"latency_ms"`
	Statuses        map[string]int `json:"statuses"`
	Non2xx          int            `json:"non_2xx"`
	TransportErrors int            `json:"transport_errors"`
	ErrorSamples    []string       `json:"error_samples,omitempty"`
	CPU             *cpuReport     `json:"cpu,omitempty"` // the machine's CPU over the measured window, where it can be read (Linux)
}

type latencyReport struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func (lt *loadtest) report(t *tally, elapsed time.Duration) *loadtestReport {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	r := &loadtestReport{
		URL: lt.target.String(), Form: lt.form, Body: lt.bodyFile, Model: "closed", Connections: lt.connections, Rate: lt.rate,
		WarmupSeconds: lt.warmup.Seconds(), DurationSeconds: lt.duration.Seconds(), ElapsedSeconds: math.Round(elapsed.Seconds()*1e3) / 1e3,
		Requests: t.requests, TransportErrors: t.transport, ErrorSamples: t.samples, Statuses: map[string]int{},
		Latency: latencyReport{Mean: ms(t.latency.mean()), P50: ms(t.latency.quantile(0.50)), P95: ms(t.latency.quantile(0.95)),
			P99: ms(t.latency.quantile(0.99)), Max: ms(t.latency.max)},
	}
	if lt.rate > 0 {
		r.Model = "open"
	}
	for code, n := range t.statuses {
		r.Statuses[strconv.Itoa(code)] = n
		if code < 200 || code > 299 {
			r.Non2xx += n
		}
	}
	if elapsed > 0 {
		r.Throughput = math.Round(float64(t.requests-t.transport)/elapsed.Seconds()*10) / 10
	}
	return r
}

func (r *loadtestReport) writeText(w io.Writer) error {
	var b strings.Builder
	model := "closed model"
	if r.Model == "open" {
		model = fmt.Sprintf("open model at %g requests/s", r.Rate)
	}
	what := "form " + r.Form
	if r.Body != "" {
		what = "body " + r.Body
	}
	fmt.Fprintf(&b, "POST %s  %s  %d connections  %gs after %gs warm-up  %s\n", r.URL, what, r.Connections, r.DurationSeconds, r.WarmupSeconds, model)
	fmt.Fprintf(&b, "requests          %d in %.3fs\n", r.Requests, r.ElapsedSeconds)
	fmt.Fprintf(&b, "throughput        %.1f requests/s\n", r.Throughput)
	fmt.Fprintf(&b, "latency           mean %.3f ms  p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n",
		r.Latency.Mean, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max)
	codes := make([]string, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	b.WriteString("statuses         ")
	if len(codes) == 0 {
		b.WriteString(" none")
	}
	for _, c := range codes {
		fmt.Fprintf(&b, " %s: %d", c, r.Statuses[c])
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "non-2xx           %d\n", r.Non2xx)
	fmt.Fprintf(&b, "transport errors  %d\n", r.TransportErrors)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	if r.CPU != nil {
		r.CPU.writeText(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// histogram records durations in bounded memory with a relative error under 1% (the scheme of
// HDR histograms): values below 256 ns are exact, and every power of two above is split into 128
// buckets.
type histogram struct {
	counts [histogramBuckets]uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

const (
	histogramBits    = 8
	histogramSub     = 1 << histogramBits // exact values, and twice the buckets per power of two
	histogramHalf    = histogramSub / 2
	histogramBuckets = histogramSub + (64-histogramBits)*histogramHalf
)

func histogramIndex(v uint64) int {
	if v < histogramSub {
		return int(v)
	}
	shift := bits.Len64(v) - histogramBits
	return histogramSub + (shift-1)*histogramHalf + int(v>>shift) - histogramHalf
}

// histogramUpper is the largest value bucket i holds.
func histogramUpper(i int) uint64 {
	if i < histogramSub {
		return uint64(i)
	}
	shift := (i-histogramSub)/histogramHalf + 1
	top := uint64((i-histogramSub)%histogramHalf + histogramHalf)
	return (top+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[histogramIndex(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// quantile is the smallest recorded value's bucket bound with at least q of the values at or
// below it, never above the largest value recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histogramUpper(i)), h.max)
		}
	}
	return h.max
}
