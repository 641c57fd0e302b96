package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/identity/oidctest"
	"github.com/carepath/carepath/server"
)

// ssoUser is a user of the test provider with roles and teams in the ID token.
type ssoUser struct {
	sub, name    string
	roles, teams []string
}

type ssoClaims struct {
	*mockoidc.IDTokenClaims
	Name  string   `json:"name,omitempty"`
	Roles []string `json:"roles,omitempty"`
	Teams []string `json:"teams,omitempty"`
}

func (u *ssoUser) ID() string { return u.sub }

func (u *ssoUser) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": u.sub, "name": u.name, "roles": u.roles, "teams": u.teams})
}

func (u *ssoUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &ssoClaims{IDTokenClaims: base, Name: u.name, Roles: u.roles, Teams: u.teams}, nil
}

// ssoEnv is a Carepath server on loopback that signs people in through an OpenID provider that
// also runs on loopback.
type ssoEnv struct {
	*httptest.Server
	provider *mockoidc.MockOIDC
}

// startProvider runs the test OpenID provider on loopback with a key of its own.
func startProvider(t *testing.T) *mockoidc.MockOIDC { return oidctest.Start(t) }

func startSSO(t *testing.T, db *database.DB) *ssoEnv {
	t.Helper()
	m := startProvider(t)
	// The redirect URL names Carepath's own address, so the server listens before it is built.
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	o, err := identity.NewOIDC(context.Background(), identity.OIDCConfig{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		RedirectURL: srv.URL + "/auth/oidc/callback", RolesClaim: "roles", TeamsClaim: "teams"})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := server.SingleSignOn(o, []byte(strings.Repeat("k", server.MinCookieKey)))
	if err != nil {
		t.Fatal(err)
	}
	s := startEnv(t, db).api
	s.OIDCRoutes = routes
	s.Auth.JWT = o
	h = s.Handler()
	return &ssoEnv{Server: srv, provider: m}
}

// browser is an HTTP client that keeps cookies but follows no redirect by itself, so that each
// hop of the sign-in can be checked.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, rawURL string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// toProvider starts a sign-in in b as u and returns the callback URL the provider sends the
// browser back to, and the pending sign-in cookie.
func (e *ssoEnv) toProvider(t *testing.T, b *http.Client, u mockoidc.User) (string, *http.Cookie) {
	t.Helper()
	resp, _ := fetch(t, b, e.URL+"/auth/oidc/login", nil)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.provider.AuthorizationEndpoint()+"?") {
		t.Fatalf("login: %d to %q, want 302 to the provider", resp.StatusCode, resp.Header.Get("Location"))
	}
	pending := cookieNamed(resp, "carepath_oidc")
	if pending == nil {
		t.Fatal("login set no sign-in cookie")
	}
	e.provider.QueueUser(u)
	resp, _ = fetch(t, b, resp.Header.Get("Location"), nil)
	callback := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(callback, e.URL+"/auth/oidc/callback?") {
		t.Fatalf("provider: %d to %q, want 302 to the callback", resp.StatusCode, callback)
	}
	return callback, pending
}

func clinician() *ssoUser {
	return &ssoUser{sub: "u-nia", name: "Nia Clinician", roles: []string{"clinician"}, teams: []string{"central"}}
}

