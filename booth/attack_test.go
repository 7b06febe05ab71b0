package booth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/internal/browsertest"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
)

// attackSite is an election whose board serves a booth from a directory
// the test can swap or tamper with, and records every request the board's
// origin gets (request line and Referer), as a server log would.
type attackSite struct {
	*sim.Site
	roll *issuer.MemRoll
	opts booth.Options
	mu   sync.Mutex
	dir  string
	reqs []string
}

func startAttackSite(t *testing.T, ctx context.Context) *attackSite {
	t.Helper()
	browsertest.Chromium(t)
	a := &attackSite{roll: issuer.NewMemRoll()}
	var err error
	a.Site, err = sim.StartSite(ctx, sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Questions: []ballot.Question{motion, council}, Title: "Assemblea 2026",
			Opens: "2026-12-01T09:00:00+01:00", Closes: "2026-12-14T21:00:00+01:00"},
		Voters: 4,
		Roll:   a.roll,
		Front: func(issuerURL, boardURL string, api http.Handler) ([]string, http.Handler, error) {
			return []string{boardURL}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a.mu.Lock()
				a.reqs = append(a.reqs, r.Method+" "+r.URL.RequestURI()+" Referer: "+r.Referer())
				dir := a.dir
				a.mu.Unlock()
				booth.Mount(api, booth.Handler(os.DirFS(dir))).ServeHTTP(w, r)
			}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	a.opts = booth.Options{Manifest: a.Board.Manifest().Bytes(), BoardKey: a.VKey, Issuer: a.IssuerURL, Source: src}
	a.serve(a.build(t, ctx, a.opts))
	return a
}

// build builds a booth with o into a fresh directory.
func (a *attackSite) build(t *testing.T, ctx context.Context, o booth.Options) string {
	t.Helper()
	b, err := booth.Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (a *attackSite) serve(dir string) {
	a.mu.Lock()
	a.dir = dir
	a.mu.Unlock()
}

func (a *attackSite) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string{}, a.reqs...)
}

// stored is everything the services keep: the board's log and every voter's
// roll entry (failures, the token issued).
type stored struct {
	size uint64
	roll []issuer.RollEntry
}

func (a *attackSite) stored(t *testing.T) stored {
	t.Helper()
	n, err := a.Log.Size()
	if err != nil {
		t.Fatal(err)
	}
	s := stored{size: n}
	for _, v := range a.Voters {
		e, err := a.roll.Get(context.Background(), v[0])
		if err != nil {
			t.Fatal(err)
		}
		s.roll = append(s.roll, e)
	}
	return s
}

func (a *attackSite) unchanged(t *testing.T, before stored) {
	t.Helper()
	after := a.stored(t)
	if after.size != before.size {
		t.Errorf("the board's log grew from %d to %d entries", before.size, after.size)
	}
	if !reflect.DeepEqual(after.roll, before.roll) {
		t.Errorf("the issuer's roll changed:\n before %+v\n after  %+v", before.roll, after.roll)
	}
}

func (a *attackSite) eid() string { return hex.EncodeToString(a.Board.Manifest().ID()) }

func (a *attackSite) link(t *testing.T, i int, withCode bool) string {
	t.Helper()
	inv := booth.Invitation{ElectionID: a.eid(), VoterID: a.Voters[i][0]}
	if withCode {
		inv.Code = a.Voters[i][1]
	}
	l, err := booth.Link(a.BoardURL+"/", inv)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// quietPage is a tab that does not fail the test on the console's
// integrity and policy errors: here they are what is expected.
func quietPage(t *testing.T, bctx context.Context) *page {
	ctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx, cancel: cancel, lang: "en", errs: new([]string)}
	p.viewport(false)
	return p
}

func (p *page) eval(js string) string {
	p.t.Helper()
	return run(p, chromedp.Evaluate[string](js))
}

