package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/cli"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/internal/syncbuffer"
)

// identityStore opens the database at dsn for checks the command line does not print.
func identityStore(t *testing.T, dsn string) *identity.SQLStore {
	t.Helper()
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return identity.NewSQLStore(db)
}

func usersJSON(t *testing.T, dsn string) []identity.User {
	t.Helper()
	code, out, stderr := run(t, "", "--db", dsn, "users", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("users list: exit %d %s", code, stderr)
	}
	var users []identity.User
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("users list --format json printed %q: %v", out, err)
	}
	return users
}

// TestAccountCommands adds teams, users and tokens with the command line, and checks each refusal
// names the field and the reason, exits 2 and changes nothing.
func TestAccountCommands(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		if code, _, stderr := run(t, "", "--db", dsn, "migrate"); code != 0 {
			t.Fatalf("migrate: %s", stderr)
		}
		store := identityStore(t, dsn)
		ctx := context.Background()
		steps := []struct {
			name   string
			stdin  string
			args   []string
			code   int
			stdout string
			stderr string
		}{
			{name: "no users yet", args: []string{"users", "list"}, stdout: "USERNAME"},
			{name: "unknown team", args: []string{"users", "add", "--role", "clinician", "--team", "central", "alice"}, code: cli.ExitInvalid, stderr: `team "central": no such team`},
			{name: "add a team", args: []string{"teams", "add", "--name", "Central locality", "central"}, stdout: "added team central (Central locality)"},
			{name: "add it twice", args: []string{"teams", "add", "Central"}, code: cli.ExitInvalid, stderr: "team central exists already"},
			{name: "a team id with a space", args: []string{"teams", "add", "north east"}, code: cli.ExitInvalid, stderr: `team "north east": 1 to 100 of a-z`},
			{name: "add a second team", args: []string{"teams", "add", "south"}, stdout: "added team south (south)"},
			{name: "no role", args: []string{"users", "add", "bob"}, code: cli.ExitInvalid, stderr: "roles: give at least one of"},
			{name: "unknown role", args: []string{"users", "add", "--role", "nurse", "bob"}, code: cli.ExitInvalid, stderr: `role "nurse": want one of clinician`},
			{name: "short password", stdin: "short\n", args: []string{"users", "add", "--role", "clinician", "--password-stdin", "bob"}, code: cli.ExitInvalid, stderr: "password: at least 12 characters"},
			{name: "empty password", stdin: "", args: []string{"users", "add", "--role", "clinician", "--password-stdin", "bob"}, code: cli.ExitInvalid, stderr: "password: standard input held no password"},
			{name: "two arguments", args: []string{"users", "add", "--role", "clinician", "bob", "carol"}, code: cli.ExitInvalid, stderr: "give one USERNAME"},
			// A flag after the username is read as one, not taken as a second username.
			{name: "a flag after the username", args: []string{"users", "add", "bob", "--role", "nurse"}, code: cli.ExitInvalid, stderr: `role "nurse": want one of clinician`},
			{name: "add a clinician and coordinator", stdin: "correct horse battery\n",
				args:   []string{"users", "add", "--role", "coordinator,clinician", "--team", "central", "--name", "Alice Example", "--password-stdin", "alice"},
				stdout: "added user alice ("},
			{name: "the same username in capitals", args: []string{"users", "add", "--role", "analyst", " ALICE"}, code: cli.ExitInvalid, stderr: "user alice exists already"},
			{name: "an account for tokens only", args: []string{"users", "add", "--role", "clinician", "--role", "clinician", "--team", "south", "epr.system"}, stdout: "no password: API tokens only"},
			{name: "list", args: []string{"users", "list"}, stdout: "Alice Example"},
			{name: "list as yaml", args: []string{"users", "list", "--format", "yaml"}, code: cli.ExitInvalid, stderr: `--format "yaml": want text or json`},
			{name: "teams", args: []string{"teams", "list"}, stdout: "central  Central locality"},
			{name: "change roles, keep teams", args: []string{"users", "set-roles", "--role", "analyst", "alice"}, stdout: "user alice: roles analyst; teams central"},
			{name: "change roles and teams", args: []string{"users", "set-roles", "--role", "clinician", "--team", "central,south", "alice"}, stdout: "user alice: roles clinician; teams central,south"},
			{name: "leave every team", args: []string{"users", "set-roles", "--role", "clinician", "--team", "", "alice"}, stdout: "user alice: roles clinician; teams -"},
			{name: "roles of nobody", args: []string{"users", "set-roles", "--role", "clinician", "nobody"}, code: cli.ExitInvalid, stderr: "no user nobody"},
			{name: "set a password", stdin: "another long password\r\n", args: []string{"users", "passwd", "epr.system"}, stdout: "set the password of epr.system"},
			{name: "a short password", stdin: "tiny\n", args: []string{"users", "passwd", "alice"}, code: cli.ExitInvalid, stderr: "password: at least 12 characters"},
			{name: "password of nobody", stdin: "another long password\n", args: []string{"users", "passwd", "nobody"}, code: cli.ExitInvalid, stderr: "no user nobody"},
			{name: "token too long", args: []string{"tokens", "create", "--user", "epr.system", "--expires", "400d"}, code: cli.ExitInvalid, stderr: "expires: at most 366 days ahead"},
			{name: "token in the past", args: []string{"tokens", "create", "--user", "epr.system", "--expires", "2020-01-01"}, code: cli.ExitInvalid, stderr: "expires: must be in the future"},
			{name: "token with a vague expiry", args: []string{"tokens", "create", "--user", "epr.system", "--expires", "soon"}, code: cli.ExitInvalid, stderr: `expires "soon": want a number of days such as 90d, a date YYYY-MM-DD or an RFC 3339 time`},
			{name: "token of nobody", args: []string{"tokens", "create", "--user", "nobody", "--expires", "30d"}, code: cli.ExitInvalid, stderr: "no user nobody"},
			{name: "tokens of nobody", args: []string{"tokens", "list", "--user", "nobody"}, code: cli.ExitInvalid, stderr: "no user nobody"},
			{name: "revoke nothing", args: []string{"tokens", "revoke", "no-such-token"}, code: cli.ExitInvalid, stderr: "no unrevoked token no-such-token"},
			{name: "disable nobody", args: []string{"users", "disable", "nobody"}, code: cli.ExitInvalid, stderr: "no user nobody"},
		}
		for _, s := range steps {
			code, stdout, stderr := run(t, s.stdin, append([]string{"--db", dsn}, s.args...)...)
			if code != s.code || !strings.Contains(stdout, s.stdout) || !strings.Contains(stderr, s.stderr) {
				t.Fatalf("%s: %v: exit %d (want %d)\nstdout (want %q): %s\nstderr (want %q): %s", s.name, s.args, code, s.code, s.stdout, stdout, s.stderr, stderr)
			}
			if s.code == cli.ExitInvalid && !strings.Contains(stderr, "refused; nothing was changed") && !strings.Contains(stderr, "--format") && !strings.Contains(stderr, "give one") {
				t.Errorf("%s: the refusal does not say nothing was changed: %q", s.name, stderr)
			}
		}

		users := usersJSON(t, dsn)
		if len(users) != 2 || users[0].Username != "alice" || users[1].Username != "epr.system" {
			t.Fatalf("users = %+v, want alice and epr.system only: refused commands must add nobody", users)
		}
		if users[1].Name != "epr.system" || !slicesEqual(users[1].Teams, []string{"south"}) || len(users[1].Roles) != 1 {
			t.Errorf("epr.system = %+v", users[1])
		}
		// The password came from standard input, without its line ending, and is stored hashed.
		if _, err := store.CheckPassword(ctx, "alice", "correct horse battery", fixedNow()); err != nil {
			t.Errorf("alice's password does not check: %v", err)
		}
		if _, err := store.CheckPassword(ctx, "epr.system", "another long password", fixedNow()); err != nil {
			t.Errorf("epr.system's new password does not check: %v", err)
		}

		// A token: the secret alone on stdout, shown once; it authenticates as its user.
		code, out, stderr := run(t, "", "--db", dsn, "tokens", "create", "--user", "epr.system", "--name", "EPR", "--expires", "90d")
		if code != 0 {
			t.Fatalf("tokens create: exit %d %s", code, stderr)
		}
		secret := strings.TrimSpace(out)
		if !strings.HasPrefix(secret, identity.TokenPrefix) || strings.Contains(secret, "\n") || !strings.Contains(stderr, "shown once") {
			t.Fatalf("tokens create printed %q on stdout and %q on stderr", out, stderr)
		}
		p, expires, err := store.TokenPrincipal(ctx, secret, fixedNow())
		if err != nil || p.Subject != users[1].ID || !expires.Equal(fixedNow().Add(90*24*time.Hour)) {
			t.Fatalf("the token authenticates as %+v until %s (%v), want %s for 90 days", p, expires, err, users[1].ID)
		}
		code, out, _ = run(t, "", "--db", dsn, "tokens", "list", "--user", "epr.system")
		if code != 0 || !strings.Contains(out, p.TokenID) || !strings.Contains(out, "active") || strings.Contains(out, secret) {
			t.Errorf("tokens list: exit %d\n%s", code, out)
		}
		if code, _, stderr = run(t, "", "--db", dsn, "tokens", "revoke", p.TokenID); code != 0 {
			t.Fatalf("tokens revoke: exit %d %s", code, stderr)
		}
		if _, _, err := store.TokenPrincipal(ctx, secret, fixedNow()); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("a revoked token still authenticates: %v", err)
		}
		code, out, _ = run(t, "", "--db", dsn, "tokens", "list", "--format", "json")
		var tokens []identity.Token
		if err := json.Unmarshal([]byte(out), &tokens); code != 0 || err != nil || len(tokens) != 1 || tokens[0].RevokedAt == nil {
			t.Errorf("tokens list --format json: exit %d, %v:\n%s", code, err, out)
		}

		// Disabling stops the password and every token at once.
		code, out, _ = run(t, "", "--db", dsn, "tokens", "create", "--user", "alice", "--expires", "2027-01-31")
		aliceSecret := strings.TrimSpace(out)
		if code != 0 {
			t.Fatalf("tokens create for alice: exit %d", code)
		}
		if _, exp, err := store.TokenPrincipal(ctx, aliceSecret, fixedNow()); err != nil || !exp.Equal(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("alice's token: until %s, %v", exp, err)
		}
		if code, out, _ = run(t, "", "--db", dsn, "users", "disable", "Alice"); code != 0 || !strings.Contains(out, "disabled user alice") {
			t.Fatalf("users disable: exit %d %q", code, out)
		}
		if _, err := store.CheckPassword(ctx, "alice", "correct horse battery", fixedNow()); err == nil {
			t.Error("a disabled account still signs in")
		}
		if _, _, err := store.TokenPrincipal(ctx, aliceSecret, fixedNow()); err == nil {
			t.Error("a disabled account's token still authenticates")
		}
		if code, out, _ = run(t, "", "--db", dsn, "users", "list"); code != 0 || !strings.Contains(out, "disabled") {
			t.Errorf("users list does not show alice disabled: exit %d\n%s", code, out)
		}
	})
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// syncBuffer is a buffer that a running command writes to while the test reads it.
type syncBuffer = syncbuffer.Buffer

