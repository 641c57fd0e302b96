package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"golang.org/x/oauth2"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/identity/oidctest"
)

// startProvider runs an OpenID provider on loopback with its own freshly made signing key.
func startProvider(t testing.TB) *mockoidc.MockOIDC { return oidctest.Start(t) }

// person is a user of the test provider with the claims Carepath reads.
type person struct {
	sub, name    string
	roles, teams []string
	// rolesInUserinfoOnly leaves roles and teams out of the ID token, as some providers do.
	rolesInUserinfoOnly bool
	// dropNonce makes the provider issue an ID token without the nonce it was sent.
	dropNonce bool
}

type personClaims struct {
	*mockoidc.IDTokenClaims
	Name  string   `json:"name,omitempty"`
	Roles []string `json:"roles,omitempty"`
	Teams []string `json:"teams,omitempty"`
}

func (u *person) ID() string { return u.sub }

func (u *person) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": u.sub, "name": u.name, "roles": u.roles, "teams": u.teams})
}

func (u *person) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.dropNonce {
		base.Nonce = ""
	}
	c := &personClaims{IDTokenClaims: base, Name: u.name}
	if !u.rolesInUserinfoOnly {
		c.Roles, c.Teams = u.roles, u.teams
	}
	return c, nil
}

func nia() *person {
	return &person{sub: "u-nia", name: "Nia Clinician", roles: []string{"clinician"}, teams: []string{"north"}}
}

var niaPrincipal = &identity.Principal{Subject: "oidc:u-nia", Name: "Nia Clinician", Roles: []identity.Role{identity.Clinician},
	Teams: []string{"north"}, Method: identity.MethodOIDC}

func config(m *mockoidc.MockOIDC) identity.OIDCConfig {
	return identity.OIDCConfig{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		RedirectURL: "http://127.0.0.1/auth/oidc/callback", RolesClaim: "roles", TeamsClaim: "teams"}
}

