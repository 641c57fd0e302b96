// Package config reads Carepath's settings in one place: defaults, then one YAML file, then
// CAREPATH_* environment variables. The command line applies its own flags on top and validates again.
package config

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// EnvFile is the environment variable that names the configuration file when no path is given.
const EnvFile = "CAREPATH_CONFIG"

// envPrefix starts the environment variable of every key, unless the key's env tag names another.
const envPrefix = "CAREPATH_"

// templateID is the shape of a Notify template id.
var templateID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Mask stands in for a secret wherever a configuration is shown.
const Mask = "xxxxx"

// Config is every setting Carepath reads at start.
type Config struct {
	Database Database `yaml:"database"`
	Server   Server   `yaml:"server"`
	Auth     Auth     `yaml:"auth"`
	Privacy  Privacy  `yaml:"privacy"`
	Log      Log      `yaml:"log"`
	Outbox   Outbox   `yaml:"outbox"`
	Notify   Notify   `yaml:"notify"`
	Routing  Routing  `yaml:"routing"`
	// Timezone is the IANA zone that appointment days and local times are planned in.
	Timezone string `yaml:"timezone"`
	// File is the configuration file that was read, empty when there was none.
	File string `yaml:"-"`
}

// Database says which database to use and how many connections to keep.
type Database struct {
	// DSN is sqlite:PATH or a postgres:// URL; CAREPATH_DB predates this file, so it keeps that name.
	DSN DSN `yaml:"dsn" env:"CAREPATH_DB"`
	// MaxOpenConns caps the pool; 0 keeps the backend's default (SQLite 8 readers, PostgreSQL 16).
	// On SQLite it sizes the readers only: every transaction runs on one writer connection.
	MaxOpenConns int `yaml:"max_open_conns"`
	// MaxIdleConns caps idle connections kept; 0 keeps the backend's default.
	MaxIdleConns int `yaml:"max_idle_conns"`
}

// Server is how `carepath serve` listens.
type Server struct {
	Addr    string `yaml:"addr"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// BehindProxy says a TLS-terminating proxy sits in front, so a plain listener on a
	// non-loopback address is allowed and responses still carry HSTS.
	BehindProxy       bool          `yaml:"behind_proxy"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	MaxConnections    int           `yaml:"max_connections"`
	// ShutdownTimeout is how long requests in flight may run on after SIGINT or SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TileURL is the council's own slippy-map tile server, drawn under the practitioner's map: a
	// path on this site or an https URL, with {z}, {x} and {y} in it; empty draws no tiles.
	TileURL string `yaml:"tile_url"`
	// DecideRate and DecideBurst limit POST /v1/decide per account: requests a second on
	// average, and at once.
	DecideRate  float64 `yaml:"decide_rate"`
	DecideBurst int     `yaml:"decide_burst"`
}

// TLS reports whether the server terminates TLS itself.
func (s Server) TLS() bool { return s.TLSCert != "" }

// Auth is how people sign in.
type Auth struct {
	SessionIdleTimeout     time.Duration `yaml:"session_idle_timeout"`
	SessionAbsoluteTimeout time.Duration `yaml:"session_absolute_timeout"`
	OIDC                   OIDC          `yaml:"oidc"`
}

// OIDC is single sign-on through the council's or trust's OpenID provider; an empty issuer turns it off.
type OIDC struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	RedirectURL  string `yaml:"redirect_url"`
	// RolesClaim and TeamsClaim name the ID-token claims that carry group or role values.
	RolesClaim string `yaml:"roles_claim"`
	TeamsClaim string `yaml:"teams_claim"`
	// RoleMap maps a value of the roles claim to the Carepath roles it grants.
	RoleMap map[string][]identity.Role `yaml:"role_map"`
}

// Enabled reports whether single sign-on is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// Privacy holds what pseudonymisation for analysts needs.
type Privacy struct {
	// PseudonymKeyFile holds the key for stable pseudonyms; it lives with the deployment, not the data.
	PseudonymKeyFile string `yaml:"pseudonym_key_file"`
}