var listeningURL = regexp.MustCompile(`msg=listening .*url=(https?://[0-9.:\[\]a-z]+)`)

// served is `carepath serve` running in process on a loopback port.
type served struct {
	url    string
	stderr *syncBuffer
	stop   func() int
}

// serve starts `carepath serve` in process on 127.0.0.1 and waits until it listens; stop ends it
// as Ctrl-C would and returns its exit code.
func serve(t *testing.T, dsn string, args ...string) *served {
	t.Helper()
	stderr := &syncBuffer{}
	var stdout syncBuffer
	app := cli.New(cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: stderr, LocalAccount: "operator"}, fixedNow)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		err := app.RunContext(ctx, append([]string{"carepath", "--db", dsn, "serve", "--addr", "127.0.0.1:0"}, args...))
		code := 0
		var coder interface{ ExitCode() int }
		if errors.As(err, &coder) {
			code = coder.ExitCode()
		} else if err != nil {
			code = cli.ExitFailure
		}
		done <- code
	}()
	s := &served{stderr: stderr}
	stopped := false
	s.stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not stop:\n%s", stderr.String())
		}
		return -1
	}
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningURL.FindStringSubmatch(stderr.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("serve stopped with exit %d:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start listening:\n%s", stderr.String())
	return nil
}

