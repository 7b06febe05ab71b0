package dkg

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cloudflare/circl/hpke"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// suite is the HPKE suite shares are sealed with (RFC 9180 base mode).
var suite = hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_ChaCha20Poly1305)

var kemScheme = hpke.KEM_X25519_HKDF_SHA256.Scheme()

// appendBytes appends b with an 8-byte big-endian length prefix.
func appendBytes(out, b []byte) []byte {
	out = binary.BigEndian.AppendUint64(out, uint64(len(b)))
	return append(out, b...)
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
