package booth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/internal/browsertest"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// hold keeps the answer to the next cast back once armed: the ballot is
// stored, its receipt not yet sent, as when a phone loses its connection.
type hold struct {
	mu      sync.Mutex
	armed   bool
	arrived chan struct{}
	release chan struct{}
}

func (h *hold) arm() {
	h.mu.Lock()
	h.armed, h.arrived, h.release = true, make(chan struct{}), make(chan struct{})
	h.mu.Unlock()
}

func (h *hold) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		take := h.armed && r.Method == http.MethodPost && r.URL.Path == boardapi.PathBallots
		if take {
			h.armed = false
		}
		arrived, release := h.arrived, h.release
		h.mu.Unlock()
		if !take {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		close(arrived)
		<-release
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// boothSite is an election with its issuer on one loopback origin and its
// board serving the booth on another.
type boothSite struct {
	*sim.Site
	hold hold
	dir  string
}

var (
	motion  = ballot.Question{ID: "motion", Text: "Adopt the motion?", Choices: []string{"Yes", "No"}, Min: 1, Max: 1}
	council = ballot.Question{ID: "council", Text: "Elect two members of the council", Choices: []string{"Anna Bianchi", "Luca Rossi", "Giulia Conti", "Marco Ricci", "Sara Greco"}, Min: 2, Max: 2}
)

// startBoothSite stands the election up; witnesses, if given, is how many
// witnesses cosign its checkpoints (quorum: a majority).
func startBoothSite(t testing.TB, ctx context.Context, witnesses ...int) *boothSite {
	w := 0
	if len(witnesses) > 0 {
		w = witnesses[0]
	}
	return startBoothSiteWith(t, ctx, func(o *sim.SiteOptions) { o.Witnesses, o.WitnessQuorum = w, w/2+min(w, 1) })
}

// startBoothSiteWith stands the election up with the options opt sets.
func startBoothSiteWith(t testing.TB, ctx context.Context, opt func(*sim.SiteOptions)) *boothSite {
	s := &boothSite{dir: t.TempDir()}
	o := sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Questions: []ballot.Question{motion, council}, Title: "Assemblea 2026",
			Opens: "2026-12-01T09:00:00+01:00", Closes: "2026-12-14T21:00:00+01:00"},
		Voters: 6,
		Front: func(issuerURL, boardURL string, api http.Handler) ([]string, http.Handler, error) {
			return []string{boardURL}, booth.Mount(s.hold.wrap(api), booth.Handler(os.DirFS(s.dir))), nil
		},
	}
	opt(&o)
	var err error
	s.Site, err = sim.StartSite(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	b, err := booth.Build(ctx, booth.Options{Manifest: s.Board.Manifest().Bytes(), BoardKey: s.VKey, Issuer: s.IssuerURL, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Write(s.dir); err != nil {
		t.Fatal(err)
	}
	return s
}

// link is voter i's invitation; withCode puts the code in it.
func (s *boothSite) link(t testing.TB, i int, withCode bool) string {
	inv := booth.Invitation{ElectionID: fmt.Sprintf("%x", s.Board.Manifest().ID()), VoterID: s.Voters[i][0]}
	if withCode {
		inv.Code = s.Voters[i][1]
	}
	l, err := booth.Link(s.BoardURL+"/", inv)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// page is one tab, its language and its viewport.
type page struct {
	t      *testing.T
	ctx    context.Context
	cancel context.CancelFunc
	lang   string
	mobile bool
	errs   *[]string
}

func newPage(t *testing.T, bctx context.Context, lang string, mobile bool) *page {
	ctx, cancel := chromedp.NewContext(bctx)
	p := &page{t: t, ctx: ctx, cancel: cancel, lang: lang, mobile: mobile, errs: new([]string)}
	var mu sync.Mutex
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if os.Getenv("EVOTE_BOOTH_CONSOLE") != "" {
				t.Logf("%s console: %s", lang, m.String())
			}
			if m.IsException() || strings.Contains(m.String(), "Content Security Policy") || strings.Contains(m.String(), "integrity") {
				mu.Lock()
				*p.errs = append(*p.errs, m.String())
				mu.Unlock()
			}
		}
	}()
	p.viewport(mobile)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range *p.errs {
			t.Errorf("%s page: %s", lang, e)
		}
	})
	return p
}

func (p *page) viewport(mobile bool) {
	p.t.Helper()
	var err error
	if mobile {
		err = chromedp.Do(p.ctx, chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	} else {
		err = chromedp.Do(p.ctx, chromedp.EmulateViewport(1280, 860))
	}
	if err != nil {
		p.t.Fatal(err)
	}
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v; the page shows: %s", p.lang, err, p.showing())
	}
}

