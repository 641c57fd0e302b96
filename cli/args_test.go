package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// leafCommands returns every command that runs something, by its full name.
func leafCommands(prefix []string, cmds []*cli.Command) map[string]*cli.Command {
	out := map[string]*cli.Command{}
	for _, c := range cmds {
		path := append(slices.Clone(prefix), c.Name)
		if c.Action != nil {
			out[strings.Join(path, " ")] = c
		}
		for k, v := range leafCommands(path, c.Subcommands) {
			out[k] = v
		}
	}
	return out
}

// sampleValue is a value of the flag's type, and what reading it back should give.
func sampleValue(t *testing.T, f cli.Flag) (arg []string, want string) {
	name := "--" + f.Names()[0]
	switch f.(type) {
	case *cli.BoolFlag:
		return []string{name}, "true"
	case *cli.StringFlag:
		return []string{name, "-v-" + f.Names()[0]}, "-v-" + f.Names()[0] // a value may start with a dash
	case *cli.IntFlag:
		return []string{name, "7"}, "7"
	case *cli.Uint64Flag:
		return []string{name, "7"}, "7"
	case *cli.Float64Flag:
		return []string{name, "7.5"}, "7.5"
	case *cli.StringSliceFlag:
		return []string{name, "a,b"}, "a,b"
	}
	t.Fatalf("flag %s has a type %T this test does not know: add it here", name, f)
	return nil, ""
}

func readBack(ctx *cli.Context, f cli.Flag) string {
	n := f.Names()[0]
	switch f.(type) {
	case *cli.BoolFlag:
		return fmt.Sprint(ctx.Bool(n))
	case *cli.IntFlag:
		return fmt.Sprint(ctx.Int(n))
	case *cli.Uint64Flag:
		return fmt.Sprint(ctx.Uint64(n))
	case *cli.Float64Flag:
		return fmt.Sprint(ctx.Float64(n))
	case *cli.StringSliceFlag:
		return strings.Join(ctx.StringSlice(n), ",")
	}
	return ctx.String(n)
}

// TestEveryFlagBothWays runs every command with each of its flags before and after its argument,
// and with the global --db after the command's name, and checks that the command reads the same
// flags and the same arguments every way. The commands' own actions are replaced by a recorder.
func TestEveryFlagBothWays(t *testing.T) {
	app, _, _ := testApp("tester")
	leaves := leafCommands(nil, app.Commands)
	if len(leaves) < 45 {
		t.Fatalf("found only %d commands", len(leaves))
	}
	tried := 0
	for name, cmd := range leaves {
		path := strings.Fields(name)
		// Required flags are always given, before the argument.
		var required []string
		for _, f := range cmd.Flags {
			if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() {
				arg, _ := sampleValue(t, f)
				required = append(required, arg...)
			}
		}
		for _, f := range cmd.Flags {
			arg, want := sampleValue(t, f)
			for _, order := range []string{"flag first", "flag last", "global flag last"} {
				var line []string
				switch order {
				case "flag first":
					line = slices.Concat(path, required, arg, []string{"ARG"})
				case "flag last":
					line = slices.Concat(path, required, []string{"ARG"}, arg)
				case "global flag last":
					line = slices.Concat(path, required, []string{"ARG"}, arg, []string{"--db", "sqlite:elsewhere.db"})
				}
				got, args, db, code, stderr := runRecorded(t, name, f, line)
				tried++
				if code != 0 || got != want || !slices.Equal(args, []string{"ARG"}) {
					t.Errorf("carepath %s (%s): exit %d, --%s read as %q (want %q), arguments %q (want [ARG]); stderr %s",
						strings.Join(line, " "), order, code, f.Names()[0], got, want, args, stderr)
				}
				if order == "global flag last" && db != "sqlite:elsewhere.db" {
					t.Errorf("carepath %s: --db read as %q", strings.Join(line, " "), db)
				}
			}
		}
		// A command without flags still takes the global ones after its name, and "-" as an argument.
		line := slices.Concat(path, required, []string{"-", "--db", "sqlite:elsewhere.db"})
		_, args, db, code, stderr := runRecorded(t, name, nil, line)
		if code != 0 || db != "sqlite:elsewhere.db" || !slices.Equal(args, []string{"-"}) {
			t.Errorf("carepath %s: exit %d, --db %q, arguments %q; %s", strings.Join(line, " "), code, db, args, stderr)
		}
	}
	if tried < 200 {
		t.Errorf("only %d command lines tried", tried)
	}
}

