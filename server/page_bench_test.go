package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
)

// pageBudget is the most a page may weigh with its stylesheet and scripts, uncompressed: a form
// filled in a home on a weak mobile signal must still load in seconds.
const pageBudget = 100 << 10

var (
	assetRef   = regexp.MustCompile(`(?i)<(?:script|link|img|iframe|source|video|audio)\b[^>]*\s(?:src|href)="([^"]+)"`)
	foreignRef = regexp.MustCompile(`(?i)(?:src|href|action)="(?:[a-z][a-z0-9+.-]*:|//)|url\(\s*['"]?(?:[a-z][a-z0-9+.-]*:|//)`)
)

// clinicianPageSet signs a clinician in and stores one decision made through the form page; it
// returns the session's cookie jar and the decision page's path. It signs in as a browser does,
// without webSession, so that benchmarks can use it too.
func clinicianPageSet(t testing.TB, e *env) (*http.Client, string) {
	t.Helper()
	e.user(t, "carol", "central", "", identity.Clinician)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	body := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	csrf := csrfInPage.FindStringSubmatch(body(c.Get(e.URL + "/signin")))[1]
	body(c.PostForm(e.URL+"/signin", url.Values{"username": {"carol"}, "password": {"correct horse battery"}, "csrf_token": {csrf}}))
	form := body(c.Get(e.URL + "/assessments/new/mental-health"))
	v := mentalHealthAnswers(idempotencyInPage.FindStringSubmatch(form)[1])
	v.Set("csrf_token", csrfInPage.FindStringSubmatch(form)[1])
	resp, err := c.PostForm(e.URL+"/assessments/new/mental-health", v)
	body(resp, err)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("submit: %d", resp.StatusCode)
	}
	return c, resp.Header.Get("Location")
}

// TestPageWeight sums what a browser fetches for each clinician page, the page and every asset
// it names, and holds it to the budget, with nothing fetched from another origin.
func TestPageWeight(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		e := startEnv(t, db)
		client, decision := clinicianPageSet(t, e)
		carol := &webSession{t: t, base: e.URL, client: client}
		for _, path := range []string{"/assessments/new", "/assessments/new/mental-health", "/assessments/new/discharge", decision, decision + "/letter"} {
			status, page := carol.get(path)
			if status != http.StatusOK {
				t.Fatalf("%s: %d", path, status)
			}
			total, parts := len(page), []string{path}
			for _, m := range assetRef.FindAllStringSubmatch(page, -1) {
				status, body := carol.get(m[1])
				if status != http.StatusOK {
					t.Errorf("%s names %s, which answers %d", path, m[1], status)
				}
				if loc := foreignRef.FindString(body); loc != "" {
					t.Errorf("%s: asset %s refers to another origin: %s", path, m[1], loc)
				}
				total += len(body)
				parts = append(parts, m[1])
			}
			if loc := foreignRef.FindString(page); loc != "" {
				t.Errorf("%s refers to another origin: %s", path, loc)
			}
			if total > pageBudget {
				t.Errorf("%s weighs %d bytes with its assets, over the budget of %d", path, total, pageBudget)
			}
			t.Logf("%s: %d bytes in all (%s)", path, total, strings.Join(parts, ", "))
		}
	})
}

// BenchmarkClinicianPages measures the server's time for the form page and for a stored
// decision's page, through the whole handler as a browser's request meets it (session, policy,
// the decision's read and its access record, rendering), without the network. The
// decision-unrecorded variant leaves the access record out, which no deployment may do, to show
// what the record's committed write costs of the page's time.
func BenchmarkClinicianPages(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			e := startEnv(b, databasetest.Open(b, dialect))
			client, decision := clinicianPageSet(b, e)
			base, _ := url.Parse(e.URL)
			cookies := client.Jar.Cookies(base)
			h := e.Config.Handler
			log := e.api.Audit
			for _, tc := range []struct {
				name, path string
				unrecorded bool // without the access record, to show what writing it costs
			}{
				{"form", "/assessments/new/mental-health", false},
				{"decision", decision, false},
				{"decision-unrecorded", decision, true},
				{"letter", decision + "/letter", false},
			} {
				b.Run(tc.name, func(b *testing.B) {
					if tc.unrecorded {
						e.api.Audit = nil
						defer func() { e.api.Audit = log }()
					}
					req := httptest.NewRequest("GET", tc.path, nil)
					for _, c := range cookies {
						req.AddCookie(c)
					}
					var size int
					b.ReportAllocs()
					for b.Loop() {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != http.StatusOK {
							b.Fatalf("%s: %d", tc.path, w.Code)
						}
						size = w.Body.Len()
					}
					b.ReportMetric(float64(size), "page-bytes")
				})
			}
		})
	}
}
