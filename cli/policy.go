package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/identity"
)

// commandPermissions is the command line's half of the policy table: every command that opens the
// database, by its full name, and the permission it needs. A command missing here cannot open the
// database at all (default deny), and a test fails for it. The README prints this table.
var commandPermissions = map[string]identity.Permission{
	"migrate":              identity.WriteDirectory, // schema changes come with a release, applied by an admin
	"serve":                identity.WriteDirectory, // it migrates and may load the demo data
	"fixtures load":        identity.WriteDirectory,
	"assess":               identity.SubmitAssessment,
	"forms list":           identity.SignedIn,
	"forms export":         identity.SignedIn,
	"rules diff":           identity.ReadRules, // only for stored ID:VERSION operands
	"rules history":        identity.ReadRules,
	"rules list":           identity.ReadRules,
	"rules show":           identity.ReadRules,
	"rules draft":          identity.WriteRules,
	"rules submit":         identity.WriteRules,
	"rules approve":        identity.WriteRules,
	"rules reject":         identity.WriteRules,
	"rules activate":       identity.WriteRules,
	"rules retire":         identity.WriteRules,
	"rules shadow start":   identity.WriteRules,
	"rules shadow stop":    identity.WriteRules,
	"rules shadow report":  identity.PreviewImpact,
	"rules why-not":        identity.ReadDecision,
	"cases import":         identity.ImportCases,
	"cases list":           identity.ReadDecision,
	"cases show":           identity.ReadDecision,
	"cases step":           identity.ManageAppointments,
	"outcomes":             identity.RunReplay,
	"replay":               identity.RunReplay,
	"directory import":     identity.WriteDirectory,
	"directory export":     identity.SignedIn,
	"gazetteer import":     identity.WriteDirectory,
	"practitioners import": identity.WritePractitioners,
	"oncall add":           identity.WritePractitioners,
	"oncall list":          identity.ReadPractitioners,
	"routing day":          identity.ReadDay,
	"routing cancel":       identity.ManageAppointments,
	"routing move":         identity.ManageAppointments,
	"routing reassign":     identity.ManageAppointments,
	"escalations list":     identity.ManageAppointments,
	"escalations resolve":  identity.ManageAppointments,
	"routing export":       identity.PlanRoutes,
	"routing optimise":     identity.PlanRoutes,
	"routing plan":         identity.PlanRoutes,
	"users add":            identity.ManageUsers,
	"users list":           identity.ManageUsers,
	"users disable":        identity.ManageUsers,
	"users set-roles":      identity.ManageUsers,
	"users passwd":         identity.ManageUsers,
	"teams add":            identity.ManageUsers,
	"teams list":           identity.ManageUsers,
	"tokens create":        identity.ManageUsers,
	"tokens list":          identity.ManageUsers,
	"tokens revoke":        identity.ManageUsers,
	"audit search":         identity.ReadAudit,
	"audit verify":         identity.ReadAudit,
	"subscriptions add":    identity.ManageUsers, // admins decide which systems receive personal data
	"subscriptions list":   identity.ManageUsers,
	"subscriptions remove": identity.ManageUsers,
	"events list":          identity.ManageUsers,
	"events retry":         identity.ManageUsers,
	"events replay":        identity.ManageUsers,
}

// offlineCommands work on files alone and never open the database, so they need no permission.
var offlineCommands = map[string]bool{
	"fixtures generate": true,
	"routing solve":     true, // benchmark instances from files
	"rules lint":        true,
	"rules test":        true,
	"config show":       true, // the settings, with secrets masked
	"version":           true,
	"completion":        true,
	"loadtest":          true, // sends HTTP requests to a server; never opens the database
}

// commandPath is a command's full name without the program's: "rules shadow start".
func commandPath(ctx *cli.Context) string {
	var names []string
	for _, l := range ctx.Lineage() {
		if l.Command != nil && l.Command.Name != "" {
			names = append(names, l.Command.Name)
		}
	}
	// The lineage runs from the command up to the application's own root command, named as the
	// application is.
	if len(names) > 0 && ctx.App != nil && names[len(names)-1] == ctx.App.Name {
		names = names[:len(names)-1]
	}
	slices.Reverse(names)
	return strings.Join(names, " ")
}

// principal is who a command acts as when it opens the database itself: the operating-system
// account, which can already read and change everything the database holds.
func (c *commands) principal() *identity.Principal {
	name := strings.TrimSpace(c.io.LocalAccount)
	if name == "" {
		name = "unknown"
	}
	return identity.Local(name)
}

// authorize is the one check of the command line's policy table, made before a command opens
// the database.
func (c *commands) authorize(ctx *cli.Context) error {
	name := commandPath(ctx)
	perm, ok := commandPermissions[name]
	if !ok {
		return fmt.Errorf("carepath %s: the command declares no permission, so it may not open the database", name)
	}
	return identity.Authorize(c.principal(), perm)
}

// policyMarkdown renders the command line's policy table for the README: command, permission,
// and the roles holding it.
func policyMarkdown() string {
	names := make([]string, 0, len(commandPermissions))
	for n := range commandPermissions {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("| command | permission | roles |\n| --- | --- | --- |\n")
	for _, n := range names {
		perm := commandPermissions[n]
		var roles string
		switch perm {
		case identity.Public:
			roles = "anyone"
		case identity.SignedIn:
			roles = "anyone signed in"
		default:
			rs := make([]string, len(identity.Policy[perm]))
			for i, r := range identity.Policy[perm] {
				rs[i] = "`" + string(r) + "`"
			}
			roles = strings.Join(rs, ", ")
		}
		fmt.Fprintf(&b, "| `carepath %s` | `%s` | %s |\n", n, perm, roles)
	}
	return b.String()
}