// Outbox is how `carepath serve` delivers events to webhook subscribers.
type Outbox struct {
	// Deliver runs the delivery workers in this replica; any number of replicas may.
	Deliver bool `yaml:"deliver"`
	// BatchSize deliveries are claimed at a time and up to Senders of them sent at once.
	BatchSize int `yaml:"batch_size"`
	Senders   int `yaml:"senders"`
	// BackoffBase and BackoffMax bound the random delay before each retry (full jitter).
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// MaxAttempts failed sends move a delivery to the dead letters.
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds one send; Lease is how long a claimed delivery is held, longer than Timeout.
	Timeout time.Duration `yaml:"timeout"`
	Lease   time.Duration `yaml:"lease"`
	// Poll is how often an idle worker looks for work committed by other processes.
	Poll time.Duration `yaml:"poll"`
	// Gather is how long a worker woken by this process's own commit waits before its round, so
	// that on a busy server the events committed meanwhile share one round's transactions.
	Gather time.Duration `yaml:"gather"`
}

// Notify is how the delivery workers send notify subscriptions' messages through GOV.UK Notify.
// Template ids are Notify's UUIDs; an empty one turns that message off.
type Notify struct {
	// APIKey is the service's Notify API key; APIKeyFile names a file holding it instead, so that
	// it need be neither in the configuration file nor in the environment.
	APIKey     Secret `yaml:"api_key"`
	APIKeyFile string `yaml:"api_key_file"`
	// BaseURL is Notify's API (https://api.notifications.service.gov.uk when empty).
	BaseURL string `yaml:"base_url"`
	// UrgentCase is texted to OnCallPhone for each new emergency or urgent case.
	UrgentCase  string `yaml:"urgent_case"`
	OnCallPhone string `yaml:"on_call_phone"`
	// Escalation is emailed to CoordinatorEmail when a case is escalated.
	Escalation       string `yaml:"escalation"`
	CoordinatorEmail string `yaml:"coordinator_email"`
	// The appointment confirmation to the citizen, per channel they may prefer.
	AppointmentSMS    string `yaml:"appointment_sms"`
	AppointmentEmail  string `yaml:"appointment_email"`
	AppointmentLetter string `yaml:"appointment_letter"`
}

// Enabled reports whether a Notify API key is configured, so notify subscriptions are sent.
func (n Notify) Enabled() bool { return n.APIKey != "" || n.APIKeyFile != "" }

// Routing says where travel times between visits come from.
type Routing struct {
	// Travel is greatcircle (distance with a detour factor, no server) or osrm (an OSRM server's
	// table service).
	Travel string `yaml:"travel"`
	// OSRMURL is the OSRM server's root, such as http://osrm.internal:5000.
	OSRMURL string `yaml:"osrm_url"`
	// OSRMMaxTable is the server's table-size limit (its --max-table-size): requests are cut to fit.
	OSRMMaxTable int `yaml:"osrm_max_table"`
	// OSRMTimeout bounds one request to the server.
	OSRMTimeout time.Duration `yaml:"osrm_timeout"`
}

// Log is what the process logs.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// AccessSample is the share of requests written to the access log, 0 to 1; errors and slow
	// requests are logged whatever it is.
	AccessSample float64 `yaml:"access_sample"`
}

// AccessLogEvery turns AccessSample into the server's counter: log one request in every n, and
// none when n is negative.
func (l Log) AccessLogEvery() int64 {
	if l.AccessSample <= 0 {
		return -1
	}
	return max(1, int64(math.Round(1/l.AccessSample)))
}

// SlogLevel returns the level as slog's; call it on a validated configuration.
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return slog.LevelInfo
	}
	return lv
}

// Secret is a setting that must never be printed: formatting, logging or encoding it shows Mask.
type Secret string

// String returns Mask, or "" when the secret is unset so that its absence still shows.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString masks %#v too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText masks JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue masks the secret in slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret itself, for the one place that has to use it.
func (s Secret) Reveal() string { return string(s) }

// DSN names a database; formatting, logging or encoding it masks any password it carries.
type DSN string

// String returns the DSN with its password masked.
func (d DSN) String() string { return redactDSN(string(d)) }

// GoString masks %#v too.
func (d DSN) GoString() string { return strconv.Quote(d.String()) }

// MarshalText masks JSON and other text encodings.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LogValue masks the password in slog records.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// Reveal returns the DSN with its password, for opening the database.
func (d DSN) Reveal() string { return string(d) }

