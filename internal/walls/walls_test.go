// Package walls checks the project's import walls (the issuer and the
// board share nothing, the verifier trusts no operator's code path, the
// voter sees the services only through their API packages and builds for
// the browser, as does the verifier, crypto knows nothing above it, the
// command-line tool reaches a trustee's ceremony only through package
// trustee), so that they hold by test rather than by habit.
package walls

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/evote/evote/"

// deps returns the packages pkg imports, directly or not, each with the
// packages it imports directly (the module's own without the module path).
func deps(t *testing.T, pkg string, browser bool) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", mod+pkg)
	if browser {
		cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	set := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		imports := []string{}
		for _, i := range p.Imports {
			imports = append(imports, strings.TrimPrefix(i, mod))
		}
		set[strings.TrimPrefix(p.ImportPath, mod)] = imports
	}
	return set
}

// servers are the packages of the services and what only they need: a
// client of a service imports none of them.
var servers = append([]string{"board", "issuer", "internal/service", "crypto/threshold", "tally"}, engines...)

// engines are the storage engines and their drivers: only the command
// that starts a service picks one.
var engines = []string{"store/bolt", "issuer/bolt", "go.etcd.io/bbolt", "store/postgres", "issuer/postgres", "internal/pgdb", "github.com/jackc/pgx/v5"}

func TestWalls(t *testing.T) {
	for _, w := range []struct {
		pkg       string
		forbidden []string
		why       string
		browser   bool // check the GOOS=js build
	}{
		{"issuer", []string{"board", "store", "store/bolt", "voter", "tally", "verify"}, "the issuer and the board share nothing", false},
		{"issuer", engines, "the issuer sees its roll through the Roll interface; issuer/bolt and issuer/postgres are the engines", false},
		{"board", []string{"issuer", "voter", "verify"}, "the issuer and the board share nothing", false},
		{"board", []string{"store/bolt", "issuer/bolt", "store/postgres", "issuer/postgres", "internal/pgdb", "github.com/jackc/pgx/v5"}, "the board sees only store.Log; store/bolt and store/postgres are the engines", false},
		{"store/postgres", []string{"issuer", "issuer/postgres"}, "the board's log and the issuer's roll share only the database server", false},
		{"issuer/postgres", []string{"store", "store/postgres", "board"}, "the board's log and the issuer's roll share only the database server", false},
		{"verify", append([]string{"board", "issuer", "github.com/spf13/cobra"}, engines...), "the verifier trusts no operator's code path", false},
		{"verify", []string{"go.etcd.io/bbolt", "github.com/spf13/cobra"}, "the verifier compiles for the browser", true},
		{"issuer", []string{"board/boardapi"}, "the issuer and the board share nothing", false},
		{"board", []string{"issuer/issuerapi"}, "the issuer and the board share nothing", false},
		{"voter", append([]string{"github.com/spf13/cobra", "verify"}, servers...), "the voter sees only the services' API packages", false},
		{"voter", append([]string{"github.com/spf13/cobra"}, servers...), "the voter compiles for the browser, with no server in it", true},
		{"booth/wasm", append([]string{"github.com/spf13/cobra", "verify", "crypto/dkg", "booth"}, servers...), "the booth's worker runs the voter's code and nothing of a server's or a trustee's", true},
		{"board/boardapi", append([]string{"issuer/issuerapi", "crypto/dkg", "record", "ballot"}, servers...), "a service's API imports no server and nothing of the election's data but the log's", true},
		{"issuer/issuerapi", append([]string{"board/boardapi", "store", "crypto/dkg", "record", "ballot"}, servers...), "a service's API imports no server and nothing of the election but the token's", true},
		{"store", append([]string{"ballot", "board", "crypto/elgamal"}, engines...), "store is plain data", false},
		{"crypto/elgamal", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/zkp", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/dkg", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/threshold", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"crypto/token", []string{"ballot", "store", "net/http"}, "crypto knows nothing above it", false},
		{"ballot", []string{"store", "board", "net/http"}, "the ballot is data", false},
		{"tally", append([]string{"board", "net/http"}, engines...), "the tally is computation on public data", false},
		{"trustee", append([]string{"github.com/spf13/cobra", "board", "issuer", "internal/service"}, engines...), "a trustee's package is a library any tool calls, with no server in it", false},
	} {
		d := deps(t, w.pkg, w.browser)
		for _, f := range w.forbidden {
			if _, ok := d[f]; ok {
				t.Errorf("%s imports %s: %s", w.pkg, f, w.why)
			}
		}
	}
}

// TestTrusteeDoor: the command-line tool holds a trustee's ceremony secrets
// only through package trustee, which owns their formats and the rules of
// each step. In its import closure crypto/dkg, the ceremony's secret state,
// is imported by trustee alone: the public messages every verifier reads
// are crypto/ceremony's (record and verify import that), and no command,
// and no harness the tool runs (the demo, internal/sim), drives dkg by hand.
func TestTrusteeDoor(t *testing.T) {
	allowed := []string{"trustee"}
	for p, imports := range deps(t, "cmd/evote", false) {
		if slices.Contains(imports, "crypto/dkg") && !slices.Contains(allowed, p) {
			t.Errorf("%s imports crypto/dkg: a trustee's ceremony is package trustee's", p)
		}
	}
}
