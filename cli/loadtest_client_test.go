package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCountingServer is a net/http server on loopback that counts the connections it accepted and
// the requests it answered, and checks each request is the --body sent.
type connCountingServer struct {
	*httptest.Server
	conns, requests, bad atomic.Int64
	mu                   sync.Mutex
	statuses             map[int]int
}

func newConnCountingServer(t *testing.T, body []byte, answer func(k int64, w http.ResponseWriter) int) *connCountingServer {
	s := &connCountingServer{statuses: map[int]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/decide" || !bytes.Equal(got, body) ||
			r.Header.Get("Authorization") != "Bearer cpt_test" || r.Header.Get("Content-Type") != "application/json" {
			s.bad.Add(1)
		}
		status := answer(s.requests.Add(1), w)
		s.mu.Lock()
		s.statuses[status]++
		s.mu.Unlock()
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// rawServer answers on loopback with handle, one goroutine per connection, for answers net/http
// would not give (a body that lasts until close, a reset connection).
func rawServer(t testing.TB, handle func(net.Conn)) (url string, conns *atomic.Int64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close() // a client may keep its connection idle past the test
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	return "http://" + l.Addr().String(), conns
}

// readRequest reads one request (head and Content-Length body) without allocating, so the
// allocations a test measures are the client's.
func readRequest(br *bufio.Reader) error {
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			for _, d := range v {
				n = n*10 + int(d-'0')
			}
		}
	}
	_, err := br.Discard(n)
	return err
}

