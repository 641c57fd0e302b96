package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/identity"
)

func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}
}

// roleFlag is not Required: a missing role is refused by the store, naming the roles there are,
// with exit code 2 as any refused input.
func roleFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "role", Usage: "roles, comma-separated or repeated: " + rolesUsage()}
}

func rolesUsage() string { return strings.Join(identity.RoleNames(identity.Roles), ", ") }

// withIdentity opens the database and runs fn with the identity store; a refusal of the input
// exits with code 2, naming the field and the reason.
func (c *commands) withIdentity(fn func(ctx *cli.Context, store *identity.SQLStore) error) cli.ActionFunc {
	return func(ctx *cli.Context) error {
		if f := ctx.String("format"); f != "" && f != "text" && f != "json" {
			return cli.Exit(fmt.Sprintf("carepath %s: --format %q: want text or json", commandPath(ctx), f), ExitInvalid)
		}
		s, err := c.open(ctx, false)
		if err != nil {
			return err
		}
		defer s.close()
		if err := fn(ctx, identity.NewSQLStore(s.db)); err != nil {
			if code := failure.CodeOf(err); code == failure.Invalid || code == failure.NotFound || code == failure.Conflict {
				return cli.Exit(fmt.Sprintf("carepath %s: refused; nothing was changed: %v", commandPath(ctx), err), ExitInvalid)
			}
			return refused(err)
		}
		return nil
	}
}

// singleArg checks that a command was given exactly one argument, named what.
func singleArg(ctx *cli.Context, what string) (string, error) {
	if ctx.NArg() != 1 {
		return "", cli.Exit(fmt.Sprintf("carepath %s: give one %s", commandPath(ctx), what), ExitInvalid)
	}
	return ctx.Args().First(), nil
}

// parseRoles reads --role, comma-separated or repeated.
func parseRoles(ctx *cli.Context) ([]identity.Role, error) {
	return identity.ParseRoles(strings.Join(ctx.StringSlice("role"), ","))
}

// teamsOf reads --team, comma-separated or repeated; an empty value gives no team.
func teamsOf(ctx *cli.Context) []string {
	out := []string{}
	for _, t := range ctx.StringSlice("team") {
		for part := range strings.SplitSeq(t, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// readPassword reads a password from standard input: without echo after a prompt when it is a
// terminal, otherwise its first line. A password is never taken from a flag, where it would land
// in shell history and process lists.
func (c *commands) readPassword(username string) (string, error) {
	if f, ok := c.io.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(c.io.Stderr, "password for %s (at least %d characters): ", username, identity.MinPasswordLength)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.io.Stderr)
		if err != nil {
			return "", fmt.Errorf("unable to read the password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(io.LimitReader(c.io.Stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("unable to read the password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", failure.Errorf(failure.Invalid, "password: standard input held no password")
	}
	return line, nil
}

func (c *commands) usersCommand() *cli.Command {
	return &cli.Command{
		Name:  "users",
		Usage: "local accounts: who may sign in, with which roles, in which teams",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add an account; without --password-stdin it has no password and signs in with API tokens only",
				ArgsUsage: "USERNAME",
				Flags: []cli.Flag{
					roleFlag(),
					&cli.StringSliceFlag{Name: "team", Usage: "teams, comma-separated or repeated (add them first with carepath teams add)"},
					&cli.StringFlag{Name: "name", Usage: "the person's full name (default: the username)"},
					&cli.StringFlag{Name: "practitioner", Usage: "the practitioner id this person works as"},
					&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input (never from a flag)"},
				},
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					username, err := singleArg(ctx, "USERNAME")
					if err != nil {
						return err
					}
					roles, err := parseRoles(ctx)
					if err != nil {
						return err
					}
					nu := identity.NewUser{Username: username, Name: ctx.String("name"), Roles: roles, Teams: teamsOf(ctx), Practitioner: strings.TrimSpace(ctx.String("practitioner"))}
					if ctx.Bool("password-stdin") {
						if nu.Password, err = c.readPassword(username); err != nil {
							return err
						}
					}
					u, err := store.AddUser(ctx.Context, nu, c.now())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "added user %s (%s): roles %s; teams %s; %s\n", u.Username, u.ID, joinRoles(u.Roles), listOrDash(u.Teams), passwordNote(u))
					return nil
				}),
			},
			{
				Name:  "list",
				Usage: "list the accounts",
				Flags: []cli.Flag{formatFlag()},
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					users, err := store.Users(ctx.Context)
					if err != nil {
						return err
					}
					if ctx.String("format") == "json" {
						if users == nil {
							users = []identity.User{}
						}
						return c.printJSON(users)
					}
					w := tabwriter.NewWriter(c.io.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "USERNAME\tNAME\tROLES\tTEAMS\tSIGN-IN\tSTATUS")
					for _, u := range users {
						status := "active"
						if u.Disabled {
							status = "disabled"
						}
						if u.Demo {
							status += ", demo"
						}
						signIn := "password, tokens"
						if !u.HasPassword {
							signIn = "tokens only"
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.Name, joinRoles(u.Roles), listOrDash(u.Teams), signIn, status)
					}
					return w.Flush()
				}),
			},
			{
				Name:      "disable",
				Usage:     "stop an account signing in, revoking its API tokens and sessions",
				ArgsUsage: "USERNAME",
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					username, err := singleArg(ctx, "USERNAME")
					if err != nil {
						return err
					}
					if err := store.Disable(ctx.Context, username, c.now()); err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "disabled user %s; its API tokens and sessions are revoked (running servers stop accepting them within %s)\n",
						strings.ToLower(strings.TrimSpace(username)), identity.DefaultCacheTTL)
					return nil
				}),
			},
			{
				Name:      "set-roles",
				Usage:     "replace an account's roles and, with --team, its teams",
				ArgsUsage: "USERNAME",
				Flags: []cli.Flag{
					roleFlag(),
					&cli.StringSliceFlag{Name: "team", Usage: "teams, comma-separated or repeated; --team '' leaves the account in no team"},
				},
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					username, err := singleArg(ctx, "USERNAME")
					if err != nil {
						return err
					}
					roles, err := parseRoles(ctx)
					if err != nil {
						return err
					}
					var teams []string
					if ctx.IsSet("team") {
						teams = teamsOf(ctx)
					}
					u, err := store.SetRoles(ctx.Context, username, roles, teams)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "user %s: roles %s; teams %s\n", u.Username, joinRoles(u.Roles), listOrDash(u.Teams))
					return nil
				}),
			},
			{
				Name:      "passwd",
				Usage:     "set an account's password, read from standard input; clears a lockout",
				ArgsUsage: "USERNAME",
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					username, err := singleArg(ctx, "USERNAME")
					if err != nil {
						return err
					}
					if _, err := store.User(ctx.Context, username); err != nil {
						return err
					}
					password, err := c.readPassword(username)
					if err != nil {
						return err
					}
					if err := store.SetPassword(ctx.Context, username, password); err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "set the password of %s\n", strings.ToLower(strings.TrimSpace(username)))
					return nil
				}),
			},
		},
	}
}

