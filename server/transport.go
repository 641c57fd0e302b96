package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/netutil"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/failure"
)

// ContentSecurityPolicy is sent with every response. Pages must keep scripts and styles in files
// served from this origin: inline script and style are refused.
const ContentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// ContentSecurityPolicyFor is ContentSecurityPolicy admitting images, and nothing else, from
// tileOrigin too: the council's own map tile server on another site (config.Server.TileOrigin).
// An empty origin gives ContentSecurityPolicy itself.
func ContentSecurityPolicyFor(tileOrigin string) string {
	if tileOrigin == "" {
		return ContentSecurityPolicy
	}
	return ContentSecurityPolicy + "; img-src 'self' " + tileOrigin
}

// StrictTransportSecurity is sent only on responses that reach the browser over TLS.
const StrictTransportSecurity = "max-age=63072000; includeSubDomains"

// Listen binds cfg.Addr and returns the HTTP server for handler, not yet serving: call
// srv.Serve(ln). The server has cfg's timeouts and header limit, at most cfg.MaxConnections
// connections are served at once (more wait in the kernel's accept queue), TLS 1.2 or later
// is spoken when a certificate is configured, and every response carries SecurityHeaders.
// It refuses a non-loopback address without TLS unless cfg.BehindProxy is set. net/http's own
// messages go to logger (nil discards them).
func Listen(cfg config.Server, handler http.Handler, logger *slog.Logger) (*http.Server, net.Listener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckExposure(cfg.Addr, cfg.TLS(), cfg.BehindProxy); err != nil {
		return nil, nil, err
	}
	var tlsConfig *tls.Config
	if cfg.TLS() {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, nil, failure.Errorf(failure.Invalid, "server: unable to load the TLS certificate %s and key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		tlsConfig = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("server: unable to listen on %s: %w", cfg.Addr, err)
	}
	// The cap sits under TLS so that a connection holds its slot from accept, handshake included.
	ln = netutil.LimitListener(ln, cfg.MaxConnections)
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	srv := &http.Server{
		Handler:           SecurityHeadersWithPolicy(handler, cfg.TLS() || cfg.BehindProxy, ContentSecurityPolicyFor(cfg.TileOrigin())),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          log.New(httpErrorLog{logger}, "", 0),
	}
	return srv, ln, nil
}

// URL returns the base URL that a listener from Listen with cfg answers on.
func URL(cfg config.Server, ln net.Listener) string {
	if cfg.TLS() {
		return "https://" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}

// CheckExposure refuses to serve personal data in clear text beyond this machine: an address
// that is not loopback needs TLS, or behindProxy to say a TLS-terminating proxy sits in front.
// Host names other than localhost are refused too, since what they resolve to can change.
func CheckExposure(addr string, tls, behindProxy bool) error {
	if tls || behindProxy {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return failure.Errorf(failure.Invalid, "server: listen address %q: want HOST:PORT, such as 127.0.0.1:8080", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return nil
	}
	where := "host " + host
	if host == "" || ip != nil && ip.IsUnspecified() {
		where = "every network interface"
	}
	return failure.Errorf(failure.Invalid, "server: refusing to listen on %s (%s) without TLS: other machines could read personal data in clear text. "+
		"Give --tls-cert and --tls-key (server.tls_cert and server.tls_key), or --behind-proxy (server.behind_proxy) when a TLS-terminating proxy sits in front, "+
		"or listen on a loopback address such as 127.0.0.1:8080", addr, where)
}

// SecurityHeaders sets the headers every response carries before next writes any: nosniff, a
// strict Content-Security-Policy, no framing, no referrer, and no-store so that no cache keeps
// personal data (a handler serving static files may set its own Cache-Control). HSTS is added
// only when tls says browsers reach the server over TLS, itself or through a proxy.
func SecurityHeaders(next http.Handler, tls bool) http.Handler {
	return SecurityHeadersWithPolicy(next, tls, ContentSecurityPolicy)
}

// SecurityHeadersWithPolicy is SecurityHeaders with policy as the Content-Security-Policy, such
// as ContentSecurityPolicyFor gives when map tiles come from another site.
func SecurityHeadersWithPolicy(next http.Handler, tls bool, policy string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if tls {
			h.Set("Strict-Transport-Security", StrictTransportSecurity)
		}
		next.ServeHTTP(w, r)
	})
}

// httpErrorLog carries net/http's own messages into slog. Most are a client's doing (a TLS
// handshake from a scanner, a malformed request), so they are not errors; a handler panic is.
type httpErrorLog struct{ logger *slog.Logger }

func (e httpErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	switch {
	case strings.Contains(msg, "panic serving"):
		level = slog.LevelError
	case strings.Contains(msg, "TLS handshake error"):
		level = slog.LevelDebug
	}
	e.logger.Log(context.Background(), level, "http server", "message", msg)
	return len(p), nil
}
