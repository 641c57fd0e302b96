package cli

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/identity"
)

// leaves walks the application's commands through every level of subcommands and returns the
// full name of each command that runs something.
func leaves(prefix string, cmds []*cli.Command) []string {
	var out []string
	for _, c := range cmds {
		name := strings.TrimSpace(prefix + " " + c.Name)
		if c.Action != nil {
			out = append(out, name)
		}
		out = append(out, leaves(name, c.Subcommands)...)
	}
	return out
}

func testApp(account string) (*cli.App, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	app := New(IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, LocalAccount: account},
		func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) })
	return app, &out, &errOut
}

// TestEveryCommandDeclaresPermission holds the command line to its policy table: every command is
// either in it, with a permission the policy table knows, or works on files alone; the table names
// no command that does not exist.
func TestEveryCommandDeclaresPermission(t *testing.T) {
	app, _, _ := testApp("tester")
	all := leaves("", app.Commands)
	if len(all) < 40 {
		t.Fatalf("found only %d commands: %v", len(all), all)
	}
	for _, name := range all {
		perm, declared := commandPermissions[name]
		switch {
		case declared && offlineCommands[name]:
			t.Errorf("%s is declared both as needing %s and as working on files alone", name, perm)
		case !declared && !offlineCommands[name]:
			t.Errorf("%s declares no permission: add it to commandPermissions (or, if it never opens the database, to offlineCommands)", name)
		case declared && perm != identity.Public && perm != identity.SignedIn && len(identity.Policy[perm]) == 0:
			t.Errorf("%s needs %s, which no role holds in identity.Policy", name, perm)
		}
	}
	for name := range commandPermissions {
		if !slices.Contains(all, name) {
			t.Errorf("commandPermissions names %q, which is not a command", name)
		}
	}
	for name := range offlineCommands {
		if !slices.Contains(all, name) {
			t.Errorf("offlineCommands names %q, which is not a command", name)
		}
	}
}

// TestOfflineCommandsNeverOpenTheDatabase runs each command declared as working on files alone
// with a database that cannot be opened: none may fail for it.
func TestOfflineCommandsNeverOpenTheDatabase(t *testing.T) {
	file := "../fixtures/rulesets/mh-triage.v1.yaml"
	for name, args := range map[string][]string{
		"fixtures generate": {"fixtures", "generate", "--form", "discharge", "--cases", "2"},
		"rules lint":        {"rules", "lint", file},
		"rules test":        {"rules", "test", file},
	} {
		if !offlineCommands[name] {
			t.Fatalf("%s is not declared offline", name)
		}
		app, _, errOut := testApp("tester")
		if code := Run(app, append([]string{"carepath", "--db", "mysql://nowhere"}, args...)); code != 0 {
			t.Errorf("%s with a database that cannot be opened: exit %d %s", name, code, errOut)
		}
	}
}

// TestUndeclaredCommandCannotOpenTheDatabase checks the check itself: a command missing from the
// table is refused before the database is touched, and a principal without the permission gets
// exit code 4.
func TestUndeclaredCommandCannotOpenTheDatabase(t *testing.T) {
	dir := t.TempDir()
	c := &commands{io: IO{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, LocalAccount: "tester"}, now: time.Now}
	var openErr error
	app := &cli.App{Name: "carepath", Flags: []cli.Flag{&cli.StringFlag{Name: "db"}}, Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{},
		Commands: []*cli.Command{{Name: "rules", Subcommands: []*cli.Command{
			{Name: "undeclared", Action: func(ctx *cli.Context) error { _, openErr = c.open(ctx, true); return nil }},
			{Name: "approve", Action: func(ctx *cli.Context) error {
				if got := commandPath(ctx); got != "rules approve" {
					t.Errorf("commandPath = %q, want rules approve", got)
				}
				return c.authorize(ctx)
			}},
		}}}}
	if err := app.Run([]string{"carepath", "--db", "sqlite:" + dir + "/x.db", "rules", "undeclared"}); err != nil {
		t.Fatal(err)
	}
	if openErr == nil || !strings.Contains(openErr.Error(), "carepath rules undeclared: the command declares no permission") {
		t.Errorf("open of an undeclared command: %v", openErr)
	}
	if _, err := os.Stat(dir + "/x.db"); !os.IsNotExist(err) {
		t.Errorf("the undeclared command created the database: %v", err)
	}
	if err := app.Run([]string{"carepath", "rules", "approve"}); err != nil {
		t.Errorf("the local account may approve: %v", err)
	}

	// A principal without the permission is refused with exit code 4, as through --server.
	var errOut bytes.Buffer
	denied := &cli.App{Name: "carepath", Writer: &bytes.Buffer{}, ErrWriter: &errOut, Commands: []*cli.Command{{Name: "approve",
		Action: func(*cli.Context) error {
			return identity.Authorize(&identity.Principal{Subject: "u-1", Roles: []identity.Role{identity.Clinician}}, identity.WriteRules)
		}}}}
	if code := Run(denied, []string{"carepath", "approve"}); code != ExitForbidden || !strings.Contains(errOut.String(), "it needs the permission rules.write") {
		t.Errorf("a refused principal: exit %d %q", code, errOut.String())
	}
}

// TestPolicyTableInReadme keeps the README's table of who may do what on the command line the
// same as the table the command line checks.
func TestCommandPolicyTableInREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := policyMarkdown(); !strings.Contains(string(readme), want) {
		t.Errorf("README.md lacks the command line's policy table; paste this under \"Who may do what\":\n%s", want)
	}
}
