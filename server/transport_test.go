package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/internal/syncbuffer"
)

// testTimeout stands in for the read and idle timeouts, short so that the tests are quick.
const testTimeout = 300 * time.Millisecond

// margin is how much later than a timeout a cut-off may come on a busy two-core machine.
const margin = 2 * time.Second

// quickServer is the default server configuration on a loopback port with short timeouts.
func quickServer() config.Server {
	s := config.Default().Server
	s.Addr = "127.0.0.1:0"
	s.ReadHeaderTimeout = testTimeout
	s.ReadTimeout = testTimeout
	s.IdleTimeout = testTimeout
	return s
}

// syncBuffer collects log output written from the server's goroutines.
type syncBuffer = syncbuffer.Buffer

// serveOn starts a real server from Listen and returns its listener address and base URL.
func serveOn(t *testing.T, cfg config.Server, h http.Handler, logger *slog.Logger) (string, string) {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, ln, err := Listen(cfg, h, logger)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), URL(cfg, ln)
}

// readBody answers like the API's handlers: read the whole body under a limit, or write the problem.
func readBody(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		fmt.Fprintf(w, "read %d bytes", len(body))
	}
}

func quietServer() *Server {
	return &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics()}
}

func TestCheckExposure(t *testing.T) {
	tests := []struct {
		addr              string
		tls, behindProxy  bool
		allowed           bool
		wantInRefusalText string
	}{
		{addr: "127.0.0.1:0", allowed: true},
		{addr: "127.0.0.1:8080", allowed: true},
		{addr: "127.10.0.1:8080", allowed: true},
		{addr: "localhost:0", allowed: true},
		{addr: "[::1]:8080", allowed: true},
		{addr: "0.0.0.0:8080", wantInRefusalText: "every network interface"},
		{addr: "[::]:8080", wantInRefusalText: "every network interface"},
		{addr: ":8080", wantInRefusalText: "every network interface"},
		{addr: "192.0.2.1:80", wantInRefusalText: "host 192.0.2.1"},
		{addr: "carepath.example.org:443", wantInRefusalText: "host carepath.example.org"},
		{addr: "0.0.0.0:8080", tls: true, allowed: true},
		{addr: "[::]:8080", behindProxy: true, allowed: true},
		{addr: "192.0.2.1:80", behindProxy: true, allowed: true},
		{addr: "8080", wantInRefusalText: "HOST:PORT"},
	}
	for _, tt := range tests {
		err := CheckExposure(tt.addr, tt.tls, tt.behindProxy)
		if tt.allowed {
			if err != nil {
				t.Errorf("%s tls=%v proxy=%v: refused: %v", tt.addr, tt.tls, tt.behindProxy, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s tls=%v proxy=%v: allowed, want a refusal", tt.addr, tt.tls, tt.behindProxy)
			continue
		}
		for _, want := range []string{tt.wantInRefusalText, tt.addr} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", tt.addr, err, want)
			}
		}
		if tt.wantInRefusalText != "HOST:PORT" && !strings.Contains(err.Error(), "--behind-proxy") {
			t.Errorf("%s: %q does not say how to proceed", tt.addr, err)
		}
	}
}

// Listen refuses before binding, so no non-loopback address is ever touched.
func TestListenRefusesPlainNonLoopback(t *testing.T) {
	cfg := quickServer()
	cfg.Addr = "0.0.0.0:0"
	if _, _, err := Listen(cfg, http.NotFoundHandler(), nil); err == nil || !strings.Contains(err.Error(), "without TLS") {
		t.Errorf("Listen on 0.0.0.0 without TLS: %v", err)
	}
	cfg = quickServer()
	cfg.ReadTimeout = 0
	if _, _, err := Listen(cfg, http.NotFoundHandler(), nil); err == nil || !strings.Contains(err.Error(), "server.read_timeout") {
		t.Errorf("Listen with no read timeout: %v", err)
	}
}

