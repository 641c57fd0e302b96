package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer answers POSTs on loopback: 201, except every 10th 422 and every 25th 500 (when
// not already a 422), counting what it answered and the subjects it saw.
type countingServer struct {
	*httptest.Server
	n        atomic.Int64
	mu       sync.Mutex
	statuses map[int]int
	subjects map[string]int
	bad      []string
}

func newCountingServer(t *testing.T, form string) *countingServer {
	s := &countingServer{statuses: map[int]int{}, subjects: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			Form    string `json:"form"`
			Subject struct {
				Ref string `json:"ref"`
			} `json:"subject"`
			Answers map[string]any `json:"answers"`
		}
		body, _ := io.ReadAll(r.Body)
		k := s.n.Add(1)
		status := http.StatusCreated
		switch {
		case k%10 == 0:
			status = http.StatusUnprocessableEntity
		case k%25 == 0:
			status = http.StatusInternalServerError
		}
		s.mu.Lock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/assessments" || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("Authorization") != "Bearer cpt_test" || json.Unmarshal(body, &a) != nil || a.Form != form || len(a.Answers) == 0 {
			s.bad = append(s.bad, r.Method+" "+r.URL.Path+" "+string(body))
		}
		s.statuses[status]++
		s.subjects[a.Subject.Ref]++
		s.mu.Unlock()
		// A little work per request, as a server does, so the test does not take both cores.
		time.Sleep(300 * time.Microsecond)
		w.WriteHeader(status)
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func runLoadtest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv(TokenEnv, "cpt_test")
	app, out, errOut := testApp("tester")
	code := Run(app, append([]string{"carepath", "loadtest"}, args...))
	return code, out.String(), errOut.String()
}

// TestLoadtestClosedModel: a run's counts are the server's, its throughput is what it sent in the
// time it ran, and its percentiles are ordered.
func TestLoadtestClosedModel(t *testing.T) {
	srv := newCountingServer(t, "mental-health")
	code, out, stderr := runLoadtest(t, "--url", srv.URL, "--form", "mental-health", "--connections", "4",
		"--duration", "1s", "--warmup", "0s", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d %s %s", code, out, stderr)
	}
	var rep loadtestReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	srv.mu.Lock()
	if len(srv.bad) > 0 {
		t.Errorf("%d requests were not the assessments expected, such as %.300s", len(srv.bad), srv.bad[0])
	}
	served := int(srv.n.Load())
	if rep.Requests != served || rep.Requests < 100 {
		t.Errorf("reported %d requests, the server answered %d", rep.Requests, served)
	}
	for status, n := range srv.statuses {
		if rep.Statuses[strconv.Itoa(status)] != n {
			t.Errorf("status %d: reported %d, the server answered %d", status, rep.Statuses[strconv.Itoa(status)], n)
		}
	}
	if len(rep.Statuses) != len(srv.statuses) || rep.Statuses["422"] == 0 || rep.Statuses["500"] == 0 {
		t.Errorf("statuses %v, the server answered %v", rep.Statuses, srv.statuses)
	}
	if want := srv.statuses[422] + srv.statuses[500]; rep.Non2xx != want || rep.TransportErrors != 0 {
		t.Errorf("non-2xx %d (want %d), transport errors %d", rep.Non2xx, want, rep.TransportErrors)
	}
	if want := float64(served) / rep.ElapsedSeconds; math.Abs(rep.Throughput-want) > 0.01*want+0.1 {
		t.Errorf("throughput %.1f/s, but %d requests in %.3fs is %.1f/s", rep.Throughput, served, rep.ElapsedSeconds, want)
	}
	if rep.ElapsedSeconds < 1 || rep.ElapsedSeconds > 1.5 {
		t.Errorf("a 1 s run took %.3fs", rep.ElapsedSeconds)
	}
	l := rep.Latency
	if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max && l.Mean <= l.Max) || l.P50 < 0.3 {
		t.Errorf("latency %+v: want 0.3 ms ≤ p50 ≤ p95 ≤ p99 ≤ max", l)
	}
	// Every request carried a different assessment.
	for ref, n := range srv.subjects {
		if n > 1 || !strings.HasPrefix(ref, "syn-") {
			t.Errorf("subject %q sent %d times", ref, n)
			break
		}
	}
	srv.mu.Unlock()

	// The text report says the same.
	code, out, stderr = runLoadtest(t, "--url", srv.URL, "--form", "mental-health", "--connections", "2", "--duration", "200ms", "--warmup", "0s")
	for _, want := range []string{"POST " + srv.URL + "/v1/assessments  form mental-health  2 connections", "\nthroughput ", "requests/s\n", "p99 ", "\nstatuses          201: ", "\ntransport errors  0\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("text report lacks %q: exit %d %s %s", want, code, out, stderr)
		}
	}
}