func newOIDC(t testing.TB, cfg identity.OIDCConfig) *identity.OIDC {
	t.Helper()
	o, err := identity.NewOIDC(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// claims are a token's claims as the test provider would issue them for nia to Carepath.
func claims(m *mockoidc.MockOIDC) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": m.Issuer(), "sub": "u-nia", "aud": m.ClientID, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(), "name": "Nia Clinician", "roles": []string{"clinician"}, "teams": []string{"north"}}
}

func sign(t testing.TB, kp *mockoidc.Keypair, c jwt.MapClaims) string {
	t.Helper()
	s, err := kp.SignJWT(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func noRedirects() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authorize plays the browser at the provider: it follows authURL and returns the code and state
// the provider redirects back with.
func authorize(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	resp, err := noRedirects().Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

// providerIDToken has the provider issue an ID token for u through its own code flow, without
// Carepath's help, as a system calling the API would obtain one.
func providerIDToken(t *testing.T, m *mockoidc.MockOIDC, u mockoidc.User) string {
	t.Helper()
	m.QueueUser(u)
	c := oauth2.Config{ClientID: m.ClientID, ClientSecret: m.ClientSecret, RedirectURL: "http://127.0.0.1/cb", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: m.AuthorizationEndpoint(), TokenURL: m.TokenEndpoint()}}
	code, _ := authorize(t, c.AuthCodeURL("state"))
	tok, err := c.Exchange(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("the provider returned no ID token")
	}
	return raw
}

func wantCode(t *testing.T, err error, code failure.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := failure.CodeOf(err); got != code {
		t.Fatalf("got %s (%v), want %s", got, err, code)
	}
}

func TestOIDCBearer(t *testing.T) {
	m := startProvider(t)
	o := newOIDC(t, config(m))
	ctx := context.Background()

	t.Run("a token the provider issued", func(t *testing.T) {
		p, err := o.VerifyBearer(ctx, providerIDToken(t, m, nia()))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, niaPrincipal) {
			t.Fatalf("got %+v, want %+v", p, niaPrincipal)
		}
	})

	// The second provider has its own key; its client id is Carepath's, so that only the issuer
	// and the key tell its tokens apart.
	other := startProvider(t)
	valid := sign(t, m.Keypair, claims(m))
	header, payload, sig := splitJWT(t, valid)

	refused := []struct {
		name  string
		token string
	}{
		{"wrong audience", sign(t, m.Keypair, with(claims(m), "aud", "another-app"))},
		{"expired", sign(t, m.Keypair, with(with(claims(m), "exp", time.Now().Add(-time.Minute).Unix()), "iat", time.Now().Add(-time.Hour).Unix()))},
		{"not yet valid", sign(t, m.Keypair, with(claims(m), "nbf", time.Now().Add(time.Hour).Unix()))},
		{"another issuer", sign(t, m.Keypair, with(claims(m), "iss", other.Issuer()))},
		{"claims changed after signing", header + "." + encodeClaims(t, with(claims(m), "roles", []string{"admin"})) + "." + sig},
		{"signature altered", header + "." + payload + "." + flipByte(t, sig)},
		{"no signature", header + "." + payload + "."},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payload + "."},
		{"from a second provider", sign(t, other.Keypair, with(claims(m), "iss", other.Issuer()))},
		{"second provider's key claiming the first's issuer", sign(t, other.Keypair, claims(m))},
		{"no subject", sign(t, m.Keypair, with(claims(m), "sub", ""))},
		{"not a JWT", "cpx_not-a-jwt"},
		{"empty", ""},
		{"oversized", strings.Repeat("a", 20<<10)},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			p, err := o.VerifyBearer(ctx, tc.token)
			wantCode(t, err, failure.Unauthenticated)
			if p != nil {
				t.Fatalf("got principal %+v with the error", p)
			}
		})
	}
	t.Run("the valid token those were made from is accepted", func(t *testing.T) {
		p, err := o.VerifyBearer(ctx, valid)
		if err != nil || !reflect.DeepEqual(p, niaPrincipal) {
			t.Fatalf("got %+v, %v", p, err)
		}
	})

	forbidden := []struct {
		name  string
		token string
	}{
		{"no roles claim", sign(t, m.Keypair, without(claims(m), "roles"))},
		{"only roles Carepath does not know", sign(t, m.Keypair, with(claims(m), "roles", []string{"nurse", "visitor"}))},
		{"provider's own default user", providerIDToken(t, m, mockoidc.DefaultUser())},
	}
	for _, tc := range forbidden {
		t.Run(tc.name, func(t *testing.T) {
			p, err := o.VerifyBearer(ctx, tc.token)
			wantCode(t, err, failure.Forbidden)
			if p != nil || !strings.Contains(err.Error(), "holds no Carepath role") {
				t.Fatalf("got %+v, %v", p, err)
			}
		})
	}
}