func TestSecurityHeaders(t *testing.T) {
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/assets/app.css" {
			w.Header().Set("Cache-Control", "public, max-age=3600") // a static file may choose its own
		}
		http.Error(w, "x", http.StatusNotFound) // errors carry the headers too
	})
	for _, tls := range []bool{false, true} {
		for _, path := range []string{"/v1/assessments/d1", "/healthz", "/signin", "/assets/app.css"} {
			rec := httptest.NewRecorder()
			SecurityHeaders(inner, tls).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			h := rec.Result().Header
			for k, v := range want {
				if k == "Cache-Control" && path == "/assets/app.css" {
					v = "public, max-age=3600"
				}
				if got := h.Get(k); got != v {
					t.Errorf("tls=%v %s: %s = %q, want %q", tls, path, k, got, v)
				}
			}
			if got := h.Get("Strict-Transport-Security"); tls && got != "max-age=63072000; includeSubDomains" || !tls && got != "" {
				t.Errorf("tls=%v %s: Strict-Transport-Security = %q", tls, path, got)
			}
		}
	}
}

// The pages must work under ContentSecurityPolicy: no inline script, style or event handler, and
// nothing loaded from another origin.
func TestPagesNeedNoInlineCode(t *testing.T) {
	var files []string
	err := filepath.WalkDir("pages", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in pages/: the test would check nothing")
	}
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]|<style|\sstyle\s*=|\son[a-z]+\s*=|javascript:|(src|href)\s*=\s*"(https?:)?//|url\(\s*['"]?(data:|https?:|//)|@import`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := inline.Find(b); m != nil {
			t.Errorf("%s: %q would be refused by the Content-Security-Policy", f, m)
		}
	}
}

// writeCert makes a self-signed certificate for 127.0.0.1 and returns the PEM file paths and a pool trusting it.
func writeCert(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "carepath test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })

	cfg := quickServer()
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	var logs syncBuffer
	_, tlsURL := serveOn(t, cfg, ok, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if !strings.HasPrefix(tlsURL, "https://127.0.0.1:") {
		t.Fatalf("URL %q", tlsURL)
	}
	_, plainURL := serveOn(t, quickServer(), ok, nil)
	proxied := quickServer()
	proxied.BehindProxy = true
	_, proxiedURL := serveOn(t, proxied, ok, nil)

	get := func(c *http.Client, url string) (*http.Response, error) {
		resp, err := c.Get(url + "/v1/forms")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return resp, err
	}
	for _, h2 := range []bool{false, true} {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2,
		}}
		resp, err := get(client, tlsURL)
		if err != nil {
			t.Fatalf("https (h2=%v): %v", h2, err)
		}
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("h2=%v: connection state %+v", h2, resp.TLS)
		}
		if h2 && resp.ProtoMajor != 2 {
			t.Errorf("HTTP/2 was not negotiated: %s", resp.Proto)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != StrictTransportSecurity {
			t.Errorf("h2=%v: HSTS under TLS = %q", h2, got)
		}
		if resp.Header.Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("h2=%v: CSP missing under TLS", h2)
		}
	}

	old := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11},
	}}
	if _, err := get(old, tlsURL); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	// The refused handshake is the client's doing: logged for debugging, not as an error.
	for deadline := time.Now().Add(margin); !strings.Contains(logs.String(), "TLS handshake error") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "TLS handshake error") || strings.Contains(out, "level=ERROR") {
		t.Errorf("refused handshake logged as:\n%s", out)
	}

	resp, err := get(http.DefaultClient, plainURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over plain HTTP: %q", got)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers missing over plain HTTP: %v", resp.Header)
	}
	if resp, err = get(http.DefaultClient, proxiedURL); err != nil || resp.Header.Get("Strict-Transport-Security") != StrictTransportSecurity {
		t.Errorf("behind a TLS-terminating proxy, HSTS = %q (%v)", resp.Header.Get("Strict-Transport-Security"), err)
	}

	bad := quickServer()
	bad.TLSCert, bad.TLSKey = certFile, filepath.Join(t.TempDir(), "missing.pem")
	if _, _, err := Listen(bad, ok, nil); err == nil || !strings.Contains(err.Error(), "TLS certificate") {
		t.Errorf("missing key: %v", err)
	}
}

