// Package elgamal implements exponential ElGamal encryption over the
// ristretto255 prime-order group (RFC 9496).
//
// A message m (a small count) is encrypted under the election key h as the
// pair (A, B) = (g^r, g^m·h^r). Ciphertexts add homomorphically, so the
// product of every ballot's ciphertext for one choice encrypts that choice's
// count, and only that count is ever decrypted. Decrypting yields g^m; the
// count is recovered by a bounded discrete logarithm (package threshold).
//
// Encodings are the group's canonical 32-byte strings. Every decoder here
// refuses non-canonical points and scalars, and refuses the identity where a
// value produced with fresh randomness can never be the identity, so that one
// value has exactly one encoding and a malleated byte string never verifies.
//
// Values carry their encoding once they have one: hashing a ciphertext into a
// proof challenge then costs nothing, which matters because re-encoding a
// ristretto255 point costs as much as decoding it.
package elgamal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

// Sizes of the canonical encodings.
const (
	ElementSize    = 32
	ScalarSize     = 32
	CiphertextSize = 2 * ElementSize
)

var (
	errNonCanonical = errors.New("not a canonical ristretto255 encoding")
	errIdentity     = errors.New("the identity element is not allowed here")
)

// ParseElement decodes a canonical, non-identity group element.
func ParseElement(b []byte) (*ristretto255.Element, error) {
	if len(b) != ElementSize {
		return nil, fmt.Errorf("elgamal: group element is %d bytes, want %d", len(b), ElementSize)
	}
	e, err := ristretto255.NewIdentityElement().SetCanonicalBytes(b)
	if err != nil {
		return nil, fmt.Errorf("elgamal: group element: %w", errNonCanonical)
	}
	if e.Equal(identity) == 1 {
		return nil, fmt.Errorf("elgamal: group element: %w", errIdentity)
	}
	return e, nil
}

// ParseScalar decodes a canonical scalar (an integer below the group order).
func ParseScalar(b []byte) (*ristretto255.Scalar, error) {
	if len(b) != ScalarSize {
		return nil, fmt.Errorf("elgamal: scalar is %d bytes, want %d", len(b), ScalarSize)
	}
	s, err := ristretto255.NewScalar().SetCanonicalBytes(b)
	if err != nil {
		return nil, fmt.Errorf("elgamal: scalar: %w", errNonCanonical)
	}
	return s, nil
}

// RandomScalar returns a uniformly random non-zero scalar read from rand
// (crypto/rand.Reader when rand is nil).
func RandomScalar(rnd io.Reader) (*ristretto255.Scalar, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var buf [64]byte
	for {
		if _, err := io.ReadFull(rnd, buf[:]); err != nil {
			return nil, fmt.Errorf("elgamal: reading randomness: %w", err)
		}
		s, err := ristretto255.NewScalar().SetUniformBytes(buf[:])
		if err != nil {
			return nil, err
		}
		if s.Equal(zero) == 0 {
			return s, nil
		}
	}
}

// ScalarFromUint64 returns m as a scalar.
func ScalarFromUint64(m uint64) *ristretto255.Scalar {
	var buf [ScalarSize]byte
	for i := 0; i < 8; i++ {
		buf[i] = byte(m >> (8 * i))
	}
	s, err := ristretto255.NewScalar().SetCanonicalBytes(buf[:])
	if err != nil {
		panic("elgamal: small integer is not canonical") // unreachable: m < 2^64 < order
	}
	return s
}

var (
	identity  = ristretto255.NewIdentityElement()
	zero      = ristretto255.NewScalar()
	generator = ristretto255.NewGeneratorElement()
)

// Generator returns a new copy of the group's standard generator g.
func Generator() *ristretto255.Element { return ristretto255.NewIdentityElement().Set(generator) }

// PublicKey is an election (or test) public key h = g^x.
type PublicKey struct {
	point *ristretto255.Element
	enc   []byte
}

// NewPublicKey wraps h, refusing the identity (whose "encryptions" are plaintext).
func NewPublicKey(h *ristretto255.Element) (*PublicKey, error) {
	if h.Equal(identity) == 1 {
		return nil, fmt.Errorf("elgamal: public key: %w", errIdentity)
	}
	p := ristretto255.NewIdentityElement().Set(h)
	return &PublicKey{point: p, enc: p.Bytes()}, nil
}

// ParsePublicKey decodes a public key from its canonical 32-byte encoding.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	p, err := ParseElement(b)
	if err != nil {
		return nil, fmt.Errorf("elgamal: public key: %w", err)
	}
	return &PublicKey{point: p, enc: append([]byte(nil), b...)}, nil
}

// Element returns a copy of h.
func (pk *PublicKey) Element() *ristretto255.Element {
	return ristretto255.NewIdentityElement().Set(pk.point)
}

