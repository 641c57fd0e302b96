// Package identity says who is acting and what they may do: users, teams and roles, the one
// policy table that maps every permission to the roles holding it, authentication by password,
// API token, web session or OpenID Connect, and the principal carried in a request's context.
package identity

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/carepath/carepath/failure"
)

// Role is a job a person does with Carepath; a user may hold several.
type Role string

// The roles; see Policy for what each may do.
const (
	Clinician     Role = "clinician"      // submits assessments, reads the decisions of their teams
	Coordinator   Role = "coordinator"    // the team's worklist: allocation, reassign, cancel, move
	Practitioner  Role = "practitioner"   // their own visits and the decisions behind them
	PolicyOfficer Role = "policy_officer" // drafts, reviews, approves and activates rule sets
	Analyst       Role = "analyst"        // replay, reports and impact previews over pseudonymised data
	Admin         Role = "admin"          // users, teams, services directory, practitioners, gazetteer, forms
)

// Roles lists every role in a fixed order.
var Roles = []Role{Clinician, Coordinator, Practitioner, PolicyOfficer, Analyst, Admin}

// ParseRole returns the role named s, or an invalid error naming the roles there are.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(strings.ToLower(s)))
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", failure.Errorf(failure.Invalid, "role %q: want one of %s", s, roleList())
}

// ParseRoles parses a comma-separated list of roles, sorted and without repeats.
func ParseRoles(s string) ([]Role, error) {
	var out []Role
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		r, err := ParseRole(part)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}

// RoleNames returns the roles' names, in the same order, as the audit trail and listings write them.
func RoleNames(rs []Role) []string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = string(r)
	}
	return names
}

func roleList() string { return strings.Join(RoleNames(Roles), ", ") }

// Permission is what a route or command needs; Policy says which roles hold it.
type Permission string

// The permissions. Public and SignedIn are held without a role; every other one is granted only
// by Policy.
const (
	Public             Permission = "public"              // anyone, signed in or not: health checks and signing in
	SignedIn           Permission = "signed_in"           // anyone signed in: forms, pathways, the services directory
	SubmitAssessment   Permission = "assessment.submit"   // decide and store an assessment
	ReadDecision       Permission = "decision.read"       // a stored decision: own team, own visit, or break the glass
	ManageAppointments Permission = "appointment.manage"  // cancel, move, reassign
	ReadDay            Permission = "day.read"            // a practitioner's day: one's own, or one's team's
	PlanRoutes         Permission = "routing.plan"        // a day's visits across practitioners, re-optimisation
	ReadRules          Permission = "rules.read"          // rule sets, versions, tests, diffs, history
	WriteRules         Permission = "rules.write"         // drafts, review, approval, activation, shadow runs
	PreviewImpact      Permission = "rules.impact"        // impact previews and shadow reports (pseudonymised)
	RunReplay          Permission = "replay.run"          // replay and exports (pseudonymised)
	ImportCases        Permission = "cases.import"        // bulk import of historic cases
	ReadPractitioners  Permission = "practitioners.read"  // the practitioner roster
	WritePractitioners Permission = "practitioners.write" // import and change the roster
	WriteDirectory     Permission = "directory.write"     // import services, gazetteer, forms and demo data
	ManageUsers        Permission = "users.manage"        // users, teams, API tokens
	ReadAudit          Permission = "audit.read"          // the access audit and its verification
	ReadMetrics        Permission = "metrics.read"        // Prometheus metrics
)

// Policy is the one table of who may do what; every route and command names one of its keys.
// The README prints it, and a test holds the router to it.
var Policy = map[Permission][]Role{
	SubmitAssessment:   {Clinician},
	ReadDecision:       {Clinician, Coordinator, Practitioner},
	ManageAppointments: {Coordinator},
	ReadDay:            {Coordinator, Practitioner},
	PlanRoutes:         {Coordinator},
	ReadRules:          {PolicyOfficer, Analyst},
	WriteRules:         {PolicyOfficer},
	PreviewImpact:      {PolicyOfficer, Analyst},
	RunReplay:          {PolicyOfficer, Analyst},
	ImportCases:        {Admin},
	ReadPractitioners:  {Coordinator, Admin},
	WritePractitioners: {Admin},
	WriteDirectory:     {Admin},
	ManageUsers:        {Admin},
	ReadAudit:          {Admin},
	ReadMetrics:        {Admin},
}

