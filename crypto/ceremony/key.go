package ceremony

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"sync"
)

// x25519P is p = 2^255 - 19, little-endian: ed ff ... ff 7f.
var x25519P = func() (p [32]byte) {
	for i := range p {
		p[i] = 0xff
	}
	p[0], p[31] = 0xed, 0x7f
	return p
}()

// probe returns a fixed X25519 private key, public by design: its shared
// secret with a key tells whether the key is of low order. A clamped
// X25519 scalar is 8k with 2^251 <= k < 2^252, and the primes ordering the
// large subgroups of the curve and of its twist are both above 2^252, so
// its product with a point is zero exactly when the point's order divides
// 8: whatever the private key, the same points give all zeros. The key is
// made on first use, not at init: crypto/ecdh refuses X25519 in FIPS
// 140-only mode, which must fail a check, not a program's start.
var probe = sync.OnceValues(func() (*ecdh.PrivateKey, error) {
	seed := make([]byte, 32)
	seed[0] = 1
	return ecdh.X25519().NewPrivateKey(seed)
})

// CheckEncryptionKey refuses an X25519 key that is not canonical (its
// little-endian value, top bit included, is p or more: RFC 7748 would mask
// the bit and reduce mod p, so the same key would have other encodings)
// and one whose shared secret with anyone is all zeros (a low-order point:
// 0, 1, p-1 and the two points of order 8), to which HPKE cannot seal
// (RFC 9180 §7.1.4). ParseAnnouncement calls it; crypto/dkg calls it on a
// trustee's own key.
func CheckEncryptionKey(pk []byte) error {
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
	key, err := ecdh.X25519().NewPublicKey(pk)
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	sk, err := probe()
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	// crypto/ecdh refuses an all-zero shared secret (RFC 7748 §6.1).
	if _, err := sk.ECDH(key); err != nil {
		return errors.New("encryption key is a low-order X25519 point; generate a new one")
	}
	return nil
}
