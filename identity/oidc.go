package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/carepath/carepath/failure"
)

// DefaultRolesClaim is the claim roles are read from when OIDCConfig.RolesClaim is empty: the
// name Entra ID gives application roles.
const DefaultRolesClaim = "roles"

// A verified bearer JWT is remembered, so that a system sending the same token with every request
// pays for the signature check once: for at most bearerCacheTTL, never past the token's expiry,
// and for at most bearerCacheSize tokens at once.
const (
	bearerCacheTTL  = time.Minute
	bearerCacheSize = 10000
)

// maxBearerJWT bounds the bearer JWTs parsed, so that an oversized header cannot make the server
// decode megabytes of base64 before refusing it.
const maxBearerJWT = 16 << 10

// OIDCConfig says how to reach the council's or trust's OpenID provider and how its claims become
// Carepath roles and teams.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is read from
	// Issuer + "/.well-known/openid-configuration" and must name the same issuer.
	Issuer string
	// ClientID and ClientSecret are Carepath's registration with the provider; the secret may be
	// empty for a public client, which PKCE still protects.
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back: Carepath's /auth/oidc/callback.
	RedirectURL string
	// Scopes are requested at sign-in; "openid" is always added. Empty means openid, profile and
	// email.
	Scopes []string
	// RolesClaim names the claim holding the person's roles or groups, such as "roles" or
	// "groups". Dots walk into objects and across arrays: "realm_access.roles" for Keycloak,
	// "nhsid_nrbac_roles.role_code" for NHS CIS2. A claim whose own name contains dots is found
	// too. Empty means DefaultRolesClaim.
	RolesClaim string
	// TeamsClaim names the claim holding the person's Carepath team ids, read as RolesClaim is;
	// empty means the principal has no team.
	TeamsClaim string
	// RoleMap maps a provider value (an app role, group name or id, CIS2 role code) to the
	// Carepath roles it grants; values not in the map are ignored. When empty, a value that is a
	// Carepath role name maps to that role.
	RoleMap map[string][]Role
	// Audience is the aud an API bearer JWT must carry; empty means ClientID.
	Audience string
	// HTTPClient reaches the provider; nil means a client with a ten-second timeout.
	HTTPClient *http.Client
	// Now is the clock tokens' expiry is judged by; nil means the system clock.
	Now func() time.Time
}

// OIDC signs people in through an OpenID provider: the authorization-code flow with PKCE for the
// pages, and JWT bearer validation for the API. It is safe for concurrent use.
type OIDC struct {
	cfg      OIDCConfig
	provider *oidc.Provider
	oauth    oauth2.Config
	idTokens *oidc.IDTokenVerifier // ID tokens from the code flow: aud is the client id
	bearers  *oidc.IDTokenVerifier // API bearer JWTs: aud is the configured audience

	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedBearer
}

type verifiedBearer struct {
	principal *Principal
	until     time.Time
}

var _ BearerVerifier = (*OIDC)(nil)

// NewOIDC checks cfg and reads the provider's discovery document.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if strings.TrimSpace(cfg.Issuer) == "" {
		return nil, failure.Errorf(failure.Invalid, "oidc issuer: required")
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, failure.Errorf(failure.Invalid, "oidc client id: required")
	}
	// A copy with each role in its canonical spelling, so that "Clinician" in a settings file grants
	// the role the policy table names, and later changes to the caller's map do not reach here.
	roleMap := make(map[string][]Role, len(cfg.RoleMap))
	for value, rs := range cfg.RoleMap {
		for _, r := range rs {
			parsed, err := ParseRole(string(r))
			if err != nil {
				return nil, failure.Errorf(failure.Invalid, "oidc role map %q: %w", value, err)
			}
			roleMap[value] = append(roleMap[value], parsed)
		}
	}
	cfg.RoleMap = roleMap
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = DefaultRolesClaim
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.ClientID
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	scopes := []string{oidc.ScopeOpenID}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"profile", "email"}
	}
	for _, s := range cfg.Scopes {
		if s != "" && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	cfg.Scopes = scopes

	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("identity: unable to read the OpenID provider's discovery document at %s: %w", cfg.Issuer, err)
	}
	o := &OIDC{
		cfg:      cfg,
		provider: provider,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Endpoint:     provider.Endpoint(),
			Scopes:       cfg.Scopes,
		},
		idTokens: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		bearers:  provider.Verifier(&oidc.Config{ClientID: cfg.Audience, Now: cfg.Now}),
	}
	return o, nil
}

