package booth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/booth/boothapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/issuer/issuerapi"
)

// src is the module's root, two levels up from this package.
var src, _ = filepath.Abs("..")

var (
	builtOnce sync.Once
	built     *booth.Booth
	builtErr  error
	builtOpts booth.Options
)

// testBooth builds a booth once per test binary (the WebAssembly compile
// takes tens of seconds cold).
func testBooth(t testing.TB) (*booth.Booth, booth.Options) {
	t.Helper()
	builtOnce.Do(func() {
		e := electiontest.New(t, electiontest.Options{})
		builtOpts = booth.Options{Manifest: e.Board.Manifest().Bytes(), BoardKey: e.VKey, Issuer: "https://issuer.example.org", Source: src}
		built, builtErr = booth.Build(context.Background(), builtOpts)
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return built, builtOpts
}

// TestBuildReproducible builds the booth twice, from two copies of the
// configuration and into two directories, and requires the same bytes.
func TestBuildReproducible(t *testing.T) {
	b1, o := testBooth(t)
	b2, err := booth.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(b1.Files) != len(b2.Files) {
		t.Fatalf("%d files, then %d", len(b1.Files), len(b2.Files))
	}
	for i, f := range b1.Files {
		g := b2.Files[i]
		if f.Name != g.Name || f.SHA256 != g.SHA256 || !bytes.Equal(b1.Data(f.Name), b2.Data(g.Name)) {
			t.Errorf("%s: %s, then %s %s", f.Name, f.SHA256, g.Name, g.SHA256)
		}
	}
	d1, d2 := t.TempDir(), t.TempDir()
	if err := b1.Write(d1); err != nil {
		t.Fatal(err)
	}
	if err := b2.Write(d2); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SHA256SUMS", "index.html.gz", "booth.wasm.gz"} {
		x, _ := os.ReadFile(filepath.Join(d1, name))
		y, _ := os.ReadFile(filepath.Join(d2, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds (or is empty)", name)
		}
	}
	var total, gz int
	for _, f := range b1.Files {
		total += f.Size
		gz += f.Gzip
	}
	t.Logf("booth: %d files, %d bytes, %d gzipped (Go %s)", len(b1.Files), total, gz, b1.GoVersion)
	// The goal for a phone's download; BENCHMARKS.md has the figure.
	if gz > 2<<20 {
		t.Errorf("the booth is %d bytes gzipped, over 2 MiB", gz)
	}
}

// TestPagePinsEverything reads the built page: its configuration pins the
// board key and the manifest hash, every file it loads has a digest that
// matches, the policy names no third party, and no script is inline.
func TestPagePinsEverything(t *testing.T) {
	b, o := testBooth(t)
	page := string(b.Data("index.html"))
	m := regexp.MustCompile(`(?s)<script type="application/json" id="evote-config">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no configuration in the page")
	}
	var cfg boothapi.Config
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatal(err)
	}
	mf, _ := ballot.ParseManifest(o.Manifest)
	h := mf.Hash()
	if cfg.BoardKey != o.BoardKey || cfg.ManifestHash != hexOf(h[:]) || cfg.Issuer != o.Issuer || cfg.Board != "" {
		t.Errorf("configuration %+v does not pin what was built", cfg)
	}
	for name, digest := range cfg.Files {
		if got := sriOf(b.Data(name)); got != digest {
			t.Errorf("%s: digest %s in the page, %s of the file", name, digest, got)
		}
	}
	for _, name := range []string{"booth.js", "style.css"} {
		// html/template writes a + in an attribute as &#43;.
		if !strings.Contains(html.UnescapeString(page), `integrity="`+sriOf(b.Data(name))+`"`) {
			t.Errorf("the page loads %s without its integrity digest", name)
		}
	}
	if n := strings.Count(page, "<script"); n != 2 || !strings.Contains(page, `<script src="booth.js"`) {
		t.Errorf("the page has %d script elements; want the configuration and booth.js only", n)
	}
	csp := regexp.MustCompile(`http-equiv="Content-Security-Policy" content="([^"]*)"`).FindStringSubmatch(page)
	if csp == nil {
		t.Fatal("no Content-Security-Policy in the page")
	}
	policy := strings.ReplaceAll(csp[1], "&#39;", "'")
	for _, want := range []string{"default-src 'none'", "script-src 'self' 'wasm-unsafe-eval';", "connect-src 'self' https://issuer.example.org;"} {
		if !strings.Contains(policy, want) {
			t.Errorf("policy %q lacks %q", policy, want)
		}
	}
	if strings.Contains(policy, "unsafe-inline") || strings.Contains(policy, "*") {
		t.Errorf("policy %q allows inline code or any origin", policy)
	}
}

// TestCataloguesComplete requires every string the page uses in both
// catalogues, the same keys in each, and a message for every refusal a
// voter can meet from the issuer or the board.
func TestCataloguesComplete(t *testing.T) {
	b, _ := testBooth(t)
	cats := map[string]map[string]string{}
	for _, l := range booth.Locales {
		var c map[string]string
		if err := json.Unmarshal(b.Data("locales/"+l+".json"), &c); err != nil {
			t.Fatal(l, err)
		}
		cats[l] = c
	}
	used := map[string]bool{}
	js := string(b.Data("booth.js"))
	for _, m := range regexp.MustCompile(`\bt\("([a-z_.]+)"[,)]`).FindAllStringSubmatch(js, -1) {
		used[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`data-i18n="([a-z_.]+)"`).FindAllStringSubmatch(string(b.Data("index.html")), -1) {
		used[m[1]] = true
	}
	// Keys the script composes.
	for _, k := range []string{"work.token.title", "work.seal.title", "work.cast.title", "work.audit.title", "work.recheck.title", "work.token.body", "work.seal.body", "work.cast.body", "work.audit.body", "work.recheck.body", "err.receipt_bad", "err.link_bad", "err.link_other_election", "err.booth_load",
		"work.factor.title", "work.factor.body", "work.resend.title", "work.resend.body",
		"factor.where_email", "factor.where_sms", "factor.where_totp", "factor.hint_email", "factor.hint_sms", "factor.hint_totp",
		"factor.expired", "factor.void", "factor.resend_hint", "factor.resent", "factor.missing", "factor.missing_enrol"} {
		used[k] = true
	}
	voterMeets := []string{
		"issuer." + issuerapi.CodeBadCredentials, "issuer." + issuerapi.CodeAlreadyIssued,
		"issuer." + issuerapi.CodePurged, "issuer." + issuerapi.CodeRateLimited, "issuer." + issuerapi.CodeOverloaded, "issuer." + issuerapi.CodeInternal,
		"issuer." + issuerapi.CodeSecondFactorRequired, "issuer." + issuerapi.CodeBadSecondFactor, "issuer." + issuerapi.CodeNoSecondFactor,
		"issuer." + issuerapi.CodeTooManyCodes, "issuer." + issuerapi.CodeSendFailed, boothapi.CodeFactorForm,
		"board." + boardapi.CodeAlreadyVoted, "board." + boardapi.CodeClosed, "board." + boardapi.CodeNotOpen, "board." + boardapi.CodeInvalidBallot,
		"board." + boardapi.CodeRateLimited, "board." + boardapi.CodeOverloaded, "board." + boardapi.CodeStorage, "board." + boardapi.CodeInternal,
		boothapi.CodeNetwork, boothapi.CodeCodeForm, boothapi.CodeFileFormat, boothapi.CodeNotCosigned, boothapi.CodeSplitView, boothapi.CodeAuditMismatch, boothapi.CodeCheckFailed,
	}
	for _, c := range voterMeets {
		used["err."+c] = true
	}
	for l, c := range cats {
		for k := range used {
			if c[k] == "" {
				t.Errorf("%s catalogue: no %q", l, k)
			}
		}
	}
	en, it := keys(cats["en"]), keys(cats["it"])
	if !slices.Equal(en, it) {
		t.Errorf("the catalogues have different keys:\nen %v\nit %v", en, it)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestHandlerHeaders serves a written booth and checks what a browser is
// told: the framing policy, no sniffing, no referrer, revalidation, the
// WebAssembly type, and the gzipped copy to a client that accepts it.
func TestHandlerHeaders(t *testing.T) {
	b, _ := testBooth(t)
	dir := t.TempDir()
	if err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("api")) })
	srv := httptest.NewServer(booth.Mount(api, booth.Handler(os.DirFS(dir))))
	defer srv.Close()
	get := func(path, enc string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	r := get("/", "")
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") != "no-referrer" || r.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /: %d %v", r.StatusCode, r.Header)
	}
	if r := get("/booth.wasm", "gzip"); r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("GET /booth.wasm with gzip: %v", r.Header)
	}
	if r := get("/booth.wasm", ""); r.Header.Get("Content-Encoding") != "" || r.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("GET /booth.wasm: %v", r.Header)
	}
	if r := get("/booth.wasm.gz", ""); r.StatusCode != 404 {
		t.Errorf("GET /booth.wasm.gz: %d, want 404", r.StatusCode)
	}
	for _, p := range []string{"/v1/election", "/tlog/checkpoint", "/report.html", "/healthz"} {
		if r := get(p, ""); r.Header.Get("Content-Security-Policy") != "" || r.StatusCode != 200 {
			t.Errorf("%s did not reach the API: %d %v", p, r.StatusCode, r.Header)
		}
	}
}