// showing is the visible screen and its text, for a failure's message.
func (p *page) showing() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const s = document.querySelector("[data-screen]:not([hidden])"); return s ? s.id + ": " + s.innerText : "no screen"; })()`))
	if err != nil {
		return err.Error()
	}
	return s
}

func run[T any](p *page, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", p.lang, err)
	}
	return v
}

func (p *page) text(id string) string { return run(p, chromedp.Text(chromedp.ID(id))) }

// screen waits for a screen and saves it at 360 px and on a desktop.
func (p *page) screen(id, name string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.ID(id)))
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	for _, mobile := range []bool{true, false} {
		p.viewport(mobile)
		img := run(p, chromedp.FullScreenshot(100))
		size := "desktop"
		if mobile {
			size = "360px"
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-%s.png", p.lang, size, name)), img, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	p.viewport(p.mobile)
}

// choose clicks question q's choices.
func (p *page) choose(q int, choices ...int) {
	for _, c := range choices {
		p.do(chromedp.Click(chromedp.ID(fmt.Sprintf("q%dc%d", q, c))))
	}
}

func (p *page) checked(q, c int) bool {
	return run(p, chromedp.Evaluate[bool](fmt.Sprintf(`document.getElementById("q%dc%d").checked`, q, c)))
}

func (p *page) storage(key string) string {
	return run(p, chromedp.Evaluate[string](fmt.Sprintf(`localStorage.getItem(%q) || ""`, key)))
}

// keys types keys into whatever has the focus, one at a time.
func (p *page) keys(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		p.do(chromedp.KeyEvent(k))
	}
}

// checkSavedReceipt follows the receipt screen's link to the check page
// and checks the receipt saved on the device.
func (p *page) checkSavedReceipt() {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(`#s-receipt a[href="#check"]`)), chromedp.WaitVisible(chromedp.ID("s-check")),
		chromedp.Click(chromedp.ID("check-saved")), chromedp.WaitVisible(chromedp.CSS("#check-result.ok")))
	if got := p.text("check-result"); !strings.Contains(got, "latest signed state") && !strings.Contains(got, "ultimo stato firmato") {
		p.t.Errorf("%s check page says %q", p.lang, got)
	}
}

