package zkp

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// MaxOrValues bounds the number of values an Or proof may range over, so a
// hostile statement cannot make a verifier do unbounded work.
const MaxOrValues = 1024

// OrProof proves that a ciphertext (A, B) under key h encrypts one of a public
// list of values v₀…vₙ₋₁. For each k it carries commitments (aₖ, bₖ), a
// challenge cₖ and a response zₖ with
//
//	zₖ·g = aₖ + cₖ·A,  zₖ·h = bₖ + cₖ·(B - vₖ·g),  Σ cₖ = H(statement, commitments),
//
// only one branch being real and the others simulated.
type OrProof struct {
	a, b       []*ristretto255.Element
	commitsEnc []byte // a₀ b₀ a₁ b₁ … as sent
	c, z       []*ristretto255.Scalar
}

// OrProofSize returns the encoded length of an Or proof over n values.
func OrProofSize(n int) int { return 128 * n }

func checkValues(values []uint64) error {
	if len(values) == 0 || len(values) > MaxOrValues {
		return fmt.Errorf("zkp: Or proof over %d values, want 1 to %d", len(values), MaxOrValues)
	}
	return nil
}

func selectScalar(choose int, yes, no *ristretto255.Scalar) *ristretto255.Scalar {
	out := no.Bytes()
	subtle.ConstantTimeCopy(choose, out, yes.Bytes())
	s, err := newScalar().SetCanonicalBytes(out)
	if err != nil {
		panic("zkp: selected scalar not canonical") // unreachable
	}
	return s
}

// ProveOr proves that ct, made under pk with randomness r, encrypts
// values[index]. It runs in time independent of index and of the values'
// secret choice: every branch does the same work and the real one is chosen
// by constant-time selection.
func ProveOr(rnd io.Reader, ctx []byte, pk *elgamal.PublicKey, ct *elgamal.Ciphertext, r *ristretto255.Scalar, values []uint64, index int) (*OrProof, error) {
	if err := checkValues(values); err != nil {
		return nil, err
	}
	if index < 0 || index >= len(values) {
		return nil, errors.New("zkp: Or proof index out of range")
	}
	n := len(values)
	A, B, h := ct.A(), ct.B(), pk.Element()
	p := &OrProof{
		a: make([]*ristretto255.Element, n), b: make([]*ristretto255.Element, n),
		c: make([]*ristretto255.Scalar, n), z: make([]*ristretto255.Scalar, n),
		commitsEnc: make([]byte, 0, 64*n),
	}
	w := make([]*ristretto255.Scalar, n)
	e := make([]*ristretto255.Scalar, n) // simulated challenge, 0 on the real branch
	sumE := newScalar()
	for k := 0; k < n; k++ {
		var err error
		if w[k], err = elgamal.RandomScalar(rnd); err != nil {
			return nil, err
		}
		ck, err := elgamal.RandomScalar(rnd)
		if err != nil {
			return nil, err
		}
		real := subtle.ConstantTimeEq(int32(k), int32(index))
		e[k] = selectScalar(real, newScalar(), ck)
		sumE.Add(sumE, e[k])
		// aₖ = wₖ·g - eₖ·A,  bₖ = wₖ·h - eₖ·(B - vₖ·g)
		ak := newElement().ScalarBaseMult(w[k])
		ak.Subtract(ak, newElement().ScalarMult(e[k], A))
		shifted := newElement().Subtract(B, newElement().ScalarBaseMult(elgamal.ScalarFromUint64(values[k])))
		bk := newElement().ScalarMult(w[k], h)
		bk.Subtract(bk, newElement().ScalarMult(e[k], shifted))
		p.a[k], p.b[k] = ak, bk
		p.commitsEnc = append(append(p.commitsEnc, ak.Bytes()...), bk.Bytes()...)
	}
	c := orChallenge(ctx, pk, ct, values, p.commitsEnc)
	cReal := newScalar().Subtract(c, sumE)
	for k := 0; k < n; k++ {
		real := subtle.ConstantTimeEq(int32(k), int32(index))
		p.c[k] = selectScalar(real, cReal, e[k])
		// Simulated branches answer zₖ = wₖ (eₖ was folded into aₖ, bₖ);
		// the real one answers w + c·r.
		zReal := newScalar().Add(w[k], mul(cReal, r))
		p.z[k] = selectScalar(real, zReal, w[k])
	}
	return p, nil
}

func orChallenge(ctx []byte, pk *elgamal.PublicKey, ct *elgamal.Ciphertext, values []uint64, commits []byte) *ristretto255.Scalar {
	t := newTranscript("or", ctx)
	t.write(pk.Bytes())
	t.write(ct.Bytes())
	t.writeUint64s(values)
	t.write(commits)
	return t.challenge()
}