// redactDSN masks the password in a URL's user information and in password query parameters;
// anything that is not sqlite: and not a URL is masked whole, since its shape is unknown.
func redactDSN(dsn string) string {
	if dsn == "" || strings.HasPrefix(dsn, "sqlite:") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return Mask
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	q := u.Query()
	masked := false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, Mask)
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Default returns the settings that apply when neither the file nor the environment says otherwise.
func Default() Config {
	return Config{
		Database: Database{DSN: "sqlite:carepath.db"},
		Server: Server{
			Addr:              "127.0.0.1:8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxConnections:    512,
			ShutdownTimeout:   20 * time.Second,
			DecideRate:        50,
			DecideBurst:       100,
		},
		Auth: Auth{
			SessionIdleTimeout:     identity.DefaultIdleTimeout,
			SessionAbsoluteTimeout: identity.DefaultAbsoluteTimeout,
			OIDC:                   OIDC{RolesClaim: "roles"},
		},
		Log: Log{Level: "info", AccessSample: 1},
		Outbox: Outbox{Deliver: true, BatchSize: 100, Senders: 16, BackoffBase: 5 * time.Second, BackoffMax: time.Hour,
			MaxAttempts: 12, Timeout: 10 * time.Second, Lease: time.Minute, Poll: time.Second, Gather: 20 * time.Millisecond},
		// The same default as routing.DefaultOSRMMaxTable, OSRM's own.
		Routing: Routing{Travel: "greatcircle", OSRMMaxTable: 100, OSRMTimeout: 10 * time.Second},
		// The same zone as triage.DefaultTimeZone; a test holds them together.
		Timezone: "Europe/London",
	}
}