// accessible checks what a screen reader and a keyboard need of every
// screen: a language, a label for every field, a name for every button, one
// heading a screen that takes the focus, and that the voter client runs in
// the worker, not on the page's thread.
func (p *page) accessible() {
	p.t.Helper()
	problems := run(p, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		if (!document.documentElement.lang) out.push("no lang on <html>");
		for (const el of document.querySelectorAll("input, textarea, select")) {
			if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) out.push("no label: " + (el.id || el.name || el.type));
		}
		for (const b of document.querySelectorAll("button, a[href]")) {
			if (!b.textContent.trim() && !b.getAttribute("aria-label")) out.push("no name: " + (b.id || b.outerHTML.slice(0, 40)));
		}
		for (const s of document.querySelectorAll("[data-screen]")) {
			const hs = s.querySelectorAll("h1");
			if (hs.length !== 1 || hs[0].getAttribute("tabindex") !== "-1") out.push("screen " + s.id + " has no single focusable heading");
		}
		if (typeof Go !== "undefined" || typeof evoteCall !== "undefined") out.push("the WebAssembly runs on the page's thread");
		return out;
	})()`))
	for _, pr := range problems {
		p.t.Errorf("%s page: %s", p.lang, pr)
	}
}

// TestBoothInBrowser votes through the booth in headless Chromium: four
// voters on a yes/no and a 2-of-5 question, one stopped over-voting and
// under-voting, one auditing a ballot before casting, one closing the tab
// while the board's answer to the cast is on its way, one in Italian on a
// phone's width, one by keyboard alone, one whose cast's reply is lost and
// who comes back only after the close; each checks the receipt on the
// check page; then the election is tallied and the record verifies with
// exactly those votes.
func TestBoothInBrowser(t *testing.T) {
	browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := startBoothSite(t, ctx, 3) // three witnesses, quorum two: receipts are cosigned
	e := s.Board.Election()
	eid := fmt.Sprintf("%x", e.Manifest.ID())
	board := boardapi.NewClient(s.BoardURL, nil)
	checker := &voter.Client{Board: board, BoardKey: s.Verifier}
	en := browsertest.New(t, ctx, "en-GB")
	it := browsertest.New(t, ctx, "it-IT")
	want := [][]uint64{{0, 0}, {0, 0, 0, 0, 0}}
	count := func(sel ...[]int) {
		for q, cs := range sel {
			for _, c := range cs {
				want[q][c]++
			}
		}
	}

	// Voter 0, in English on a desktop, from a link with the code in it.
	a := newPage(t, en, "en", false)
	a.do(chromedp.Navigate(s.link(t, 0, true)))
	a.screen("s-login", "1-login")
	if loc := run(a, chromedp.Location()); strings.Contains(loc, "c=") || strings.Contains(loc, s.Voters[0][1]) {
		t.Errorf("the code stayed in the address bar: %s", loc)
	}
	if got := a.text("login-times"); !strings.Contains(got, "14 December 2026") {
		t.Errorf("English closing time: %q", got)
	}
	if got := run(a, chromedp.Value(chromedp.ID("voter-id"))); got != s.Voters[0][0] {
		t.Errorf("voter id %q from the link, want %q", got, s.Voters[0][0])
	}
	a.do(chromedp.Click(chromedp.CSS("#login-form button")))
	a.screen("s-ballot", "2-ballot")
	a.choose(0, 0)
	a.choose(1, 0, 1, 2) // a third pick on a 2-of-5 question
	if a.checked(1, 2) {
		t.Error("the booth let the voter choose 3 of a 2-of-5 question")
	}
	if msg := a.text("q1-msg"); !strings.Contains(msg, "at most 2") {
		t.Errorf("over-vote message %q", msg)
	}
	a.screen("s-ballot", "3-ballot-over-vote")
	a.choose(1, 1) // unpick: one left, an under-vote
	a.do(chromedp.Click(chromedp.CSS("#ballot-form > button")))
	if msg := a.text("q1-msg"); !strings.Contains(msg, "at least 2") {
		t.Errorf("under-vote message %q", msg)
	}
	if !strings.Contains(a.text("ballot-error"), council.Text) {
		t.Errorf("the under-vote summary does not name the question: %q", a.text("ballot-error"))
	}
	a.screen("s-ballot", "4-ballot-under-vote")
	a.choose(1, 3)
	a.do(chromedp.Click(chromedp.CSS("#ballot-form > button")))
	a.screen("s-review", "5-review")
	if got := a.text("review-list"); !strings.Contains(got, "Anna Bianchi, Marco Ricci") || !strings.Contains(got, "Yes") {
		t.Errorf("review shows %q", got)
	}
	sizeAtSeal, _ := s.Log.Size()
	a.do(chromedp.Click(chromedp.ID("review-seal")))
	a.screen("s-sealed", "6-sealed")
	audited := strings.ReplaceAll(a.text("sealed-code"), " ", "")

	// It audits that ballot: the audit data checks natively, and the
	// audited ballot never reaches the board.
	a.do(chromedp.Click(chromedp.ID("sealed-audit")))
	a.screen("s-audit", "7-audit")
	auditText := run(a, chromedp.Value(chromedp.ID("audit-data")))
	au, err := voter.ParseAudit([]byte(auditText))
	if err != nil {
		t.Fatal(err)
	}
	if err := voter.CheckAudit(e, au); err != nil {
		t.Errorf("the booth's audit data does not check: %v", err)
	}
	if au.Fingerprint != audited || !slices.EqualFunc(au.Choices, [][]int{{0}, {0, 3}}, slices.Equal[[]int]) {
		t.Errorf("audit of %s with choices %v, want %s with [[0] [0 3]]", au.Fingerprint, au.Choices, audited)
	}
	auditFile := filepath.Join(t.TempDir(), "audit.json")
	os.WriteFile(auditFile, []byte(auditText), 0o600)
	a.do(chromedp.Click(chromedp.ID("audit-again")))
	a.do(chromedp.WaitVisible(chromedp.ID("s-sealed")))
	if again := strings.ReplaceAll(a.text("sealed-code"), " ", ""); again == audited {
		t.Error("the booth cast-or-audit offered the audited ballot again")
	}
	a.do(chromedp.Click(chromedp.ID("sealed-cast")))
	a.screen("s-receipt", "8-receipt")
	count([]int{0}, []int{0, 3})
	if a.storage("evote.ticket."+eid+"."+s.Voters[0][0]) != "" {
		t.Error("the ticket stayed in storage after a checked receipt")
	}
	body, _ := base64.StdEncoding.DecodeString(au.BallotBody)
	if n, _ := s.Log.Size(); n != sizeAtSeal+1 {
		t.Errorf("auditing and casting added %d entries to the log, want 1", n-sizeAtSeal)
	}
	for i := range sizeAtSeal + 1 {
		leaf, err := board.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(leaf, body) {
			t.Errorf("entry %d is the audited ballot", i)
		}
	}
	a.accessible()
	a.checkSavedReceipt()
	a.screen("s-check", "9-check-receipt")
	a.do(chromedp.SetUploadFiles(chromedp.ID("check-file"), []string{auditFile}))
	a.do(chromedp.Poll[chromedp.Void](`document.getElementById("check-result").textContent.includes("audited")`))
	if got := a.text("check-result"); !strings.Contains(got, au.Fingerprint[:8]) || !strings.Contains(run(a, chromedp.Text(chromedp.ID("check-list"))), "Marco Ricci") {
		t.Errorf("audit check says %q", got)
	}
	a.screen("s-check", "10-check-audit")
	// The wrong file is called the wrong file, not evidence.
	junk := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(junk, []byte("my notes, not a receipt"), 0o600)
	a.do(chromedp.SetUploadFiles(chromedp.ID("check-file"), []string{junk}),
		chromedp.Poll[chromedp.Void](`document.getElementById("check-result").textContent.includes("not a receipt")`))

	// Voter 1, in Italian at 360 px, types the code; it too over-votes
	// and audits before casting.
	b := newPage(t, it, "it", true)
	b.do(chromedp.Navigate(s.link(t, 1, false)))
	b.screen("s-login", "1-login")
	if h := run(b, chromedp.Text(chromedp.CSS("#s-login h1"))); h != "Identificati" {
		t.Errorf("an Italian browser got %q", h)
	}
	// The manifest's closing time, 21:00 in Rome, in the voter's words.
	if got := b.text("login-times"); !strings.Contains(got, "14 dicembre 2026") {
		t.Errorf("Italian closing time: %q", got)
	}
	b.do(chromedp.SendKeys(chromedp.ID("code"), "WRONG-CODE"), chromedp.Click(chromedp.CSS("#login-form button")))
	b.do(chromedp.WaitVisible(chromedp.ID("login-error")))
	if msg := b.text("login-error"); !strings.Contains(msg, "non è un codice") {
		t.Errorf("a malformed code, in Italian: %q", msg)
	}
	b.screen("s-login", "1b-login-not-a-code")
	wrong := []byte(s.Voters[1][1]) // another code of the right form
	if wrong[0] = '7'; s.Voters[1][1][0] == '7' {
		wrong[0] = '8'
	}
	b.do(chromedp.SetValue(chromedp.ID("code"), string(wrong)), chromedp.Click(chromedp.CSS("#login-form button")))
	b.do(chromedp.Poll[chromedp.Void](`document.getElementById("login-error").textContent.includes("sbagliato")`))
	b.screen("s-login", "1c-login-wrong-code")
	b.do(chromedp.SetValue(chromedp.ID("code"), s.Voters[1][1]), chromedp.Click(chromedp.CSS("#login-form button")))
	b.screen("s-ballot", "2-ballot")
	b.choose(0, 1)
	b.choose(1, 1, 2, 4)
	if b.checked(1, 4) || !strings.Contains(b.text("q1-msg"), "al massimo 2") {
		t.Errorf("Italian over-vote: checked %v, message %q", b.checked(1, 4), b.text("q1-msg"))
	}
	b.screen("s-ballot", "3-ballot-over-vote")
	b.choose(1, 2)
	b.do(chromedp.Click(chromedp.CSS("#ballot-form > button")))
	b.screen("s-ballot", "4-ballot-under-vote")
	b.choose(1, 2)
	b.do(chromedp.Click(chromedp.CSS("#ballot-form > button")))
	b.screen("s-review", "5-review")
	b.do(chromedp.Click(chromedp.ID("review-seal")))
	b.screen("s-sealed", "6-sealed")
	b.do(chromedp.Click(chromedp.ID("sealed-audit")))
	b.screen("s-audit", "7-audit")
	b.do(chromedp.Click(chromedp.ID("audit-again")), chromedp.WaitVisible(chromedp.ID("s-sealed")), chromedp.Click(chromedp.ID("sealed-cast")))
	b.screen("s-receipt", "8-receipt")
	count([]int{1}, []int{1, 2})
	b.checkSavedReceipt()
	b.screen("s-check", "9-check-receipt")
	// The switch, on any screen, turns the page to English and back.
	b.do(chromedp.Click(chromedp.ID("lang-switch")))
	if h := run(b, chromedp.Text(chromedp.CSS("#s-check h1"))); !strings.HasPrefix(h, "Check a receipt") {
		t.Errorf("after the switch: %q", h)
	}
	b.do(chromedp.Click(chromedp.ID("lang-switch")))

	// Voter 2 closes the tab while the board's answer to its cast is on
	// its way (the ballot stored, the receipt not yet sent), and opens
	// the booth again: it resumes and ends with one ballot and a receipt.
	c := newPage(t, en, "en", true)
	c.do(chromedp.Navigate(s.link(t, 2, true)), chromedp.WaitVisible(chromedp.ID("s-login")), chromedp.Click(chromedp.CSS("#login-form button")))
	c.do(chromedp.WaitVisible(chromedp.ID("s-ballot")))
	c.choose(0, 0)
	c.choose(1, 2, 4)
	c.do(chromedp.Click(chromedp.CSS("#ballot-form > button")), chromedp.WaitVisible(chromedp.ID("s-review")), chromedp.Click(chromedp.ID("review-seal")), chromedp.WaitVisible(chromedp.ID("s-sealed")))
	s.hold.arm()
	sizeBefore, _ := s.Log.Size()
	c.do(chromedp.Click(chromedp.ID("sealed-cast")))
	select {
	case <-s.hold.arrived:
	case <-time.After(60 * time.Second):
		t.Fatal("the cast never reached the board")
	}
	// What the device saved before sending cannot open the ballot: an
	// audit of a ballot that may be on the board would prove the vote.
	if saved := c.storage("evote.ticket." + eid + "." + s.Voters[2][0]); saved == "" || strings.Contains(saved, `opening`) {
		t.Errorf("the ticket saved before the cast holds the opening (or is missing): %.200s", saved)
	}
	c.cancel() // the tab closes; its cast's answer is lost
	close(s.hold.release)
	if n, _ := s.Log.Size(); n != sizeBefore+1 {
		t.Fatalf("the held cast stored %d entries, want 1", n-sizeBefore)
	}
	c2 := newPage(t, en, "en", true)
	c2.do(chromedp.Navigate(s.BoardURL + "/"))
	c2.do(chromedp.WaitVisible(chromedp.ID("s-receipt")))
	count([]int{0}, []int{2, 4})
	rcText := run(c2, chromedp.Evaluate[string](fmt.Sprintf(`JSON.parse(localStorage.getItem(%q)).receipt`, "evote.receipt."+eid+"."+s.Voters[2][0])))
	rc, err := voter.ParseReceipt([]byte(rcText))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checker.CheckReceipt(ctx, rc); err != nil {
		t.Errorf("the resumed voter's receipt: %v", err)
	}
	// The booth's receipt is the witnesses': cosigned by a quorum, with
	// its ballot, so it checks with no network.
	if _, err := voter.CheckReceiptOffline(rc, s.Verifier, e.Manifest); err != nil || rc.Ballot == "" {
		t.Errorf("the booth's receipt offline: %v", err)
	}
	if n, _ := s.Log.Size(); n != sizeBefore+1 {
		t.Errorf("resuming the cast stored %d entries, want 1", n-sizeBefore)
	}
	c2.checkSavedReceipt()

	// Another invitation opened in the same tab is read, and its code
	// leaves the address bar: the tab now serves that voter.
	c2.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, strings.SplitN(s.link(t, 5, true), "#", 2)[1])),
		chromedp.WaitVisible(chromedp.ID("s-login")))
	if loc := run(c2, chromedp.Location()); strings.Contains(loc, "#") {
		t.Errorf("the second link stayed in the address bar: %s", loc)
	}
	if got := run(c2, chromedp.Value(chromedp.ID("voter-id"))); got != s.Voters[5][0] {
		t.Errorf("after a second link the form names %q, want %q", got, s.Voters[5][0])
	}

	// Voter 3 votes with the keyboard alone, in the page's focus order:
	// each screen's heading takes the focus, Tab walks the choices and
	// buttons, Space picks, Enter acts. And a link for another election is
	// refused.
	d := newPage(t, browsertest.New(t, ctx, "en-US"), "en", false) // a device of its own
	d.do(chromedp.Navigate(s.link(t, 3, true)), chromedp.WaitVisible(chromedp.ID("s-login")))
	d.do(chromedp.Focus(chromedp.ID("code")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("s-ballot")))
	d.keys(kb.Tab, " ", kb.Tab, " ", kb.Tab, " ", kb.Tab, kb.Tab, kb.Tab, kb.Tab, kb.Enter) // Yes; Anna, Luca; Review
	d.do(chromedp.WaitVisible(chromedp.ID("s-review")))
	d.keys(kb.Tab, kb.Tab, kb.Enter) // past "Change", to "Encrypt"
	d.do(chromedp.WaitVisible(chromedp.ID("s-sealed")))
	d.keys(kb.Tab, kb.Tab, kb.Enter) // past "Audit", to "Cast"
	d.do(chromedp.WaitVisible(chromedp.ID("s-receipt")))
	count([]int{0}, []int{0, 1})
	d.checkSavedReceipt()
	// Back on the booth, the device's receipt is shown once the board
	// proves it again; an altered one is refused, not shown as a vote.
	d.do(chromedp.Navigate(s.BoardURL+"/"), chromedp.WaitVisible(chromedp.ID("s-receipt")))
	rkey := "evote.receipt." + eid + "." + s.Voters[3][0]
	d.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const r = JSON.parse(localStorage.getItem(%q)); const x = JSON.parse(r.receipt); x.tracking_code = "00".repeat(32); r.receipt = JSON.stringify(x); localStorage.setItem(%q, JSON.stringify(r)); })()`, rkey, rkey)),
		chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("s-error")))
	if got := d.text("error-body"); !strings.Contains(got, "does NOT check out") {
		t.Errorf("an altered receipt on the device: %q", got)
	}
	other := strings.Replace(s.link(t, 4, true), "e="+eid, "e="+strings.Repeat("0", 64), 1)
	x := newPage(t, it, "it", true)
	x.do(chromedp.Navigate(other))
	x.screen("s-error", "11-error-other-election")
	xe := newPage(t, en, "en", false)
	xe.do(chromedp.Navigate(other))
	xe.screen("s-error", "11-error-other-election")

	// Voter 5, in the tab the second link turned to it, loses the reply
	// to its cast, and comes back only after voting has closed: the booth
	// still gets the receipt of the ballot it sent in time.
	c2.do(chromedp.Click(chromedp.CSS("#login-form button")), chromedp.WaitVisible(chromedp.ID("s-ballot")))
	c2.choose(0, 1)
	c2.choose(1, 3, 4)
	c2.do(chromedp.Click(chromedp.CSS("#ballot-form > button")), chromedp.WaitVisible(chromedp.ID("s-review")), chromedp.Click(chromedp.ID("review-seal")), chromedp.WaitVisible(chromedp.ID("s-sealed")))
	s.hold.arm()
	c2.do(chromedp.Click(chromedp.ID("sealed-cast")))
	select {
	case <-s.hold.arrived:
	case <-time.After(60 * time.Second):
		t.Fatal("the cast never reached the board")
	}
	c2.cancel()
	close(s.hold.release)
	count([]int{1}, []int{3, 4})

	// Close and tally; the booth says so, and receipts still check.
	res, err := s.Tally(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	late := newPage(t, en, "en", true)
	late.do(chromedp.Navigate(s.BoardURL+"/"), chromedp.WaitVisible(chromedp.ID("s-receipt")))
	late.checkSavedReceipt()
	if _, err := checker.CheckReceipt(ctx, rc); err != nil {
		t.Errorf("after the tally, a receipt: %v", err)
	}
	a.do(chromedp.Navigate(s.BoardURL + "/"))
	a.screen("s-phase", "12-closed")
	b.do(chromedp.Navigate(s.BoardURL + "/"))
	b.screen("s-phase", "12-closed")
	a.do(chromedp.Navigate(s.BoardURL+"/#check"), chromedp.WaitVisible(chromedp.ID("s-check")), chromedp.Click(chromedp.ID("check-saved")), chromedp.WaitVisible(chromedp.CSS("#check-result.ok")))

	var recBuf bytes.Buffer
	if err := board.Export(ctx, &recBuf); err != nil { // the cosigned record, as anyone downloads it
		t.Fatal(err)
	}
	rec := recBuf.Bytes()
	rep, err := verify.Record(bytes.NewReader(rec), s.Verifier, verify.Options{})
	if err != nil {
		t.Fatalf("the record does not verify: %v", err)
	}
	if rep.Counted != 5 || !slices.EqualFunc(rep.Result.Counts, want, slices.Equal[[]uint64]) || !res.Equal(rep.Result) {
		t.Errorf("the record counts %d ballots, %v; the voters cast 5, %v", rep.Counted, rep.Result.Counts, want)
	}
}

