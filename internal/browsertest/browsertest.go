// Package browsertest starts the headless Chromium the browser tests drive
// (the booth, the report and the in-browser verifier): Debian's chromium,
// with its own profile and none of its background connections, which this
// machine's closed network would refuse.
//
// Without chromium a test skips, saying how to install it; CI installs it
// and sets EVOTE_REQUIRE_BROWSER=1, so there a missing browser fails
// instead of skipping.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium is the browser's path, or t skips (fails under
// EVOTE_REQUIRE_BROWSER).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("EVOTE_REQUIRE_BROWSER") != "" {
		t.Fatal("EVOTE_REQUIRE_BROWSER is set but no chromium is on the PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on the PATH: the browser tests need it (apt-get install chromium); CI installs it and never skips")
	return ""
}

// New starts a headless chromium with a profile of its own, telling pages
// it prefers lang (such as "it-IT"), and returns its first tab's context;
// both end with the test.
func New(t testing.TB, ctx context.Context, lang string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatal(err)
	}
	return bctx
}
