package zkp

import (
	"crypto/rand"
	"io"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// Batch collects the verification equations of many proofs and checks them
// all at once. Each equation Σ sᵢ·Pᵢ = 0 is multiplied by a fresh random
// 128-bit weight and the weighted sum is checked with one multi-scalar
// multiplication; a false equation survives with probability at most 2^-128.
// Terms on the generator and on the batch's election key are merged, so they
// cost one point however many proofs share them.
//
// A Batch that fails says only that some proof is bad; verify the proofs one
// by one (each in a batch of its own) to find which. A Batch is not safe for
// concurrent use: give each goroutine its own.
type Batch struct {
	key     *elgamal.PublicKey
	keyElt  *ristretto255.Element
	g, h    *ristretto255.Scalar
	scalars []*ristretto255.Scalar
	points  []*ristretto255.Element
	rnd     io.Reader
	buf     []byte
	filled  bool
	bad     bool // a structural check already failed
}

// NewBatch returns an empty batch. key, if not nil, is the election key that
// most proofs in the batch are made under; its terms are merged.
func NewBatch(key *elgamal.PublicKey) *Batch {
	b := &Batch{key: key, g: newScalar(), h: newScalar(), rnd: rand.Reader}
	if key != nil {
		b.keyElt = key.Element()
	}
	return b
}

// Len returns the number of points the final multi-scalar multiplication
// will take.
func (b *Batch) Len() int { return len(b.points) + 2 }

// weight returns a fresh random 128-bit scalar from crypto/rand.
func (b *Batch) weight() *ristretto255.Scalar {
	if len(b.buf) < 16 {
		// Small batches (one proof) are common: start small, then read in bulk.
		n := 256
		if b.filled {
			n = 4096
		}
		b.filled = true
		b.buf = make([]byte, n)
		if _, err := io.ReadFull(b.rnd, b.buf); err != nil {
			panic("zkp: crypto/rand failed: " + err.Error())
		}
	}
	var w [32]byte
	copy(w[:16], b.buf[:16])
	b.buf = b.buf[16:]
	s, err := newScalar().SetCanonicalBytes(w[:])
	if err != nil {
		panic("zkp: 128-bit scalar not canonical") // unreachable
	}
	return s
}

func (b *Batch) term(s *ristretto255.Scalar, p *ristretto255.Element) {
	b.scalars = append(b.scalars, s)
	b.points = append(b.points, p)
}

// keyTerm adds s·h, merging it when h is the batch's key.
func (b *Batch) keyTerm(s *ristretto255.Scalar, h *elgamal.PublicKey) {
	if b.key != nil && (h == b.key || string(h.Bytes()) == string(b.key.Bytes())) {
		b.h.Add(b.h, s)
		return
	}
	b.term(s, h.Element())
}

// fail marks the batch as failed by a check that needs no group arithmetic.
func (b *Batch) fail() { b.bad = true }

// Verify reports whether every equation added holds. An empty batch holds.
func (b *Batch) Verify() bool {
	if b.bad {
		return false
	}
	// The generator's term uses its precomputed table; with the key's term
	// it costs one double-scalar multiplication instead of two MSM points.
	sum := newElement()
	if b.keyElt != nil {
		sum.VarTimeDoubleScalarBaseMult(b.h, b.keyElt, b.g)
	} else {
		sum.ScalarBaseMult(b.g)
	}
	if len(b.points) > 0 {
		sum.Add(sum, msm(b.scalars, b.points))
	}
	return sum.Equal(newElement()) == 1
}

func neg(s *ristretto255.Scalar) *ristretto255.Scalar { return newScalar().Negate(s) }
func mul(a, b *ristretto255.Scalar) *ristretto255.Scalar {
	return newScalar().Multiply(a, b)
}
