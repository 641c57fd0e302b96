package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// Pages are server-rendered from html/template with every asset embedded: each file in pages/
// is one page, rendered inside pages/layout, so that a page names only its own content.
//
//go:embed pages
var pageFS embed.FS

// pageSet is every page's template, parsed once, and the assets they share.
type pageSet struct {
	pages  map[string]*template.Template
	assets map[string]asset // by file name under /assets/
}

// asset is an embedded stylesheet or script, served with an ETag of its contents.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

var pages = mustParsePages()

func mustParsePages() *pageSet {
	ps, err := parsePages(pageFS)
	if err != nil {
		panic(err)
	}
	return ps
}

// parsePages parses the layout and partials of pages/layout, then each page in pages/ over a
// clone of them; the stylesheet is every file of pages/css in name order, so that each part of
// the product keeps its styles in its own file.
func parsePages(fsys fs.FS) (*pageSet, error) {
	base, err := template.New("layout").Funcs(pageFuncs).ParseFS(fsys, "pages/layout/*.html")
	if err != nil {
		return nil, fmt.Errorf("server: unable to parse the page layout: %w", err)
	}
	files, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	ps := &pageSet{pages: map[string]*template.Template{}, assets: map[string]asset{}}
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(fsys, f); err != nil {
			return nil, fmt.Errorf("server: unable to parse page %s: %w", f, err)
		}
		ps.pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	cssFiles, err := fs.Glob(fsys, "pages/css/*.css")
	if err != nil {
		return nil, err
	}
	slices.Sort(cssFiles)
	var css bytes.Buffer
	for _, f := range cssFiles {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		css.Write(b)
		css.WriteByte('\n')
	}
	ps.assets["carepath.css"] = newAsset(css.Bytes(), "text/css; charset=utf-8")
	jsFiles, err := fs.Glob(fsys, "pages/js/*.js")
	if err != nil {
		return nil, err
	}
	for _, f := range jsFiles {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ps.assets[path.Base(f)] = newAsset(b, "text/javascript; charset=utf-8")
	}
	return ps, nil
}

func newAsset(b []byte, contentType string) asset {
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// pageFuncs are the helpers every template may call; time formatting is on view, since it
// depends on the council's time zone.
var pageFuncs = template.FuncMap{
	"join":      strings.Join,
	"roleNames": identity.RoleNames,
	"add":       func(a, b int) int { return a + b },
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	// field is a fieldError's lookup by field name, for the message beside an input.
	"errorFor": func(errs []fieldError, field string) string {
		for _, e := range errs {
			if e.Field == field {
				return e.Message
			}
		}
		return ""
	},
}

// fieldError is one line of a page's error summary: the message, and the id of the input it
// links to so that a keyboard or screen-reader user lands on the field.
type fieldError struct {
	Field   string // the field's name, as the domain error names it
	ID      string // the input's element id
	Message string
}

// navItem is one link of the header's navigation.
type navItem struct {
	Label, Path string
	Current     bool
}

// navigation lists the parts of the product, each shown to whoever holds its permission.
var navigation = []struct {
	Label, Path string
	Perm        identity.Permission
}{
	{"New assessment", "/assessments/new", identity.SubmitAssessment},
	{"Worklist", "/worklist", identity.ManageAppointments},
	{"My day", "/day", identity.ReadDay},
	{"Rule sets", "/rulesets", identity.ReadRules},
	{"Replay", "/replay", identity.RunReplay},
}

// view is what the layout and every page template are executed with.
type view struct {
	Title     string
	Principal *identity.Principal
	CSRF      string
	Nav       []navItem
	Errors    []fieldError // the error summary, in the order of the fields on the page
	Notice    string       // a confirmation of what the last action did
	Scripts   []string     // scripts under /assets/ this page enhances itself with
	Data      any          // the page's own content
	Next      string       // sign-in only: where to go after signing in

	loc *time.Location
}

// DateTime formats t in the council's time zone and in words, as "Tuesday 1 December 2026 at 9:40pm".
func (v view) DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return v.Date(t) + " at " + v.Time(t)
}

// Date formats t's day in the council's time zone, as "Tuesday 1 December 2026".
func (v view) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(v.loc).Format("Monday 2 January 2006")
}

// Time formats t's time of day in the council's time zone, as "9:40pm" (or "midday", "midnight").
func (v view) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(v.loc)
	switch {
	case t.Hour() == 12 && t.Minute() == 0:
		return "midday"
	case t.Hour() == 0 && t.Minute() == 0:
		return "midnight"
	}
	return strings.ToLower(t.Format("3:04PM"))
}

// ISO formats t in the council's time zone as RFC 3339, for <time datetime> and inputs.
func (v view) ISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(v.loc).Format(time.RFC3339)
}

// Can reports whether the signed-in person holds perm, for links and buttons a page shows only
// to those who may use them; the route checks again.
func (v view) Can(perm string) bool {
	return v.Principal != nil && v.Principal.Can(identity.Permission(perm))
}

// location is the council's time zone, in which every page shows dates and times.
func (s *Server) location() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.UTC
}

// render executes a page into a buffer, so that a template error never sends half a page, and
// fills in who is signed in, the session's CSRF token and the navigation.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := pages.pages[name]
	if !ok {
		s.Logger.Error("unable to render page", "page", name, "error", "no such page")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.Principal == nil {
		v.Principal = identity.FromContext(r.Context())
	}
	if v.CSRF == "" {
		if sess := sessionOf(r); sess != nil {
			v.CSRF = sess.CSRF
		}
	}
	if v.Principal != nil && v.Nav == nil {
		for _, n := range navigation {
			if v.Principal.Can(n.Perm) {
				v.Nav = append(v.Nav, navItem{Label: n.Label, Path: n.Path, Current: r.URL.Path == n.Path || strings.HasPrefix(r.URL.Path, n.Path+"/")})
			}
		}
	}
	v.loc = s.location()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.Logger.Error("unable to render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageProblem renders an error as a page: the same status and plain-English detail the API
// would give as problem details.
func (s *Server) pageProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := s.problemOf(w, r, err)
	if p.Status == http.StatusUnauthorized {
		s.renderSignin(w, r, http.StatusUnauthorized, "", "")
		return
	}
	s.render(w, r, p.Status, "error", view{Title: p.Title, Data: p})
}

// fieldErrors turns a domain error's field problems into an error summary; prefix maps a field
// name to its input's id, where the page names inputs differently from the domain.
func fieldErrors(err error, id func(field string) string) []fieldError {
	var out []fieldError
	for _, p := range fieldProblems(err) {
		fid := p.Field
		if id != nil {
			fid = id(p.Field)
		}
		out = append(out, fieldError{Field: p.Field, ID: fid, Message: p.Reason})
	}
	if len(out) == 0 && err != nil {
		out = append(out, fieldError{Message: personDetail(err)})
	}
	return out
}

// serveAsset serves an embedded stylesheet or script. Assets change only with the binary, so
// browsers may keep them an hour and then revalidate by ETag.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := pages.assets[r.PathValue("file")]
	if !ok {
		s.writeProblem(w, r, failure.Errorf(failure.NotFound, "asset %q: no such file", r.PathValue("file")))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("ETag", a.etag)
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	_, _ = w.Write(a.body)
}

// safeNext returns next when it is a path on this site, so that signing in cannot be made to
// send a browser elsewhere, and "/" otherwise.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}