// TestServeDemoAccounts starts the server on an empty database: the demo data comes with demo
// accounts, whose credentials are printed at every start and work; a database made with
// --no-demo has no account at all until one is added.
func TestServeDemoAccounts(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		s := serve(t, dsn)
		if code := s.stop(); code != 0 {
			t.Fatalf("serve: exit %d\n%s", code, s.stderr.String())
		}
		first := s.stderr.String()
		for _, want := range []string{"DEMO ACCOUNTS — demo data only, never use in production", "password of each: carepath-demo",
			"demo.clinician.south", "cpt_demo_clinician_south", "demo.practitioner", "demo.policy2", "cpt_demo_admin"} {
			if !strings.Contains(first, want) {
				t.Errorf("the start lacks %q:\n%s", want, first)
			}
		}
		users := usersJSON(t, dsn)
		if len(users) != 8 {
			t.Fatalf("%d demo accounts, want 8", len(users))
		}
		for _, u := range users {
			if !u.Demo || !strings.HasSuffix(u.Name, "(demo)") || !u.HasPassword {
				t.Errorf("%s: demo %v, name %q, password %v", u.Username, u.Demo, u.Name, u.HasPassword)
			}
		}

		// A second start loads nothing but prints the credentials again; a revoked token is not
		// printed as if it worked.
		store := identityStore(t, dsn)
		ps, _, err := store.TokenPrincipal(context.Background(), "cpt_demo_analyst", fixedNow())
		if err != nil {
			t.Fatalf("the printed analyst token does not authenticate: %v", err)
		}
		if err := store.RevokeToken(context.Background(), ps.TokenID, fixedNow()); err != nil {
			t.Fatal(err)
		}
		s = serve(t, dsn)
		resp, err := http.Get(s.url + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("healthz: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		s.stop()
		second := s.stderr.String()
		if !strings.Contains(second, "DEMO ACCOUNTS") || !strings.Contains(second, "cpt_demo_clinician") || strings.Contains(second, "cpt_demo_analyst") {
			t.Errorf("second start:\n%s", second)
		}
		if n := len(usersJSON(t, dsn)); n != 8 {
			t.Errorf("%d accounts after a second start, want 8", n)
		}
	})
}