// TestOIDCClaimMapping holds the role and team mapping to what each kind of provider sends.
func TestOIDCClaimMapping(t *testing.T) {
	m := startProvider(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		cfg        func(*identity.OIDCConfig)
		claims     map[string]any
		wantRoles  []identity.Role
		wantTeams  []string
		wantName   string
		wantForbid bool
	}{
		{
			name:      "role names used as they are when there is no map",
			claims:    map[string]any{"roles": []any{"clinician", "Coordinator", "nurse"}},
			wantRoles: []identity.Role{identity.Clinician, identity.Coordinator},
		},
		{
			name:      "a single string rather than a list",
			claims:    map[string]any{"roles": "analyst"},
			wantRoles: []identity.Role{identity.Analyst},
		},
		{
			name: "with a map, only mapped values count, even role names",
			cfg: func(c *identity.OIDCConfig) {
				c.RoleMap = map[string][]identity.Role{"Carepath.Admin": {identity.Admin}}
			},
			claims:    map[string]any{"roles": []any{"clinician", "Carepath.Admin"}},
			wantRoles: []identity.Role{identity.Admin},
		},
		{
			name: "Entra ID groups by object id",
			cfg: func(c *identity.OIDCConfig) {
				c.RolesClaim = "groups"
				c.RoleMap = map[string][]identity.Role{"2f1c7a52-6c1e-4a8e-9d0b-6b3f0c8e4a11": {identity.PolicyOfficer}}
			},
			claims:    map[string]any{"groups": []any{"2f1c7a52-6c1e-4a8e-9d0b-6b3f0c8e4a11", "99999999-0000-0000-0000-000000000000"}},
			wantRoles: []identity.Role{identity.PolicyOfficer},
		},
		{
			name: "Keycloak realm roles",
			cfg: func(c *identity.OIDCConfig) {
				c.RolesClaim = "realm_access.roles"
				c.TeamsClaim = "carepath_teams"
				c.RoleMap = map[string][]identity.Role{"carepath-coordinator": {identity.Coordinator}, "carepath-leads": {"Coordinator", identity.Analyst}}
			},
			claims: map[string]any{"realm_access": map[string]any{"roles": []any{"offline_access", "carepath-coordinator", "carepath-leads"}},
				"carepath_teams": []any{"south", "north", "south"}},
			wantRoles: []identity.Role{identity.Analyst, identity.Coordinator},
			wantTeams: []string{"north", "south"},
		},
		{
			name: "Keycloak client roles under a client id with dots",
			cfg: func(c *identity.OIDCConfig) {
				c.RolesClaim = "resource_access.carepath.example.roles"
			},
			claims:    map[string]any{"resource_access": map[string]any{"carepath.example": map[string]any{"roles": []any{"practitioner"}}}},
			wantRoles: []identity.Role{identity.Practitioner},
		},
		{
			name: "NHS CIS2 RBAC role codes and organisations",
			cfg: func(c *identity.OIDCConfig) {
				c.RolesClaim = "nhsid_nrbac_roles.role_code"
				c.TeamsClaim = "nhsid_nrbac_roles.org_code"
				c.RoleMap = map[string][]identity.Role{"S8000:G8000:R8001": {identity.Clinician}, "S8000:G8000:R8008": {identity.Coordinator}}
			},
			claims: map[string]any{"nhsid_nrbac_roles": []any{
				map[string]any{"person_roleid": "1", "org_code": "RX2", "role_code": "S8000:G8000:R8001"},
				map[string]any{"person_roleid": "2", "org_code": "RX1", "role_code": "S8000:G8000:R8008"},
				map[string]any{"person_roleid": "3", "org_code": "RX9", "role_code": "S0030:G0100:R0570"},
			}},
			wantRoles: []identity.Role{identity.Clinician, identity.Coordinator},
			wantTeams: []string{"RX1", "RX2", "RX9"},
		},
		{
			name: "a claim named with dots",
			cfg: func(c *identity.OIDCConfig) {
				c.RolesClaim = "http://schemas.example/claims/role"
			},
			claims:    map[string]any{"http://schemas.example/claims/role": []any{"admin"}},
			wantRoles: []identity.Role{identity.Admin},
		},
		{
			name:      "preferred_username when there is no name",
			claims:    map[string]any{"name": nil, "preferred_username": "nia.c", "roles": []any{"clinician"}},
			wantRoles: []identity.Role{identity.Clinician},
			wantName:  "nia.c",
		},
		{
			name:       "the roles claim is looked for only where configured",
			cfg:        func(c *identity.OIDCConfig) { c.RolesClaim = "groups" },
			claims:     map[string]any{"roles": []any{"clinician"}},
			wantForbid: true,
		},
		{
			name:       "numbers and objects are not roles",
			claims:     map[string]any{"roles": []any{1, map[string]any{"clinician": true}}},
			wantForbid: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(m)
			cfg.TeamsClaim = ""
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			o := newOIDC(t, cfg)
			c := without(claims(m), "roles", "teams")
			for k, v := range tc.claims {
				if v == nil {
					delete(c, k)
				} else {
					c[k] = v
				}
			}
			p, err := o.VerifyBearer(ctx, sign(t, m.Keypair, c))
			if tc.wantForbid {
				wantCode(t, err, failure.Forbidden)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantName := tc.wantName
			if wantName == "" {
				wantName = "Nia Clinician"
			}
			want := &identity.Principal{Subject: "oidc:u-nia", Name: wantName, Roles: tc.wantRoles, Teams: tc.wantTeams, Method: identity.MethodOIDC}
			if !reflect.DeepEqual(p, want) {
				t.Fatalf("got %+v, want %+v", p, want)
			}
		})
	}
}

