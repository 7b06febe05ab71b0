package report_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/evote/evote/internal/browsertest"
	"github.com/evote/evote/report"
	"github.com/evote/evote/report/page"
	"github.com/evote/evote/verify"
)

// shot saves a full-page screenshot under testdata/screenshots, for a
// person to look at.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), img, 0o644); err != nil {
		t.Fatal(err)
	}
}

// visibleText is the text of the element sel as the reader sees it
// (innerText skips what is not displayed).
func visibleText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.querySelector(`+"`"+sel+"`"+`); return e ? e.innerText : ""; })()`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBrowserReportAndVerifierPage opens the report `evote report` writes
// in headless Chromium, in Italian and English, at a phone's width and a
// desktop's; then builds the in-browser verifier, serves it, drops the
// record file on it, and checks the report it makes is the same, byte for
// byte. A tampered record dropped on it gets a report saying so.
func TestBrowserReportAndVerifierPage(t *testing.T) {
	browsertest.Chromium(t)
	record, vkey := tallied(t)
	dir := t.TempDir()
	recPath := filepath.Join(dir, "record.evr")
	if err := os.WriteFile(recPath, record, 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := verify.BoardKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	opts := report.Options{RecordName: "record.evr", BoardKey: vkey}
	var want bytes.Buffer
	if _, err := report.FromRecord(&want, bytes.NewReader(record), key, opts); err != nil {
		t.Fatal(err)
	}
	htmlPath := filepath.Join(dir, "report.html")
	if err := os.WriteFile(htmlPath, want.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	b := browsertest.New(t, ctx, "it")
	for _, vp := range []struct {
		name string
		w, h int64
		mob  bool
	}{{"360", 360, 740, true}, {"desktop", 1280, 860, false}} {
		emulate := chromedp.EmulateViewport(vp.w, vp.h)
		if vp.mob {
			emulate = chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateMobile)
		}
		for _, l := range []struct{ code, title, votes string }{{"it", "Risultati", "Schede conteggiate"}, {"en", "Results", "Ballots counted"}} {
			u := "file://" + htmlPath
			if l.code == "en" {
				u += "#en"
			}
			if err := chromedp.Do(b, emulate, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID(l.code))); err != nil {
				t.Fatal(err)
			}
			text := visibleText(t, b, "body")
			for _, w := range []string{l.title, l.votes, "Bianchi", hostileTitle} {
				if !strings.Contains(text, w) {
					t.Errorf("%s %s: the report as shown lacks %q", l.code, vp.name, w)
				}
			}
			other := map[string]string{"it": "Ballots counted", "en": "Schede conteggiate"}[l.code]
			if strings.Contains(text, other) {
				t.Errorf("%s %s: the other language shows too (%q)", l.code, vp.name, other)
			}
			shot(t, b, "report-"+l.code+"-"+vp.name)
		}
	}
	// The language switch is a link and a CSS rule: clicking it works with
	// no script (the page has none).
	if err := chromedp.Do(b, chromedp.Navigate("file://"+htmlPath), chromedp.Click(chromedp.CSS(`a[href="#en"]`)), chromedp.WaitVisible(chromedp.ID("en"))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(visibleText(t, b, "body"), "Ballots counted") {
		t.Error("the English link does not switch the report to English")
	}

	// The in-browser verifier.
	p, err := page.Build(ctx, page.Options{BoardKey: vkey, Source: ".."})
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "site")
	if err := p.Write(site); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(site)))
	defer srv.Close()
	bad := bytes.Clone(record)
	bad[len(bad)/2] ^= 1
	badPath := filepath.Join(dir, "tampered.evr")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 860}, {"360", 360, 740}} {
		err := chromedp.Do(b, chromedp.EmulateViewport(vp.w, vp.h), chromedp.Navigate(srv.URL+"/"),
			chromedp.WaitVisible(chromedp.ID("record")),
			chromedp.Poll[chromedp.Void](`document.getElementById("status").textContent.includes("Pronto")`, chromedp.WithPollingTimeout(60*time.Second)),
		)
		if err != nil {
			t.Fatalf("the verifier page did not start: %v (status %q)", err, visibleText(t, b, "#status"))
		}
		shot(t, b, "verifier-ready-"+vp.name)
		err = chromedp.Do(b, chromedp.SetUploadFiles(chromedp.ID("record"), []string{recPath}),
			chromedp.WaitVisible(chromedp.ID("actions")))
		if err != nil {
			t.Fatalf("no report from the dropped record: %v (status %q)", err, visibleText(t, b, "#status"))
		}
		srcdoc, err := chromedp.Run(b, chromedp.Evaluate[string](`document.getElementById("report").srcdoc`))
		if err != nil {
			t.Fatal(err)
		}
		if srcdoc != want.String() {
			t.Errorf("%s: the in-browser verifier's report differs from evote report's (%d and %d bytes)", vp.name, len(srcdoc), want.Len())
		}
		if s := visibleText(t, b, "#status"); !strings.Contains(s, "Verificato") || !strings.Contains(s, "Verified") {
			t.Errorf("%s: status %q after a good record", vp.name, s)
		}
		// The frame is below the fold at 360 px: Chromium paints an
		// off-screen frame only once it has been on screen.
		if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.getElementById("report").scrollIntoView(), true`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // let the frame paint
		shot(t, b, "verifier-report-"+vp.name)
	}
	err = chromedp.Do(b, chromedp.EmulateViewport(1280, 860), chromedp.SetUploadFiles(chromedp.ID("record"), []string{badPath}),
		chromedp.Poll[chromedp.Void](`document.getElementById("status").className === "fail"`, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("a tampered record: %v (status %q)", err, visibleText(t, b, "#status"))
	}
	srcdoc, err := chromedp.Run(b, chromedp.Evaluate[string](`document.getElementById("report").srcdoc`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srcdoc, "NOT VERIFIED") || strings.Contains(srcdoc, `<td class="num count">`) {
		t.Error("the tampered record's report in the browser does not say it fails, or shows a result")
	}
	time.Sleep(1500 * time.Millisecond)
	shot(t, b, "verifier-tampered-desktop")
}