// visible is the id of the screen shown.
func (p *page) visible() string {
	return p.eval(`(() => { const s = document.querySelector("[data-screen]:not([hidden])"); return s ? s.id : ""; })()`)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies a built booth, so one file of it can be tampered with.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// TestAttackTamperedBoothFiles has the server (or a CDN in front of it)
// alter each file the page loads after itself, keeping index.html: the
// page must refuse the file, ask no service for anything, and (where its
// script still runs) say so.
func TestAttackTamperedBoothFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startAttackSite(t, ctx)
	pristine := a.dir
	tamper := map[string]func([]byte) []byte{
		"booth.wasm": func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-1] ^= 1; return b },
		// A worker that leaks the code it is given.
		"worker.js": func(b []byte) []byte {
			return append(bytes.Clone(b), []byte("\nself.addEventListener('message', (e) => fetch('/leak?' + JSON.stringify(e.data)));\n")...)
		},
		"locales/en.json": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"Cast my ballot"`), []byte(`"Audit this ballot"`), 1)
		},
		"booth.js": func(b []byte) []byte {
			return append(bytes.Clone(b), []byte("\nfetch('/leak?' + location.hash);\n")...)
		},
		"style.css": func(b []byte) []byte {
			return append(bytes.Clone(b), []byte("\n#sealed-audit { display: none !important; }\n")...)
		},
	}
	for _, name := range []string{"booth.wasm", "worker.js", "locales/en.json", "booth.js", "style.css"} {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			dir := copyDir(t, pristine)
			p := filepath.Join(dir, filepath.FromSlash(name))
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			changed := tamper[name](orig)
			if bytes.Equal(changed, orig) {
				t.Fatalf("the tampering left %s as it was", name)
			}
			writeFile(t, p, changed)
			os.Remove(p + ".gz") // and the precompressed copy goes: the altered file is served
			a.serve(dir)
			defer a.serve(pristine)
			before := a.stored(t)
			bctx := browsertest.New(t, ctx, "en-GB")
			pg := quietPage(t, bctx)
			pg.do(chromedp.Navigate(a.link(t, 0, true)))
			switch name {
			case "booth.js":
				// The script is refused, so nothing runs: the page stays
				// on its loading screen and never offers to vote.
				time.Sleep(3 * time.Second)
				if got := pg.visible(); got != "s-loading" {
					t.Errorf("with an altered booth.js the page shows %s", got)
				}
			case "style.css":
				pg.do(chromedp.WaitVisible(chromedp.ID("s-login")))
				if d := pg.eval(`getComputedStyle(document.querySelector("header")).display`); d == "flex" {
					t.Errorf("the altered style sheet was applied")
				}
				if n := pg.eval(`String([...document.styleSheets].filter((s) => { try { return s.cssRules.length > 0 } catch (_) { return true } }).length)`); n != "0" {
					t.Errorf("%s style sheets with rules were applied", n)
				}
			default:
				pg.do(chromedp.WaitVisible(chromedp.ID("s-error")))
				if got := pg.text("error-body"); strings.TrimSpace(got) == "" {
					t.Errorf("the page refused %s but says nothing", name)
				}
				if pg.eval(`document.getElementById("s-login").hidden ? "hidden" : "shown"`) != "hidden" {
					t.Errorf("the login screen is offered")
				}
			}
			for _, r := range a.requests() {
				if strings.Contains(r, "/leak") {
					t.Errorf("the altered %s ran: %s", name, r)
				}
			}
			a.unchanged(t, before)
		})
	}
}

// TestAttackBoardNotPinned has a board serve a booth built with another
// election's manifest, or with a board key the trustees' board does not
// hold: the worker must refuse the board before any token is asked for.
func TestAttackBoardNotPinned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startAttackSite(t, ctx)
	other, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Questions: []ballot.Question{motion}, Title: "Assemblea 2026",
		Opens: "2026-12-01T09:00:00+01:00", Closes: "2026-12-14T21:00:00+01:00"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	_, evilKey, err := note.GenerateKey(rand.Reader, "evil-board")
	if err != nil {
		t.Fatal(err)
	}
	otherManifest := a.opts
	otherManifest.Manifest = other.Board.Manifest().Bytes()
	otherKey := a.opts
	otherKey.BoardKey = evilKey
	for _, c := range []struct {
		name string
		o    booth.Options
		eid  string
	}{
		{"another election's manifest", otherManifest, hex.EncodeToString(other.Board.Manifest().ID())},
		{"a key the board does not hold", otherKey, a.eid()},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.serve(a.build(t, ctx, c.o))
			before := a.stored(t)
			bctx := browsertest.New(t, ctx, "en-GB")
			pg := quietPage(t, bctx)
			l := strings.Replace(a.link(t, 0, true), "e="+a.eid(), "e="+c.eid, 1)
			pg.do(chromedp.Navigate(l), chromedp.WaitVisible(chromedp.ID("s-error")))
			if got := pg.text("error-body"); strings.TrimSpace(got) == "" {
				t.Error("the booth refused the board but says nothing")
			}
			// Trying again changes nothing: still refused.
			pg.do(chromedp.Click(chromedp.ID("error-retry")), chromedp.Sleep(time.Second), chromedp.WaitVisible(chromedp.ID("s-error")))
			if pg.eval(`document.getElementById("questions").childElementCount + ""`) != "0" {
				t.Error("the booth drew the ballot of a board it should have refused")
			}
			a.unchanged(t, before)
		})
	}
}

// TestAttackLinkInjection opens links whose voter id and code are markup,
// script and odd Unicode, and links with repeated keys: nothing in them
// may run or become markup, the code must leave the address bar, no
// request may carry it, and nothing may be stored by the services.
func TestAttackLinkInjection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startAttackSite(t, ctx)
	bctx := browsertest.New(t, ctx, "en-GB")
	before := a.stored(t)
	evilID := `"><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>` + "\u202e\u200b\u0000"
	evilCode := `</script><svg onload="window.pwned=3">` + "\u202eABCDE"
	v := url.Values{"e": {a.eid()}, "v": {evilID}, "c": {evilCode}}
	pg := quietPage(t, bctx)
	pg.do(chromedp.Navigate(a.BoardURL+"/#"+v.Encode()), chromedp.WaitVisible(chromedp.ID("s-login")))
	if loc := run(pg, chromedp.Location()); strings.Contains(loc, "#") {
		t.Errorf("the invitation stayed in the address bar: %s", loc)
	}
	hist, err := chromedp.Call(pg.ctx, cdpage.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hist.Entries {
		if strings.Contains(h.URL, "c=") {
			t.Errorf("the code is in the history: %s", h.URL)
		}
	}
	pg.do(chromedp.Click(chromedp.CSS("#login-form button")), chromedp.WaitVisible(chromedp.ID("login-error")))
	if got := pg.eval(`String(window.pwned)`); got != "undefined" {
		t.Errorf("the link's markup ran: window.pwned = %s", got)
	}
	if n := pg.eval(`String(document.querySelectorAll("img, svg, main script").length)`); n != "0" {
		t.Errorf("the link's markup became %s elements", n)
	}
	if got := run(pg, chromedp.Value(chromedp.ID("voter-id"))); got == "" || strings.Contains(evilID, got) == false && got != strings.TrimSpace(evilID) {
		t.Logf("voter id field holds %q", got)
	}
	if !strings.Contains(pg.text("login-error"), "code") {
		t.Errorf("a code of the wrong form: %q", pg.text("login-error"))
	}

	// A repeated election key naming another election first is refused.
	other := strings.Repeat("ab", 32)
	pg2 := quietPage(t, bctx)
	pg2.do(chromedp.Navigate(a.BoardURL+"/#e="+other+"&e="+a.eid()+"&v="+url.QueryEscape(a.Voters[0][0])), chromedp.WaitVisible(chromedp.ID("s-error")))

	for _, r := range a.requests() {
		for _, secret := range []string{url.QueryEscape(evilCode), "ABCDE", url.QueryEscape(a.Voters[0][0]), a.Voters[0][0], "c=", "v="} {
			if strings.Contains(r, secret) {
				t.Errorf("a request to the board's origin carries %q: %s", secret, r)
			}
		}
	}
	a.unchanged(t, before)
}