func TestSingleSignOnBrowser(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startSSO(t, db)
		b := browser(t)

		resp, _ := fetch(t, b, e.URL+"/v1/me", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("before signing in: %d, want 401", resp.StatusCode)
		}
		callback, pending := e.toProvider(t, b, clinician())
		if !pending.HttpOnly || pending.SameSite != http.SameSiteLaxMode || pending.Path != "/auth/oidc/" || pending.Secure || pending.MaxAge <= 0 || pending.MaxAge > 600 {
			t.Errorf("sign-in cookie %+v: want HttpOnly, SameSite=Lax, path /auth/oidc/, a short life, and not Secure without TLS", pending)
		}
		state, _ := url.Parse(callback)
		raw, _ := base64.RawURLEncoding.DecodeString(pending.Value)
		if strings.Contains(pending.Value, state.Query().Get("state")) || strings.Contains(string(raw), state.Query().Get("state")) {
			t.Error("the sign-in cookie shows its state in clear")
		}

		resp, body := fetch(t, b, callback, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("callback: %d to %q, want 303 to /: %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		session := cookieNamed(resp, "carepath_session")
		if session == nil || !session.HttpOnly || session.Value == "" {
			t.Fatalf("callback set session cookie %+v", session)
		}
		if c := cookieNamed(resp, "carepath_oidc"); c == nil || c.MaxAge >= 0 {
			t.Errorf("callback left the sign-in cookie: %+v", c)
		}

		resp, body = fetch(t, b, e.URL+"/", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Nia Clinician") {
			t.Errorf("home page after signing in: %d %s", resp.StatusCode, body)
		}
		resp, body = fetch(t, b, e.URL+"/v1/me", nil)
		var me identity.Principal
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &me) != nil {
			t.Fatalf("GET /v1/me: %d %s", resp.StatusCode, body)
		}
		want := identity.Principal{Subject: "oidc:u-nia", Name: "Nia Clinician", Roles: []identity.Role{identity.Clinician}, Teams: []string{"central"}, Method: identity.MethodOIDC}
		if !reflect.DeepEqual(me, want) {
			t.Errorf("GET /v1/me: %+v, want %+v", me, want)
		}
		if resp, body := fetch(t, b, e.URL+"/v1/forms", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /v1/forms signed in: %d %s", resp.StatusCode, body)
		}
		if resp, _ := fetch(t, b, e.URL+"/metrics", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /metrics as a clinician: %d, want 403", resp.StatusCode)
		}

		// The same code and cookie again, as someone who copied them would send them.
		replay := browser(t)
		u, _ := url.Parse(e.URL)
		replay.Jar.SetCookies(u, []*http.Cookie{{Name: pending.Name, Value: pending.Value, Path: "/auth/oidc/"}})
		resp, _ = fetch(t, replay, callback, nil)
		if resp.StatusCode != http.StatusUnauthorized || cookieNamed(resp, "carepath_session") != nil {
			t.Errorf("replayed callback: %d, session cookie %v; want 401 and none", resp.StatusCode, cookieNamed(resp, "carepath_session"))
		}
	})
}

func TestSingleSignOnRefuses(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startSSO(t, db)
		tests := []struct {
			name string
			// callback readies the browser and returns the callback URL it then visits.
			callback func(t *testing.T, b *http.Client) string
			status   int
		}{
			{"no sign-in started in this browser", func(t *testing.T, b *http.Client) string {
				callback, _ := e.toProvider(t, browser(t), clinician())
				return callback
			}, http.StatusUnauthorized},
			{"another browser's sign-in cookie", func(t *testing.T, b *http.Client) string {
				e.toProvider(t, b, clinician())
				callback, _ := e.toProvider(t, browser(t), clinician())
				return callback
			}, http.StatusUnauthorized},
			{"a changed sign-in cookie", func(t *testing.T, b *http.Client) string {
				callback, pending := e.toProvider(t, b, clinician())
				v := []byte(pending.Value)
				v[len(v)/2] ^= 0x02
				u, _ := url.Parse(e.URL)
				b.Jar.SetCookies(u, []*http.Cookie{{Name: pending.Name, Value: string(v), Path: "/auth/oidc/"}})
				return callback
			}, http.StatusUnauthorized},
			{"a different state", func(t *testing.T, b *http.Client) string {
				callback, _ := e.toProvider(t, b, clinician())
				u, _ := url.Parse(callback)
				q := u.Query()
				q.Set("state", q.Get("state")+"x")
				u.RawQuery = q.Encode()
				return u.String()
			}, http.StatusUnauthorized},
			{"the provider's error", func(t *testing.T, b *http.Client) string {
				callback, _ := e.toProvider(t, b, clinician())
				u, _ := url.Parse(callback)
				return e.URL + "/auth/oidc/callback?error=access_denied&state=" + url.QueryEscape(u.Query().Get("state"))
			}, http.StatusUnauthorized},
			{"a person with no Carepath role", func(t *testing.T, b *http.Client) string {
				callback, _ := e.toProvider(t, b, &ssoUser{sub: "u-visitor", name: "Visitor", roles: []string{"staff"}})
				return callback
			}, http.StatusForbidden},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := browser(t)
				resp, body := fetch(t, b, tc.callback(t, b), nil)
				if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("callback: %d %s, want %d and the sign-in page", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
				}
				if cookieNamed(resp, "carepath_session") != nil {
					t.Error("a refused sign-in set a session cookie")
				}
				if !strings.Contains(body, `action="/signin"`) {
					t.Errorf("the refusal does not offer the sign-in page: %s", body)
				}
				if resp, _ := fetch(t, b, e.URL+"/v1/me", nil); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("GET /v1/me after a refused sign-in: %d, want 401", resp.StatusCode)
				}
			})
		}
	})
}

