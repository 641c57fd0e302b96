// Package browsertest drives a real headless Chromium for the web pages' end-to-end tests: it
// starts the browser, opens pages in fresh browser contexts (so that each person's cookies are
// their own), moves through pages with the keyboard, checks every page with axe-core against
// WCAG 2.2 AA, and writes screenshots at desktop and phone widths for reviewers.
//
// Chromium is found at CAREPATH_CHROMIUM, else /usr/bin/chromium or chromium on PATH; axe-core's
// axe.min.js at CAREPATH_AXE_JS, else in .ci/node (where .ci/run installs it) under the module's
// root. Without either the tests skip with the reason, except when CI=true, where they fail, so
// that CI can never silently lose the browser tests.
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Environment variables that configure the browser tests.
const (
	ChromiumEnv    = "CAREPATH_CHROMIUM"    // path of the Chromium binary
	AxeEnv         = "CAREPATH_AXE_JS"      // path of axe-core's axe.min.js
	ScreenshotsEnv = "CAREPATH_SCREENSHOTS" // "1" writes screenshots to docs/screenshots
)

// ScreenshotDir is where screenshots are written, relative to the module's root.
const ScreenshotDir = "docs/screenshots"

// Widths are the viewport widths of the screenshots: a desktop and a phone.
var Widths = []Width{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}}

// Width is one viewport a page is photographed at.
type Width struct {
	Name          string
	Width, Height int64
	Mobile        bool
}

// Timeout bounds one step of a page (a navigation, a key press and the page it leads to, an
// accessibility check), so that a missing element fails the test rather than hanging it.
const Timeout = 15 * time.Second

// Browser is one headless Chromium shared by a test's pages.
type Browser struct {
	ctx         context.Context
	axe         string
	screenshots string // directory to write screenshots to, "" when not writing

	mu      sync.Mutex
	written map[string]bool // screenshot names already written by this run
}

// Start starts Chromium for t and stops it when t ends. It skips t (fails it when CI=true)
// when Chromium or axe-core is not installed.
func Start(t *testing.T) *Browser {
	t.Helper()
	chromium, err := findChromium()
	if err == nil {
		var axe []byte
		if axe, err = readAxe(); err == nil {
			return start(t, chromium, string(axe))
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("browsertest: %v (CI=true: the browser tests must run; .ci/run installs both)", err)
	}
	t.Skipf("browsertest: %v; skipping the browser tests (.ci/run installs Chromium and axe-core)", err)
	return nil
}

func start(t *testing.T, chromium, axe string) *Browser {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.Flag("lang", "en-GB"), // dates in inputs as a British reader sees them
		chromedp.WindowSize(1280, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it runs without a deadline, since the browser
	// lives as long as the context of its first action.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: unable to start %s: %v", chromium, err)
	}
	b := &Browser{ctx: ctx, axe: axe, written: map[string]bool{}}
	if os.Getenv(ScreenshotsEnv) == "1" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		b.screenshots = filepath.Join(root, filepath.FromSlash(ScreenshotDir))
		if err := os.MkdirAll(b.screenshots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func findChromium() (string, error) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", ChromiumEnv, p, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("Chromium is not installed (apt-get install chromium, or set " + ChromiumEnv + ")")
}

func readAxe() ([]byte, error) {
	p := os.Getenv(AxeEnv)
	if p == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		p = filepath.Join(root, ".ci", "node", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("axe-core is not installed (npm install --prefix .ci/node axe-core@4.14.1, or set %s): %w", AxeEnv, err)
	}
	return b, nil
}

// moduleRoot is the nearest directory above the working directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("browsertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Page is one tab in a browser context of its own, on the server at base.
type Page struct {
	t    *testing.T
	b    *Browser
	ctx  context.Context
	base string
}

// NewPage opens a tab in a new browser context, with no cookies, closed when t ends.
func (b *Browser) NewPage(t *testing.T, base string) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("browsertest: unable to open a tab: %v", err)
	}
	return &Page{t: t, b: b, ctx: ctx, base: strings.TrimSuffix(base, "/")}
}

// do runs steps with the step timeout and fails the test, naming what, on error.
func (p *Page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v (page %s)", what, err, p.locationOrError())
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](p *Page, expr string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		p.t.Fatalf("evaluate %.80q: %v", expr, err)
	}
	return v
}