// Load returns the defaults overlaid by the YAML file at path (or the file CAREPATH_CONFIG names
// when path is empty; neither means no file) and then by CAREPATH_* variables read through env,
// validated. Unknown keys, values of the wrong type and values out of range are invalid errors
// that name the key, and for the file its line.
func Load(path string, env func(string) string) (Config, error) {
	cfg := Default()
	if path == "" {
		path = env(EnvFile)
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, failure.Errorf(failure.Invalid, "config: unable to read %s: %w", path, err)
		}
		if err := decodeFile(&cfg, path, data); err != nil {
			return Config{}, err
		}
		cfg.File = path
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks every setting, so that a mistake stops the process at start and names its key.
func (c Config) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	if c.Database.DSN == "" {
		bad("database.dsn", "empty; want sqlite:PATH or a postgres:// URL")
	}
	if c.Database.MaxOpenConns < 0 {
		bad("database.max_open_conns", "%d is negative; 0 keeps the default", c.Database.MaxOpenConns)
	}
	if c.Database.MaxIdleConns < 0 {
		bad("database.max_idle_conns", "%d is negative; 0 keeps the default", c.Database.MaxIdleConns)
	}
	if err := c.Server.Validate(); err != nil {
		errs = append(errs, strings.TrimPrefix(err.Error(), "config: "))
	}
	if c.Auth.SessionIdleTimeout <= 0 {
		bad("auth.session_idle_timeout", "want a positive duration such as 30m")
	}
	if c.Auth.SessionAbsoluteTimeout <= 0 {
		bad("auth.session_absolute_timeout", "want a positive duration such as 12h")
	} else if c.Auth.SessionIdleTimeout > c.Auth.SessionAbsoluteTimeout {
		bad("auth.session_idle_timeout", "%s is longer than auth.session_absolute_timeout %s", formatDuration(c.Auth.SessionIdleTimeout), formatDuration(c.Auth.SessionAbsoluteTimeout))
	}
	o := c.Auth.OIDC
	if o.Enabled() {
		if err := checkURL(o.Issuer); err != nil {
			bad("auth.oidc.issuer", "%v", err)
		}
		if o.ClientID == "" {
			bad("auth.oidc.client_id", "empty; single sign-on needs the client id registered with the provider")
		}
		if o.RedirectURL == "" {
			bad("auth.oidc.redirect_url", "empty; want this server's callback URL as registered with the provider")
		} else if err := checkURL(o.RedirectURL); err != nil {
			bad("auth.oidc.redirect_url", "%v", err)
		}
		if o.RolesClaim == "" {
			bad("auth.oidc.roles_claim", "empty; want the claim that carries role or group values")
		}
	} else {
		for key, set := range map[string]bool{"client_id": o.ClientID != "", "client_secret": o.ClientSecret != "", "redirect_url": o.RedirectURL != "", "role_map": len(o.RoleMap) > 0} {
			if set {
				bad("auth.oidc."+key, "set without auth.oidc.issuer, so single sign-on is off")
			}
		}
	}
	for claim, roles := range o.RoleMap {
		if strings.TrimSpace(claim) == "" {
			bad("auth.oidc.role_map", "an empty claim value")
		}
		for _, r := range roles {
			if _, err := identity.ParseRole(string(r)); err != nil {
				bad(fmt.Sprintf("auth.oidc.role_map[%q]", claim), "%v", err)
			}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	if a := c.Log.AccessSample; !(a >= 0 && a <= 1) {
		bad("log.access_sample", "%v: want 0 to 1, such as 0.1 to log one request in ten", a)
	}
	if o := c.Outbox; o.BatchSize < 1 || o.BatchSize > 1000 {
		bad("outbox.batch_size", "%d: want 1 to 1000", o.BatchSize)
	} else if o.Senders < 1 || o.MaxAttempts < 1 {
		bad("outbox.senders", "senders and max_attempts: want at least 1")
	} else if o.BackoffBase <= 0 || o.BackoffMax < o.BackoffBase || o.Timeout <= 0 || o.Poll <= 0 {
		bad("outbox.backoff_base", "backoff_base, timeout and poll: want positive durations, backoff_max at least backoff_base")
	} else if o.Lease <= o.Timeout {
		bad("outbox.lease", "%s: want longer than outbox.timeout (%s), or a slow send is sent twice", o.Lease, o.Timeout)
	}
	if g := c.Outbox.Gather; g <= 0 || g > time.Second {
		bad("outbox.gather", "%s: want more than 0 and at most 1s", g)
	}
	if n := c.Notify; n.APIKey != "" && n.APIKeyFile != "" {
		bad("notify.api_key", "set together with notify.api_key_file; give the key one way")
	}
	if n := c.Notify; n.BaseURL != "" {
		if err := checkURL(n.BaseURL); err != nil {
			bad("notify.base_url", "%v", err)
		}
	}
	for key, id := range map[string]string{"urgent_case": c.Notify.UrgentCase, "escalation": c.Notify.Escalation,
		"appointment_sms": c.Notify.AppointmentSMS, "appointment_email": c.Notify.AppointmentEmail, "appointment_letter": c.Notify.AppointmentLetter} {
		if id != "" && !templateID.MatchString(id) {
			bad("notify."+key, "%q: want a Notify template id (a UUID)", id)
		}
	}
	switch rt := c.Routing; rt.Travel {
	case "greatcircle":
	case "osrm":
		if u, err := url.Parse(rt.OSRMURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("routing.osrm_url", "%q: want the OSRM server's http:// or https:// URL", rt.OSRMURL)
		}
	default:
		bad("routing.travel", "%q: want greatcircle or osrm", rt.Travel)
	}
	if c.Routing.OSRMMaxTable < 2 {
		bad("routing.osrm_max_table", "%d: want at least 2 (the server's --max-table-size)", c.Routing.OSRMMaxTable)
	}
	if c.Routing.OSRMTimeout <= 0 {
		bad("routing.osrm_timeout", "want a positive duration such as 10s")
	}
	if c.Timezone == "" {
		bad("timezone", "empty; want an IANA zone such as Europe/London")
	} else if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("timezone", "%q is not a known IANA zone", c.Timezone)
	}
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(errs)
	return failure.Errorf(failure.Invalid, "config: %s", strings.Join(errs, "; "))
}

// Validate checks the server settings; transport code calls it so that a zero value cannot
// turn a timeout or the connection cap off by accident.
func (s Server) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, "server."+key+": "+fmt.Sprintf(format, args...))
	}
	if _, _, err := net.SplitHostPort(s.Addr); err != nil {
		bad("addr", "%q: want HOST:PORT, such as 127.0.0.1:8080", s.Addr)
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		bad("tls_cert", "tls_cert and tls_key go together; give both or neither")
	}
	for key, d := range map[string]time.Duration{
		"read_header_timeout": s.ReadHeaderTimeout, "read_timeout": s.ReadTimeout, "write_timeout": s.WriteTimeout,
		"idle_timeout": s.IdleTimeout, "shutdown_timeout": s.ShutdownTimeout,
	} {
		if d <= 0 {
			bad(key, "want a positive duration such as 30s; there is no way to turn it off")
		}
	}
	if s.MaxHeaderBytes < 4096 {
		bad("max_header_bytes", "%d: want at least 4096", s.MaxHeaderBytes)
	}
	if s.MaxConnections < 1 {
		bad("max_connections", "%d: want at least 1", s.MaxConnections)
	}
	if !(s.DecideRate > 0 && s.DecideRate <= 1e6) {
		bad("decide_rate", "%v: want a positive number of requests a second, at most 1000000", s.DecideRate)
	}
	if s.DecideBurst < 1 {
		bad("decide_burst", "%d: want at least 1", s.DecideBurst)
	}
	if s.TileURL != "" {
		if _, err := tileOrigin(s.TileURL); err != nil {
			bad("tile_url", "%v", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(errs)
	return failure.Errorf(failure.Invalid, "config: %s", strings.Join(errs, "; "))
}

// TileOrigin is the origin browsers fetch the map tiles from when TileURL is on another site,
// such as https://tiles.example.gov.uk, for the pages' content security policy; empty when the
// tiles are on this site or there are none.
func (s Server) TileOrigin() string {
	origin, _ := tileOrigin(s.TileURL)
	return origin
}

// tileOrigin checks a tile URL template and returns its origin when it is on another site. The
// origin goes into a response header, so nothing that could end a CSP directive gets through.
func tileOrigin(tmpl string) (string, error) {
	if tmpl == "" {
		return "", nil
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(tmpl, p) {
			return "", fmt.Errorf("%q: want {z}, {x} and {y} in it, such as /tiles/{z}/{x}/{y}.png", tmpl)
		}
	}
	if strings.ContainsAny(tmpl, " \t\r\n;,'\"\\") {
		return "", fmt.Errorf("%q: want a URL without spaces, quotes, backslashes, commas or semicolons", tmpl)
	}
	u, err := url.Parse(strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0").Replace(tmpl))
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: %v", tmpl, err)
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/"):
		return "", nil // same site: 'self' covers it
	case u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "":
		return "", fmt.Errorf("%q: want a path on this site such as /tiles/{z}/{x}/{y}.png, or an https:// URL without user or fragment", tmpl)
	}
	// One origin for every tile, or the policy would refuse some of them.
	if other, err := url.Parse(strings.NewReplacer("{z}", "1", "{x}", "1", "{y}", "1").Replace(tmpl)); err != nil || other.Host != u.Host {
		return "", fmt.Errorf("%q: {z}, {x} and {y} belong in the path, not the host", tmpl)
	}
	return "https://" + u.Host, nil
}

// checkURL wants an absolute https URL; plain http is allowed only on loopback, for a provider
// running beside the server in development and tests.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q: want an absolute https:// URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%q: want an https:// URL (http:// only on loopback)", raw)
}

// Redacted returns a copy with every secret replaced by Mask and any DSN password masked, fit to print.
func (c Config) Redacted() Config {
	r := c
	r.Database.DSN = DSN(c.Database.DSN.String())
	r.Auth.OIDC.ClientSecret = Secret(c.Auth.OIDC.ClientSecret.String())
	r.Notify.APIKey = Secret(c.Notify.APIKey.String())
	if c.Auth.OIDC.RoleMap != nil {
		r.Auth.OIDC.RoleMap = make(map[string][]identity.Role, len(c.Auth.OIDC.RoleMap))
		for k, v := range c.Auth.OIDC.RoleMap {
			r.Auth.OIDC.RoleMap[k] = append([]identity.Role(nil), v...)
		}
	}
	return r
}

// String returns the configuration as a YAML file, secrets masked, each key followed by its
// environment variable; fed back to Load it gives the same settings except the masked secrets.
func (c Config) String() string {
	return render(c.Redacted())
}

// GoString masks %#v as String does.
func (c Config) GoString() string { return c.String() }

// LogValue masks secrets in slog records.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