func TestSingleSignOnBearer(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startSSO(t, db)
		m := e.provider
		token := func(roles ...string) string {
			now := time.Now()
			s, err := m.Keypair.SignJWT(jwt.MapClaims{"iss": m.Issuer(), "aud": m.ClientID, "sub": "u-sys", "name": "EPR interface",
				"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "roles": roles, "teams": []string{"central"}})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		// tamper raises a token's roles to admin, keeping the provider's signature.
		tamper := func(tok string) string {
			parts := strings.Split(tok, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var c map[string]any
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatal(err)
			}
			c["roles"] = []string{"admin"}
			payload, _ = json.Marshal(c)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		}
		b := &http.Client{Timeout: 10 * time.Second}
		bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

		resp, body := fetch(t, b, e.URL+"/v1/me", bearer(token("clinician")))
		var me identity.Principal
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &me) != nil || me.Subject != "oidc:u-sys" ||
			me.Method != identity.MethodOIDC || !reflect.DeepEqual(me.Roles, []identity.Role{identity.Clinician}) {
			t.Fatalf("GET /v1/me with the provider's JWT: %d %s", resp.StatusCode, body)
		}
		if cookieNamed(resp, "carepath_session") != nil {
			t.Error("a bearer request was given a session cookie")
		}
		tests := []struct {
			name   string
			path   string
			token  string
			status int
		}{
			{"role held", "/metrics", token("admin"), http.StatusOK},
			{"role not held", "/metrics", token("clinician"), http.StatusForbidden},
			{"no Carepath role", "/v1/me", token("staff"), http.StatusForbidden},
			{"roles raised after signing", "/metrics", tamper(token("clinician")), http.StatusUnauthorized},
			{"not a token at all", "/v1/me", "nonsense", http.StatusUnauthorized},
		}
		for _, tc := range tests {
			if resp, body := fetch(t, b, e.URL+tc.path, bearer(tc.token)); resp.StatusCode != tc.status {
				t.Errorf("%s: GET %s: %d %s, want %d", tc.name, tc.path, resp.StatusCode, body, tc.status)
			}
		}
	})
}

func TestSingleSignOnCookieIsSecureUnderTLS(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		m := startProvider(t)
		o, err := identity.NewOIDC(context.Background(), identity.OIDCConfig{Issuer: m.Issuer(), ClientID: m.ClientID,
			RedirectURL: "https://carepath.example/auth/oidc/callback"})
		if err != nil {
			t.Fatal(err)
		}
		routes, err := server.SingleSignOn(o, make([]byte, server.MinCookieKey))
		if err != nil {
			t.Fatal(err)
		}
		s := startEnv(t, db).api
		s.OIDCRoutes, s.TLS = routes, true
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "https://carepath.example/auth/oidc/login", nil))
		c := cookieNamed(&http.Response{Header: rec.Header()}, "carepath_oidc")
		if rec.Code != http.StatusFound || c == nil || !c.Secure || !c.HttpOnly {
			t.Fatalf("login under TLS: %d, cookie %+v; want 302 and a Secure HttpOnly cookie", rec.Code, c)
		}
	})
}

func TestSingleSignOnRefusesWeakSettings(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	cfg := identity.OIDCConfig{Issuer: m.Issuer(), ClientID: m.ClientID, RedirectURL: "http://127.0.0.1/auth/oidc/callback"}
	o, err := identity.NewOIDC(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.SingleSignOn(o, make([]byte, server.MinCookieKey-1)); err == nil || !strings.Contains(err.Error(), "cookie key") {
		t.Errorf("a short cookie key: %v", err)
	}
	cfg.RedirectURL = ""
	noRedirect, err := identity.NewOIDC(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.SingleSignOn(noRedirect, make([]byte, server.MinCookieKey)); err == nil || !strings.Contains(err.Error(), "redirect url") {
		t.Errorf("no redirect URL: %v", err)
	}
	if _, err := server.SingleSignOn(nil, make([]byte, server.MinCookieKey)); err == nil {
		t.Error("no provider: no error")
	}
}
