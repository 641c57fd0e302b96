package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/cli"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "carepath.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigShowDefaults(t *testing.T) {
	code, out, stderr := run(t, "", "config", "show")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"# effective configuration: defaults", "dsn: sqlite:" + filepath.Join(os.Getenv(cli.DataDirEnv), "carepath", "carepath.db") + " # CAREPATH_DB",
		"addr: 127.0.0.1:8080 # CAREPATH_SERVER_ADDR", "read_timeout: 30s", "max_connections: 512", "timezone: Europe/London # CAREPATH_TIMEZONE"} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
}

// Flags override CAREPATH_* variables, which override the file; secrets never reach the output.
func TestConfigPrecedence(t *testing.T) {
	path := writeConfig(t, `database:
  dsn: postgres://carepath:file-Pw@db.internal/carepath
server:
  addr: 127.0.0.1:9000
  read_timeout: 10s
  idle_timeout: 2m
auth:
  oidc:
    issuer: https://login.example.org
    client_id: carepath
    client_secret: file-S3cret
    redirect_url: https://carepath.example.org/cb
log:
  level: debug
`)
	t.Setenv("CAREPATH_SERVER_READ_TIMEOUT", "7s")
	t.Setenv("CAREPATH_LOG_LEVEL", "warn")
	t.Setenv("CAREPATH_AUTH_OIDC_CLIENT_SECRET", "env-S3cret")

	code, out, stderr := run(t, "", "--config", path, "config", "show")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"# effective configuration: " + path, "postgres://carepath:xxxxx@db.internal/carepath",
		"addr: 127.0.0.1:9000", "read_timeout: 7s", "idle_timeout: 2m", "level: warn", "client_secret: xxxxx"} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}

	// CAREPATH_DB overrides the file's DSN, and --db overrides CAREPATH_DB.
	t.Setenv("CAREPATH_DB", "postgres://carepath:env-Pw@db.env/carepath")
	_, out, _ = run(t, "", "--config", path, "config", "show")
	if !strings.Contains(out, "dsn: postgres://carepath:xxxxx@db.env/carepath") {
		t.Errorf("CAREPATH_DB did not override the file:\n%s", out)
	}
	t.Setenv("CAREPATH_CONFIG", path) // the file named by the environment instead of --config
	_, out, _ = run(t, "", "--db", "sqlite:flag.db", "config", "show")
	if !strings.Contains(out, "dsn: sqlite:flag.db") || !strings.Contains(out, "addr: 127.0.0.1:9000") {
		t.Errorf("--db did not override CAREPATH_DB, or CAREPATH_CONFIG was not read:\n%s", out)
	}
	for _, secret := range []string{"file-Pw", "env-Pw", "file-S3cret", "env-S3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("config show printed a secret:\n%s", out)
		}
	}
}

// serve checks its address before opening anything: --addr over CAREPATH_SERVER_ADDR over the file.
func TestServeAddressPrecedenceAndExposure(t *testing.T) {
	path := writeConfig(t, "server:\n  addr: 0.0.0.0:8080\n")
	bogusDB := "bogus:nowhere" // reaching the database step shows the address was accepted
	tests := []struct {
		name    string
		env     string
		args    []string
		code    int
		want    string
		notWant string
	}{
		{"file address refused", "", nil, cli.ExitInvalid, "refusing to listen on 0.0.0.0:8080", ""},
		{"environment over file", "192.0.2.1:80", nil, cli.ExitInvalid, "refusing to listen on 192.0.2.1:80", ""},
		{"flag over environment", "192.0.2.1:80", []string{"--addr", "127.0.0.1:0"}, cli.ExitFailure, "unsupported DSN", "refusing"},
		{"behind a proxy", "", []string{"--behind-proxy"}, cli.ExitFailure, "unsupported DSN", "refusing"},
		{"TLS without a key", "", []string{"--tls-cert", "cert.pem"}, cli.ExitInvalid, "tls_cert and tls_key go together", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("CAREPATH_SERVER_ADDR", tt.env)
			}
			args := append([]string{"--config", path, "--db", bogusDB, "serve", "--no-demo"}, tt.args...)
			code, _, stderr := run(t, "", args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) || tt.notWant != "" && strings.Contains(stderr, tt.notWant) {
				t.Errorf("exit %d, %q; want exit %d with %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

func TestBadConfigFile(t *testing.T) {
	path := writeConfig(t, "server:\n  addr: 127.0.0.1:8080\n  max_conections: 10\n")
	for _, args := range [][]string{{"config", "show"}, {"migrate"}} {
		code, _, stderr := run(t, "", append([]string{"--config", path}, args...)...)
		if code != cli.ExitInvalid || !strings.Contains(stderr, path+`:3: unknown key "server.max_conections"`) {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	code, _, stderr := run(t, "", "--config", filepath.Join(t.TempDir(), "absent.yaml"), "config", "show")
	if code != cli.ExitInvalid || !strings.Contains(stderr, "absent.yaml") {
		t.Errorf("missing file: exit %d, %q", code, stderr)
	}
}