func (c *commands) teamsCommand() *cli.Command {
	return &cli.Command{
		Name:  "teams",
		Usage: "teams, which own services and practitioners and whose members read their decisions",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a team",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "name", Usage: "the team's name (default: its id)"}},
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					id, err := singleArg(ctx, "team ID")
					if err != nil {
						return err
					}
					t, err := store.AddTeam(ctx.Context, id, ctx.String("name"), c.now())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "added team %s (%s)\n", t.ID, t.Name)
					return nil
				}),
			},
			{
				Name:  "list",
				Usage: "list the teams",
				Flags: []cli.Flag{formatFlag()},
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					teams, err := store.Teams(ctx.Context)
					if err != nil {
						return err
					}
					if ctx.String("format") == "json" {
						if teams == nil {
							teams = []identity.Team{}
						}
						return c.printJSON(teams)
					}
					w := tabwriter.NewWriter(c.io.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "ID\tNAME")
					for _, t := range teams {
						fmt.Fprintf(w, "%s\t%s\n", t.ID, t.Name)
					}
					return w.Flush()
				}),
			},
		},
	}
}

func (c *commands) tokensCommand() *cli.Command {
	return &cli.Command{
		Name:  "tokens",
		Usage: "API tokens for systems that submit assessments, and for --server",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "make a token for a user; the secret is printed once, on standard output, and stored only as a hash",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "user", Required: true, Usage: "the username the token acts as, with that user's roles"},
					&cli.StringFlag{Name: "name", Usage: "what the token is for, such as the system using it"},
					&cli.StringFlag{Name: "expires", Required: true, Usage: "a number of days such as 90d, a date YYYY-MM-DD (the start of that day, UTC) or an RFC 3339 time; at most 366 days ahead"},
				},
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					if ctx.NArg() != 0 {
						return cli.Exit("carepath tokens create: takes no arguments; name the user with --user", ExitInvalid)
					}
					now := c.now()
					expires, err := parseExpiry(ctx.String("expires"), now)
					if err != nil {
						return err
					}
					secret, t, err := store.CreateToken(ctx.Context, ctx.String("user"), ctx.String("name"), expires, now)
					if err != nil {
						return err
					}
					fmt.Fprintln(c.io.Stdout, secret)
					fmt.Fprintf(c.io.Stderr, "token %s for user %s, expires %s: the secret above is shown once and stored only as a hash; keep it like a password\n",
						t.ID, t.User, t.ExpiresAt.UTC().Format(time.RFC3339))
					return nil
				}),
			},
			{
				Name:  "list",
				Usage: "list the tokens (never their secrets)",
				Flags: []cli.Flag{&cli.StringFlag{Name: "user", Usage: "only this user's tokens"}, formatFlag()},
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					if u := ctx.String("user"); u != "" {
						if _, err := store.User(ctx.Context, u); err != nil {
							return err
						}
					}
					tokens, err := store.Tokens(ctx.Context, ctx.String("user"))
					if err != nil {
						return err
					}
					if ctx.String("format") == "json" {
						if tokens == nil {
							tokens = []identity.Token{}
						}
						return c.printJSON(tokens)
					}
					now := c.now()
					w := tabwriter.NewWriter(c.io.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "ID\tUSER\tNAME\tCREATED\tEXPIRES\tSTATUS\tLAST USED")
					for _, t := range tokens {
						status := "active"
						switch {
						case t.RevokedAt != nil:
							status = "revoked"
						case !now.Before(t.ExpiresAt):
							status = "expired"
						}
						used := "never"
						if t.LastUsedAt != nil {
							used = t.LastUsedAt.UTC().Format(time.RFC3339)
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Name, t.CreatedAt.UTC().Format(time.RFC3339),
							t.ExpiresAt.UTC().Format(time.RFC3339), status, used)
					}
					return w.Flush()
				}),
			},
			{
				Name:      "revoke",
				Usage:     "revoke a token by id",
				ArgsUsage: "ID",
				Action: c.withIdentity(func(ctx *cli.Context, store *identity.SQLStore) error {
					id, err := singleArg(ctx, "token ID")
					if err != nil {
						return err
					}
					if err := store.RevokeToken(ctx.Context, id, c.now()); err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "revoked token %s (running servers stop accepting it within %s)\n", id, identity.DefaultCacheTTL)
					return nil
				}),
			},
		},
	}
}

