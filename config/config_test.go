package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/triage"
)

// envOf returns an environment lookup over vars only, so tests never see the machine's own.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func write(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "carepath.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultsWhenNoFile(t *testing.T) {
	cfg, err := config.Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, config.Default()) {
		t.Errorf("Load without file or environment = %+v, want the defaults", cfg)
	}
	if cfg.Timezone != triage.DefaultTimeZone {
		t.Errorf("default timezone %q, triage plans in %q", cfg.Timezone, triage.DefaultTimeZone)
	}
	s := cfg.Server
	if s.ReadHeaderTimeout != 5*time.Second || s.ReadTimeout != 30*time.Second || s.WriteTimeout != time.Minute ||
		s.IdleTimeout != time.Minute || s.MaxConnections != 512 || s.Addr != "127.0.0.1:8080" {
		t.Errorf("server defaults %+v", s)
	}
	if cfg.Auth.SessionIdleTimeout != identity.DefaultIdleTimeout || cfg.Auth.SessionAbsoluteTimeout != identity.DefaultAbsoluteTimeout {
		t.Errorf("session defaults %+v differ from identity's", cfg.Auth)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := write(t, `# a deployment
database:
  dsn: postgres://carepath:filepw@db.internal/carepath
  max_open_conns: 32
server:
  addr: 0.0.0.0:8443
  tls_cert: /etc/carepath/cert.pem
  tls_key: /etc/carepath/key.pem
  read_timeout: 10s
  max_connections: 100
auth:
  session_idle_timeout: 15m
  oidc:
    issuer: https://login.example.org/tenant/v2.0
    client_id: carepath
    client_secret: file-secret
    redirect_url: https://carepath.example.org/auth/callback
    teams_claim: groups
    role_map:
      "CarePath.Clinician": [clinician]
      "CarePath.Leads": coordinator, clinician
privacy:
  pseudonym_key_file: /etc/carepath/pseudonym.key
log:
  level: debug
timezone: Europe/London
`)
	env := map[string]string{
		"CAREPATH_SERVER_READ_TIMEOUT":     "2s",
		"CAREPATH_SERVER_BEHIND_PROXY":     "true",
		"CAREPATH_AUTH_OIDC_CLIENT_SECRET": "env-secret",
		"CAREPATH_LOG_LEVEL":               "warn",
	}
	cfg, err := config.Load(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.File = path
	want.Database.DSN = "postgres://carepath:filepw@db.internal/carepath"
	want.Database.MaxOpenConns = 32
	want.Server.Addr = "0.0.0.0:8443"
	want.Server.TLSCert, want.Server.TLSKey = "/etc/carepath/cert.pem", "/etc/carepath/key.pem"
	want.Server.ReadTimeout = 2 * time.Second // the environment over the file's 10s
	want.Server.BehindProxy = true
	want.Server.MaxConnections = 100
	want.Auth.SessionIdleTimeout = 15 * time.Minute
	want.Auth.OIDC = config.OIDC{
		Issuer: "https://login.example.org/tenant/v2.0", ClientID: "carepath", ClientSecret: "env-secret",
		RedirectURL: "https://carepath.example.org/auth/callback", RolesClaim: "roles", TeamsClaim: "groups",
		RoleMap: map[string][]identity.Role{
			"CarePath.Clinician": {identity.Clinician},
			"CarePath.Leads":     {identity.Coordinator, identity.Clinician},
		},
	}
	want.Privacy.PseudonymKeyFile = "/etc/carepath/pseudonym.key"
	want.Log.Level = "warn"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %#v\nwant %#v", cfg.Redacted(), want.Redacted())
		t.Errorf("secret: got %q want %q", cfg.Auth.OIDC.ClientSecret.Reveal(), want.Auth.OIDC.ClientSecret.Reveal())
	}
	if cfg.Log.SlogLevel() != slog.LevelWarn {
		t.Errorf("SlogLevel = %v", cfg.Log.SlogLevel())
	}
}

