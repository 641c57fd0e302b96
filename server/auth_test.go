package server_test

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server"
	"github.com/carepath/carepath/triage"
)

// fill replaces a route pattern's wildcards with values that reach the handler.
func fill(pattern, practitioner string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "{$}")
	r := strings.NewReplacer("/practitioners/{id}", "/practitioners/"+practitioner, "{id}", "nope", "{version}", "1",
		"{action}", "submit", "{pathway}", "crisis-home-treatment")
	return method, r.Replace(path)
}

// permissionDenied reports whether a response is the policy's refusal, as opposed to a handler's
// own answer (not found, invalid, or a refusal for a relationship reason).
func permissionDenied(status int, body []byte) bool {
	return status == http.StatusForbidden && strings.Contains(string(body), "needs the permission")
}

// TestAuthorizationMatrix walks every route of the router with a user holding each single role,
// and anonymously: a role gets exactly what the policy table grants, and nobody unsigned gets
// anything but the public routes.
func TestAuthorizationMatrix(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		for _, role := range identity.Roles {
			e.user(t, "only-"+string(role), "central", "pwp-01", role)
		}
		routes := e.api.Routes()
		if len(routes) < 30 {
			t.Fatalf("the router lists %d routes; the test would prove little", len(routes))
		}
		seen := map[string]bool{}
		for _, rt := range routes {
			if seen[rt.Pattern] {
				t.Errorf("route %s registered twice", rt.Pattern)
			}
			seen[rt.Pattern] = true
			method, path := fill(rt.Pattern, "pwp-01")
			resp, body := do(t, method, e.URL+path, "", map[string]string{"Authorization": anonymous})
			switch {
			case rt.Permission == identity.Public:
				if resp.StatusCode == http.StatusUnauthorized || permissionDenied(resp.StatusCode, body) {
					t.Errorf("anonymous %s: %d on a public route", rt.Pattern, resp.StatusCode)
				}
			case resp.StatusCode != http.StatusUnauthorized:
				t.Errorf("anonymous %s: %d %.200s, want 401", rt.Pattern, resp.StatusCode, body)
			case resp.Header.Get("WWW-Authenticate") == "":
				t.Errorf("anonymous %s: 401 without WWW-Authenticate", rt.Pattern)
			}
			for _, role := range identity.Roles {
				resp, body := do(t, method, e.URL+path, "", e.bearer("only-"+string(role)))
				granted := identity.Grants(role, rt.Permission)
				if denied := permissionDenied(resp.StatusCode, body); denied == granted {
					t.Errorf("%s as %s: %d %.200s; the policy table grants it: %v", rt.Pattern, role, resp.StatusCode, body, granted)
				}
				if resp.StatusCode == http.StatusUnauthorized {
					t.Errorf("%s as %s: 401 for a signed-in user", rt.Pattern, role)
				}
			}
		}
	})
}