// Bytes returns the canonical encoding of h. The caller must not modify it.
func (pk *PublicKey) Bytes() []byte { return pk.enc }

// GenerateKey returns a fresh single-holder key pair. Elections never use it:
// their key comes from the key ceremony (package dkg) and no one holds x. It
// exists for tests, examples and benchmarks of the primitives.
func GenerateKey(rnd io.Reader) (*ristretto255.Scalar, *PublicKey, error) {
	x, err := RandomScalar(rnd)
	if err != nil {
		return nil, nil, err
	}
	pk, err := NewPublicKey(ristretto255.NewIdentityElement().ScalarBaseMult(x))
	return x, pk, err
}

// Ciphertext is an exponential ElGamal ciphertext (A, B) = (g^r, g^m·h^r).
// It is immutable: operations return new ciphertexts.
type Ciphertext struct {
	a, b *ristretto255.Element
	enc  []byte // canonical encoding, when known
}

// A returns a copy of the first component, g^r.
func (c *Ciphertext) A() *ristretto255.Element { return ristretto255.NewIdentityElement().Set(c.a) }

// B returns a copy of the second component, g^m·h^r.
func (c *Ciphertext) B() *ristretto255.Element { return ristretto255.NewIdentityElement().Set(c.b) }

// Bytes returns the 64-byte encoding A || B. The caller must not modify it.
func (c *Ciphertext) Bytes() []byte {
	if c.enc != nil {
		return c.enc
	}
	enc := make([]byte, 0, CiphertextSize)
	enc = append(enc, c.a.Bytes()...)
	return append(enc, c.b.Bytes()...)
}

// Encrypt encrypts m under pk with the caller's randomness r. r must be
// secret, uniformly random and used once; RandomScalar makes one.
func Encrypt(pk *PublicKey, m uint64, r *ristretto255.Scalar) *Ciphertext {
	return encrypt(pk, ScalarFromUint64(m), r)
}

func encrypt(pk *PublicKey, m, r *ristretto255.Scalar) *Ciphertext {
	a := ristretto255.NewIdentityElement().ScalarBaseMult(r)
	gm := ristretto255.NewIdentityElement().ScalarBaseMult(m)
	b := ristretto255.NewIdentityElement().ScalarMult(r, pk.point)
	b.Add(b, gm)
	c := &Ciphertext{a: a, b: b}
	c.enc = c.Bytes()
	return c
}

// NewCiphertext builds a ciphertext from its two components, as computed by a
// caller that aggregates many ciphertexts at once.
func NewCiphertext(a, b *ristretto255.Element) *Ciphertext {
	return &Ciphertext{a: ristretto255.NewIdentityElement().Set(a), b: ristretto255.NewIdentityElement().Set(b)}
}

// ParseCiphertext decodes A || B from outside input: both canonical, and A not
// the identity (A = g^r is the identity only for r = 0, which exposes m).
func ParseCiphertext(in []byte) (*Ciphertext, error) {
	if len(in) != CiphertextSize {
		return nil, fmt.Errorf("elgamal: ciphertext is %d bytes, want %d", len(in), CiphertextSize)
	}
	a, err := ParseElement(in[:ElementSize])
	if err != nil {
		return nil, fmt.Errorf("elgamal: ciphertext first component: %w", err)
	}
	b, err := ristretto255.NewIdentityElement().SetCanonicalBytes(in[ElementSize:])
	if err != nil {
		return nil, fmt.Errorf("elgamal: ciphertext second component: %w", errNonCanonical)
	}
	return &Ciphertext{a: a, b: b, enc: append([]byte(nil), in...)}, nil
}

// Add returns the componentwise product of the ciphertexts, an encryption of
// the sum of their messages. With no arguments it returns the encryption of 0
// with zero randomness, the neutral element.
func Add(cts ...*Ciphertext) *Ciphertext {
	a, b := ristretto255.NewIdentityElement(), ristretto255.NewIdentityElement()
	for _, c := range cts {
		a.Add(a, c.a)
		b.Add(b, c.b)
	}
	return &Ciphertext{a: a, b: b}
}

// Rerandomize returns an encryption of the same message with randomness
// shifted by r: (A·g^r, B·h^r).
func Rerandomize(pk *PublicKey, c *Ciphertext, r *ristretto255.Scalar) *Ciphertext {
	z := encrypt(pk, zero, r)
	out := Add(c, z)
	out.enc = out.Bytes()
	return out
}

// Decrypt returns g^m for a single-holder secret x. Elections never call it:
// there no one holds x, and trustees decrypt jointly (package threshold).
func Decrypt(x *ristretto255.Scalar, c *Ciphertext) *ristretto255.Element {
	s := ristretto255.NewIdentityElement().ScalarMult(x, c.a)
	return s.Subtract(c.b, s)
}
