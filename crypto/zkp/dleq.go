package zkp

import (
	"fmt"
	"io"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// DLEQSize is the length of an encoded DLEQProof: R1 || R2 || z.
const DLEQSize = 96

// DLEQProof proves log_g X = log_B Y (Chaum-Pedersen) without revealing it.
type DLEQProof struct {
	r1, r2       *ristretto255.Element
	r1Enc, r2Enc []byte
	z            *ristretto255.Scalar
}

// ProveDLEQ proves that Y = B^x for the x with X = g^x, under ctx.
func ProveDLEQ(rnd io.Reader, ctx []byte, x *ristretto255.Scalar, X *elgamal.PublicKey, B, Y *ristretto255.Element) (*DLEQProof, error) {
	w, err := elgamal.RandomScalar(rnd)
	if err != nil {
		return nil, err
	}
	r1 := newElement().ScalarBaseMult(w)
	r2 := newElement().ScalarMult(w, B)
	p := &DLEQProof{r1: r1, r2: r2, r1Enc: r1.Bytes(), r2Enc: r2.Bytes()}
	c := dleqChallenge(ctx, X, B, Y, p.r1Enc, p.r2Enc)
	p.z = newScalar().Add(w, mul(c, x))
	return p, nil
}

func dleqChallenge(ctx []byte, X *elgamal.PublicKey, B, Y *ristretto255.Element, r1, r2 []byte) *ristretto255.Scalar {
	t := newTranscript("dleq", ctx)
	t.write(X.Bytes())
	t.write(B.Bytes())
	t.write(Y.Bytes())
	t.write(r1)
	t.write(r2)
	return t.challenge()
}

// Bytes returns R1 || R2 || z.
func (p *DLEQProof) Bytes() []byte {
	out := make([]byte, 0, DLEQSize)
	out = append(append(out, p.r1Enc...), p.r2Enc...)
	return append(out, p.z.Bytes()...)
}

// ParseDLEQ decodes a proof, refusing non-canonical or identity commitments
// and a non-canonical response.
func ParseDLEQ(b []byte) (*DLEQProof, error) {
	if len(b) != DLEQSize {
		return nil, fmt.Errorf("zkp: DLEQ proof is %d bytes, want %d", len(b), DLEQSize)
	}
	r1, err := elgamal.ParseElement(b[:32])
	if err != nil {
		return nil, fmt.Errorf("zkp: DLEQ first commitment: %w", err)
	}
	r2, err := elgamal.ParseElement(b[32:64])
	if err != nil {
		return nil, fmt.Errorf("zkp: DLEQ second commitment: %w", err)
	}
	z, err := elgamal.ParseScalar(b[64:])
	if err != nil {
		return nil, fmt.Errorf("zkp: DLEQ response: %w", err)
	}
	return &DLEQProof{r1: r1, r2: r2, r1Enc: append([]byte(nil), b[:32]...), r2Enc: append([]byte(nil), b[32:64]...), z: z}, nil
}

// AddTo adds the proof's two equations to batch:
// z·g - R1 - c·X = 0 and z·B - R2 - c·Y = 0.
func (p *DLEQProof) AddTo(b *Batch, ctx []byte, X *elgamal.PublicKey, B, Y *ristretto255.Element) {
	c := dleqChallenge(ctx, X, B, Y, p.r1Enc, p.r2Enc)
	u, v := b.weight(), b.weight()
	b.g.Add(b.g, mul(u, p.z))
	b.term(neg(u), p.r1)
	b.keyTerm(neg(mul(u, c)), X)
	b.term(mul(v, p.z), B)
	b.term(neg(v), p.r2)
	b.term(neg(mul(v, c)), Y)
}

// VerifyDLEQ checks p for the statement (X, B, Y) under ctx.
func VerifyDLEQ(ctx []byte, X *elgamal.PublicKey, B, Y *ristretto255.Element, p *DLEQProof) error {
	b := NewBatch(nil)
	p.AddTo(b, ctx, X, B, Y)
	if !b.Verify() {
		return fmt.Errorf("zkp: DLEQ proof: %w", ErrInvalidProof)
	}
	return nil
}
