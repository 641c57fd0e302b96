package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server/browsertest"
)

// The states of the flaky link between the browser and the server.
const (
	linkUp   int32 = iota
	linkDown       // the request never reaches the server
	linkLost       // the server handles the request, but its answer never reaches the browser
)

// flakyLink forwards to the server, or drops the connection as a weak mobile signal does.
func flakyLink(t *testing.T, target string, state *atomic.Int32) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	drop := func(w http.ResponseWriter) {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch state.Load() {
		case linkDown:
			drop(w)
		case linkLost:
			proxy.ServeHTTP(httptest.NewRecorder(), r)
			drop(w)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// headlessChromium starts a browser for t, or skips t (fails it when CI=true) without one.
func headlessChromium(t *testing.T) context.Context {
	path := os.Getenv("CAREPATH_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is not installed (CI=true: the browser tests must run)")
		}
		t.Skip("Chromium is not installed; skipping the offline-form browser test")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("unable to start %s: %v", path, err)
	}
	return ctx
}

// TestAssessmentSurvivesLostConnection submits a form in a real browser over a link that fails:
// the answers are kept in the tab's session storage with a message, and sent again with the same
// idempotency key when the connection returns, so that a submission the server had stored before
// the link failed is not stored twice; signing out removes kept answers.
func TestAssessmentSurvivesLostConnection(t *testing.T) {
	browser := headlessChromium(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "carol", "central", "", identity.Clinician)
		var state atomic.Int32
		link := flakyLink(t, e.URL, &state)
		tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		defer cancel()
		// The tab opens with its first action, which must have no deadline: the tab lives as
		// long as that action's context.
		if err := chromedp.Do(tab); err != nil {
			t.Fatal(err)
		}

		run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			ctx, cancel := context.WithTimeout(tab, 15*time.Second)
			defer cancel()
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		eval := func(expr string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(tab, 15*time.Second)
			defer cancel()
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
			if err != nil {
				t.Fatalf("evaluate %.60s: %v", expr, err)
			}
			return v
		}
		waitFor := func(what, cond string) {
			t.Helper()
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if eval(`String(!!(`+cond+`))`) == "true" {
					return
				}
			}
			t.Fatalf("waiting for %s: never came; page %s: %s", what, eval("location.pathname"), eval("document.querySelector('main') ? document.querySelector('main').innerText : ''"))
		}
		decisions := func() int {
			var n int
			if err := db.Get(&n, `SELECT COUNT(*) FROM decisions`); err != nil {
				t.Fatal(err)
			}
			return n
		}
		drafts := `Object.keys(sessionStorage).filter(k => k.startsWith('carepath-draft:')).length`

		run("sign in", chromedp.Navigate(link.URL+"/signin"))
		eval(`document.querySelector('[name=username]').value = 'carol'; document.querySelector('[name=password]').value = 'correct horse battery'; ''`)
		run("submit the sign-in form", chromedp.Click(chromedp.CSS(`main form button[type=submit]`), chromedp.NodeVisible))
		waitFor("the home page", `location.pathname === '/' && document.readyState === 'complete'`)

		fill := func() {
			t.Helper()
			run("open the form", chromedp.Navigate(link.URL+"/assessments/new/mental-health"))
			waitFor("the form", `document.querySelector('form[data-offline-form]')`)
			values, _ := json.Marshal(mentalHealthAnswers(""))
			eval(`(() => { const v = ` + string(values) + `; const f = document.querySelector('form[data-offline-form]');
				for (const [name, [value]] of Object.entries(v)) {
					if (name === 'idempotency_key') continue;
					const el = f.elements[name];
					if (!el.tagName) { for (const r of el) r.checked = r.value === value } else el.value = value;
				} return '' })()`)
		}

		// The first attempt reaches the server, which stores the decision, but the answer is lost.
		fill()
		state.Store(linkLost)
		run("send the form", chromedp.Click(chromedp.CSS(`form[data-offline-form] button[type=submit]`), chromedp.NodeVisible))
		waitFor("the offline message", `!document.getElementById('offline-status').hidden`)
		if msg := eval(`document.getElementById('offline-status').innerText`); !strings.Contains(msg, "have not been sent") {
			t.Errorf("offline message: %q", msg)
		}
		if n := eval(`String(` + drafts + `)`); n != "1" {
			t.Errorf("answers kept in session storage: %s drafts, want 1", n)
		}
		if n := decisions(); n != 1 {
			t.Fatalf("the lost attempt stored %d decisions, want 1", n)
		}

		// The connection returns: the answers go again with the same key and reach the decision.
		state.Store(linkUp)
		eval(`window.dispatchEvent(new Event('online')); ''`)
		waitFor("the decision page", `location.pathname.startsWith('/decisions/') && document.readyState === 'complete'`)
		if n := decisions(); n != 1 {
			t.Errorf("after resending: %d decisions, want 1 (the retry must not store twice)", n)
		}
		if n := eval(`String(` + drafts + `)`); n != "0" {
			t.Errorf("after sending: %s drafts left in session storage", n)
		}

		// Kept answers go at sign-out.
		fill()
		state.Store(linkDown)
		run("send the form", chromedp.Click(chromedp.CSS(`form[data-offline-form] button[type=submit]`), chromedp.NodeVisible))
		waitFor("the offline message", `!document.getElementById('offline-status').hidden`)
		if n := eval(`String(` + drafts + `)`); n != "1" {
			t.Fatalf("answers kept: %s drafts, want 1", n)
		}
		state.Store(linkUp)
		run("sign out", chromedp.Click(chromedp.CSS(`form[data-clear-drafts] button`), chromedp.NodeVisible))
		waitFor("the sign-in page", `location.pathname === '/signin' && document.readyState === 'complete'`)
		if n := eval(`String(` + drafts + `)`); n != "0" {
			t.Errorf("after signing out: %s drafts left in session storage", n)
		}
		if n := decisions(); n != 1 {
			t.Errorf("the dropped attempt stored something: %d decisions, want 1", n)
		}
	})
}

// TestClinicianPagesAccessible runs axe-core (WCAG 2.2 AA) on the clinician pages the keyboard
// flow does not reach: the discharge form with its Barthel items, the letter, and the page that
// asks another team's clinician for a reason to break the glass, with its error.
func TestClinicianPagesAccessible(t *testing.T) {
	br := browsertest.Start(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		e.user(t, "sam", "south", "", identity.Clinician)
		_, decision := clinicianPageSet(t, e) // signs carol of central in
		carol := browserSignIn(t, e, br, "carol")
		carol.Visit("/assessments/new/discharge")
		carol.Inspect("assessment-discharge")
		carol.Visit(decision + "/letter")
		if !carol.Has("button[data-print]:not([hidden])") {
			t.Error("the letter's Print button is not shown where scripts run")
		}
		carol.Inspect("letter")
		sam := browserSignIn(t, e, br, "sam")
		sam.Visit(decision)
		if !sam.Has("#break_glass_reason") {
			t.Fatalf("another team's clinician is not asked for a reason: %s", sam.Text("main"))
		}
		sam.Inspect("decision-break-glass")
		sam.Fill("#break_glass_reason", "short")
		sam.Click("main form button[type=submit]")
		sam.Inspect("decision-break-glass-error")
	})
}