func (p *Page) locationOrError() string {
	ctx, cancel := context.WithTimeout(p.ctx, time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown: " + err.Error()
	}
	return loc
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Visit navigates to path on the server and waits for the page to load.
func (p *Page) Visit(path string) {
	p.t.Helper()
	p.do("visit "+path, chromedp.Navigate(p.base+path))
}

// Path is the path and query of the page shown.
func (p *Page) Path() string {
	p.t.Helper()
	return eval[string](p, `location.pathname + location.search`)
}

// Title is the page's title.
func (p *Page) Title() string {
	p.t.Helper()
	return eval[string](p, `document.title`)
}

// Text is the visible text of the first element matching the CSS selector, "" when none does.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	return eval[string](p, `(() => { const e = document.querySelector(`+js(selector)+`); return e ? e.innerText.trim() : "" })()`)
}

// Count is the number of elements matching the CSS selector.
func (p *Page) Count(selector string) int {
	p.t.Helper()
	return eval[int](p, `document.querySelectorAll(`+js(selector)+`).length`)
}

// Attrs lists an attribute of every element matching the CSS selector, in document order ("" where
// an element lacks it).
func (p *Page) Attrs(selector, name string) []string {
	p.t.Helper()
	return eval[[]string](p, `Array.from(document.querySelectorAll(`+js(selector)+`), e => e.getAttribute(`+js(name)+`) || "")`)
}

// Has reports whether an element matches the CSS selector.
func (p *Page) Has(selector string) bool {
	p.t.Helper()
	return p.Count(selector) > 0
}

// Value is the value of the first form field matching the CSS selector.
func (p *Page) Value(selector string) string {
	p.t.Helper()
	return eval[string](p, `(() => { const e = document.querySelector(`+js(selector)+`); return e ? e.value : "" })()`)
}

// Focused describes the element that has the keyboard focus, as tag#id[name].
func (p *Page) Focused() string {
	p.t.Helper()
	return eval[string](p, `(() => { const e = document.activeElement; if (!e) return ""; return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.name ? "[" + e.name + "]" : "") })()`)
}

// Fill sets a form field's value, as typing it would, for flows that are not about the keyboard.
func (p *Page) Fill(selector, value string) {
	p.t.Helper()
	ok := eval[bool](p, `(() => { const e = document.querySelector(`+js(selector)+`); if (!e) return false;
		e.value = `+js(value)+`; e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true })()`)
	if !ok {
		p.t.Fatalf("fill %s: no such field on %s", selector, p.Path())
	}
}

// mustHave fails the test at once when nothing matches the selector, rather than when a query
// for it times out.
func (p *Page) mustHave(selector string) {
	p.t.Helper()
	if !p.Has(selector) {
		p.t.Fatalf("no %s on %s", selector, p.Path())
	}
}

