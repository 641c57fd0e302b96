package server_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server"
)

// webSession is a signed-in web session, as a browser holds it: a cookie jar, and the CSRF token
// the pages carry for the forms they post.
type webSession struct {
	t      testing.TB
	base   string
	client *http.Client
	CSRF   string
}

var csrfInPage = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn signs username (made with e.user, password "correct horse battery") in through the
// sign-in form and returns the session. Redirects are not followed, so tests see each answer.
func (e *env) signIn(t testing.TB, username string) *webSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &webSession{t: t, base: e.URL, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	status, page := b.get("/signin")
	m := csrfInPage.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		t.Fatalf("sign-in page: %d, no CSRF token: %s", status, page)
	}
	resp, err := b.client.PostForm(e.URL+"/signin", url.Values{"username": {username}, "password": {"correct horse battery"}, "csrf_token": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", username, resp.StatusCode)
	}
	status, page = b.get("/")
	if m = csrfInPage.FindStringSubmatch(page); status != http.StatusOK || m == nil {
		t.Fatalf("home page after signing in: %d: %s", status, page)
	}
	b.CSRF = m[1]
	return b
}

// get fetches a page and returns its status and body.
func (b *webSession) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.client.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, readAll(b.t.(*testing.T), resp)
}

// post submits a form with the session's CSRF token and returns the response, its body read.
func (b *webSession) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf_token") == "" {
		form.Set("csrf_token", b.CSRF)
	}
	resp, err := b.client.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readAll(b.t.(*testing.T), resp)
}

// TestPagesLayout checks what every page shares: anonymous visitors get the sign-in form with
// 401 and come back to the page they asked for, the navigation shows each person only what their
// roles allow, and assets are served with an ETag.
func TestPagesLayout(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		e.user(t, "pat", "central", "", identity.PolicyOfficer)

		resp, err := http.Get(e.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		// http.Get follows the redirect to the sign-in page.
		if resp.Request.URL.Path != "/signin" || resp.StatusCode != http.StatusOK {
			t.Errorf("anonymous GET /: ended at %s with %d, want the sign-in page", resp.Request.URL.Path, resp.StatusCode)
		}

		carol := e.signIn(t, "carol")
		_, home := carol.get("/")
		for _, want := range []string{`href="/assessments/new"`, "carol (test)", `name="csrf_token"`, `href="#main-content"`} {
			if !strings.Contains(home, want) {
				t.Errorf("clinician's home page lacks %q", want)
			}
		}
		if strings.Contains(home, `href="/rulesets"`) {
			t.Error("clinician's navigation offers rule sets, which their roles do not allow")
		}
		pat := e.signIn(t, "pat")
		if _, home := pat.get("/"); !strings.Contains(home, `href="/rulesets"`) || strings.Contains(home, `href="/assessments/new"`) {
			t.Errorf("policy officer's navigation: %s", home)
		}

		resp, err = http.Get(e.URL + "/assets/carepath.css")
		if err != nil {
			t.Fatal(err)
		}
		css := readAll(t, resp)
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || etag == "" || !strings.Contains(css, ".cp-error-summary") {
			t.Fatalf("stylesheet: %d %q etag %q", resp.StatusCode, resp.Header.Get("Content-Type"), etag)
		}
		req, _ := http.NewRequest("GET", e.URL+"/assets/carepath.css", nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("stylesheet with its ETag: %d, want 304", resp.StatusCode)
		}
		if resp, _ := do(t, "GET", e.URL+"/assets/nothing.js", "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown asset: %d, want 404", resp.StatusCode)
		}
	})
}

// TestSignInReturnsToThePage: a page asked for before signing in answers 401 with the sign-in
// form, and signing in there leads back to it, but never to another site.
func TestSignInReturnsToThePage(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/worklist?sort=due", "/worklist?sort=due"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
	} {
		if got := server.SafeNext(tc.next); got != tc.want {
			t.Errorf("next %q: redirect to %q, want %q", tc.next, got, tc.want)
		}
	}

	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "cora", "central", "", identity.Coordinator)
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(e.URL + "/worklist?sort=due")
		if err != nil {
			t.Fatal(err)
		}
		page := readAll(t, resp)
		m := csrfInPage.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusUnauthorized || m == nil || !strings.Contains(page, `name="next" value="/worklist?sort=due"`) {
			t.Fatalf("anonymous GET /worklist: %d, want 401 with the sign-in form coming back to the page: %s", resp.StatusCode, page)
		}
		for _, tc := range []struct{ next, want string }{
			{"/worklist?sort=due", "/worklist?sort=due"},
			{"//evil.example/", "/"},
		} {
			// Each sign-in needs the form's own token, which a fresh GET of the form sets.
			resp, err := client.Get(e.URL + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			m := csrfInPage.FindStringSubmatch(readAll(t, resp))
			resp, err = client.PostForm(e.URL+"/signin", url.Values{"username": {"cora"}, "password": {"correct horse battery"},
				"csrf_token": {m[1]}, "next": {tc.next}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
				t.Errorf("sign in with next %q: %d to %q, want 303 to %q", tc.next, resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
		}
	})
}