// dial opens a raw connection, so that a test can misbehave as a client would.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads from c until the server closes it, and returns how long that took from start
// and everything that was read; it gives up at limit.
func closedWithin(c net.Conn, start time.Time, limit time.Duration) (time.Duration, string, error) {
	_ = c.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(c)
	if err != nil {
		return time.Since(start), string(b), err
	}
	return time.Since(start), string(b), nil
}

// trickle writes a request head and then one body byte every two seconds, as the slow
// client does, until the connection fails or stop closes.
func trickle(c net.Conn, head string, stop <-chan struct{}) {
	if _, err := io.WriteString(c, head); err != nil {
		return
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for range 10 {
		if _, err := c.Write([]byte("{")); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

const slowHead = "POST /v1/assessments HTTP/1.1\r\nHost: carepath\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"

func TestSlowClientsAreCutOff(t *testing.T) {
	var logs syncBuffer
	s := quietServer()
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	addr, _ := serveOn(t, quickServer(), s.logRequests(readBody(s)), s.Logger)

	tests := []struct {
		name, head, wantStatus string
	}{
		// Headers one byte at a time: the connection is closed without an answer.
		{"slow headers", "POST /v1/assessments HTTP/1.1\r\nHost: carepath\r\nX-Slow: ", ""},
		// A body one byte every two seconds: cut off by the read timeout with a 408.
		{"slow body", slowHead, "HTTP/1.1 408 Request Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			stop := make(chan struct{})
			defer close(stop)
			start := time.Now()
			go trickle(c, tt.head, stop)
			took, got, err := closedWithin(c, start, testTimeout+margin)
			if err != nil {
				t.Fatalf("still connected after %v: %v", took, err)
			}
			if took < testTimeout-50*time.Millisecond {
				t.Errorf("closed after %v, before the %v timeout", took, testTimeout)
			}
			if !strings.HasPrefix(got, tt.wantStatus) || tt.wantStatus == "" && got != "" {
				t.Errorf("answer %q, want %q", got, tt.wantStatus)
			}
		})
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a slow client was logged as an error:\n%s", logs.String())
	}
}

func TestIdleKeepAliveIsClosed(t *testing.T) {
	addr, _ := serveOn(t, quickServer(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }), nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for i := range 2 { // the connection is kept alive between requests that come in time
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: carepath\r\n\r\n"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			t.Fatal("the server did not keep the connection alive")
		}
	}
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(testTimeout + margin))
	n, err := br.Read(make([]byte, 1))
	took := time.Since(start)
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection still open after %v: read %d, %v", took, n, err)
	}
	if took < testTimeout-50*time.Millisecond {
		t.Errorf("closed after %v, before the %v idle timeout", took, testTimeout)
	}
}

