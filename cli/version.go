package cli

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/triage"
)

func (c *commands) versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the build: module version, source revision and time, Go version, and the engine version decisions record",
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 0 {
				return cli.Exit("carepath version: takes no arguments", ExitInvalid)
			}
			_, err := fmt.Fprint(c.io.Stdout, versionText(debug.ReadBuildInfo()))
			return err
		},
	}
}

// versionText describes the running binary from the build information Go embeds in it.
func versionText(info *debug.BuildInfo, ok bool) string {
	var b strings.Builder
	const none = "unknown (built without version control information)"
	version, revision, at, modified, goVersion := "unknown", none, none, false, "unknown"
	if ok {
		goVersion = info.GoVersion
		if v := info.Main.Version; v != "" {
			version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if version == "(devel)" {
		version += ", built from a source tree"
	}
	if modified {
		revision += " (with uncommitted changes)"
	}
	fmt.Fprintf(&b, "carepath %s\n", version)
	fmt.Fprintf(&b, "revision  %s\n", revision)
	fmt.Fprintf(&b, "committed %s\n", at)
	fmt.Fprintf(&b, "go        %s\n", goVersion)
	fmt.Fprintf(&b, "engine    %s (recorded in every decision)\n", triage.EngineVersion)
	return b.String()
}

func (c *commands) completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "bash: source <(carepath completion bash), or save it in /etc/bash_completion.d/carepath\n" +
			"zsh:  source <(carepath completion zsh), after compinit\n" +
			"fish: carepath completion fish > ~/.config/fish/completions/carepath.fish",
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return cli.Exit("carepath completion: give the shell: bash, zsh or fish", ExitInvalid)
			}
			var script string
			switch shell := ctx.Args().First(); shell {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				s, err := ctx.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("carepath completion: unable to write the fish script: %w", err)
				}
				script = s
			default:
				return cli.Exit(fmt.Sprintf("carepath completion: %q: want bash, zsh or fish", shell), ExitInvalid)
			}
			_, err := fmt.Fprint(c.io.Stdout, script)
			return err
		},
	}
}

// bashCompletion asks carepath itself for the words that may follow what is typed, through the
// flag urfave/cli answers.
const bashCompletion = `# bash completion for carepath: source <(carepath completion bash)
_carepath_complete() {
  local cur words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ "$cur" == -* ]]; then
    words+=("$cur")
  fi
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$("${words[@]}" ` + completionFlag + ` 2>/dev/null)" -- "$cur"))
  if [[ ${#COMPREPLY[@]} -eq 0 ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _carepath_complete carepath
`

// zshCompletion does the same for zsh.
const zshCompletion = `#compdef carepath
# zsh completion for carepath: source <(carepath completion zsh)
_carepath() {
  local -a opts
  local cur=${words[CURRENT]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[1,CURRENT-1]} $cur ` + completionFlag + ` 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[1,CURRENT-1]} ` + completionFlag + ` 2>/dev/null)}")
  fi
  if [[ -n "${opts[1]}" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _carepath carepath
`
