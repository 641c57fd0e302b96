package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// prepareCommands gives every command the same handling of usage errors, and help that lists the
// global flags too, since they are accepted after the command's name as well.
func prepareCommands(cmds []*cli.Command, globals string) {
	for _, cmd := range cmds {
		cmd.OnUsageError = onUsageError
		if cmd.CustomHelpTemplate == "" {
			if len(cmd.Subcommands) == 0 {
				cmd.CustomHelpTemplate = cli.CommandHelpTemplate + globals
			} else {
				cmd.CustomHelpTemplate = cli.SubcommandHelpTemplate + globals
			}
		}
		prepareCommands(cmd.Subcommands, globals)
	}
}

// globalOptionsHelp is the help section listing the global flags.
func globalOptionsHelp(flags []cli.Flag) string {
	var b strings.Builder
	b.WriteString("\nGLOBAL OPTIONS (before or after the command):")
	for _, f := range flags {
		b.WriteString("\n   ")
		b.WriteString(f.String())
	}
	b.WriteString("\n")
	return b.String()
}

// onUsageError turns a flag urfave/cli could not read into a usage error (exit 2, on standard
// error) instead of the full help on standard output. normalizeArgs catches these first; this is
// what remains.
func onUsageError(ctx *cli.Context, err error, _ bool) error {
	name := "carepath"
	if p := commandPath(ctx); p != "" {
		name += " " + p
	}
	msg := strings.ReplaceAll(err.Error(), ": -", ": --")
	return &usageError{command: name, msg: msg}
}
