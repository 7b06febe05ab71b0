package witness

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoNetwork: the voter, verify and the booth import this package,
// so it must link neither net/http nor torchwood nor a database.
func TestLinksNoNetwork(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/evote/evote/witness").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v: %s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "net/http", p == "crypto/tls", strings.HasPrefix(p, "filippo.io/torchwood"), strings.HasPrefix(p, "go.etcd.io/bbolt"):
			t.Errorf("package witness links %s", p)
		}
	}
}
