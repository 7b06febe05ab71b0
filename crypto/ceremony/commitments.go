package ceremony

import (
	"encoding/binary"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// appendBytes appends b with an 8-byte big-endian length prefix.
func appendBytes(out, b []byte) []byte {
	out = binary.BigEndian.AppendUint64(out, uint64(len(b)))
	return append(out, b...)
}

// ProofContext is the context of dealer i's Schnorr proof of knowledge of
// its constant term C₀ (SPEC.md §7): it binds the dealer, n, t and the
// ceremony's context, so a proof is valid for one dealer of one ceremony.
func ProofContext(context []byte, dealer, n, t int) []byte {
	out := appendBytes(nil, []byte("evote/dkg/v1 constant-term proof"))
	out = append(out, byte(dealer), byte(n), byte(t))
	return appendBytes(out, context)
}

// evalCommitments returns Σₖ jᵏ·Cₖ, which is g^f(j) for an honest deal
// whose polynomial is f: the public image of trustee j's share.
func evalCommitments(cs []*ristretto255.Element, j int) *ristretto255.Element {
	x := elgamal.ScalarFromUint64(uint64(j))
	pow := elgamal.ScalarFromUint64(1)
	scalars := make([]*ristretto255.Scalar, len(cs))
	for k := range cs {
		scalars[k] = ristretto255.NewScalar().Set(pow)
		pow.Multiply(pow, x)
	}
	return ristretto255.NewIdentityElement().VarTimeMultiScalarMult(scalars, cs)
}

// ShareMatches reports whether g^s = Σₖ jᵏ·Cₖ: whether s is trustee j's
// share of the deal with commitments cs.
func ShareMatches(cs []*ristretto255.Element, j int, s *ristretto255.Scalar) bool {
	return ristretto255.NewIdentityElement().ScalarBaseMult(s).Equal(evalCommitments(cs, j)) == 1
}