func TestConnectionCap(t *testing.T) {
	const limit = 2
	cfg := quickServer()
	cfg.MaxConnections = limit
	cfg.IdleTimeout = time.Minute // held connections stay open until the test closes them
	cfg.ReadTimeout = time.Minute
	cfg.ReadHeaderTimeout = time.Minute
	addr, _ := serveOn(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }), nil)

	request := func(c net.Conn, wait time.Duration) error {
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: carepath\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	held := make([]net.Conn, limit)
	for i := range held {
		held[i] = dial(t, addr)
		if err := request(held[i], 2*time.Second); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
	}
	extra := dial(t, addr)
	err := request(extra, 500*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("connection %d over a cap of %d: %v, want no answer", limit+1, limit, err)
	}
	// Closing one held connection frees its slot; the waiting connection is then served.
	held[0].Close()
	_ = extra.SetDeadline(time.Now().Add(margin))
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil {
		t.Fatalf("connection %d after a slot freed: %v", limit+1, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// A client that drops mid-body, or is too slow, is answered as a client error and never logged as one of ours.
func TestDroppedBodyIsAClientError(t *testing.T) {
	var logs syncBuffer
	s := quietServer()
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	handlers := map[string]http.Handler{
		"read body":         s.logRequests(readBody(s)),
		"submit assessment": s.logRequests(http.HandlerFunc(s.postAssessment)),
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			rec := &statusTap{Handler: h, status: make(chan int, 1)}
			addr, _ := serveOn(t, quickServer(), rec, s.Logger)

			c := dial(t, addr)
			if _, err := io.WriteString(c, slowHead+`{"form":"mental`); err != nil {
				t.Fatal(err)
			}
			c.Close() // gone mid-body
			select {
			case status := <-rec.status:
				if status != http.StatusBadRequest {
					t.Errorf("a dropped body was answered %d, want 400", status)
				}
			case <-time.After(margin):
				t.Fatal("the handler did not finish")
			}

			c = dial(t, addr)
			if _, err := io.WriteString(c, slowHead+`{"form"`); err != nil {
				t.Fatal(err)
			}
			took, got, err := closedWithin(c, time.Now(), testTimeout+margin)
			if err != nil || !strings.HasPrefix(got, "HTTP/1.1 408") || !strings.Contains(got, "body-timeout") {
				t.Errorf("a stalled body after %v: %q, %v", took, got, err)
			}
			select {
			case status := <-rec.status:
				if status != http.StatusRequestTimeout {
					t.Errorf("a stalled body was answered %d, want 408", status)
				}
			case <-time.After(margin):
				t.Fatal("the handler did not finish")
			}
		})
	}
	out := logs.String()
	if strings.Contains(out, "level=ERROR") || strings.Contains(out, "status=500") {
		t.Errorf("a client's failure was logged as ours:\n%s", out)
	}
	if !strings.Contains(out, "status=400") || !strings.Contains(out, "status=408") {
		t.Errorf("the requests were not logged:\n%s", out)
	}
}

// statusTap passes requests on and reports each status once the handler has returned.
type statusTap struct {
	http.Handler
	status chan int
}

func (s *statusTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &tapWriter{ResponseWriter: w, status: http.StatusOK}
	s.Handler.ServeHTTP(rec, r)
	s.status <- rec.status
}

type tapWriter struct {
	http.ResponseWriter
	status int
}

func (w *tapWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// The same errors wrapped on their way up came from elsewhere, such as a dropped database
// connection, and stay a logged 500.
func TestWrappedReadErrorsStayServerErrors(t *testing.T) {
	var logs syncBuffer
	s := quietServer()
	s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		err  error
		want int
	}{
		{io.ErrUnexpectedEOF, http.StatusBadRequest},
		{timeout, http.StatusRequestTimeout},
		{fmt.Errorf("triage: unable to store decision: %w", io.ErrUnexpectedEOF), http.StatusInternalServerError},
		{fmt.Errorf("triage: unable to store decision: %w", timeout), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		s.writeProblem(rec, httptest.NewRequest("POST", "/v1/assessments", nil), tt.err)
		if rec.Code != tt.want {
			t.Errorf("%v: %d, want %d", tt.err, rec.Code, tt.want)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d errors logged, want the 2 server errors:\n%s", n, logs.String())
	}
}

// TestManySlowClients repeats the measurement at a bounded size: slow clients, each
// trickling a body one byte every two seconds, are all disconnected within the read timeout and
// a margin. Before the timeouts, every one of them was still connected 15 s later.
func TestManySlowClients(t *testing.T) {
	const clients = 200
	addr, _ := serveOn(t, quickServer(), readBody(quietServer()), nil)
	stop := make(chan struct{})
	defer close(stop)
	tooks := make([]time.Duration, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			start := time.Now()
			go trickle(c, slowHead, stop)
			took, _, err := closedWithin(c, start, testTimeout+2*margin)
			tooks[i] = took
			if err != nil {
				errs <- fmt.Errorf("client %d still connected after %v: %w", i, took, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	slices.Sort(tooks)
	t.Logf("%d slow clients, read timeout %v: all disconnected %v after the first connected; per client median %v, slowest %v",
		clients, testTimeout, time.Since(begin).Round(time.Millisecond), tooks[clients/2].Round(time.Millisecond), tooks[clients-1].Round(time.Millisecond))
	if tooks[clients-1] > testTimeout+margin {
		t.Errorf("slowest disconnect after %v, want within %v", tooks[clients-1], testTimeout+margin)
	}
}