func TestConfigFileFromEnvironment(t *testing.T) {
	path := write(t, "server:\n  addr: 127.0.0.1:9000\n")
	cfg, err := config.Load("", envOf(map[string]string{config.EnvFile: path, "CAREPATH_DB": "sqlite:other.db"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != path || cfg.Server.Addr != "127.0.0.1:9000" || cfg.Database.DSN != "sqlite:other.db" {
		t.Errorf("got file %q addr %q dsn %q", cfg.File, cfg.Server.Addr, cfg.Database.DSN)
	}
	// An explicit path wins over CAREPATH_CONFIG, as the --config flag does.
	other := write(t, "server:\n  addr: 127.0.0.1:9001\n")
	if cfg, err = config.Load(other, envOf(map[string]string{config.EnvFile: path})); err != nil || cfg.Server.Addr != "127.0.0.1:9001" {
		t.Errorf("explicit path: %q, %v", cfg.Server.Addr, err)
	}
	_, err = config.Load(filepath.Join(t.TempDir(), "missing.yaml"), envOf(nil))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") || failure.CodeOf(err) != failure.Invalid {
		t.Errorf("missing file: %v", err)
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	for _, text := range []string{"", "# nothing yet\n", "server:\n", "server:\n  addr:\n"} {
		cfg, err := config.Load(write(t, text), envOf(nil))
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		cfg.File = ""
		if !reflect.DeepEqual(cfg, config.Default()) {
			t.Errorf("%q changed the defaults: %+v", text, cfg)
		}
	}
}

func TestFileErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown top-level key", "server:\n  addr: 127.0.0.1:1\ndatabse:\n  dsn: x\n", []string{`:3: unknown key "databse"`, "database, server, auth"}},
		{"unknown nested key", "server:\n  addr: 127.0.0.1:1\n  read_timout: 5s\n", []string{`:3: unknown key "server.read_timout"`, "read_timeout"}},
		{"unknown deep key", "auth:\n  oidc:\n    issuer: https://x.example\n    secret: s\n", []string{`:4: unknown key "auth.oidc.secret"`, "client_secret"}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", []string{`:3: key "log.level" given twice (first at line 2)`}},
		{"bad duration", "server:\n  read_timeout: 30 seconds\n", []string{":2: server.read_timeout:", "not a duration"}},
		{"negative duration", "server:\n  idle_timeout: -1s\n", []string{":2: server.idle_timeout:", "negative"}},
		{"bad bool", "server:\n  behind_proxy: perhaps\n", []string{":2: server.behind_proxy:", "true or false"}},
		{"bad int", "server:\n  max_connections: lots\n", []string{":2: server.max_connections:", "whole number"}},
		{"list for a value", "server:\n  addr: [a, b]\n", []string{":2: server.addr: want a single value, found a list"}},
		{"value for a section", "server: 127.0.0.1:80\n", []string{":1: server: want a mapping of keys"}},
		{"not a mapping", "- a\n- b\n", []string{":1: the file: want a mapping"}},
		{"unknown role", "auth:\n  oidc:\n    role_map:\n      Staff: [clinician, nurse]\n", []string{`:4: auth.oidc.role_map["Staff"]`, `"nurse"`}},
		{"not yaml", "server:\n  addr: [\n", []string{"carepath.yaml", "yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.text)
			_, err := config.Load(path, envOf(nil))
			if err == nil {
				t.Fatal("loaded without error")
			}
			if failure.CodeOf(err) != failure.Invalid {
				t.Errorf("code %s, want invalid", failure.CodeOf(err))
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("%q does not name the file", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	tests := []struct{ env, value, want string }{
		{"CAREPATH_SERVER_READ_TIMEOUT", "30", "CAREPATH_SERVER_READ_TIMEOUT (server.read_timeout)"},
		{"CAREPATH_SERVER_MAX_CONNECTIONS", "many", "CAREPATH_SERVER_MAX_CONNECTIONS (server.max_connections)"},
		{"CAREPATH_SERVER_BEHIND_PROXY", "maybe", "CAREPATH_SERVER_BEHIND_PROXY (server.behind_proxy)"},
		{"CAREPATH_AUTH_OIDC_ROLE_MAP", "Staff", "CAREPATH_AUTH_OIDC_ROLE_MAP (auth.oidc.role_map)"},
		{"CAREPATH_LOG_LEVEL", "loud", "log.level"},
		{"CAREPATH_TIMEZONE", "Europe/Atlantis", "timezone"},
	}
	for _, tt := range tests {
		_, err := config.Load("", envOf(map[string]string{tt.env: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%s: %v, want it to name %q", tt.env, tt.value, err, tt.want)
		}
	}
	cfg, err := config.Load("", envOf(map[string]string{
		"CAREPATH_AUTH_OIDC_ISSUER":       "http://127.0.0.1:9999",
		"CAREPATH_AUTH_OIDC_CLIENT_ID":    "c",
		"CAREPATH_AUTH_OIDC_REDIRECT_URL": "http://localhost:8080/cb",
		"CAREPATH_AUTH_OIDC_ROLE_MAP":     "Staff=Clinician, coordinator; Admins=admin",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]identity.Role{"Staff": {identity.Clinician, identity.Coordinator}, "Admins": {identity.Admin}}
	if !reflect.DeepEqual(cfg.Auth.OIDC.RoleMap, want) {
		t.Errorf("role map from environment %v, want %v", cfg.Auth.OIDC.RoleMap, want)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"cert without key", func(c *config.Config) { c.Server.TLSCert = "c.pem" }, "server.tls_cert: tls_cert and tls_key go together"},
		{"zero read timeout", func(c *config.Config) { c.Server.ReadTimeout = 0 }, "server.read_timeout: want a positive duration"},
		{"zero connections", func(c *config.Config) { c.Server.MaxConnections = 0 }, "server.max_connections"},
		{"bad addr", func(c *config.Config) { c.Server.Addr = "8080" }, "server.addr"},
		{"tiny header limit", func(c *config.Config) { c.Server.MaxHeaderBytes = 10 }, "server.max_header_bytes"},
		{"negative pool", func(c *config.Config) { c.Database.MaxOpenConns = -1 }, "database.max_open_conns"},
		{"empty dsn", func(c *config.Config) { c.Database.DSN = "" }, "database.dsn"},
		{"idle longer than absolute", func(c *config.Config) { c.Auth.SessionIdleTimeout = 24 * time.Hour }, "auth.session_idle_timeout: 24h is longer"},
		{"issuer over http", func(c *config.Config) {
			c.Auth.OIDC = config.OIDC{Issuer: "http://login.example.org", ClientID: "c", RedirectURL: "https://x.example/cb", RolesClaim: "roles"}
		}, "auth.oidc.issuer"},
		{"issuer without client", func(c *config.Config) { c.Auth.OIDC.Issuer = "https://login.example.org" }, "auth.oidc.client_id: empty"},
		{"secret without issuer", func(c *config.Config) { c.Auth.OIDC.ClientSecret = "s" }, "auth.oidc.client_secret: set without auth.oidc.issuer"},
		{"log level", func(c *config.Config) { c.Log.Level = "verbose" }, "log.level"},
		{"timezone", func(c *config.Config) { c.Timezone = "Mars/Olympus" }, "timezone"},
	}
	for _, tt := range tests {
		cfg := config.Default()
		tt.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || failure.CodeOf(err) != failure.Invalid {
			t.Errorf("%s: %v, want an invalid error containing %q", tt.name, err, tt.want)
		}
	}
	if err := config.Default().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const password, secret, queryPassword = "pg-S3cret-pw", "oidc-Cl1ent-secret", "qp-S3cret"
	cfg := config.Default()
	cfg.Database.DSN = config.DSN("postgres://carepath:" + password + "@db.internal:5432/carepath?sslmode=require&password=" + queryPassword)
	cfg.Auth.OIDC = config.OIDC{Issuer: "https://login.example.org", ClientID: "carepath", ClientSecret: secret,
		RedirectURL: "https://carepath.example.org/cb", RolesClaim: "roles"}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "dsn", cfg.Database.DSN, "secret", cfg.Auth.OIDC.ClientSecret)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "dsn", cfg.Database.DSN, "secret", cfg.Auth.OIDC.ClientSecret)
	asJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":             cfg.String(),
		"%v":                 fmt.Sprintf("%v", cfg),
		"%+v":                fmt.Sprintf("%+v", cfg),
		"%#v":                fmt.Sprintf("%#v", cfg),
		"%s of the secret":   fmt.Sprintf("%s %v %q", cfg.Auth.OIDC.ClientSecret, cfg.Auth.OIDC.ClientSecret, cfg.Auth.OIDC.ClientSecret),
		"%s of the DSN":      fmt.Sprintf("%s %v %#v", cfg.Database.DSN, cfg.Database.DSN, cfg.Database.DSN),
		"Redacted %+v":       fmt.Sprintf("%+v", cfg.Redacted().Auth.OIDC),
		"Redacted DSN":       string(cfg.Redacted().Database.DSN),
		"json":               string(asJSON),
		"slog JSON and text": logged.String(),
	}
	for name, out := range outputs {
		for _, s := range []string{password, secret, queryPassword} {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret: %s", name, out)
			}
		}
	}
	for _, want := range []string{"client_secret: xxxxx", "postgres://carepath:xxxxx@db.internal:5432/carepath?", "client_id: carepath"} {
		if !strings.Contains(cfg.String(), want) {
			t.Errorf("String() lacks %q:\n%s", want, cfg.String())
		}
	}
	// Redacted leaves the original alone, and an unset secret shows as unset.
	if cfg.Auth.OIDC.ClientSecret.Reveal() != secret || !strings.Contains(cfg.Database.DSN.Reveal(), password) {
		t.Error("Redacted changed the configuration it was called on")
	}
	if got := config.Default().String(); !strings.Contains(got, `client_secret: ""`) {
		t.Errorf("unset secret: %s", got)
	}
}

func TestDSNRedaction(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"sqlite:carepath.db", "sqlite:carepath.db"},
		{"postgres://u:p@h/db", "postgres://u:xxxxx@h/db"},
		{"postgresql://u@h/db?sslmode=disable", "postgresql://u@h/db?sslmode=disable"},
		{"postgres://h/db?password=p&sslpassword=q", "postgres://h/db?password=xxxxx&sslpassword=xxxxx"},
		{"host=h password=p", "xxxxx"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := config.DSN(tt.dsn).String(); got != tt.want {
			t.Errorf("DSN(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

// The printed configuration is a valid file: loading it back gives the same settings.
func TestStringLoadsBack(t *testing.T) {
	cfg := config.Default()
	cfg.Server.ReadTimeout = 1500 * time.Millisecond
	cfg.Server.IdleTimeout = 90 * time.Minute
	cfg.Server.BehindProxy = true
	cfg.Server.Addr = "0.0.0.0:8080"
	cfg.Auth.OIDC = config.OIDC{Issuer: "https://login.example.org", ClientID: "carepath", RedirectURL: "https://x.example/cb",
		RolesClaim: "roles", RoleMap: map[string][]identity.Role{"b": {identity.Admin}, "a": {identity.Clinician, identity.Analyst}}}
	path := write(t, cfg.String())
	back, err := config.Load(path, envOf(nil))
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg.String())
	}
	back.File = ""
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("loaded back %+v\nwant %+v", back, cfg)
	}
	for _, want := range []string{"read_timeout: 1.5s # CAREPATH_SERVER_READ_TIMEOUT", "idle_timeout: 1h30m", "dsn: sqlite:carepath.db # CAREPATH_DB", "timezone: Europe/London # CAREPATH_TIMEZONE"} {
		if !strings.Contains(cfg.String(), want) {
			t.Errorf("String() lacks %q:\n%s", want, cfg.String())
		}
	}
}

func TestKeys(t *testing.T) {
	seen := map[string]bool{}
	names := map[string]string{}
	for _, k := range config.Keys() {
		if !strings.HasPrefix(k.Env, "CAREPATH_") || seen[k.Env] {
			t.Errorf("%s: environment variable %s is not a unique CAREPATH_ name", k.Name, k.Env)
		}
		seen[k.Env] = true
		names[k.Name] = k.Env
	}
	for key, env := range map[string]string{
		"database.dsn": "CAREPATH_DB", "timezone": "CAREPATH_TIMEZONE", "server.behind_proxy": "CAREPATH_SERVER_BEHIND_PROXY",
		"auth.oidc.client_secret": "CAREPATH_AUTH_OIDC_CLIENT_SECRET", "privacy.pseudonym_key_file": "CAREPATH_PRIVACY_PSEUDONYM_KEY_FILE",
	} {
		if names[key] != env {
			t.Errorf("key %s: environment %q, want %q", key, names[key], env)
		}
	}
	if len(names) != 54 {
		t.Errorf("%d keys; a new setting needs a line in the README's configuration table", len(names))
	}
}