// TestAttackCodeNeverLogged votes from a link with the code in it and
// checks what the board's origin (booth and API: one server's log) saw:
// no request line and no Referer names the voter or the code.
func TestAttackCodeNeverLogged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startAttackSite(t, ctx)
	bctx := browsertest.New(t, ctx, "en-GB")
	pg := quietPage(t, bctx)
	pg.do(chromedp.Navigate(a.link(t, 1, true)), chromedp.WaitVisible(chromedp.ID("s-login")), chromedp.Click(chromedp.CSS("#login-form button")),
		chromedp.WaitVisible(chromedp.ID("s-ballot")))
	pg.choose(0, 1)
	pg.choose(1, 0, 4)
	pg.do(chromedp.Click(chromedp.CSS("#ballot-form > button")), chromedp.WaitVisible(chromedp.ID("s-review")), chromedp.Click(chromedp.ID("review-seal")),
		chromedp.WaitVisible(chromedp.ID("s-sealed")), chromedp.Click(chromedp.ID("sealed-cast")), chromedp.WaitVisible(chromedp.ID("s-receipt")))
	code, id := a.Voters[1][1], a.Voters[1][0]
	hist, err := chromedp.Call(pg.ctx, cdpage.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hist.Entries {
		if strings.Contains(h.URL, code) || strings.Contains(h.URL, url.QueryEscape(code)) {
			t.Errorf("the code is in the history: %s", h.URL)
		}
	}
	reqs := a.requests()
	if len(reqs) < 5 {
		t.Fatalf("the board's origin saw only %v", reqs)
	}
	for _, r := range reqs {
		for _, s := range []string{code, url.QueryEscape(code), id, url.QueryEscape(id)} {
			if strings.Contains(r, s) {
				t.Errorf("the board's origin logged %q: %s", s, r)
			}
		}
		if !strings.HasSuffix(r, "Referer: ") {
			t.Errorf("a request carried a Referer: %s", r)
		}
	}
	// Nothing the booth keeps names the voter's choices in the clear for
	// a cast ballot: the ticket is gone once the receipt is checked.
	if s := pg.storage("evote.ticket." + a.eid() + "." + id); s != "" {
		t.Errorf("the ticket, with its opening, stayed after the cast: %s", s)
	}
}

