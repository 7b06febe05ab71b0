package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A trustee public key file holding a small-order point (anyone could sign
// as that trustee) or a non-canonical encoding is refused by election init,
// naming the file, and no manifest is written. The vectors are those of
// package ballot's TestAttackSmallOrderTrusteeKey.
func TestAttackSmallOrderTrusteeKeyFile(t *testing.T) {
	dir, base := initFixture(t)
	t2 := filepath.Join(dir, "t2.pub")
	for _, tc := range []struct{ key, want string }{
		{"0100000000000000000000000000000000000000000000000000000000000000", "a point of small order"},                   // identity
		{"ECFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF7F", "a point of small order"},                   // order 2, upper-case hex
		{"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "a point of small order"},                   // order 8
		{"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "a non-canonical encoding"},                 // y = p+1
		{"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "a non-canonical encoding"},                 // y = p+3, large order
		{"0200000000000000000000000000000000000000000000000000000000000000", "not the encoding of a point of the curve"}, // off the curve
	} {
		if err := os.WriteFile(t2, []byte(tc.key+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		refusedInit(t, dir, append(append([]string(nil), base...), "--title", "T", "--question", "q:Q?:yes,no"), "t2.pub is refused: ballot: trustee key")
		refusedInit(t, dir, append(append([]string(nil), base...), "--title", "T", "--question", "q:Q?:yes,no"), tc.want)
	}
}