var daysPattern = regexp.MustCompile(`^([0-9]{1,4})d$`)

// parseExpiry reads --expires: a number of days from now (90d) or a date (the start of that day,
// UTC).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := daysPattern.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n < 1 {
			return time.Time{}, failure.Errorf(failure.Invalid, "expires %q: at least 1 day", s)
		}
		return now.Add(time.Duration(n) * 24 * time.Hour), nil
	}
	if t, err := parseWhen(s, false); err == nil && s != "" {
		return t, nil
	}
	return time.Time{}, failure.Errorf(failure.Invalid, "expires %q: want a number of days such as 90d, a date YYYY-MM-DD or an RFC 3339 time", s)
}

func joinRoles(rs []identity.Role) string { return strings.Join(identity.RoleNames(rs), ",") }

func listOrDash(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	return strings.Join(ss, ",")
}

func passwordNote(u identity.User) string {
	if u.HasPassword {
		return "signs in with a password or API tokens"
	}
	return "no password: API tokens only (carepath tokens create), or a password later with carepath users passwd"
}

// printDemoAccounts prints the demo accounts' credentials on standard error, when the database
// holds any, in a block no one can mistake for production credentials.
func (c *commands) printDemoAccounts(ctx *cli.Context, s *services) error {
	accounts, err := fixtures.StoredDemoAccounts(ctx.Context, identity.NewSQLStore(s.db), c.now())
	if err != nil || len(accounts) == 0 {
		return err
	}
	w := tabwriter.NewWriter(c.io.Stderr, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "================ DEMO ACCOUNTS — demo data only, never use in production ================")
	fmt.Fprintf(w, "password of each: %s    API use: Authorization: Bearer TOKEN\n", fixtures.DemoPassword)
	fmt.Fprintln(w, "USERNAME\tROLES\tTEAMS\tPASSWORD\tAPI TOKEN")
	for _, a := range accounts {
		password, token := a.Password, a.Token
		if password == "" {
			password = "(none)"
		}
		if token == "" {
			token = "(revoked, expired or disabled)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Username, joinRoles(a.Roles), listOrDash(a.Teams), password, token)
	}
	fmt.Fprintln(w, "==========================================================================================")
	return w.Flush()
}