var mailedCodeRE = regexp.MustCompile(`\b(\d{3})[ \x{00a0}-]?(\d{3})\b`)

// lastCode is the code of the last mail to the address to, read as a voter
// reads it, and how many mails that address got.
func lastCode(t *testing.T, srv *smtptest.Server, to string) (string, int) {
	t.Helper()
	var last []byte
	n := 0
	for _, m := range srv.Mails() {
		if m.To == to {
			last, n = m.Data, n+1
		}
	}
	if last == nil {
		t.Fatalf("no mail to %s", to)
	}
	m, err := mail.ReadMessage(bytes.NewReader(last))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	c := mailedCodeRE.FindStringSubmatch(string(b))
	if c == nil {
		t.Fatalf("no code in the mail:\n%s", b)
	}
	return c[1] + c[2], n
}

// notCode is a 6-digit code other than code.
func notCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestBoothSecondFactor votes through the booth against an issuer that
// e-mails a one-time code after the enrolment code (read back from a real
// SMTP server in process): a voter in Italian at 360 px types a wrong code
// first and is told so, closes the tab, comes back to the code's screen
// (asked for the enrolment code again, which the device never keeps), asks
// for a new code once the minute has passed, and votes with it; one in
// English does the code's screen with the keyboard alone; one who enrolled
// an authenticator app is asked for its code instead, and no mail is sent.
// Nothing is signed before the second factor passes.
func TestBoothSecondFactor(t *testing.T) {
	browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := smtptest.Start(t, smtptest.STARTTLS)
	// The issuer's codes go out as a deployment's do: invite's mailer and
	// templates, over SMTP with STARTTLS and AUTH PLAIN.
	mailer, err := invite.NewCodeMailer(invite.SMTPConfig{Addr: srv.Addr, Security: invite.StartTLS, User: srv.User, Password: srv.Pass, RootCAs: srv.CAs}, "election@vote.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var skew atomic.Int64 // the issuer's clock, which the test moves on
	s := startBoothSiteWith(t, ctx, func(o *sim.SiteOptions) {
		o.SecondFactor, o.Sender = issuerapi.FactorEmail, mailer
		o.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		o.Contacts = func(id string) issuer.Contact {
			if id == "voter-000004" { // voter 3: no address the code could go to
				return issuer.Contact{Lang: "it"}
			}
			return sim.TestContact(id)
		}
	})
	eid := fmt.Sprintf("%x", s.Board.Manifest().ID())
	issued := func() int {
		c, err := s.Issuer.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c.Issued
	}
	email := func(i int) string { return sim.TestContact(s.Voters[i][0]).Email }
	masked := func(i int) string { return issuer.MaskContact(issuerapi.FactorEmail, email(i)) }
	it := browsertest.New(t, ctx, "it-IT")
	en := browsertest.New(t, ctx, "en-GB")

	// Voter 0, in Italian on a phone, from a link with the code in it.
	a := newPage(t, it, "it", true)
	a.do(chromedp.Navigate(s.link(t, 0, true)), chromedp.WaitVisible(chromedp.ID("s-login")), chromedp.Click(chromedp.CSS("#login-form button")))
	a.screen("s-factor", "13-factor-email")
	if got := a.text("factor-where"); !strings.Contains(got, "Inserisci il codice di 6 cifre che abbiamo inviato a "+masked(0)) {
		t.Errorf("the code's screen says %q, want where the code went (%s)", got, masked(0))
	}
	for attr, want := range map[string]string{"inputmode": "numeric", "autocomplete": "one-time-code"} {
		if got := run(a, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById("factor-code").getAttribute(%q)`, attr))); got != want {
			t.Errorf("the code's field has %s=%q, want %q", attr, got, want)
		}
	}
	if !run(a, chromedp.Evaluate[bool](`document.getElementById("factor-resend").disabled`)) || !strings.Contains(a.text("factor-resend-hint"), "un minuto") {
		t.Errorf("within the minute, a new code can be asked for: %q", a.text("factor-resend-hint"))
	}
	a.accessible()
	first, _ := lastCode(t, srv, email(0))
	if issued() != 0 {
		t.Fatalf("%d tokens issued before the second factor", issued())
	}
	size, _ := s.Log.Size()
	// A wrong code first: told so, in Italian, and nothing signed.
	a.do(chromedp.SendKeys(chromedp.ID("factor-code"), notCode(first)), chromedp.Click(chromedp.CSS("#factor-form button")))
	a.do(chromedp.WaitVisible(chromedp.ID("factor-error")))
	if msg := a.text("factor-error"); !strings.Contains(msg, "sbagliato o scaduto") {
		t.Errorf("a wrong code, in Italian: %q", msg)
	}
	a.screen("s-factor", "13b-factor-wrong")
	if n, _ := s.Log.Size(); issued() != 0 || n != size {
		t.Fatalf("a wrong code: %d tokens issued, %d entries logged", issued(), n-size)
	}
	// The tab closes. Reopened, the booth is back at the code, and asks
	// for the enrolment code again: the device never kept it.
	key := "evote.ticket." + eid + "." + s.Voters[0][0]
	if saved := a.storage(key); !strings.Contains(saved, `"step":"factor"`) || strings.Contains(saved, s.Voters[0][1]) || strings.Contains(saved, first) {
		t.Errorf("the saved state at the second factor: %s", saved)
	}
	a.cancel()
	// A minute passes, for the issuer and for the page.
	skew.Add(int64(61 * time.Second))
	a2 := newPage(t, it, "it", true)
	a2.do(chromedp.Navigate(s.BoardURL+"/"), chromedp.WaitVisible(chromedp.ID("s-factor")))
	a2.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = JSON.parse(localStorage.getItem(%q)); s.sent_at -= 61000; localStorage.setItem(%q, JSON.stringify(s)); })()`, key, key)),
		chromedp.Reload())
	a2.screen("s-factor", "13c-factor-resume")
	if !run(a2, chromedp.Evaluate[bool](`!document.getElementById("factor-enrol-wrap").hidden && !document.getElementById("factor-resend").disabled`)) {
		t.Errorf("resumed: the enrolment code is not asked again, or no new code can be asked for: %s", a2.showing())
	}
	a2.do(chromedp.SendKeys(chromedp.ID("factor-enrol"), s.Voters[0][1]), chromedp.Click(chromedp.ID("factor-resend")))
	a2.do(chromedp.WaitVisible(chromedp.ID("factor-note")))
	second, n := lastCode(t, srv, email(0))
	if n != 2 || !strings.Contains(a2.text("factor-note"), "nuovo codice a "+masked(0)) {
		t.Errorf("a new code: %d mails, the page says %q", n, a2.text("factor-note"))
	}
	a2.screen("s-factor", "13d-factor-resent")
	// The enrolment code passed: it is not asked again.
	if run(a2, chromedp.Evaluate[bool](`!document.getElementById("factor-enrol-wrap").hidden`)) {
		t.Error("the enrolment code is asked again after it passed")
	}
	a2.do(chromedp.SendKeys(chromedp.ID("factor-code"), second[:3]+" "+second[3:]), chromedp.Click(chromedp.CSS("#factor-form button")))
	a2.do(chromedp.WaitVisible(chromedp.ID("s-ballot")))
	if issued() != 1 {
		t.Errorf("%d tokens issued after the code passed, want 1", issued())
	}
	if saved := a2.storage(key); strings.Contains(saved, "factor") {
		t.Errorf("the second factor's state stayed: %s", saved)
	}
	a2.choose(0, 0)
	a2.choose(1, 1, 3)
	a2.do(chromedp.Click(chromedp.CSS("#ballot-form > button")), chromedp.WaitVisible(chromedp.ID("s-review")),
		chromedp.Click(chromedp.ID("review-seal")), chromedp.WaitVisible(chromedp.ID("s-sealed")),
		chromedp.Click(chromedp.ID("sealed-cast")), chromedp.WaitVisible(chromedp.ID("s-receipt")))
	a2.checkSavedReceipt()

	// Voter 1, in English, by keyboard alone: the heading has the focus,
	// Tab reaches the code's field, Enter sends it; a wrong code puts the
	// focus back in the field.
	b := newPage(t, en, "en", true)
	b.do(chromedp.Navigate(s.link(t, 1, true)), chromedp.WaitVisible(chromedp.ID("s-login")))
	b.do(chromedp.Focus(chromedp.ID("code")), chromedp.KeyEvent(kb.Enter))
	b.screen("s-factor", "13-factor-email")
	if got := b.text("factor-where"); !strings.Contains(got, "Enter the 6-digit code we sent to "+masked(1)) {
		t.Errorf("the code's screen says %q", got)
	}
	code1, _ := lastCode(t, srv, email(1))
	b.keys(kb.Tab)
	b.keys(strings.Split(notCode(code1), "")...)
	b.keys(kb.Enter)
	b.do(chromedp.WaitVisible(chromedp.ID("factor-error")))
	if msg := b.text("factor-error"); !strings.Contains(msg, "wrong or has expired") {
		t.Errorf("a wrong code: %q", msg)
	}
	b.screen("s-factor", "13b-factor-wrong")
	if focus := run(b, chromedp.Evaluate[string](`document.activeElement.id`)); focus != "factor-code" {
		t.Errorf("after a wrong code the focus is on %q", focus)
	}
	b.keys(strings.Split(code1, "")...)
	b.keys(kb.Enter)
	b.do(chromedp.WaitVisible(chromedp.ID("s-ballot")))

	// Voter 2 enrolled an authenticator app: its code is asked for, no
	// mail is sent, and the app's code of now passes.
	uri, err := s.Issuer.EnrolTOTP(ctx, s.Voters[2][0], "Assemblea 2026", "me")
	if err != nil {
		t.Fatal(err)
	}
	otpKey, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	mails := len(srv.Mails())
	c := newPage(t, en, "en", true)
	c.do(chromedp.Navigate(s.link(t, 2, true)), chromedp.WaitVisible(chromedp.ID("s-login")), chromedp.Click(chromedp.CSS("#login-form button")))
	c.screen("s-factor", "14-factor-totp")
	if got := c.text("factor-where"); !strings.Contains(got, "authenticator app") || run(c, chromedp.Evaluate[bool](`!document.getElementById("factor-resend-wrap").hidden`)) {
		t.Errorf("the app's screen says %q, or offers a new code", got)
	}
	if len(srv.Mails()) != mails {
		t.Error("a mail was sent to a voter with an authenticator app")
	}
	now, err := totp.GenerateCodeCustom(otpKey.Secret(), time.Now().Add(time.Duration(skew.Load())), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	c.do(chromedp.SendKeys(chromedp.ID("factor-code"), now), chromedp.Click(chromedp.CSS("#factor-form button")), chromedp.WaitVisible(chromedp.ID("s-ballot")))
	c.choose(0, 1)
	c.choose(1, 0, 4)
	c.do(chromedp.Click(chromedp.CSS("#ballot-form > button")), chromedp.WaitVisible(chromedp.ID("s-review")),
		chromedp.Click(chromedp.ID("review-seal")), chromedp.WaitVisible(chromedp.ID("s-sealed")),
		chromedp.Click(chromedp.ID("sealed-cast")), chromedp.WaitVisible(chromedp.ID("s-receipt")))

	// Voter 3 has no e-mail address on the roll: told to call the help
	// desk, with no "try again" and no promise that a vote is kept.
	d := newPage(t, it, "it", true)
	d.do(chromedp.Navigate(s.link(t, 3, true)), chromedp.WaitVisible(chromedp.ID("s-login")), chromedp.Click(chromedp.CSS("#login-form button")))
	d.screen("s-error", "15-factor-none")
	if got := d.text("error-body"); !strings.Contains(got, "assistenza") || run(d, chromedp.Evaluate[bool](`!document.getElementById("error-retry").hidden`)) {
		t.Errorf("no address for the code: %q, or a retry offered", got)
	}
	// Voter 4's mail server refuses the code: told to try again in a
	// minute, on the same screen; once it accepts, the code's screen.
	srv.Reject(email(4), true)
	f := newPage(t, en, "en", true)
	f.do(chromedp.Navigate(s.link(t, 4, true)), chromedp.WaitVisible(chromedp.ID("s-login")), chromedp.Click(chromedp.CSS("#login-form button")))
	f.do(chromedp.WaitVisible(chromedp.ID("login-error")))
	if got := f.text("login-error"); !strings.Contains(got, "could not be sent") || !strings.Contains(got, "1 minute") {
		t.Errorf("a failed send: %q", got)
	}
	f.screen("s-login", "15b-factor-send-failed")
	srv.Reject(email(4), false)
	f.do(chromedp.Click(chromedp.CSS("#login-form button")), chromedp.WaitVisible(chromedp.ID("s-factor")))
	if issued() != 3 {
		t.Errorf("%d tokens issued, want 3", issued())
	}
}
