package zkp

import (
	"fmt"
	"io"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// SchnorrSize is the length of an encoded SchnorrProof: R || z.
const SchnorrSize = 64

// SchnorrProof proves knowledge of x with X = g^x. Made with a message in its
// context it is a Schnorr signature by X on that message.
type SchnorrProof struct {
	r    *ristretto255.Element
	rEnc []byte
	z    *ristretto255.Scalar
}

// ProveSchnorr proves knowledge of x = log_g X under ctx.
func ProveSchnorr(rnd io.Reader, ctx []byte, x *ristretto255.Scalar, X *elgamal.PublicKey) (*SchnorrProof, error) {
	w, err := elgamal.RandomScalar(rnd)
	if err != nil {
		return nil, err
	}
	r := newElement().ScalarBaseMult(w)
	p := &SchnorrProof{r: r, rEnc: r.Bytes()}
	c := schnorrChallenge(ctx, X, p.rEnc)
	p.z = newScalar().Add(w, mul(c, x))
	return p, nil
}

func schnorrChallenge(ctx []byte, X *elgamal.PublicKey, r []byte) *ristretto255.Scalar {
	t := newTranscript("schnorr", ctx)
	t.write(X.Bytes())
	t.write(r)
	return t.challenge()
}

// Bytes returns R || z.
func (p *SchnorrProof) Bytes() []byte {
	return append(append(make([]byte, 0, SchnorrSize), p.rEnc...), p.z.Bytes()...)
}

// ParseSchnorr decodes a proof, refusing non-canonical or identity R and a
// non-canonical z.
func ParseSchnorr(b []byte) (*SchnorrProof, error) {
	if len(b) != SchnorrSize {
		return nil, fmt.Errorf("zkp: Schnorr proof is %d bytes, want %d", len(b), SchnorrSize)
	}
	r, err := elgamal.ParseElement(b[:32])
	if err != nil {
		return nil, fmt.Errorf("zkp: Schnorr commitment: %w", err)
	}
	z, err := elgamal.ParseScalar(b[32:])
	if err != nil {
		return nil, fmt.Errorf("zkp: Schnorr response: %w", err)
	}
	return &SchnorrProof{r: r, rEnc: append([]byte(nil), b[:32]...), z: z}, nil
}

// AddTo adds the proof's equation z·g - R - c·X = 0 to batch.
func (p *SchnorrProof) AddTo(b *Batch, ctx []byte, X *elgamal.PublicKey) {
	c := schnorrChallenge(ctx, X, p.rEnc)
	u := b.weight()
	b.g.Add(b.g, mul(u, p.z))
	b.term(neg(u), p.r)
	b.keyTerm(neg(mul(u, c)), X)
}

// VerifySchnorr checks p for X under ctx.
func VerifySchnorr(ctx []byte, X *elgamal.PublicKey, p *SchnorrProof) error {
	b := NewBatch(nil)
	p.AddTo(b, ctx, X)
	if !b.Verify() {
		return fmt.Errorf("zkp: Schnorr proof: %w", ErrInvalidProof)
	}
	return nil
}