// TestLoadtestSameSeedSameCases: the sequence of assessments depends on the seed alone.
func TestLoadtestSameSeedSameCases(t *testing.T) {
	sequence := func(seed uint64) []string {
		src := &caseSource{form: "discharge", seed: seed, from: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
		var out []string
		for range loadtestChunk + 10 {
			line, err := src.next()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(line))
		}
		return out
	}
	a, b, c := sequence(3), sequence(3), sequence(4)
	if !slices.Equal(a, b) {
		t.Error("the same seed sent different assessments")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds sent the same assessments")
	}
	seen := map[string]bool{}
	for _, line := range a {
		if seen[line] || !strings.HasPrefix(line, `{"form":"discharge"`) || !strings.HasSuffix(line, "}\n") {
			t.Fatalf("repeated or malformed line across chunks: %q", line)
		}
		seen[line] = true
	}
}

// TestLoadtestRate: with --rate the requests are scheduled at that rate, after a warm-up that is
// sent but not counted.
func TestLoadtestRate(t *testing.T) {
	srv := newCountingServer(t, "discharge")
	code, out, stderr := runLoadtest(t, "--url", srv.URL, "--form", "discharge", "--connections", "4",
		"--duration", "1500ms", "--warmup", "300ms", "--rate", "200", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d %s %s", code, out, stderr)
	}
	var rep loadtestReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Model != "open" || rep.Rate != 200 {
		t.Errorf("model %q at %v", rep.Model, rep.Rate)
	}
	if math.Abs(rep.Throughput-200) > 40 || rep.Requests < 240 || rep.Requests > 360 {
		t.Errorf("at --rate 200 for 1.5 s: %d requests, %.1f/s", rep.Requests, rep.Throughput)
	}
	if served := int(srv.n.Load()); served-rep.Requests < 30 {
		t.Errorf("the server answered %d, the report counts %d: the warm-up was counted or not sent", served, rep.Requests)
	}
}

// TestLoadtestRefusals: a target that is not loopback is refused before anything is sent, as are
// bad settings; all with exit code 2.
func TestLoadtestRefusals(t *testing.T) {
	srv := newCountingServer(t, "discharge")
	emptyBody := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(emptyBody, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://192.0.2.1/", "--form", "discharge"}, `--url "http://192.0.2.1/": 192.0.2.1 is not a loopback address; load testing is allowed only against this machine unless --allow-remote is given`},
		{[]string{"--url", "http://[2001:db8::1]:8080", "--form", "discharge"}, "2001:db8::1 is not a loopback address"},
		{[]string{"--url", "ftp://127.0.0.1/", "--form", "discharge"}, "want the http:// or https:// URL"},
		{[]string{"--url", srv.URL, "--form", "housing"}, `--form "housing": want discharge or mental-health`},
		{[]string{"--url", srv.URL, "--form", "discharge", "--connections", "0"}, "--connections 0: want 1 to 10000"},
		{[]string{"--url", srv.URL, "--form", "discharge", "--duration", "ten"}, `--duration "ten": want a positive duration`},
		{[]string{"--url", srv.URL, "--form", "discharge", "--rate", "-5"}, "--rate -5: want requests per second"},
		{[]string{"--url", srv.URL, "--form", "discharge", "--format", "csv"}, `--format "csv": want text or json`},
		{[]string{"--url", srv.URL, "--form", "discharge", "--path", "v1/decide"}, `--path "v1/decide": want a route`},
		{[]string{"--form", "discharge"}, "--url is required"},
		{[]string{"--url", srv.URL}, "--form is required unless --body is given"},
		{[]string{"--url", srv.URL, "--form", "discharge", "--body", emptyBody}, `--form "discharge" and --body`},
		{[]string{"--url", srv.URL, "--body", emptyBody}, "is empty"},
		{[]string{"--url", srv.URL, "--body", filepath.Join(t.TempDir(), "absent.json")}, "no such file"},
	} {
		start := time.Now()
		code, out, stderr := runLoadtest(t, tc.args...)
		if code != ExitInvalid || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("loadtest %s: exit %d (want 2) %q %q; want %q", strings.Join(tc.args, " "), code, out, stderr, tc.want)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("loadtest %s: refused only after %v", strings.Join(tc.args, " "), time.Since(start))
		}
	}
	if n := srv.n.Load(); n != 0 {
		t.Errorf("refused runs sent %d requests", n)
	}

	// localhost resolves to loopback, so it is allowed.
	code, _, stderr := runLoadtest(t, "--url", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), "--form", "discharge",
		"--connections", "1", "--duration", "50ms", "--warmup", "0s")
	if code != 0 || srv.n.Load() == 0 {
		t.Errorf("localhost: exit %d %s", code, stderr)
	}
}

// TestLoadtestUnreachable: when nothing answers, the run says so and fails (exit 1).
func TestLoadtestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	code, out, stderr := runLoadtest(t, "--url", url, "--form", "discharge", "--connections", "1", "--duration", "50ms", "--warmup", "0s")
	if code != ExitFailure || !strings.Contains(out, "transport errors") || !strings.Contains(stderr, "no request was answered") {
		t.Errorf("exit %d %q %q", code, out, stderr)
	}
}

