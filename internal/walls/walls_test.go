// Package walls checks the project's import walls (the issuer and the
// board share nothing, the verifier trusts no operator's code path, the
// voter and the verifier build for the browser, crypto knows nothing above
// it), so that they hold by test rather than by habit.
package walls

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/evote/evote/"

// deps returns the module-internal and selected external packages pkg
// imports, directly or not.
func deps(t *testing.T, pkg string, browser bool) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath", mod+pkg)
	if browser {
		cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	set := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		set[strings.TrimPrefix(p.ImportPath, mod)] = true
	}
	return set
}

func TestWalls(t *testing.T) {
	for _, w := range []struct {
		pkg       string
		forbidden []string
		why       string
		browser   bool // check the GOOS=js build
	}{
		{"issuer", []string{"board", "store", "store/bolt", "voter", "tally", "verify"}, "the issuer and the board share nothing", false},
		{"issuer", []string{"go.etcd.io/bbolt"}, "the issuer sees its roll through the Roll interface; issuer/bolt is the engine", false},
		{"board", []string{"issuer", "store/bolt", "voter", "verify"}, "the issuer and the board share nothing; the board sees only store.Log", false},
		{"verify", []string{"board", "issuer", "store/bolt", "go.etcd.io/bbolt", "github.com/spf13/cobra"}, "the verifier trusts no operator's code path", false},
		{"verify", []string{"go.etcd.io/bbolt", "github.com/spf13/cobra"}, "the verifier compiles for the browser", true},
		{"voter", []string{"store/bolt", "board/bolt", "github.com/spf13/cobra", "verify"}, "the voter sees only clients", false},
		{"voter", []string{"go.etcd.io/bbolt"}, "the voter builds without a storage engine", false},
		{"voter", []string{"go.etcd.io/bbolt", "github.com/spf13/cobra"}, "the voter compiles for the browser", true},
		{"store", []string{"ballot", "board", "crypto/elgamal", "go.etcd.io/bbolt"}, "store is plain data", false},
		{"crypto/elgamal", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/zkp", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/dkg", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/threshold", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/token", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"ballot", []string{"store", "board", "net/http"}, "the ballot is data", false},
		{"tally", []string{"board", "store/bolt", "net/http"}, "the tally is computation on public data", false},
	} {
		d := deps(t, w.pkg, w.browser)
		for _, f := range w.forbidden {
			if d[f] {
				t.Errorf("%s imports %s: %s", w.pkg, f, w.why)
			}
		}
	}
}
