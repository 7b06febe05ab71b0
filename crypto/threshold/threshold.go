// Package threshold turns the trustees' key shares into a tally without ever
// forming the election's secret key.
//
// After the key ceremony (package dkg) trustee i holds a share sᵢ of a secret
// x that nobody holds, and everyone knows its verification key VKᵢ = g^sᵢ. To
// decrypt a ciphertext (A, B) = (g^r, g^m·h^r), which for a tally is the
// product of every counted ballot's ciphertext for one choice:
//
//  1. each trustee posts a Partial: Dᵢ = A^sᵢ with a Chaum-Pedersen (DLEQ)
//     proof that log_g VKᵢ = log_A Dᵢ, made under a context the caller gives
//     (the manifest hash and which choice), so it cannot be replayed for
//     another ciphertext or election (PartialDecrypt);
//  2. anyone checks each partial against the trustee's verification key
//     (VerifyPartial, or VerifyPartials for many at once);
//  3. any t checked partials with distinct indices are combined by Lagrange
//     interpolation at 0 in the exponent: g^m = B − Σ λᵢ·Dᵢ (Combine);
//  4. the count m is the bounded discrete logarithm of g^m, found with a
//     baby-step giant-step table built once for the largest possible count
//     (NewTable, Table.Log).
//
// Fewer than t partials determine nothing about g^m: interpolating t−1 points
// of a degree t−1 polynomial gives an unrelated value, which Combine refuses
// to compute.
//
// A Partial is encoded as index (1 byte, 1..255) || D (32 bytes) || DLEQ proof
// (R1 || R2 || z, 96 bytes): 129 bytes. ParsePartial refuses index 0,
// non-canonical encodings, the identity (but in the trivial partial below),
// and any other length.
//
// A ciphertext whose A is the identity (an aggregate whose randomness sums
// to zero, as two colluding voters with r and −r can arrange) has B = g^m:
// it needs no key, and A^s is the identity for every share s. Its partial is
// the trivial partial, index || 32 zero bytes || 96 zero bytes: D the
// identity and no proof. It is the only partial accepted for such a
// ciphertext and is refused for any other, so it cannot stand in for the
// partial of a ciphertext that does need decrypting.
package threshold

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

// PartialSize is the length of an encoded Partial.
const PartialSize = 1 + elgamal.ElementSize + zkp.DLEQSize

// MaxIndex is the largest trustee index: indices are one byte and 0 is the
// point at which the secret lives.
const MaxIndex = 255

// ErrInvalidPartial is returned (wrapped) when a partial decryption does not
// verify against its trustee's verification key.
var ErrInvalidPartial = errors.New("threshold: partial decryption does not verify")

// Partial is trustee Index's share of the decryption of one ciphertext:
// D = A^s with a proof that it used the s behind its verification key.
type Partial struct {
	Index int
	d     *ristretto255.Element
	dEnc  []byte
	proof *zkp.DLEQProof
	// trivial marks the partial of a ciphertext whose A is the identity:
	// D is the identity and there is no proof (see the package comment).
	trivial bool
}

// Trivial reports whether p is the trivial partial: D the identity and no
// proof, the partial of a ciphertext whose A is the identity.
func (p *Partial) Trivial() bool { return p.trivial }

// trivialPartial is trustee index's partial of a ciphertext with A = identity.
func trivialPartial(index int) *Partial {
	return &Partial{Index: index, d: ristretto255.NewIdentityElement(), dEnc: make([]byte, elgamal.ElementSize), trivial: true}
}

func isIdentity(e *ristretto255.Element) bool {
	return e.Equal(ristretto255.NewIdentityElement()) == 1
}

// D returns a copy of the partial decryption A^s.
func (p *Partial) D() *ristretto255.Element { return ristretto255.NewIdentityElement().Set(p.d) }

