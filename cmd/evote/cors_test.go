package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCORSOriginFlag: a --cors-origin that is not an origin as a browser
// sends it is a usage error naming the value, for both services, before
// any key or store is opened.
func TestCORSOriginFlag(t *testing.T) {
	dir := t.TempDir()
	for _, svc := range []string{"board", "issuer"} {
		for _, bad := range []string{"*", "null", "https://booth.example/", "booth.example", "HTTPS://booth.example"} {
			args := []string{svc, "serve", "--store", "bolt:" + filepath.Join(dir, svc), "--cors-origin", "https://ok.example", "--cors-origin", bad}
			_, errs, code := evote(t, args...)
			if code != 2 || !strings.Contains(errs, "--cors-origin") || !strings.Contains(errs, `"`+bad+`"`) || !strings.Contains(errs, "scheme://host[:port]") {
				t.Errorf("evote %s: exit %d, want 2 naming %q and the form wanted:\n%s", strings.Join(args, " "), code, bad, errs)
			}
		}
	}
}