func TestLink(t *testing.T) {
	id := strings.Repeat("ab", 32)
	l, err := booth.Link("https://vote.example.org/booth/", booth.Invitation{ElectionID: id, VoterID: "m 42&x", Code: "7XQ2M-K9D4T"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://vote.example.org/booth/#c=7XQ2M-K9D4T&e=" + id + "&v=m+42%26x"; l != want {
		t.Errorf("link %s, want %s", l, want)
	}
	inv, err := booth.ParseLink(l)
	if err != nil || inv.VoterID != "m 42&x" || inv.Code != "7XQ2M-K9D4T" || inv.ElectionID != id {
		t.Errorf("ParseLink: %+v %v", inv, err)
	}
	for _, bad := range []string{"https://vote.example.org/", "https://x/#e=" + id, "https://x/#e=zz&v=a", "https://x/#e=" + id + "&v=a&v=b", "https://x/#e=" + id + "&v=a&x=1"} {
		if _, err := booth.ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q) accepted", bad)
		}
	}
	if _, err := booth.Link("ftp://x/", booth.Invitation{ElectionID: id, VoterID: "a"}); err == nil {
		t.Error("Link accepted an ftp booth")
	}
}

func TestBuildRefusals(t *testing.T) {
	_, o := testBooth(t)
	for name, mod := range map[string]func(*booth.Options){
		"no manifest":   func(o *booth.Options) { o.Manifest = nil },
		"bad board key": func(o *booth.Options) { o.BoardKey = "nonsense" },
		"bad issuer":    func(o *booth.Options) { o.Issuer = "issuer.example.org" },
		"not the source": func(o *booth.Options) {
			o.Source = t.TempDir()
		},
	} {
		c := o
		mod(&c)
		if _, err := booth.Build(context.Background(), c); err == nil {
			t.Errorf("%s: built", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