// runRecorded runs a fresh application whose command name records what it read instead of
// running.
func runRecorded(t *testing.T, name string, f cli.Flag, line []string) (value string, args []string, db string, code int, stderr string) {
	t.Helper()
	app, _, errOut := testApp("tester")
	cmd := leafCommands(nil, app.Commands)[name]
	cmd.Action = func(ctx *cli.Context) error {
		if f != nil {
			value = readBack(ctx, f)
		}
		args = ctx.Args().Slice()
		db = ctx.String("db")
		return nil
	}
	code = Run(app, append([]string{"carepath"}, line...))
	return value, args, db, code, errOut.String()
}

func TestNormalizeArgs(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want is the normalized line, or "error: " and what the error says
	}{
		{"cases import cases.jsonl --rejects r.jsonl", "cases import --rejects r.jsonl cases.jsonl"},
		{"forms export mental-health --version 1", "forms export --version 1 mental-health"},
		{"rules test draft.yaml -v", "rules test -v draft.yaml"},
		{"users add alice --role clinician", "users add --role clinician alice"},
		{"assess --db sqlite:x.db file.json", "--db sqlite:x.db assess file.json"},
		{"assess file.json --db=sqlite:x.db --dry-run", "--db=sqlite:x.db assess --dry-run file.json"},
		{"assess - --dry-run", "assess --dry-run -"},
		{"rules test -- -odd.yaml --v", "rules test -- -odd.yaml --v"},
		{"rules draft d.yaml --reason --not-a-flag", "rules draft --reason --not-a-flag d.yaml"},
		{"rules test a.yaml --v=false b.yaml", "rules test --v=false a.yaml b.yaml"},
		{"--config c.yaml rules lint a.yaml --db sqlite:x", "--config c.yaml --db sqlite:x rules lint a.yaml"},
		{"help rules lint", "rules lint --help"},
		{"rules help lint", "rules lint --help"},
		{"help", "--help"},
		{"assess --help", "assess --help"},
		{"rules", "rules"},
		{"rules --generate-bash-completion", "rules --generate-bash-completion"},
		{"fixtures generate --cases 5", "error: carepath fixtures generate: --form is required: discharge or mental-health"},
		{"fixtures generate --form discharge --cases five", `error: carepath fixtures generate: --cases "five": want a whole number`},
		{"cases import x.jsonl --rejects", "error: carepath cases import: --rejects needs a value"},
		{"assess --dryrun x.json", "error: carepath assess: unknown flag --dryrun; did you mean --dry-run?"},
		{"asess x.json", "error: carepath: unknown command asess; did you mean assess?"},
		{"rules lnt x.yaml", "error: carepath rules: unknown command lnt; did you mean lint?"},
		{"zzz", "error: carepath: unknown command zzz; the commands are migrate, fixtures"},
		{"help rules nope", "error: carepath rules: unknown command nope"},
		{"rules --reason x draft d.yaml", "error: carepath rules: unknown flag --reason"},
		{"routing day --date 2026-11-26", "error: carepath routing day: --practitioner is required"},
	} {
		app, _, _ := testApp("tester")
		got, err := normalizeArgs(app, append([]string{"carepath"}, strings.Fields(tc.in)...))
		if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
			var ue *usageError
			if err == nil || !strings.HasPrefix(err.Error(), want) || !asUsage(err, &ue) {
				t.Errorf("%s: %q, %v; want the usage error %q", tc.in, got, err, want)
			} else if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[1], "--help' for usage.") {
				t.Errorf("%s: want one line and a pointer to --help, got %q", tc.in, err)
			}
			continue
		}
		if err != nil || strings.Join(got[1:], " ") != tc.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", tc.in, strings.Join(got[1:], " "), err, tc.want)
		}
	}
}

func asUsage(err error, target **usageError) bool {
	ue, ok := err.(*usageError)
	*target = ue
	return ok && ue.ExitCode() == ExitInvalid
}
