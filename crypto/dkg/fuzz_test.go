package dkg

import (
	"testing"

	"github.com/evote/evote/crypto/ceremony"
	"github.com/evote/evote/crypto/internal/encodingtest"
)

// The parsers of the public messages are crypto/ceremony's, fuzzed there.

// seeds returns the encodings of a dealt trustee's state and of a key share
// from a small ceremony.
func seeds(f *testing.F) (trustee, keyShare []byte) {
	c := newCeremony(f, 3, 2)
	c.sealBad(f, 1, 2, false)
	c.verify(f)
	c.answer(f, 1)
	dealt := c.trustees[0].Marshal()
	_, shares := c.finalize(f)
	return dealt, shares[0].Marshal()
}

func FuzzUnmarshalTrustee(f *testing.F) {
	tr, _ := seeds(f)
	encodingtest.FuzzCanonical(f, UnmarshalTrustee, (*Trustee).Marshal, tr, []byte{ceremony.Version})
}

func FuzzParseKeyShare(f *testing.F) {
	_, ks := seeds(f)
	encodingtest.FuzzCanonical(f, ParseKeyShare, (*KeyShare).Marshal, ks, []byte{ceremony.Version})
}