// Permissions lists every permission in a fixed order, Public and SignedIn first.
func Permissions() []Permission {
	out := []Permission{Public, SignedIn}
	var rest []Permission
	for p := range Policy {
		rest = append(rest, p)
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// Grants reports whether holding role gives permission p.
func Grants(role Role, p Permission) bool {
	if p == Public || p == SignedIn {
		return true
	}
	return slices.Contains(Policy[p], role)
}

// Method says how a principal proved who they are.
type Method string

// The ways of signing in.
const (
	MethodPassword Method = "password" // a web session opened with a local password
	MethodOIDC     Method = "oidc"     // a web session or bearer token from the OpenID provider
	MethodToken    Method = "token"    // a Carepath API token
	MethodLocal    Method = "local"    // the operating-system account of a CLI user on the database host
	MethodSystem   Method = "system"   // Carepath itself, such as the demo loader
)

// Principal is an authenticated person or system: who, with which roles, in which teams.
type Principal struct {
	// Subject is stable and unique: a local user's id, "oidc:" and the provider's subject,
	// "local:" and an operating-system account name, or "system:" and a name. The two-person
	// rule and the audit trails compare subjects, never names.
	Subject      string   `json:"subject"`
	Name         string   `json:"name"`
	Roles        []Role   `json:"roles"`
	Teams        []string `json:"teams,omitempty"`
	Practitioner string   `json:"practitioner,omitempty"` // the practitioner id this person works as, if any
	Method       Method   `json:"method"`
	TokenID      string   `json:"token_id,omitempty"` // the API token used, if any
	Demo         bool     `json:"demo,omitempty"`     // a demo account, loaded only with the demo data
}

// Has reports whether the principal holds role r.
func (p *Principal) Has(r Role) bool { return p != nil && slices.Contains(p.Roles, r) }

// Can reports whether the principal holds permission perm through any of its roles.
func (p *Principal) Can(perm Permission) bool {
	if perm == Public {
		return true
	}
	if p == nil {
		return false
	}
	if perm == SignedIn {
		return true
	}
	for _, r := range p.Roles {
		if Grants(r, perm) {
			return true
		}
	}
	return false
}

// InTeam reports whether the principal belongs to team.
func (p *Principal) InTeam(team string) bool {
	return p != nil && team != "" && slices.Contains(p.Teams, team)
}

// Team is the principal's first team, where a record is filed when it belongs to one team.
func (p *Principal) Team() string {
	if p == nil || len(p.Teams) == 0 {
		return ""
	}
	return p.Teams[0]
}

// Authorize returns nil when the principal holds perm, an unauthenticated error when nobody is
// signed in, and a forbidden error naming the permission otherwise.
func Authorize(p *Principal, perm Permission) error {
	if p.Can(perm) {
		return nil
	}
	if p == nil {
		return failure.Errorf(failure.Unauthenticated, "sign in first: this needs %s", perm)
	}
	return failure.Errorf(failure.Forbidden, "%s may not do this: it needs the permission %s, held by %s", p.Subject, perm, holders(perm))
}

func holders(perm Permission) string {
	rs := Policy[perm]
	if len(rs) == 0 {
		return "no role"
	}
	return "the role " + strings.Join(RoleNames(rs), " or ")
}

// Local is the principal of a CLI user acting on a database they can open directly: whoever can
// open the database files or hold its connection string can already read and change everything in
// it, so the account holds every role, and is recorded as local:NAME.
func Local(account string) *Principal {
	return &Principal{Subject: "local:" + account, Name: account + " (local account)", Roles: slices.Clone(Roles), Method: MethodLocal}
}

// System is a principal for Carepath's own actions, such as loading the demo data.
func System(name string) *Principal {
	return &Principal{Subject: "system:" + name, Name: name + " (system)", Method: MethodSystem}
}

// DemoLoader is the identity the demo loader records its rule-set versions under.
var DemoLoader = System("demo")

type contextKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// FromContext returns the principal the context carries, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(contextKey{}).(*Principal)
	return p
}

// String names the principal for logs: the subject only, never personal details.
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	return fmt.Sprintf("%s (%s)", p.Subject, p.Method)
}
