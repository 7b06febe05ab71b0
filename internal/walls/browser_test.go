package walls

import "testing"

// TestBrowserHasNoNetHTTP: the js/wasm build of the voter, and of the
// booth's WebAssembly command, links neither net/http nor crypto/tls. In a
// WebAssembly module net/http costs about 7 MB (a hello-world with an
// http.Get is 10.1 MB, 3.0 MB without), and the booth is to stay under
// 2 MB gzipped: the API clients run over internal/transport, and the booth
// supplies a transport over the browser's fetch.
func TestBrowserHasNoNetHTTP(t *testing.T) {
	for _, pkg := range []string{"voter", "booth/wasm"} {
		if bad := holds(deps(t, pkg, true), "net/http", "crypto/tls"); len(bad) > 0 {
			t.Errorf("%s (GOOS=js) imports %v: the booth talks to the services through the browser's fetch", pkg, bad)
		}
	}
}