// serveCanned answers every request of a connection with the same bytes.
func serveCanned(answer string) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		out := []byte(answer)
		for readRequest(br) == nil {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func writeBody(t *testing.T, body []byte) string {
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func runBody(t *testing.T, target, file string, connections int) (int, loadtestReport, string) {
	t.Helper()
	code, out, stderr := runLoadtest(t, "--url", target, "--path", "/v1/decide", "--body", file,
		"--connections", strconv.Itoa(connections), "--duration", "300ms", "--warmup", "0s", "--format", "json")
	var rep loadtestReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d: %v: %q %s", code, err, out, stderr)
	}
	return code, rep, stderr
}

// TestLoadtestClientAnswers: the HTTP/1.1 client keeps its connections alive across answers framed
// by Content-Length or chunked, reconnects when the server closes after each answer, counts
// answers by status, and counts the answers a server breaks off as transport errors.
func TestLoadtestClientAnswers(t *testing.T) {
	body := []byte(`{"form":"mental-health","answers":{"phq9_1":2}}`)
	file := writeBody(t, body)
	const conns = 3
	for _, tc := range []struct {
		name      string
		answer    func(k int64, w http.ResponseWriter) int
		perAnswer bool // the server closes the connection after each answer
	}{
		{"content-length", func(_ int64, w http.ResponseWriter) int {
			w.Header().Set("Content-Length", "17")
			io.WriteString(w, `{"pathway":"gp"}`+"\n")
			return 200
		}, false},
		{"chunked", func(_ int64, w http.ResponseWriter) int {
			for i := range 3 {
				io.WriteString(w, strings.Repeat("x", 10+i))
				w.(http.Flusher).Flush()
			}
			return 200
		}, false},
		{"chunked beyond the read buffer", func(_ int64, w http.ResponseWriter) int {
			io.WriteString(w, strings.Repeat("y", 3*rawConnBuffer+7))
			return 200
		}, false},
		{"no content", func(_ int64, w http.ResponseWriter) int {
			w.WriteHeader(http.StatusNoContent)
			return http.StatusNoContent
		}, false},
		{"statuses", func(k int64, w http.ResponseWriter) int {
			status := []int{200, 201, 404, 422, 503}[k%5]
			w.WriteHeader(status)
			io.WriteString(w, `{"title":"x"}`)
			return status
		}, false},
		{"connection close", func(_ int64, w http.ResponseWriter) int {
			w.Header().Set("Connection", "close")
			io.WriteString(w, `{}`)
			return 200
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newConnCountingServer(t, body, func(k int64, w http.ResponseWriter) int {
				time.Sleep(200 * time.Microsecond) // leave the cores to the client
				return tc.answer(k, w)
			})
			code, rep, stderr := runBody(t, srv.URL, file, conns)
			if code != 0 || rep.TransportErrors != 0 {
				t.Fatalf("exit %d, %d transport errors %v %s", code, rep.TransportErrors, rep.ErrorSamples, stderr)
			}
			served := srv.requests.Load()
			if rep.Requests != int(served) || rep.Requests < 50 || srv.bad.Load() != 0 {
				t.Errorf("reported %d requests, the server answered %d, %d not the body sent", rep.Requests, served, srv.bad.Load())
			}
			srv.mu.Lock()
			non2xx := 0
			for status, n := range srv.statuses {
				if rep.Statuses[strconv.Itoa(status)] != n {
					t.Errorf("status %d: reported %d, the server answered %d", status, rep.Statuses[strconv.Itoa(status)], n)
				}
				if status > 299 {
					non2xx += n
				}
			}
			if len(rep.Statuses) != len(srv.statuses) || rep.Non2xx != non2xx {
				t.Errorf("statuses %v non-2xx %d, the server answered %v", rep.Statuses, rep.Non2xx, srv.statuses)
			}
			srv.mu.Unlock()
			if got := srv.conns.Load(); tc.perAnswer && got < served {
				t.Errorf("%d connections for %d answers that each closed theirs", got, served)
			} else if !tc.perAnswer && got != conns {
				t.Errorf("%d connections for %d keep-alive connections", got, conns)
			}
		})
	}
}

// TestLoadtestClientBrokenAnswers: a body that lasts until the server closes is an answer; a
// connection the server resets, or closes before answering, or answers with something that is not
// HTTP, is a transport error, and the next request dials again.
func TestLoadtestClientBrokenAnswers(t *testing.T) {
	file := writeBody(t, []byte(`{}`))
	for _, tc := range []struct {
		name      string
		handle    func(net.Conn)
		answered  bool
		wantError string
	}{
		{"until close", func(c net.Conn) {
			if readRequest(bufio.NewReader(c)) == nil {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"pathway\":\"gp\"}")
			}
		}, true, ""},
		{"reset", func(c net.Conn) {
			readRequest(bufio.NewReader(c))
			c.(*net.TCPConn).SetLinger(0) // close with RST
		}, false, "connection reset"},
		{"closed before answering", func(c net.Conn) {
			readRequest(bufio.NewReader(c))
		}, false, "EOF"},
		{"not HTTP", func(c net.Conn) {
			readRequest(bufio.NewReader(c))
			io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
		}, false, "malformed HTTP status line"},
		{"cut short", func(c net.Conn) {
			readRequest(bufio.NewReader(c))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
		}, false, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, conns := rawServer(t, func(c net.Conn) {
				time.Sleep(200 * time.Microsecond)
				tc.handle(c)
			})
			code, rep, stderr := runBody(t, target, file, 2)
			if rep.Requests < 20 || int64(rep.Requests) > conns.Load() {
				t.Errorf("%d requests on %d connections: want one connection each", rep.Requests, conns.Load())
			}
			if tc.answered {
				if code != 0 || rep.TransportErrors != 0 || rep.Statuses["200"] != rep.Requests {
					t.Errorf("exit %d: %+v %s", code, rep, stderr)
				}
				return
			}
			if code != ExitFailure || rep.TransportErrors != rep.Requests || len(rep.Statuses) != 0 || rep.Throughput != 0 ||
				!strings.Contains(stderr, "no request was answered") {
				t.Errorf("exit %d: %+v %s", code, rep, stderr)
			}
			if len(rep.ErrorSamples) == 0 || !strings.Contains(rep.ErrorSamples[0], tc.wantError) ||
				!strings.HasPrefix(rep.ErrorSamples[0], `Post "`+target+`/v1/decide": `) {
				t.Errorf("error samples %q, want %q", rep.ErrorSamples, tc.wantError)
			}
		})
	}
}

