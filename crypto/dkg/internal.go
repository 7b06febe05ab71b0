package dkg

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/hpke"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// suite is the HPKE suite shares are sealed with (RFC 9180 base mode).
var suite = hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_ChaCha20Poly1305)

var kemScheme = hpke.KEM_X25519_HKDF_SHA256.Scheme()

// x25519P is p = 2^255 - 19, little-endian: ed ff ... ff 7f.
var x25519P = func() (p [32]byte) {
	for i := range p {
		p[i] = 0xff
	}
	p[0], p[31] = 0xed, 0x7f
	return p
}()

// checkEncryptionKey refuses an X25519 key that is not canonical (its
// little-endian value, top bit included, is p or more: RFC 7748 would mask
// the bit and reduce mod p, so the same key would have other encodings)
// and one whose shared secret with anyone is all zeros (a low-order point:
// 0, 1, p-1 and the two points of order 8), to which HPKE cannot seal.
func checkEncryptionKey(pk []byte) error {
	if len(pk) != EncryptionKeySize {
		return fmt.Errorf("encryption key is %d bytes, want %d", len(pk), EncryptionKeySize)
	}
	canonical := false
	for i := EncryptionKeySize - 1; i >= 0; i-- {
		if pk[i] != x25519P[i] {
			canonical = pk[i] < x25519P[i]
			break
		}
	}
	if !canonical {
		return errors.New("encryption key is not a canonical X25519 key (its value is p = 2^255-19 or more); use the key as X25519 outputs it")
	}
	key, err := kemScheme.UnmarshalBinaryPublicKey(pk)
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	seed := make([]byte, kemScheme.EncapsulationSeedSize())
	seed[0] = 1
	if _, _, err := kemScheme.EncapsulateDeterministically(key, seed); err != nil {
		return errors.New("encryption key is a low-order X25519 point; generate a new one")
	}
	return nil
}

// appendBytes appends b with an 8-byte big-endian length prefix.
func appendBytes(out, b []byte) []byte {
	out = binary.BigEndian.AppendUint64(out, uint64(len(b)))
	return append(out, b...)
}

// proofContext is the Schnorr proof's context for dealer i's constant term.
func proofContext(context []byte, dealer, n, t int) []byte {
	out := appendBytes(nil, []byte("evote/dkg/v1 constant-term proof"))
	out = append(out, byte(dealer), byte(n), byte(t))
	return appendBytes(out, context)
}

// commitmentHash is SHA-256 over the deal's encoded commitments.
func commitmentHash(cs []*ristretto255.Element) []byte {
	h := sha256.New()
	for _, c := range cs {
		h.Write(c.Bytes())
	}
	return h.Sum(nil)
}

// shareInfo is the HPKE info for the share dealer → recipient: it binds the
// ceremony's context, both indices, n, t and the commitments, so a sealed
// share opens only in the one place it was made for.
func shareInfo(context []byte, dealer, recipient, n, t int, commitHash []byte) []byte {
	out := appendBytes(nil, []byte("evote/dkg/v1 share"))
	out = append(out, byte(dealer), byte(recipient), byte(n), byte(t))
	out = appendBytes(out, commitHash)
	return appendBytes(out, context)
}

func sealShare(rnd io.Reader, pk []byte, info []byte, s *ristretto255.Scalar) (EncryptedShare, error) {
	var out EncryptedShare
	key, err := kemScheme.UnmarshalBinaryPublicKey(pk)
	if err != nil {
		return out, err
	}
	sender, err := suite.NewSender(key, info)
	if err != nil {
		return out, err
	}
	enc, sealer, err := sender.Setup(rnd)
	if err != nil {
		return out, err
	}
	ct, err := sealer.Seal(s.Bytes(), nil)
	if err != nil {
		return out, err
	}
	if len(enc)+len(ct) != EncryptedShareSize {
		return out, fmt.Errorf("HPKE produced %d bytes, want %d", len(enc)+len(ct), EncryptedShareSize)
	}
	copy(out[:], enc)
	copy(out[len(enc):], ct)
	return out, nil
}

func openShare(sk []byte, info []byte, es *EncryptedShare) (*ristretto255.Scalar, error) {
	key, err := kemScheme.UnmarshalBinaryPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	receiver, err := suite.NewReceiver(key, info)
	if err != nil {
		return nil, err
	}
	opener, err := receiver.Setup(es[:32])
	if err != nil {
		return nil, err
	}
	pt, err := opener.Open(es[32:], nil)
	if err != nil {
		return nil, err
	}
	return elgamal.ParseScalar(pt)
}

func scalarInt(j int) *ristretto255.Scalar { return elgamal.ScalarFromUint64(uint64(j)) }

// evalPoly returns f(j) = Σₖ aₖ·jᵏ by Horner's rule.
func evalPoly(coeffs []*ristretto255.Scalar, j int) *ristretto255.Scalar {
	x := scalarInt(j)
	acc := ristretto255.NewScalar()
	for k := len(coeffs) - 1; k >= 0; k-- {
		acc.Multiply(acc, x)
		acc.Add(acc, coeffs[k])
	}
	return acc
}

// evalCommitments returns Σₖ jᵏ·Cₖ, which is g^f(j) for an honest deal.
func evalCommitments(cs []*ristretto255.Element, j int) *ristretto255.Element {
	x := scalarInt(j)
	pow := elgamal.ScalarFromUint64(1)
	scalars := make([]*ristretto255.Scalar, len(cs))
	for k := range cs {
		scalars[k] = ristretto255.NewScalar().Set(pow)
		pow.Multiply(pow, x)
	}
	return ristretto255.NewIdentityElement().VarTimeMultiScalarMult(scalars, cs)
}

// shareMatches reports whether g^s = Σₖ jᵏ·Cₖ.
func shareMatches(cs []*ristretto255.Element, j int, s *ristretto255.Scalar) bool {
	return ristretto255.NewIdentityElement().ScalarBaseMult(s).Equal(evalCommitments(cs, j)) == 1
}