// Bytes returns a₀‖b₀‖…‖aₙ₋₁‖bₙ₋₁‖c₀‖…‖cₙ₋₁‖z₀‖…‖zₙ₋₁.
func (p *OrProof) Bytes() []byte {
	out := make([]byte, 0, OrProofSize(len(p.c)))
	out = append(out, p.commitsEnc...)
	for _, c := range p.c {
		out = append(out, c.Bytes()...)
	}
	for _, z := range p.z {
		out = append(out, z.Bytes()...)
	}
	return out
}

// ParseOr decodes an Or proof over n values, refusing non-canonical or
// identity commitments and non-canonical scalars.
func ParseOr(in []byte, n int) (*OrProof, error) {
	if n <= 0 || n > MaxOrValues {
		return nil, fmt.Errorf("zkp: Or proof over %d values, want 1 to %d", n, MaxOrValues)
	}
	if len(in) != OrProofSize(n) {
		return nil, fmt.Errorf("zkp: Or proof over %d values is %d bytes, want %d", n, len(in), OrProofSize(n))
	}
	p := &OrProof{
		a: make([]*ristretto255.Element, n), b: make([]*ristretto255.Element, n),
		c: make([]*ristretto255.Scalar, n), z: make([]*ristretto255.Scalar, n),
		commitsEnc: append([]byte(nil), in[:64*n]...),
	}
	var err error
	for k := 0; k < n; k++ {
		if p.a[k], err = elgamal.ParseElement(in[64*k : 64*k+32]); err != nil {
			return nil, fmt.Errorf("zkp: Or proof commitment a%d: %w", k, err)
		}
		if p.b[k], err = elgamal.ParseElement(in[64*k+32 : 64*k+64]); err != nil {
			return nil, fmt.Errorf("zkp: Or proof commitment b%d: %w", k, err)
		}
		off := 64*n + 32*k
		if p.c[k], err = elgamal.ParseScalar(in[off : off+32]); err != nil {
			return nil, fmt.Errorf("zkp: Or proof challenge c%d: %w", k, err)
		}
		off = 96*n + 32*k
		if p.z[k], err = elgamal.ParseScalar(in[off : off+32]); err != nil {
			return nil, fmt.Errorf("zkp: Or proof response z%d: %w", k, err)
		}
	}
	return p, nil
}

// AddTo adds the proof's equations for (pk, ct, values) under ctx to batch.
// The challenge-sum check needs no group arithmetic and is done at once; a
// proof that fails it, or was parsed for a different number of values, fails
// the whole batch.
func (p *OrProof) AddTo(b *Batch, ctx []byte, pk *elgamal.PublicKey, ct *elgamal.Ciphertext, values []uint64) {
	if checkValues(values) != nil || len(values) != len(p.c) {
		b.fail()
		return
	}
	c := orChallenge(ctx, pk, ct, values, p.commitsEnc)
	sum := newScalar()
	for _, ck := range p.c {
		sum.Add(sum, ck)
	}
	if sum.Equal(c) != 1 {
		b.fail()
		return
	}
	coefA, coefB, coefH := newScalar(), newScalar(), newScalar()
	for k := range p.c {
		u, v := b.weight(), b.weight()
		// u·(zₖ·g - cₖ·A - aₖ) + v·(zₖ·h - cₖ·B + cₖvₖ·g - bₖ) = 0
		b.g.Add(b.g, mul(u, p.z[k]))
		b.g.Add(b.g, mul(v, mul(p.c[k], elgamal.ScalarFromUint64(values[k]))))
		coefH.Add(coefH, mul(v, p.z[k]))
		coefA.Subtract(coefA, mul(u, p.c[k]))
		coefB.Subtract(coefB, mul(v, p.c[k]))
		b.term(neg(u), p.a[k])
		b.term(neg(v), p.b[k])
	}
	b.keyTerm(coefH, pk)
	b.term(coefA, ct.A())
	b.term(coefB, ct.B())
}

// VerifyOr checks that p shows ct under pk encrypts one of values, under ctx.
func VerifyOr(ctx []byte, pk *elgamal.PublicKey, ct *elgamal.Ciphertext, values []uint64, p *OrProof) error {
	b := NewBatch(pk)
	p.AddTo(b, ctx, pk, ct, values)
	if !b.Verify() {
		return fmt.Errorf("zkp: Or proof: %w", ErrInvalidProof)
	}
	return nil
}

// Range returns the values min, min+1, …, max for a range proof.
func Range(min, max uint64) []uint64 {
	if max < min || max-min >= MaxOrValues {
		return nil
	}
	vs := make([]uint64, 0, max-min+1)
	for v := min; v <= max; v++ {
		vs = append(vs, v)
	}
	return vs
}

// ZeroOne returns the value list of a proof that a ciphertext encrypts 0 or 1.
func ZeroOne() []uint64 { return []uint64{0, 1} }