// Check ticks a checkbox or chooses a radio button with the mouse.
func (p *Page) Check(selector string) {
	p.t.Helper()
	p.mustHave(selector)
	p.do("check "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// Click clicks the element with the mouse and, when that leads to another page, waits for it.
func (p *Page) Click(selector string) {
	p.t.Helper()
	p.mustHave(selector)
	p.waitNavigation("click "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// ClickStay clicks the element with the mouse when the click changes only the page shown.
func (p *Page) ClickStay(selector string) {
	p.t.Helper()
	p.mustHave(selector)
	p.do("click "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// Press sends keys (runes or kb constants) to the focused element.
func (p *Page) Press(keys string) {
	p.t.Helper()
	p.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// PressAndWait sends keys that lead to another page (Enter on a submit button or link) and
// waits for that page to load.
func (p *Page) PressAndWait(keys string) {
	p.t.Helper()
	p.waitNavigation(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// waitNavigation runs the action and waits until a new document has loaded: the old one is
// marked, and the wait ends when the mark is gone and the new document is complete.
func (p *Page) waitNavigation(what string, action chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	eval[bool](p, `window.__browsertestOld = true`)
	p.do(what, action, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			done, err := chromedp.Evaluate[bool](`!window.__browsertestOld && document.readyState === "complete"`)(ctx, t)
			if err == nil && done {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("no new page loaded: %w", ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
}

// TabTo presses Tab until the focus is on an element matching the CSS selector, as a keyboard
// user would, and fails when it is not reached within the page's focusable elements.
func (p *Page) TabTo(selector string) {
	p.t.Helper()
	for range 120 {
		if eval[bool](p, `!!document.activeElement && document.activeElement.matches(`+js(selector)+`)`) {
			return
		}
		p.Press(kb.Tab)
	}
	p.t.Fatalf("Tab never reached %s on %s (focus on %s)", selector, p.Path(), p.Focused())
}

// Type types text into the focused element, key by key.
func (p *Page) Type(text string) {
	p.t.Helper()
	p.Press(text)
}

// ChooseRadio chooses the radio button of group name with value, with the keyboard alone: Tab
// into the group, Space to choose the focused button, then the arrow keys, which move the choice
// within a group as browsers do.
func (p *Page) ChooseRadio(name, value string) {
	p.t.Helper()
	group := `input[type=radio][name=` + js(name) + `]`
	state := `(() => { const c = document.querySelector(` + js(group+`:checked`) + `);
		const a = document.activeElement; return {checked: c ? c.value : "", inGroup: !!a && a.matches(` + js(group) + `)} })()`
	type radioState struct {
		Checked string `json:"checked"`
		InGroup bool   `json:"inGroup"`
	}
	for range 12 {
		st := eval[radioState](p, state)
		switch {
		case st.Checked == value:
			return
		case !st.InGroup:
			p.TabTo(group)
		case st.Checked == "":
			p.Press(" ")
		default:
			p.Press(kb.ArrowRight)
		}
	}
	p.t.Fatalf("radio group %s: value %q not reached with the keyboard on %s (focus on %s, chosen %q)",
		name, value, p.Path(), p.Focused(), eval[radioState](p, state).Checked)
}

// ChooseOption chooses the option with value in the select list matching the CSS selector, with
// the keyboard alone: Tab to the list, then the arrow keys, which change a closed list's choice.
func (p *Page) ChooseOption(selector, value string) {
	p.t.Helper()
	p.TabTo(selector)
	p.Press(kb.Home)
	for range 40 {
		if p.Value(selector) == value {
			return
		}
		p.Press(kb.ArrowDown)
	}
	p.t.Fatalf("select %s: no option %q reachable with the arrow keys on %s", selector, value, p.Path())
}

// Violation is one axe-core finding.
type Violation struct {
	ID      string     `json:"id"`
	Impact  string     `json:"impact"`
	Help    string     `json:"help"`
	Targets [][]string `json:"targets"`
}

// AxeTags are the rules axe runs: WCAG 2.0, 2.1 and 2.2 at levels A and AA.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// Axe runs axe-core on the page and returns its violations.
func (p *Page) Axe() []Violation {
	p.t.Helper()
	if !eval[bool](p, `typeof window.axe === "object"`) {
		eval[chromedp.Void](p, p.b.axe+"\n;void 0")
	}
	tags, _ := json.Marshal(AxeTags)
	raw := eval[[]byte](p, `axe.run(document, {runOnly: {type: 'tag', values: `+string(tags)+`}, resultTypes: ['violations']})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, targets: v.nodes.map(n => n.target.map(String))})))`,
		chromedp.EvalAwaitPromise)
	var vs []Violation
	if err := json.Unmarshal(raw, &vs); err != nil {
		p.t.Fatalf("axe result: %v: %s", err, raw)
	}
	return vs
}

// Inspect checks the page shown: axe-core finds no WCAG 2.2 AA violation, and when screenshots
// are asked for they are written as docs/screenshots/<name>-<width>.png at each of Widths.
func (p *Page) Inspect(name string) {
	p.t.Helper()
	if vs := p.Axe(); len(vs) > 0 {
		var b strings.Builder
		for _, v := range vs {
			fmt.Fprintf(&b, "\n  %s (%s): %s; at %v", v.ID, v.Impact, v.Help, v.Targets)
		}
		p.t.Errorf("page %s (%s): %d accessibility violations:%s", name, p.Path(), len(vs), b.String())
	}
	p.screenshot(name)
}

func (p *Page) screenshot(name string) {
	p.t.Helper()
	if p.b.screenshots == "" {
		return
	}
	p.b.mu.Lock()
	done := p.b.written[name]
	p.b.written[name] = true
	p.b.mu.Unlock()
	if done {
		return
	}
	// Identifiers made at random (account ids) are drawn as zeros, so that a page that has not
	// changed gives the same file and refreshing the screenshots changes only what changed.
	eval[chromedp.Void](p, `(() => {
		const re = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
		const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = w.nextNode(); n; n = w.nextNode()) {
			if (re.test(n.nodeValue)) { n.nodeValue = n.nodeValue.replace(re, "00000000-0000-0000-0000-000000000000"); }
			re.lastIndex = 0;
		}
	})()`)
	for _, w := range Widths {
		ctx, cancel := context.WithTimeout(p.ctx, Timeout)
		var opts []chromedp.EmulateViewportOption
		if w.Mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
		}
		err := chromedp.Do(ctx, chromedp.EmulateViewport(w.Width, w.Height, opts...), chromedp.Sleep(100*time.Millisecond))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			p.t.Fatalf("screenshot %s at %s: %v", name, w.Name, err)
		}
		file := filepath.Join(p.b.screenshots, fmt.Sprintf("%s-%d.png", name, w.Width))
		if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, png) {
			continue
		}
		if err := os.WriteFile(file, png, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	p.do("restore the desktop viewport", chromedp.EmulateViewport(1280, 800))
}