// TestHistogramQuantiles: the histogram's quantiles are within 1% of the exact ones, ordered, and
// never above the largest value.
func TestHistogramQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		draw func(r *rand.Rand) time.Duration
	}{
		{"uniform 0-10ms", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(10 * time.Millisecond))) }},
		{"exponential 1ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(time.Millisecond)) }},
		{"tiny", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(300)) }},
		{"long tail", func(r *rand.Rand) time.Duration {
			return time.Duration(math.Exp(r.NormFloat64()*2) * float64(time.Millisecond))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h histogram
			values := make([]time.Duration, 20000)
			for i := range values {
				values[i] = tc.draw(r)
				h.record(values[i])
			}
			slices.Sort(values)
			prev := time.Duration(0)
			for _, q := range []float64{0.5, 0.95, 0.99, 0.999, 1} {
				exact := values[int(math.Ceil(q*float64(len(values))))-1]
				got := h.quantile(q)
				if math.Abs(float64(got-exact)) > 0.01*float64(exact)+1 || got < prev || got > h.max {
					t.Errorf("q%v: %v, exact %v (previous %v, max %v)", q, got, exact, prev, h.max)
				}
				prev = got
			}
			if h.max != values[len(values)-1] {
				t.Errorf("max %v, want %v", h.max, values[len(values)-1])
			}
		})
	}
	for _, v := range []uint64{0, 127, 128, 255, 256, 257, 511, 512, 1 << 40, math.MaxInt64, math.MaxUint64} {
		i := histogramIndex(v)
		if i < 0 || i >= histogramBuckets || histogramUpper(i) < v || (i > 0 && histogramUpper(i-1) >= v) {
			t.Errorf("%d: bucket %d holds up to %d, the one before up to %d", v, i, histogramUpper(i), histogramUpper(max(i-1, 0)))
		}
	}
}

// TestLoadtestBody: with --body every request carries the file's bytes, to any path, and without
// a token no Authorization header is sent (for a server that needs none, such as another policy
// engine measured beside Carepath).
func TestLoadtestBody(t *testing.T) {
	const path = "/v1/data/carepath/triage/decision"
	body := []byte(`{"input": {"answers": {"phq9_9": 0}, "scores": {"phq9_total": 9}}}` + "\n")
	file := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, wantAuth string
	}{
		{"no token", "", ""},
		{"token", "cpt_test", "Bearer cpt_test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n, bad atomic.Int64
			var firstBad atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ := io.ReadAll(r.Body)
				n.Add(1)
				_, hasAuth := r.Header["Authorization"]
				if r.Method != http.MethodPost || r.URL.Path != path || string(got) != string(body) ||
					r.Header.Get("Authorization") != tc.wantAuth || hasAuth != (tc.wantAuth != "") {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%s %s auth %q body %q", r.Method, r.URL.Path, r.Header.Get("Authorization"), got))
				}
				time.Sleep(200 * time.Microsecond)
				io.WriteString(w, `{"result": {}}`)
			}))
			t.Cleanup(srv.Close)
			t.Setenv(TokenEnv, tc.token)
			app, out, errOut := testApp("tester")
			code := Run(app, []string{"carepath", "loadtest", "--url", srv.URL, "--path", path, "--body", file,
				"--connections", "3", "--duration", "300ms", "--warmup", "0s", "--format", "json"})
			if code != 0 {
				t.Fatalf("exit %d %s %s", code, out, errOut)
			}
			var rep loadtestReport
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if bad.Load() > 0 {
				t.Errorf("%d of %d requests were not the body given, such as %v", bad.Load(), n.Load(), firstBad.Load())
			}
			if rep.Requests != int(n.Load()) || rep.Requests < 50 || rep.Statuses["200"] != rep.Requests {
				t.Errorf("reported %d requests (statuses %v), the server answered %d", rep.Requests, rep.Statuses, n.Load())
			}
			if rep.Body != file || rep.Form != "" || !strings.HasSuffix(rep.URL, path) {
				t.Errorf("report names body %q form %q url %q", rep.Body, rep.Form, rep.URL)
			}
		})
	}
	// The text report names the body rather than a form.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	t.Cleanup(srv.Close)
	t.Setenv(TokenEnv, "")
	app, out, errOut := testApp("tester")
	code := Run(app, []string{"carepath", "loadtest", "--url", srv.URL, "--body", file, "--connections", "1", "--duration", "50ms", "--warmup", "0s"})
	if want := "POST " + srv.URL + "/v1/assessments  body " + file + "  1 connections"; code != 0 || !strings.Contains(out.String(), want) {
		t.Errorf("text report lacks %q: exit %d %s %s", want, code, out, errOut)
	}
}