// proofContext binds the caller's context and the trustee index into the
// DLEQ transcript under this package's own tag.
func proofContext(ctx []byte, index int) []byte {
	const tag = "evote/threshold/v1 partial decryption"
	out := make([]byte, 0, len(tag)+1+8+len(ctx))
	out = append(out, tag...)
	out = append(out, byte(index))
	out = binary.BigEndian.AppendUint64(out, uint64(len(ctx)))
	return append(out, ctx...)
}

func checkIndex(index int) error {
	if index < 1 || index > MaxIndex {
		return fmt.Errorf("threshold: trustee index %d out of range 1..%d", index, MaxIndex)
	}
	return nil
}

// PartialDecrypt computes trustee index's partial decryption of ct with its
// share, and proves it against vk = g^share under ctx. It refuses a share
// that does not match vk, since the partial would never verify. rnd is the
// proof's randomness (crypto/rand.Reader when nil).
func PartialDecrypt(rnd io.Reader, ctx []byte, index int, share *ristretto255.Scalar, vk *elgamal.PublicKey, ct *elgamal.Ciphertext) (*Partial, error) {
	ps, err := PartialDecryptBatch(rnd, [][]byte{ctx}, index, share, vk, []*elgamal.Ciphertext{ct})
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// PartialDecryptBatch is PartialDecrypt for many ciphertexts (one aggregate
// per choice, each with its own context), checking the share against vk once.
func PartialDecryptBatch(rnd io.Reader, ctxs [][]byte, index int, share *ristretto255.Scalar, vk *elgamal.PublicKey, cts []*elgamal.Ciphertext) ([]*Partial, error) {
	if err := checkIndex(index); err != nil {
		return nil, err
	}
	if len(ctxs) != len(cts) {
		return nil, fmt.Errorf("threshold: %d contexts for %d ciphertexts; give one context per ciphertext", len(ctxs), len(cts))
	}
	if ristretto255.NewIdentityElement().ScalarBaseMult(share).Equal(vk.Element()) != 1 {
		return nil, fmt.Errorf("threshold: trustee %d's share does not match the verification key given; check that the key share file and the ceremony result belong to the same trustee and election", index)
	}
	out := make([]*Partial, len(cts))
	for i, ct := range cts {
		a := ct.A()
		if isIdentity(a) {
			// B is g^m itself; every share gives D = identity.
			out[i] = trivialPartial(index)
			continue
		}
		d := ristretto255.NewIdentityElement().ScalarMult(share, a)
		proof, err := zkp.ProveDLEQ(rnd, proofContext(ctxs[i], index), share, vk, a, d)
		if err != nil {
			return nil, fmt.Errorf("threshold: proving partial decryption %d: %w", i, err)
		}
		out[i] = &Partial{Index: index, d: d, dEnc: d.Bytes(), proof: proof}
	}
	return out, nil
}

// Marshal returns the 129-byte encoding index || D || proof (for the
// trivial partial, index and 128 zero bytes).
func (p *Partial) Marshal() []byte {
	out := make([]byte, 0, PartialSize)
	out = append(out, byte(p.Index))
	if p.trivial {
		return append(out, make([]byte, PartialSize-1)...)
	}
	out = append(out, p.dEnc...)
	return append(out, p.proof.Bytes()...)
}

// ParsePartial decodes a Partial, refusing index 0, a non-canonical D, an
// identity D but in the trivial partial (index and 128 zero bytes), a
// malformed proof and any length other than PartialSize. It does not verify
// the proof, nor that a trivial partial is for a ciphertext with A =
// identity: call VerifyPartial.
func ParsePartial(b []byte) (*Partial, error) {
	if len(b) != PartialSize {
		return nil, fmt.Errorf("threshold: partial decryption is %d bytes, want %d", len(b), PartialSize)
	}
	if b[0] == 0 {
		return nil, errors.New("threshold: partial decryption has trustee index 0; indices start at 1")
	}
	if allZero(b[1 : 1+elgamal.ElementSize]) {
		if !allZero(b[1+elgamal.ElementSize:]) {
			return nil, errors.New("threshold: partial decryption has D = identity and a proof; D is the identity only in the trivial partial (a ciphertext whose A is the identity), whose proof is 96 zero bytes")
		}
		return trivialPartial(int(b[0])), nil
	}
	d, err := elgamal.ParseElement(b[1:33])
	if err != nil {
		return nil, fmt.Errorf("threshold: partial decryption D: %w", err)
	}
	proof, err := zkp.ParseDLEQ(b[33:])
	if err != nil {
		return nil, fmt.Errorf("threshold: partial decryption proof: %w", err)
	}
	return &Partial{Index: int(b[0]), d: d, dEnc: append([]byte(nil), b[1:33]...), proof: proof}, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// checkShape checks that p fits ct: the trivial partial exactly when ct's A
// is the identity, and otherwise a non-identity D with a proof.
func checkShape(ct *elgamal.Ciphertext, p *Partial) error {
	if p.d == nil || (p.proof == nil && !p.trivial) {
		return errors.New("threshold: empty partial decryption; decode partials with ParsePartial")
	}
	aID := isIdentity(ct.A())
	switch {
	case p.trivial && !aID:
		return fmt.Errorf("trustee %d: the trivial partial (D = identity, no proof) for a ciphertext whose A is not the identity: %w", p.Index, ErrInvalidPartial)
	case !p.trivial && aID:
		return fmt.Errorf("trustee %d: a partial with a proof for a ciphertext whose A is the identity, whose only partial is the trivial one (D = identity, no proof): %w", p.Index, ErrInvalidPartial)
	case !p.trivial && isIdentity(p.d):
		return fmt.Errorf("trustee %d: D is the identity: %w", p.Index, ErrInvalidPartial)
	}
	return nil
}

// VerifyPartial checks that p is trustee p.Index's partial decryption of ct
// under ctx, against that trustee's verification key vk. The caller must
// pick vk by p.Index from the ceremony result.
func VerifyPartial(ctx []byte, vk *elgamal.PublicKey, ct *elgamal.Ciphertext, p *Partial) error {
	if err := checkIndex(p.Index); err != nil {
		return err
	}
	if err := checkShape(ct, p); err != nil {
		return err
	}
	if p.trivial {
		return nil
	}
	b := zkp.NewBatch(vk)
	p.proof.AddTo(b, proofContext(ctx, p.Index), vk, ct.A(), p.d)
	if !b.Verify() {
		return fmt.Errorf("trustee %d: %w (wrong share, key, ciphertext or context)", p.Index, ErrInvalidPartial)
	}
	return nil
}

// VerifyPartials checks one trustee's partials for many ciphertexts with one
// multi-scalar multiplication; ctxs[i], cts[i] and ps[i] belong together.
// When the batch fails it checks them one by one and names the first bad one.
func VerifyPartials(ctxs [][]byte, vk *elgamal.PublicKey, cts []*elgamal.Ciphertext, ps []*Partial) error {
	if len(ctxs) != len(cts) || len(ps) != len(cts) {
		return fmt.Errorf("threshold: %d contexts, %d ciphertexts and %d partials; give one of each per ciphertext", len(ctxs), len(cts), len(ps))
	}
	b := zkp.NewBatch(vk)
	for i, p := range ps {
		if err := checkIndex(p.Index); err != nil {
			return fmt.Errorf("partial %d: %w", i, err)
		}
		if p.d == nil || (p.proof == nil && !p.trivial) {
			return fmt.Errorf("threshold: partial %d is empty; decode partials with ParsePartial", i)
		}
		if p.Index != ps[0].Index {
			return fmt.Errorf("threshold: partial %d is from trustee %d, partial 0 from trustee %d; verify each trustee's partials against its own key", i, p.Index, ps[0].Index)
		}
		if err := checkShape(cts[i], p); err != nil {
			return fmt.Errorf("threshold: partial %d: %w", i, err)
		}
		if p.trivial {
			continue
		}
		p.proof.AddTo(b, proofContext(ctxs[i], p.Index), vk, cts[i].A(), p.d)
	}
	if b.Verify() {
		return nil
	}
	for i, p := range ps {
		if err := VerifyPartial(ctxs[i], vk, cts[i], p); err != nil {
			return fmt.Errorf("threshold: partial %d: %w", i, err)
		}
	}
	return fmt.Errorf("threshold: batch of %d partials: %w", len(ps), ErrInvalidPartial)
}

// Combine returns g^m for ct from partial decryptions that the caller has
// already verified (VerifyPartial). It needs at least t of them, from
// distinct trustees; all given are used (correct partials all lie on the
// same polynomial, so any t or more give the same result).
func Combine(ct *elgamal.Ciphertext, partials []*Partial, t int) (*ristretto255.Element, error) {
	if t < 1 {
		return nil, fmt.Errorf("threshold: threshold %d is below 1", t)
	}
	if len(partials) < t {
		return nil, fmt.Errorf("threshold: %d partial decryptions, need at least %d (the threshold); collect more trustees' partials", len(partials), t)
	}
	return interpolate(ct, partials)
}

// interpolate computes B − Σ λᵢ·Dᵢ over whatever partials it is given.
func interpolate(ct *elgamal.Ciphertext, partials []*Partial) (*ristretto255.Element, error) {
	idx := make([]int, len(partials))
	seen := make(map[int]bool, len(partials))
	for i, p := range partials {
		if err := checkIndex(p.Index); err != nil {
			return nil, err
		}
		if p.d == nil {
			return nil, errors.New("threshold: empty partial decryption; decode partials with ParsePartial")
		}
		if seen[p.Index] {
			return nil, fmt.Errorf("threshold: two partial decryptions from trustee %d; give each trustee's once", p.Index)
		}
		seen[p.Index] = true
		idx[i] = p.Index
	}
	lambdas := Lagrange(idx)
	scalars := make([]*ristretto255.Scalar, len(partials)+1)
	points := make([]*ristretto255.Element, len(partials)+1)
	for i, p := range partials {
		scalars[i] = ristretto255.NewScalar().Negate(lambdas[i])
		points[i] = p.d
	}
	scalars[len(partials)] = elgamal.ScalarFromUint64(1)
	points[len(partials)] = ct.B()
	return ristretto255.NewIdentityElement().VarTimeMultiScalarMult(scalars, points), nil
}

// Lagrange returns the coefficients λᵢ = Π_{j≠i} xⱼ/(xⱼ−xᵢ) that interpolate
// a polynomial at 0 from its values at the distinct, non-zero points xs.
// It panics if the points are not distinct and non-zero.
func Lagrange(xs []int) []*ristretto255.Scalar {
	out := make([]*ristretto255.Scalar, len(xs))
	for i, xi := range xs {
		num := elgamal.ScalarFromUint64(1)
		den := elgamal.ScalarFromUint64(1)
		si := scalarFromInt(xi)
		for j, xj := range xs {
			if j == i {
				continue
			}
			if xj == xi || xj == 0 {
				panic("threshold: Lagrange points must be distinct and non-zero")
			}
			sj := scalarFromInt(xj)
			num.Multiply(num, sj)
			den.Multiply(den, ristretto255.NewScalar().Subtract(sj, si))
		}
		out[i] = num.Multiply(num, ristretto255.NewScalar().Invert(den))
	}
	return out
}

func scalarFromInt(x int) *ristretto255.Scalar {
	if x < 0 {
		return ristretto255.NewScalar().Negate(elgamal.ScalarFromUint64(uint64(-x)))
	}
	return elgamal.ScalarFromUint64(uint64(x))
}