// TestPolicyTableInREADME holds the README's table of routes to the router: every route is
// documented with its permission, and every documented route exists.
func TestPolicyTableInREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `((?:GET|POST|PUT|DELETE) [^`]+)` \\| `([a-z_.]+)` \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = m[2]
	}
	s := &server.Server{}
	s.Handler()
	for _, rt := range s.Routes() {
		perm, ok := documented[rt.Pattern]
		switch {
		case !ok:
			t.Errorf("README's policy table lacks the route %s (%s)", rt.Pattern, rt.Permission)
		case perm != string(rt.Permission):
			t.Errorf("README says %s needs %s; the router says %s", rt.Pattern, perm, rt.Permission)
		}
		delete(documented, rt.Pattern)
	}
	for pattern := range documented {
		if strings.HasPrefix(pattern, "GET /auth/oidc/") {
			continue // served only when single sign-on is configured; its own test covers it
		}
		t.Errorf("README's policy table documents %s, which the router does not serve", pattern)
	}
}

// TestBreakGlass: a clinician of another team is refused a decision, and may read it by stating a
// reason, which the access audit records and flags.
func TestBreakGlass(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "sam", "south", "", identity.Clinician)
		e.user(t, "ana", "central", "", identity.Analyst)
		resp, b := do(t, "POST", e.URL+"/v1/assessments", assessment, e.bearer("carol"))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
		var d triage.Decision
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if d.Team != "central" {
			t.Errorf("decision filed under %q, want central", d.Team)
		}
		url := e.URL + "/v1/assessments/" + d.ID
		if resp, b := do(t, "GET", url, "", e.bearer("carol")); resp.StatusCode != http.StatusOK {
			t.Errorf("own team: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, "GET", url, "", e.bearer("sam"))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), server.BreakGlassHeader) {
			t.Errorf("other team: %d %s, want 403 naming the break-glass header", resp.StatusCode, b)
		}
		short := e.bearer("sam")
		short[server.BreakGlassHeader] = "because"
		if resp, _ := do(t, "GET", url, "", short); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("a too short reason: %d", resp.StatusCode)
		}
		glass := e.bearer("sam")
		glass[server.BreakGlassHeader] = "covering the central crisis rota tonight"
		if resp, b := do(t, "GET", url, "", glass); resp.StatusCode != http.StatusOK {
			t.Errorf("break glass: %d %s", resp.StatusCode, b)
		}
		// An analyst holds no role that may read personal data, so breaking the glass is not theirs.
		analyst := e.bearer("ana")
		analyst[server.BreakGlassHeader] = "curious about this one"
		if resp, _ := do(t, "GET", url, "", analyst); resp.StatusCode != http.StatusForbidden {
			t.Errorf("analyst breaking the glass: %d", resp.StatusCode)
		}

		log := &audit.Log{DB: db}
		got, err := log.Search(context.Background(), audit.Filter{Record: d.ID})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b audit.Access) int { return cmp.Compare(a.Seq, b.Seq) })
		var outcomes []string
		for _, a := range got {
			tag := a.Action + ":" + string(a.Outcome)
			if a.BreakGlass {
				tag += ":glass:" + a.Purpose
			}
			outcomes = append(outcomes, tag)
		}
		want := []string{"decision.create:allowed", "decision.read:allowed", "decision.read:denied",
			"decision.read:allowed:glass:covering the central crisis rota tonight"}
		if strings.Join(outcomes, "|") != strings.Join(want, "|") {
			t.Errorf("access audit of %s:\n got %v\nwant %v", d.ID, outcomes, want)
		}
		glassOnly, err := log.Search(context.Background(), audit.Filter{BreakGlassOnly: true})
		if err != nil || len(glassOnly) != 1 || glassOnly[0].Client == "" || glassOnly[0].RequestID == "" {
			t.Errorf("break-glass search: %+v %v", glassOnly, err)
		}
	})
}

// TestWebSession signs in through the form as a browser does and checks the cookie, CSRF and
// sign-out, and the lockout after repeated failures.
func TestWebSession(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		signin := func(password string) *http.Response {
			t.Helper()
			resp, err := client.Get(e.URL + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			page := readAll(t, resp)
			m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("sign-in page has no CSRF token: %s", page)
			}
			resp, err = client.PostForm(e.URL+"/signin", url.Values{"username": {"Carol"}, "password": {password}, "csrf_token": {m[1]}})
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			return resp
		}
		resp := signin("correct horse battery")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "carepath_session" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge <= 0 {
			t.Fatalf("session cookie %+v", cookie)
		}
		resp, err := client.Get(e.URL + "/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		var me struct {
			Subject string          `json:"subject"`
			Roles   []identity.Role `json:"roles"`
			Method  string          `json:"method"`
		}
		if err := json.Unmarshal([]byte(readAll(t, resp)), &me); err != nil || me.Method != "password" || len(me.Roles) != 1 {
			t.Errorf("/v1/me: %+v %v", me, err)
		}
		// A state-changing request from the session without its CSRF token is refused.
		resp, err = client.Post(e.URL+"/v1/assessments", "application/json", strings.NewReader(assessment))
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST without CSRF token: %d", resp.StatusCode)
		}
		// Signing in again gives a new session id, and the old one stops working.
		if resp := signin("correct horse battery"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("second sign in: %d", resp.StatusCode)
		}
		old := &http.Client{}
		req, _ := http.NewRequest("GET", e.URL+"/v1/me", nil)
		req.AddCookie(cookie)
		resp, err = old.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the session before rotation still works: %d", resp.StatusCode)
		}
		// Five wrong passwords lock the account, even against the right one.
		for range identity.MaxFailedSignIns {
			if resp := signin("wrong password!"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("wrong password: %d", resp.StatusCode)
			}
		}
		if resp := signin("correct horse battery"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("locked account signed in: %d", resp.StatusCode)
		}
	})
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestTokens: an expired, revoked or unknown token is refused; a disabled user's tokens stop.
func TestTokens(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		tok := e.user(t, "carol", "central", "", identity.Clinician)
		h := map[string]string{"Authorization": "Bearer " + tok}
		if resp, b := do(t, "GET", e.URL+"/v1/me", "", h); resp.StatusCode != http.StatusOK {
			t.Fatalf("token: %d %s", resp.StatusCode, b)
		}
		for _, bad := range []string{"Bearer cpt_nope", "Bearer " + tok + "x", "Basic Y2Fyb2w6eA==", "Bearer"} {
			if resp, _ := do(t, "GET", e.URL+"/v1/me", "", map[string]string{"Authorization": bad}); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%q: %d", bad, resp.StatusCode)
			}
		}
		if err := e.ids.Disable(context.Background(), "carol", testNow()); err != nil {
			t.Fatal(err)
		}
		// Another replica, or this one after its cache lifetime, refuses the disabled user's token.
		e.api.Auth.Now = func() time.Time { return testNow().Add(identity.DefaultCacheTTL) }
		if resp, _ := do(t, "GET", e.URL+"/v1/me", "", h); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("disabled user's token: %d", resp.StatusCode)
		}
		// An expired token is refused.
		e.api.Auth.Now = func() time.Time { return testNow().Add(25 * time.Hour) }
		if resp, _ := do(t, "GET", e.URL+"/v1/me", "", e.bearer("everyone")); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("expired token: %d", resp.StatusCode)
		}
	})
}

// TestLogsCarryNoPersonalData runs a demo flow and scans the request log for the subjects'
// details, while it names the user and request of each line.
func TestLogsCarryNoPersonalData(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		for _, name := range []string{"mental-health.json", "discharge.json", "postcode"} {
			file := name
			if name == "postcode" {
				file = "mental-health.json"
			}
			body, err := os.ReadFile("../fixtures/examples/" + file)
			if err != nil {
				t.Fatal(err)
			}
			if name == "postcode" {
				body = regexp.MustCompile(`"location": \{[^}]*\}`).ReplaceAll(body, []byte(`"postcode": "ZX3 1DT"`))
				body = []byte(strings.Replace(string(body), `"demo-0001"`, `"demo-0003"`, 1))
			}
			resp, b := do(t, "POST", e.URL+"/v1/assessments?include_rejected=true", string(body), nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("%s: %d %s", name, resp.StatusCode, b)
			}
			var d triage.Decision
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			do(t, "GET", e.URL+"/v1/assessments/"+d.ID, "", nil)
			do(t, "GET", e.URL+"/v1/assessments/"+d.ID+"/why-not/crisis-home-treatment", "", nil)
			var in struct {
				Subject map[string]any `json:"subject"`
			}
			if err := json.Unmarshal(body, &in); err != nil {
				t.Fatal(err)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "user=") || !strings.Contains(logs, "request_id=") {
				t.Fatalf("request log names no user or request id:\n%s", logs)
			}
			for field, v := range in.Subject {
				s, ok := v.(string)
				if !ok || len(s) < 4 {
					continue
				}
				for _, form := range []string{s, strings.ReplaceAll(s, " ", "")} {
					if strings.Contains(logs, form) {
						t.Errorf("the request log holds the subject's %s %q", field, form)
					}
				}
			}
		}
	})
}