// TestOIDCBearerRemembered holds the memory of verified tokens to each token's own expiry.
func TestOIDCBearerRemembered(t *testing.T) {
	m := startProvider(t)
	start := time.Now()
	now := start
	cfg := config(m)
	cfg.Now = func() time.Time { return now }
	o := newOIDC(t, cfg)
	ctx := context.Background()
	tests := []struct {
		name  string
		life  time.Duration // from start to the token's expiry
		after time.Duration // from start to the second use
		ok    bool
	}{
		{"again soon", 10 * time.Minute, 10 * time.Second, true},
		{"again after the memory lapses, still unexpired", 10 * time.Minute, 5 * time.Minute, true},
		{"expired before the memory would lapse", 30 * time.Second, 40 * time.Second, false},
		{"expired long since", 2 * time.Minute, 3 * time.Minute, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now = start
			tok := sign(t, m.Keypair, with(with(claims(m), "exp", start.Add(tc.life).Unix()), "jti", i))
			if _, err := o.VerifyBearer(ctx, tok); err != nil {
				t.Fatal(err)
			}
			now = start.Add(tc.after)
			p, err := o.VerifyBearer(ctx, tok)
			if tc.ok && (err != nil || !reflect.DeepEqual(p, niaPrincipal)) {
				t.Fatalf("got %+v, %v", p, err)
			}
			if !tc.ok {
				wantCode(t, err, failure.Unauthenticated)
			}
		})
	}
}

func TestOIDCAudience(t *testing.T) {
	m := startProvider(t)
	cfg := config(m)
	cfg.Audience = "api://carepath"
	o := newOIDC(t, cfg)
	if _, err := o.VerifyBearer(context.Background(), sign(t, m.Keypair, with(claims(m), "aud", []string{"other", "api://carepath"}))); err != nil {
		t.Fatalf("a token for the configured audience: %v", err)
	}
	_, err := o.VerifyBearer(context.Background(), sign(t, m.Keypair, claims(m)))
	wantCode(t, err, failure.Unauthenticated)
}