func TestServeNoDemoHasNoAccounts(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		s := serve(t, dsn, "--no-demo")
		if code := s.stop(); code != 0 {
			t.Fatalf("serve --no-demo: exit %d\n%s", code, s.stderr.String())
		}
		if strings.Contains(s.stderr.String(), "DEMO ACCOUNTS") {
			t.Errorf("serve --no-demo printed demo accounts:\n%s", s.stderr.String())
		}
		if users := usersJSON(t, dsn); len(users) != 0 {
			t.Fatalf("a database made with --no-demo has accounts: %+v", users)
		}
		// Nobody can sign in: there is no default password and no token.
		store := identityStore(t, dsn)
		for _, try := range [][2]string{{"demo.admin", "carepath-demo"}, {"admin", "admin"}, {"admin", "carepath-demo"}} {
			if _, err := store.CheckPassword(context.Background(), try[0], try[1], fixedNow()); failure.CodeOf(err) != failure.Unauthenticated {
				t.Errorf("%s/%s: %v", try[0], try[1], err)
			}
		}
		if _, _, err := store.TokenPrincipal(context.Background(), "cpt_demo_admin", fixedNow()); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("a demo token works on a database without demo data: %v", err)
		}
		if code, _, stderr := run(t, "", "--db", dsn, "users", "add", "--role", "admin", "admin"); code != 0 {
			t.Fatalf("users add: exit %d %s", code, stderr)
		}
		if users := usersJSON(t, dsn); len(users) != 1 || users[0].Username != "admin" || users[0].Demo {
			t.Errorf("users after users add: %+v", users)
		}
	})
}

// TestFixturesLoadPrintsDemoAccounts checks fixtures load adds the demo accounts once.
func TestFixturesLoadPrintsDemoAccounts(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		code, out, stderr := run(t, "", "--db", dsn, "fixtures", "load")
		if code != 0 || !strings.Contains(out, "loaded 8 demo accounts") || !strings.Contains(stderr, "DEMO ACCOUNTS") {
			t.Fatalf("fixtures load: exit %d\n%s\n%s", code, out, stderr)
		}
		code, out, _ = run(t, "", "--db", dsn, "fixtures", "load")
		if code != 0 || !strings.Contains(out, "loaded 0 demo accounts") {
			t.Errorf("second fixtures load: exit %d\n%s", code, out)
		}
	})
}