// Issuer is the provider's issuer URL.
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

// RedirectURL is where the provider sends the browser back; empty means the pages cannot sign in
// through the provider, though the API still accepts its JWTs.
func (o *OIDC) RedirectURL() string { return o.cfg.RedirectURL }

// VerifyBearer checks a JWT from the provider (signature, issuer, audience, expiry) and returns
// the principal its claims describe.
func (o *OIDC) VerifyBearer(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" || len(raw) > maxBearerJWT {
		return nil, failure.Errorf(failure.Unauthenticated, "the bearer token is not valid: empty or too long")
	}
	key := sha256.Sum256([]byte(raw))
	now := o.cfg.Now()
	o.mu.Lock()
	v, ok := o.verified[key]
	o.mu.Unlock()
	if ok && now.Before(v.until) {
		return v.principal, nil
	}
	tok, err := o.bearers.Verify(o.clientContext(ctx), raw)
	if err != nil {
		return nil, failure.Errorf(failure.Unauthenticated, "the bearer token is not valid: %w", err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, failure.Errorf(failure.Unauthenticated, "the bearer token's claims are not valid: %w", err)
	}
	p, err := o.principal(tok.Subject, claims)
	if err != nil {
		return nil, err
	}
	until := now.Add(bearerCacheTTL)
	if tok.Expiry.Before(until) {
		until = tok.Expiry
	}
	o.remember(key, p, until, now)
	return p, nil
}

func (o *OIDC) remember(key [sha256.Size]byte, p *Principal, until, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verified == nil {
		o.verified = map[[sha256.Size]byte]verifiedBearer{}
	}
	if len(o.verified) >= bearerCacheSize {
		for k, v := range o.verified {
			if !now.Before(v.until) {
				delete(o.verified, k)
			}
		}
		if len(o.verified) >= bearerCacheSize {
			clear(o.verified)
		}
	}
	o.verified[key] = verifiedBearer{principal: p, until: until}
}

// Pending is what a browser's sign-in must present when the provider sends it back: the state
// that ties the callback to this browser, the nonce the ID token must carry and the PKCE code
// verifier. Keep it where only this browser can return it and nobody can read or change it.
type Pending struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

// Begin starts the authorization-code flow, returning the provider URL to send the browser to and
// what Finish will need.
func (o *OIDC) Begin() (string, Pending, error) {
	if o.cfg.RedirectURL == "" {
		return "", Pending{}, failure.Errorf(failure.Unavailable, "oidc redirect url: not set, so signing in through the provider is off")
	}
	state, err := randomString()
	if err != nil {
		return "", Pending{}, err
	}
	nonce, err := randomString()
	if err != nil {
		return "", Pending{}, err
	}
	p := Pending{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier()}
	url := o.oauth.AuthCodeURL(p.State, oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier))
	return url, p, nil
}

// Finish completes the flow Begin started: it checks the state the provider sent back, exchanges
// the code with the PKCE verifier, verifies the ID token and its nonce, and returns the principal.
func (o *OIDC) Finish(ctx context.Context, p Pending, gotState, code string) (*Principal, error) {
	if p.State == "" || p.Nonce == "" || p.Verifier == "" {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: no sign-in was started in this browser, or it has expired: start again")
	}
	if subtle.ConstantTimeCompare([]byte(p.State), []byte(gotState)) != 1 {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the state the provider sent back is not the one this browser started with: start again")
	}
	if code == "" {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the provider sent back no code")
	}
	ctx = o.clientContext(ctx)
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the provider refused the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the provider returned no ID token")
	}
	idt, err := o.idTokens.Verify(ctx, raw)
	if err != nil {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the ID token is not valid: %w", err)
	}
	// An ID token without our nonce may have been issued to another sign-in and injected here.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the ID token does not carry this sign-in's nonce")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the access token does not match the ID token: %w", err)
		}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, failure.Errorf(failure.Unauthenticated, "sign-in: the ID token's claims are not valid: %w", err)
	}
	if err := o.addUserinfo(ctx, tok, idt.Subject, claims); err != nil {
		return nil, err
	}
	return o.principal(idt.Subject, claims)
}