func TestNewOIDCRefuses(t *testing.T) {
	m := startProvider(t)
	tests := []struct {
		name string
		cfg  func(*identity.OIDCConfig)
		want string
	}{
		{"no issuer", func(c *identity.OIDCConfig) { c.Issuer = "" }, "issuer"},
		{"no client id", func(c *identity.OIDCConfig) { c.ClientID = "" }, "client id"},
		{"a role map naming no role", func(c *identity.OIDCConfig) {
			c.RoleMap = map[string][]identity.Role{"x": {identity.Admin, "superuser"}}
		}, `role map "x"`},
		{"an issuer the discovery document does not name", func(c *identity.OIDCConfig) { c.Issuer = m.Addr() + "/oidc/" }, "discovery"},
		{"no provider there", func(c *identity.OIDCConfig) { c.Issuer = m.Addr() + "/nothing" }, "discovery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(m)
			tc.cfg(&cfg)
			_, err := identity.NewOIDC(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestOIDCCodeFlow(t *testing.T) {
	m := startProvider(t)
	o := newOIDC(t, config(m))
	ctx := context.Background()

	// begin starts a sign-in as user and returns what the browser brings back.
	begin := func(t *testing.T, u mockoidc.User) (identity.Pending, string, string) {
		t.Helper()
		authURL, p, err := o.Begin()
		if err != nil {
			t.Fatal(err)
		}
		m.QueueUser(u)
		code, state := authorize(t, authURL)
		if code == "" || state != p.State {
			t.Fatalf("the provider sent back code %q state %q, want a code and %q", code, state, p.State)
		}
		return p, state, code
	}

	t.Run("the authorize URL carries PKCE, nonce and state", func(t *testing.T) {
		authURL, p, err := o.Begin()
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(authURL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if !strings.HasPrefix(authURL, m.AuthorizationEndpoint()+"?") || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") != oauth2.S256ChallengeFromVerifier(p.Verifier) || q.Get("nonce") != p.Nonce ||
			q.Get("state") != p.State || q.Get("response_type") != "code" || q.Get("redirect_uri") != "http://127.0.0.1/auth/oidc/callback" {
			t.Fatalf("authorize URL %s for %+v", authURL, p)
		}
		if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
			t.Fatalf("scope %q lacks openid", q.Get("scope"))
		}
		_, p2, _ := o.Begin()
		if p2.State == p.State || p2.Nonce == p.Nonce || p2.Verifier == p.Verifier {
			t.Fatalf("two sign-ins share a secret: %+v %+v", p, p2)
		}
	})

	t.Run("signs in, and the code cannot be used twice", func(t *testing.T) {
		p, state, code := begin(t, nia())
		got, err := o.Finish(ctx, p, state, code)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, niaPrincipal) {
			t.Fatalf("got %+v, want %+v", got, niaPrincipal)
		}
		_, err = o.Finish(ctx, p, state, code)
		wantCode(t, err, failure.Unauthenticated)
	})

	t.Run("a different state is refused before the code is spent", func(t *testing.T) {
		p, state, code := begin(t, nia())
		for _, bad := range []string{"", "x" + state, state[:len(state)-1]} {
			_, err := o.Finish(ctx, p, bad, code)
			wantCode(t, err, failure.Unauthenticated)
		}
		if _, err := o.Finish(ctx, p, state, code); err != nil {
			t.Fatalf("the right state after a wrong one: %v", err)
		}
	})

	t.Run("another sign-in's pending state is refused", func(t *testing.T) {
		_, state, code := begin(t, nia())
		_, other, err := o.Begin()
		if err != nil {
			t.Fatal(err)
		}
		_, err = o.Finish(ctx, other, state, code)
		wantCode(t, err, failure.Unauthenticated)
	})

	t.Run("the provider refuses a wrong PKCE verifier", func(t *testing.T) {
		p, state, code := begin(t, nia())
		p.Verifier = oauth2.GenerateVerifier()
		_, err := o.Finish(ctx, p, state, code)
		wantCode(t, err, failure.Unauthenticated)
	})

	t.Run("an ID token without the nonce is refused", func(t *testing.T) {
		u := nia()
		u.dropNonce = true
		p, state, code := begin(t, u)
		_, err := o.Finish(ctx, p, state, code)
		wantCode(t, err, failure.Unauthenticated)
	})

	t.Run("an ID token with another sign-in's nonce is refused", func(t *testing.T) {
		p, state, code := begin(t, nia())
		p.Nonce = "another-nonce"
		_, err := o.Finish(ctx, p, state, code)
		wantCode(t, err, failure.Unauthenticated)
	})

	t.Run("nothing pending", func(t *testing.T) {
		_, err := o.Finish(ctx, identity.Pending{}, "", "code")
		wantCode(t, err, failure.Unauthenticated)
	})

	t.Run("no code", func(t *testing.T) {
		_, p, err := o.Begin()
		if err != nil {
			t.Fatal(err)
		}
		_, err = o.Finish(ctx, p, p.State, "")
		wantCode(t, err, failure.Unauthenticated)
	})

	t.Run("roles the provider gives only in userinfo", func(t *testing.T) {
		u := nia()
		u.rolesInUserinfoOnly = true
		p, state, code := begin(t, u)
		got, err := o.Finish(ctx, p, state, code)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, niaPrincipal) {
			t.Fatalf("got %+v, want %+v", got, niaPrincipal)
		}
	})

	t.Run("a person with no Carepath role", func(t *testing.T) {
		p, state, code := begin(t, &person{sub: "u-visitor", name: "Visitor", roles: []string{"staff"}})
		_, err := o.Finish(ctx, p, state, code)
		wantCode(t, err, failure.Forbidden)
	})

	t.Run("no redirect URL configured", func(t *testing.T) {
		cfg := config(m)
		cfg.RedirectURL = ""
		_, _, err := newOIDC(t, cfg).Begin()
		wantCode(t, err, failure.Unavailable)
	})
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	return c
}

func without(c jwt.MapClaims, keys ...string) jwt.MapClaims {
	for _, k := range keys {
		delete(c, k)
	}
	return c
}

func splitJWT(t *testing.T, s string) (header, payload, sig string) {
	t.Helper()
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWT", s)
	}
	return parts[0], parts[1], parts[2]
}

func encodeClaims(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// flipByte changes one byte in the middle of a base64url signature.
func flipByte(t *testing.T, sig string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(b)
}

// BenchmarkOIDCVerifyBearer measures checking a provider's JWT that the API has seen before, as
// with a system sending its token with every request.
func BenchmarkOIDCVerifyBearer(b *testing.B) {
	m := startProvider(b)
	o := newOIDC(b, config(m))
	tok := sign(b, m.Keypair, claims(m))
	ctx := context.Background()
	if _, err := o.VerifyBearer(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.VerifyBearer(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