// TestLoadtestClientRefusesRemote: the client's own dialer refuses a target that is not loopback,
// whatever it was checked as when the run began, and allows it only with --allow-remote.
func TestLoadtestClientRefusesRemote(t *testing.T) {
	target, _ := url.Parse("http://192.0.2.1:8080/v1/decide")
	lt := &loadtest{target: target, dialer: loadtestDialer(false)}
	s := lt.newSender()
	defer s.close()
	start := time.Now()
	_, err := s.send(context.Background(), []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "refusing to connect to 192.0.2.1:8080, which is not loopback") {
		t.Errorf("dialled a remote address: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("refused only after %v", time.Since(start))
	}

	// Loopback is allowed, by name too.
	srvURL, conns := rawServer(t, serveCanned("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
	u, _ := url.Parse(strings.Replace(srvURL, "127.0.0.1", "localhost", 1) + "/v1/decide")
	lt = &loadtest{target: u, dialer: loadtestDialer(false)}
	s = lt.newSender()
	defer s.close()
	if status, err := s.send(context.Background(), []byte(`{}`)); status != 200 || err != nil || conns.Load() != 1 {
		t.Errorf("loopback by name: %d %v, %d connections", status, err, conns.Load())
	}
}

// TestLoadtestClientStopsWithContext: a request waiting for a slow answer ends when the run does.
func TestLoadtestClientStopsWithContext(t *testing.T) {
	target, _ := rawServer(t, func(c net.Conn) {
		readRequest(bufio.NewReader(c))
		io.Copy(io.Discard, c) // never answers; returns when the client hangs up
	})
	u, _ := url.Parse(target + "/v1/decide")
	lt := &loadtest{target: u, dialer: loadtestDialer(false)}
	s := lt.newSender()
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.send(ctx, []byte(`{}`)); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("after %v: %v", time.Since(start), err)
	}
}

// TestLoadtestClientHTTPS: an https:// target goes through net/http, so a deployment behind TLS
// can be measured.
func TestLoadtestClientHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer cpt_test" || r.URL.Path != "/v1/decide" {
			w.WriteHeader(http.StatusBadRequest)
		}
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/v1/decide")
	lt := &loadtest{target: u, token: "cpt_test", dialer: loadtestDialer(false), client: srv.Client()}
	s := lt.newSender()
	defer s.close()
	if _, ok := s.(*stdSender); !ok {
		t.Fatalf("an https target is sent by %T", s)
	}
	if status, err := s.send(context.Background(), []byte(`{}`)); status != 200 || err != nil {
		t.Errorf("%d %v", status, err)
	}
}

func newTestRawConn(t testing.TB, target string) *rawConn {
	u, err := url.Parse(target + "/v1/decide")
	if err != nil {
		t.Fatal(err)
	}
	lt := &loadtest{target: u, token: "cpt_test", dialer: loadtestDialer(false)}
	return lt.newSender().(*rawConn)
}

// TestLoadtestClientAllocs: with one body for every request, a request allocates nothing once
// the connection is open.
func TestLoadtestClientAllocs(t *testing.T) {
	target, _ := rawServer(t, serveCanned("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"pathway\":\"gp\"}"))
	c := newTestRawConn(t, target)
	defer c.close()
	body := []byte(`{"form":"mental-health"}`)
	ctx := context.Background()
	if status, err := c.send(ctx, body); status != 200 || err != nil {
		t.Fatalf("%d %v", status, err)
	}
	allocs := testing.AllocsPerRun(2000, func() {
		if status, err := c.send(ctx, body); status != 200 || err != nil {
			t.Fatalf("%d %v", status, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations a request", allocs)
	}
}

// BenchmarkLoadtestClient sends requests one at a time to a trivial loopback server, with the
// generator's client and, for comparison, with net/http's.
func BenchmarkLoadtestClient(b *testing.B) {
	target, _ := rawServer(b, serveCanned("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"pathway\":\"gp\"}"))
	body, err := os.ReadFile("../bench/opa/submission.json")
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(target + "/v1/decide")
	lt := &loadtest{target: u, token: "cpt_test", dialer: loadtestDialer(false)}
	lt.client = &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: lt.dialer.DialContext}}
	for _, s := range []struct {
		name   string
		sender requestSender
	}{
		{"http1", lt.newSender()},
		{"net-http", &stdSender{client: lt.client, url: u.String(), token: lt.token}},
	} {
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if status, err := s.sender.send(ctx, body); status != 200 || err != nil {
					b.Fatalf("%d %v", status, err)
				}
			}
			s.sender.close()
		})
	}
}

// FuzzResponseHead: the response parser never panics nor returns an impossible head, never keeps a
// connection whose body has no framing, and where net/http also accepts a response, agrees on its
// status and length.
func FuzzResponseHead(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nTrailer: v\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: keep-alive, close\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 422 Unprocessable Entity\r\ncontent-length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 500\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
		"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 64)
		h, err := readResponseHead(br)
		if err != nil {
			return
		}
		if h.status < 200 || h.status > 999 || h.contentLength < -1 {
			t.Fatalf("head %+v", h)
		}
		closes, bodyErr := discardBody(br, h)
		if bodyErr == nil && !closes && h.contentLength < 0 && !h.chunked && h.status != 204 && h.status != 304 {
			t.Fatalf("a body without framing kept the connection: %+v", h)
		}
		resp, stdErr := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), &http.Request{Method: http.MethodPost})
		if stdErr != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 {
			return // net/http returns an interim response; the generator skips it
		}
		if resp.StatusCode != h.status {
			t.Fatalf("status %d, net/http %d", h.status, resp.StatusCode)
		}
		if !h.chunked && h.contentLength >= 0 && resp.ContentLength >= 0 && resp.ContentLength != h.contentLength &&
			h.status != 204 && h.status != 304 {
			t.Fatalf("length %d, net/http %d", h.contentLength, resp.ContentLength)
		}
	})
}
