package walls

import (
	"slices"
	"strings"
	"testing"
)

// hpke is what seals a trustee's shares: the trustee's side of the
// ceremony, never the public side's.
var hpke = []string{"github.com/cloudflare/circl/hpke", "github.com/cloudflare/circl/kem"}

// holds returns, sorted, the packages of d that are p or under p, for each p.
func holds(d map[string][]string, ps ...string) []string {
	var out []string
	for pkg := range d {
		for _, p := range ps {
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				out = append(out, pkg)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestCeremonyWall: the ceremony's public half (crypto/ceremony: its
// messages and Qualify, which the voter runs before encrypting, SPEC.md
// §10.1, and every verifier runs) is apart from a trustee's secrets
// (crypto/dkg: its state, HPKE sealing and opening, its key share). The
// voter's closure, native and in the browser, holds neither crypto/dkg nor
// HPKE; record reads the ceremony without crypto/dkg; crypto/ceremony holds
// no trustee code, and no circl at all (its X25519 check is crypto/ecdh).
func TestCeremonyWall(t *testing.T) {
	for _, browser := range []bool{false, true} {
		for _, w := range []struct {
			pkg       string
			forbidden []string
			why       string
		}{
			{"voter", append([]string{"crypto/dkg"}, hpke...), "the voter recomputes the ceremony's outcome with crypto/ceremony and holds no trustee's code"},
			{"record", append([]string{"crypto/dkg"}, hpke...), "the record reads the ceremony's public messages only"},
			{"crypto/ceremony", []string{"crypto/dkg", "trustee", "github.com/cloudflare/circl"}, "no secret ever enters the ceremony's public half"},
			{"crypto/ceremony", []string{"ballot", "store", "record", "net/http"}, "crypto knows nothing above it"},
		} {
			if bad := holds(deps(t, w.pkg, browser), w.forbidden...); len(bad) > 0 {
				t.Errorf("%s (browser %v) imports %v: %s", w.pkg, browser, bad, w.why)
			}
		}
	}
}