// addUserinfo fills in the roles and teams claims from the userinfo endpoint when the ID token
// leaves them out, as some providers do for large or optional claims (NHS CIS2 returns its RBAC
// roles there).
func (o *OIDC) addUserinfo(ctx context.Context, tok *oauth2.Token, subject string, claims map[string]any) error {
	need := len(claimValues(claims, o.cfg.RolesClaim)) == 0 ||
		(o.cfg.TeamsClaim != "" && len(claimValues(claims, o.cfg.TeamsClaim)) == 0)
	if !need || o.provider.UserInfoEndpoint() == "" {
		return nil
	}
	info, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return failure.Errorf(failure.Unauthenticated, "sign-in: unable to read the provider's userinfo: %w", err)
	}
	// The userinfo response is not signed; only its match with the verified ID token's subject
	// ties it to this person.
	if info.Subject != subject {
		return failure.Errorf(failure.Unauthenticated, "sign-in: the provider's userinfo names a different subject from the ID token")
	}
	var extra map[string]any
	if err := info.Claims(&extra); err != nil {
		return failure.Errorf(failure.Unauthenticated, "sign-in: the provider's userinfo is not valid: %w", err)
	}
	for k, v := range extra {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// principal maps verified claims to a principal. The subject is "oidc:" and the provider's sub:
// a deployment trusts one issuer, within which sub is unique and never reassigned, so the issuer
// adds nothing; putting it in would change every subject (breaking the two-person rule's history
// and the audit trail's continuity) when a council moves the same tenant to a new issuer URL.
func (o *OIDC) principal(sub string, claims map[string]any) (*Principal, error) {
	if sub == "" {
		return nil, failure.Errorf(failure.Unauthenticated, "the token names no subject (sub)")
	}
	p := &Principal{Subject: "oidc:" + sub, Method: MethodOIDC}
	for _, k := range []string{"name", "preferred_username", "email"} {
		if s, ok := claims[k].(string); ok && strings.TrimSpace(s) != "" {
			p.Name = strings.TrimSpace(s)
			break
		}
	}
	if p.Name == "" {
		p.Name = sub
	}
	for _, v := range claimValues(claims, o.cfg.RolesClaim) {
		for _, r := range o.roles(v) {
			if !slices.Contains(p.Roles, r) {
				p.Roles = append(p.Roles, r)
			}
		}
	}
	slices.Sort(p.Roles)
	if o.cfg.TeamsClaim != "" {
		for _, v := range claimValues(claims, o.cfg.TeamsClaim) {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(p.Teams, v) {
				p.Teams = append(p.Teams, v)
			}
		}
		slices.Sort(p.Teams)
	}
	if len(p.Roles) == 0 {
		return nil, failure.Errorf(failure.Forbidden, "%s: signed in but holds no Carepath role (the %s claim names none that maps to one)", p.Subject, o.cfg.RolesClaim)
	}
	return p, nil
}

func (o *OIDC) roles(v string) []Role {
	if len(o.cfg.RoleMap) > 0 {
		return o.cfg.RoleMap[v]
	}
	if r, err := ParseRole(v); err == nil {
		return []Role{r}
	}
	return nil
}

func (o *OIDC) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// claimValues returns the strings found at path in claims. Each dot steps into an object, and an
// array met on the way is walked element by element, so "nhsid_nrbac_roles.role_code" collects
// the role_code of every object in that array; at each step the longest run of segments that is
// itself a key wins, so a claim named with dots (a URL, or a Keycloak client id) is still found.
func claimValues(claims map[string]any, path string) []string {
	if path == "" {
		return nil
	}
	var out []string
	collect(claims, strings.Split(path, "."), &out)
	return out
}

func collect(v any, path []string, out *[]string) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			collect(e, path, out)
		}
	case map[string]any:
		for i := len(path); i >= 1; i-- {
			if next, ok := t[strings.Join(path[:i], ".")]; ok {
				collect(next, path[i:], out)
				return
			}
		}
	case string:
		if len(path) == 0 {
			*out = append(*out, t)
		}
	}
}

// randomString returns 256 random bits, base64url-encoded: the state and nonce of a sign-in.
func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("identity: unable to make a random value: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