// TestAttackCrossOrigin has a page on another origin try to drive the
// issuer with a voter's stolen credentials and the board's admin
// endpoints with its stolen token, and frame the booth: every attempt
// must be refused, and nothing stored.
func TestAttackCrossOrigin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startAttackSite(t, ctx)
	blinded := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 256))
	body, _ := json.Marshal(issuerapi.TokenRequest{VoterID: a.Voters[2][0], Code: a.Voters[2][1], BlindedMsg: blinded})
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><iframe id="f" src="%[1]s/"></iframe><script>
const body = %[3]s;
window.results = {};
async function try1(name, f) { try { results[name] = await f(); } catch (e) { results[name] = "refused"; } }
(async () => {
  await try1("token_json", async () => "read " + (await fetch(%[2]q + "/v1/token", {method: "POST", headers: {"Content-Type": "application/json"}, body})).status);
  await try1("token_plain", async () => "read " + (await fetch(%[2]q + "/v1/token", {method: "POST", headers: {"Content-Type": "text/plain"}, body})).status);
  await try1("token_form", async () => "read " + (await fetch(%[2]q + "/v1/token", {method: "POST", body: new URLSearchParams({x: body})})).status);
  await try1("token_nocors", async () => { await fetch(%[2]q + "/v1/token", {method: "POST", mode: "no-cors", body}); return "sent"; });
  await try1("close_bearer", async () => "read " + (await fetch(%[1]q + "/v1/admin/close", {method: "POST", headers: {"Authorization": "Bearer " + %[4]q}})).status);
  await try1("close_nocors", async () => { await fetch(%[1]q + "/v1/admin/close", {method: "POST", mode: "no-cors"}); return "sent"; });
  await try1("manifest", async () => "read " + (await fetch(%[1]q + "/v1/manifest")).status);
  results.done = "yes";
})();
</script>`, a.BoardURL, a.IssuerURL, fmt.Sprintf("%q", body), a.AdminToken)
	}))
	defer evil.Close()
	before := a.stored(t)
	bctx := browsertest.New(t, ctx, "en-GB")
	pg := quietPage(t, bctx)
	pg.do(chromedp.Navigate(evil.URL), chromedp.Poll[chromedp.Void](`window.results && results.done === "yes"`), chromedp.Sleep(time.Second))
	res := run(pg, chromedp.Evaluate[map[string]string](`results`))
	for _, k := range []string{"token_json", "token_plain", "token_form", "close_bearer", "manifest"} {
		if res[k] != "refused" {
			t.Errorf("another origin's %s: %s", k, res[k])
		}
	}
	// The frame: the booth's frame-ancestors 'none' leaves it an error
	// page, never the booth.
	tree, err := chromedp.Call(pg.ctx, cdpage.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.FrameTree.ChildFrames) != 1 {
		t.Fatalf("the evil page has %d frames", len(tree.FrameTree.ChildFrames))
	}
	if u := tree.FrameTree.ChildFrames[0].Frame.URL; strings.HasPrefix(u, a.BoardURL) {
		t.Errorf("another origin framed the booth: %s", u)
	}
	if info, err := boardapi.NewClient(a.BoardURL, nil).Election(ctx); err != nil || info.Phase != "open" {
		t.Errorf("the board after the cross-origin admin calls: %+v, %v", info, err)
	}
	a.unchanged(t, before)
}

// sealedTicket is voter i's ticket with a token and a sealed ballot, made
// natively; the tests plant it in the booth's storage.
func (a *attackSite) sealedTicket(t *testing.T, ctx context.Context, i int, choices [][]int) *voter.Ticket {
	t.Helper()
	e := a.Board.Election()
	c := &voter.Client{Board: boardapi.NewClient(a.BoardURL, nil), Issuer: issuerapi.NewClient(a.IssuerURL, nil), BoardKey: a.Verifier, ManifestHash: e.Manifest.Hash()}
	tk, err := voter.NewTicket(nil, e, a.Voters[i][0])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GetToken(ctx, e, tk, a.Voters[i][1], ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(e, tk, choices); err != nil {
		t.Fatal(err)
	}
	return tk
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// plant opens the booth's address without a link, writes the storage and
// opens it again.
func plant(pg *page, boothURL string, kv map[string]string) {
	pg.do(chromedp.Navigate(boothURL))
	var js strings.Builder
	js.WriteString("localStorage.clear();")
	for k, v := range kv {
		fmt.Fprintf(&js, "localStorage.setItem(%q, %q);", k, v)
	}
	js.WriteString(`"ok"`)
	pg.eval(js.String())
}

// TestAttackStorage tampers with the booth's local storage: a ticket for
// another election, another voter's ticket under this voter's name, and a
// forged receipt on the check page. The booth must refuse each, and
// nothing may reach the services' storage.
func TestAttackStorage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startAttackSite(t, ctx)
	eid := a.eid()
	bctx := browsertest.New(t, ctx, "en-GB")
	keyTicket := func(v string) string { return "evote.ticket." + eid + "." + v }

	t.Run("a ticket for another election", func(t *testing.T) {
		e := a.Board.Election()
		tk, err := voter.NewTicket(nil, e, a.Voters[0][0])
		if err != nil {
			t.Fatal(err)
		}
		tk.ElectionID = strings.Repeat("cd", 32)
		tk.Token = strings.Repeat("00", 64)
		before := a.stored(t)
		pg := quietPage(t, bctx)
		plant(pg, a.BoardURL+"/", map[string]string{
			keyTicket(a.Voters[0][0]): jsonString(t, map[string]any{"ticket": string(tk.Marshal()), "step": "choose", "choices": [][]int{{0}, {0, 1}}}),
			"evote.voter." + eid:      a.Voters[0][0],
		})
		pg.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("s-ballot")), chromedp.Click(chromedp.CSS("#ballot-form > button")),
			chromedp.WaitVisible(chromedp.ID("s-review")), chromedp.Click(chromedp.ID("review-seal")), chromedp.WaitVisible(chromedp.ID("s-error")))
		if pg.visible() != "s-error" {
			t.Error("the booth sealed under a ticket of another election")
		}
		a.unchanged(t, before)
	})

	t.Run("another voter's ticket under this voter", func(t *testing.T) {
		e := a.Board.Election()
		tk, err := voter.NewTicket(nil, e, a.Voters[2][0]) // voter 2's, no token yet
		if err != nil {
			t.Fatal(err)
		}
		before := a.stored(t)
		pg := quietPage(t, bctx)
		plant(pg, a.BoardURL+"/", map[string]string{
			keyTicket(a.Voters[1][0]): jsonString(t, map[string]any{"ticket": string(tk.Marshal()), "step": "token", "choices": nil}),
		})
		// Voter 1 comes with their own link and code.
		pg.do(chromedp.Navigate(a.link(t, 1, true)), chromedp.WaitVisible(chromedp.ID("s-login")), chromedp.Click(chromedp.CSS("#login-form button")),
			chromedp.Poll[chromedp.Void](`!document.getElementById("login-error").hidden || !document.getElementById("s-error").hidden || !document.getElementById("s-ballot").hidden`))
		if pg.visible() == "s-ballot" {
			t.Error("voter 1's code got a token for voter 2's ticket")
		}
		after := a.stored(t)
		for i := range a.Voters {
			if len(after.roll[i].BlindSig) != len(before.roll[i].BlindSig) {
				t.Errorf("voter %d was issued a token", i)
			}
		}
		// The wrong code is counted against voter 2, whose ticket it was
		// (its failures, its back-off from this address); that is all
		// that may change.
		after.roll[2].Failures, after.roll[2].Backoffs = before.roll[2].Failures, before.roll[2].Backoffs
		if after.size != before.size || !reflect.DeepEqual(after.roll, before.roll) {
			t.Errorf("stored: before %+v, after %+v", before, after)
		}
	})

	t.Run("a forged receipt on the check page", func(t *testing.T) {
		// A genuine receipt with the leaf it proves changed.
		tk := a.sealedTicket(t, ctx, 3, [][]int{{1}, {2, 3}})
		e := a.Board.Election()
		c := &voter.Client{Board: boardapi.NewClient(a.BoardURL, nil), BoardKey: a.Verifier, ManifestHash: e.Manifest.Hash()}
		rc, err := c.CastTicket(ctx, e, tk)
		if err != nil {
			t.Fatal(err)
		}
		forged := *rc
		forged.LeafHash = strings.Repeat("0", 64)
		before := a.stored(t)
		pg := quietPage(t, bctx)
		plant(pg, a.BoardURL+"/", map[string]string{
			"evote.receipt." + eid + "." + a.Voters[3][0]: jsonString(t, map[string]any{"receipt": string(forged.Marshal()), "tracking": forged.TrackingCode, "index": forged.Index}),
			"evote.voter." + eid:                          a.Voters[3][0],
		})
		pg.do(chromedp.Navigate(a.BoardURL+"/#check"), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("check-saved")), chromedp.Click(chromedp.ID("check-saved")),
			chromedp.WaitVisible(chromedp.CSS("#check-result.error")))
		if got := pg.text("check-result"); strings.Contains(got, "newest signed") {
			t.Errorf("the forged receipt checked: %q", got)
		}
		a.unchanged(t, before)
	})
}

// TestAttackAuditFiles attacks the check page and the audit data: a
// forged audit (other choices, another election, the body of another
// ballot), an audit turned into a ballot with a made-up signature, and
// huge or malformed files. Each is refused, the page stays responsive, and
// the board stores nothing.
func TestAttackAuditFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startAttackSite(t, ctx)
	e := a.Board.Election()
	tk := a.sealedTicket(t, ctx, 0, [][]int{{0}, {1, 2}})
	au, err := tk.Audit()
	if err != nil {
		t.Fatal(err)
	}
	if err := voter.CheckAudit(e, au); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{}
	{
		f := *au
		f.Choices = [][]int{{1}, {1, 2}}
		files["other-choices"] = f.Marshal()
	}
	{
		f := *au
		f.ElectionID = strings.Repeat("ef", 32)
		files["other-election"] = f.Marshal()
	}
	{
		other := a.sealedTicket(t, ctx, 1, [][]int{{1}, {1, 2}})
		oa, err := other.Audit()
		if err != nil {
			t.Fatal(err)
		}
		f := *au
		f.BallotBody = oa.BallotBody // another ballot's body under this audit's fingerprint and opening
		files["other-body"] = f.Marshal()
	}
	files["huge"] = append([]byte(`{"opening":[`), bytes.Repeat([]byte(`["`+strings.Repeat("0", 64)+`"],`), 200000)...)
	files["huge"] = append(files["huge"], []byte(`[]]}`)...)
	files["garbage"] = bytes.Repeat([]byte{0xff, '{', '"'}, 4<<20)
	files["nested"] = []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name+".json"), b)
	}

	// The audit's body with a signature made up is no ballot the board takes.
	body, _ := base64.StdEncoding.DecodeString(au.BallotBody)
	before := a.stored(t)
	for _, sig := range [][]byte{make([]byte, 64), bytes.Repeat([]byte{1}, 64)} {
		if _, err := boardapi.NewClient(a.BoardURL, nil).Cast(ctx, append(bytes.Clone(body), sig...)); err == nil {
			t.Error("the board took an audited ballot with a made-up signature")
		}
	}
	a.unchanged(t, before)

	bctx := browsertest.New(t, ctx, "en-GB")
	pg := quietPage(t, bctx)
	pg.do(chromedp.Navigate(a.BoardURL+"/#check"), chromedp.WaitVisible(chromedp.ID("s-check")))
	for _, name := range []string{"other-choices", "other-election", "other-body", "huge", "garbage", "nested"} {
		t.Run(name, func(t *testing.T) {
			pg.eval(`document.getElementById("check-result").className = ""; document.getElementById("check-result").textContent = ""; "ok"`)
			pg.do(chromedp.SetUploadFiles(chromedp.ID("check-file"), []string{filepath.Join(dir, name+".json")}),
				chromedp.WaitVisible(chromedp.CSS("#check-result.error")))
			if got := pg.text("check-result"); strings.Contains(got, "audited") && !strings.Contains(got, "not") {
				t.Logf("%s: %q", name, got)
			}
			if n := pg.eval(`String(document.getElementById("check-list").childElementCount)`); n != "0" {
				t.Errorf("%s: the page lists %s choices of a refused audit", name, n)
			}
			// Reset the input so the next file fires change.
			pg.eval(`document.getElementById("check-file").value = ""; "ok"`)
		})
	}
	a.unchanged(t, before)
}
