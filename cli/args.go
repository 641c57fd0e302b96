package cli

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"
)

// completionFlag is the argument the shell completion scripts end a command line with.
const completionFlag = "--generate-bash-completion"

// usageError is a mistake in the command line itself (an unknown command or flag, a flag without
// its value, a missing required flag): one line naming it, then where the help is. It exits 2.
type usageError struct {
	command string // the command as typed so far, such as "carepath rules test"
	msg     string
}

// Error names the command and the mistake, then points to the command's help.
func (e *usageError) Error() string {
	return fmt.Sprintf("%s: %s\nRun '%s --help' for usage.", e.command, e.msg, e.command)
}

// ExitCode makes a usage error exit as refused input.
func (e *usageError) ExitCode() int { return ExitInvalid }

// normalizeArgs checks a command line against the application's commands and flags and returns it
// in the order urfave/cli reads: the global flags (--db, --config) first, wherever they were
// written, then each command name, then the command's own flags, then its arguments. urfave/cli
// stops reading flags at the first argument, so without this `cases import x.jsonl --rejects r`
// would take --rejects as a second file name. "--" ends the flags (everything after it is an
// argument) and "-" is an argument (standard input). `help A B` becomes `A B --help`.
func normalizeArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 || args[len(args)-1] == completionFlag {
		return args, nil
	}
	globals := []string{}
	out := []string{args[0]}
	cmd := &cli.Command{Name: app.Name, Subcommands: app.Commands}
	path := app.Name
	var flags, positional []string
	seen := map[string]bool{}
	help := false
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		group := len(cmd.Subcommands) > 0
		if a == "--" {
			if group {
				return nil, &usageError{path, "give a command: " + commandNames(cmd.Subcommands)}
			}
			positional = append(positional, rest[i:]...)
			break
		}
		if isFlagArg(a) {
			name, value, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if name == "help" || name == "h" {
				help = true
				flags = append(flags, a)
				continue
			}
			f, global := lookupFlag(app.Flags, name), true
			if f == nil {
				f, global = lookupFlag(cmd.Flags, name), false
			}
			if f == nil {
				return nil, unknownFlag(path, a, name, cmd.Flags, app.Flags)
			}
			taken := []string{a}
			if takesValue(f) && !inline {
				if i+1 >= len(rest) {
					return nil, &usageError{path, fmt.Sprintf("%s needs a value: %s", a, flagUsage(f))}
				}
				i++
				value = rest[i]
				taken = append(taken, value)
			}
			if inline || takesValue(f) {
				if err := checkFlagValue(f, "--"+name, value); err != nil {
					return nil, &usageError{path, err.Error()}
				}
			}
			for _, n := range f.Names() {
				seen[n] = true
			}
			if global {
				globals = append(globals, taken...)
			} else {
				flags = append(flags, taken...)
			}
			continue
		}
		if !group {
			positional = append(positional, a)
			continue
		}
		if a == "help" || a == "h" {
			// `help A B` is `A B --help`: check that A B name commands, and show that help.
			for _, name := range rest[i+1:] {
				if len(cmd.Subcommands) == 0 {
					break
				}
				sub := findCommand(cmd.Subcommands, name)
				if sub == nil {
					return nil, unknownCommand(path, name, cmd.Subcommands)
				}
				out = append(out, flags...)
				out = append(out, name)
				flags, cmd, path = nil, sub, path+" "+name
			}
			help = true
			flags = append(flags, "--help")
			break
		}
		sub := findCommand(cmd.Subcommands, a)
		if sub == nil {
			return nil, unknownCommand(path, a, cmd.Subcommands)
		}
		out = append(out, flags...)
		out = append(out, a)
		flags, cmd, path = nil, sub, path+" "+a
		clear(seen)
	}
	if !help && len(cmd.Subcommands) == 0 {
		for _, f := range cmd.Flags {
			if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() && !seen[f.Names()[0]] && !fromEnv(f) {
				return nil, &usageError{path, fmt.Sprintf("--%s is required: %s", f.Names()[0], flagUsage(f))}
			}
		}
	}
	// The global flags go straight after the program's name, where urfave/cli reads them.
	result := append([]string{out[0]}, globals...)
	result = append(result, out[1:]...)
	result = append(result, flags...)
	return append(result, positional...), nil
}

// isFlagArg reports whether a is a flag: "-" alone is an argument (standard input).
func isFlagArg(a string) bool {
	return len(a) > 1 && a[0] == '-'
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if slices.Contains(c.Names(), name) {
			return c
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

func flagUsage(f cli.Flag) string {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.GetUsage()
	}
	return ""
}

// fromEnv reports whether one of the flag's environment variables gives it a value.
func fromEnv(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return false
	}
	for _, name := range d.GetEnvVars() {
		if os.Getenv(name) != "" {
			return true
		}
	}
	return false
}

// checkFlagValue refuses a value the flag's type cannot hold, naming the flag, before urfave/cli
// would print its help instead.
func checkFlagValue(f cli.Flag, name, value string) error {
	var err error
	want := ""
	switch f.(type) {
	case *cli.BoolFlag:
		_, err = strconv.ParseBool(value)
		want = "true or false"
	case *cli.IntFlag, *cli.Int64Flag:
		_, err = strconv.ParseInt(value, 0, 64)
		want = "a whole number"
	case *cli.UintFlag, *cli.Uint64Flag:
		_, err = strconv.ParseUint(value, 0, 64)
		want = "a whole number from 0"
	case *cli.Float64Flag:
		_, err = strconv.ParseFloat(value, 64)
		want = "a number"
	case *cli.DurationFlag:
		_, err = time.ParseDuration(value)
		want = "a duration such as 30s or 5m"
	}
	if err != nil {
		return fmt.Errorf("%s %q: want %s", name, value, want)
	}
	return nil
}

func unknownFlag(path, arg, name string, own, global []cli.Flag) error {
	var names []string
	for _, f := range append(slices.Clone(own), global...) {
		names = append(names, f.Names()...)
	}
	names = append(names, "help")
	msg := "unknown flag " + arg
	if s := closest(name, names); s != "" {
		msg += "; did you mean --" + s + "?"
	}
	return &usageError{path, msg}
}

func unknownCommand(path, name string, cmds []*cli.Command) error {
	var names []string
	for _, c := range cmds {
		if !c.Hidden {
			names = append(names, c.Names()...)
		}
	}
	msg := "unknown command " + name
	if s := closest(name, names); s != "" {
		msg += "; did you mean " + s + "?"
	} else {
		msg += "; the commands are " + commandNames(cmds)
	}
	return &usageError{path, msg}
}

func commandNames(cmds []*cli.Command) string {
	var names []string
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ", ")
}

// closest returns the candidate most like s, or "" when none is close enough to be what was meant.
func closest(s string, candidates []string) string {
	best, score := "", 0.0
	for _, c := range candidates {
		if d := smetrics.JaroWinkler(strings.ToLower(s), strings.ToLower(c), 0.7, 4); d > score {
			best, score = c, d
		}
	}
	if score < 0.75 {
		return ""
	}
	return best
}
