package token

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/blindsign/blindrsa"
)

const (
	// MinKeyBits is the smallest issuer modulus accepted, when generating and
	// when parsing keys.
	MinKeyBits = 2048
	// MaxKeyBits is the largest issuer modulus accepted. Larger keys only
	// make issuance slower and tokens larger.
	MaxKeyBits = 4096
	// DefaultKeyBits is the modulus size [GenerateKey] is meant to be called
	// with: it meets the 1,000 tokens/s issuance target best.
	DefaultKeyBits = 2048

	publicExponent = 65537

	pemPrivateType = "PRIVATE KEY"
	pemPublicType  = "PUBLIC KEY"
)

// Variant is the RFC 9474 variant every token uses.
const Variant = "RSABSSA-SHA384-PSS-Randomized"

const variant = blindrsa.SHA384PSSRandomized

// KeyIDSize is the length of a [KeyID] in bytes.
const KeyIDSize = sha256.Size

// KeyID names an issuer public key: the SHA-256 of its PKIX DER encoding.
type KeyID [KeyIDSize]byte

// String returns the key ID in lower-case hex.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// PublicKey is an issuer's public key. It is safe for concurrent use.
type PublicKey struct {
	key *rsa.PublicKey
	der []byte
	id  KeyID
}

// PrivateKey is an issuer's signing key. It is safe for concurrent use.
type PrivateKey struct {
	key *rsa.PrivateKey
	pub *PublicKey
	crt *crtKey // the private operation's precomputed values (crt.go)
}

// GenerateKey makes a new issuer key of the given modulus size in bits
// (at least [MinKeyBits], at most [MaxKeyBits]; use [DefaultKeyBits]) from
// crypto/rand. It takes a few seconds for 2048 bits.
func GenerateKey(bits int) (*PrivateKey, error) {
	if err := checkBits(bits); err != nil {
		return nil, err
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("token: generating RSA-%d issuer key: %w", bits, err)
	}
	return newPrivateKey(k)
}

func checkBits(bits int) error {
	if bits < MinKeyBits {
		return fmt.Errorf("token: RSA-%d issuer key refused: use at least %d bits", bits, MinKeyBits)
	}
	if bits > MaxKeyBits {
		return fmt.Errorf("token: RSA-%d issuer key refused: use at most %d bits", bits, MaxKeyBits)
	}
	return nil
}

func newPrivateKey(k *rsa.PrivateKey) (*PrivateKey, error) {
	if len(k.Primes) != 2 {
		return nil, fmt.Errorf("token: issuer key has %d primes; only two-prime RSA keys are supported", len(k.Primes))
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("token: issuer key is not a valid RSA key: %w", err)
	}
	k.Precompute()
	pub, err := newPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	crt, err := newCRTKey(k)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{key: k, pub: pub, crt: crt}, nil
}

func newPublicKey(k *rsa.PublicKey) (*PublicKey, error) {
	if k.N == nil || k.N.Sign() <= 0 {
		return nil, errors.New("token: issuer public key has no modulus")
	}
	if err := checkBits(k.N.BitLen()); err != nil {
		return nil, err
	}
	if k.N.Bit(0) == 0 {
		return nil, errors.New("token: issuer public key refused: its modulus is even")
	}
	if k.E != publicExponent {
		return nil, fmt.Errorf("token: issuer public key refused: public exponent %d, want %d", k.E, publicExponent)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("token: encoding issuer public key: %w", err)
	}
	return &PublicKey{key: k, der: der, id: sha256.Sum256(der)}, nil
}

// Public returns the public half of the key.
func (sk *PrivateKey) Public() *PublicKey { return sk.pub }

// MarshalPKCS8 returns the private key as PKCS #8 DER.
func (sk *PrivateKey) MarshalPKCS8() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(sk.key)
	if err != nil {
		return nil, fmt.Errorf("token: encoding issuer private key: %w", err)
	}
	return der, nil
}

// MarshalPEM returns the private key as a PEM block of type "PRIVATE KEY"
// holding PKCS #8 DER. Keep it encrypted at rest.
func (sk *PrivateKey) MarshalPEM() ([]byte, error) {
	der, err := sk.MarshalPKCS8()
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateType, Bytes: der}), nil
}

// ParsePrivateKey parses an issuer private key from PKCS #8, as PEM (type
// "PRIVATE KEY") or DER. It refuses keys that are not RSA, smaller than
// [MinKeyBits], have a public exponent other than 65537, or fail validation.
func ParsePrivateKey(data []byte) (*PrivateKey, error) {
	der, err := unPEM(data, pemPrivateType)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: issuer private key is not PKCS #8: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("token: issuer private key is a %T, want an RSA key", k)
	}
	return newPrivateKey(rk)
}

// Bytes returns the public key as PKIX (SubjectPublicKeyInfo) DER. This is
// the encoding [PublicKey.ID] hashes. The caller must not modify it.
func (pk *PublicKey) Bytes() []byte { return pk.der }

// MarshalPEM returns the public key as a PEM block of type "PUBLIC KEY".
func (pk *PublicKey) MarshalPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicType, Bytes: pk.der})
}

// ID returns the key's [KeyID].
func (pk *PublicKey) ID() KeyID { return pk.id }

// Size returns the modulus length in bytes: the length of a blinded message,
// a blind signature and a token's signature.
func (pk *PublicKey) Size() int { return pk.key.Size() }

// Equal reports whether pk and other are the same key.
func (pk *PublicKey) Equal(other *PublicKey) bool {
	return other != nil && bytes.Equal(pk.der, other.der)
}

// ParsePublicKey parses an issuer public key from PKIX (SubjectPublicKeyInfo)
// DER, or PEM of type "PUBLIC KEY". The DER must be the key's canonical
// encoding, so that a key has exactly one [KeyID].
func ParsePublicKey(data []byte) (*PublicKey, error) {
	der, err := unPEM(data, pemPublicType)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: issuer public key is not PKIX DER: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("token: issuer public key is a %T, want an RSA key", k)
	}
	pk, err := newPublicKey(rk)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pk.der, der) {
		return nil, errors.New("token: issuer public key DER is not in canonical form")
	}
	return pk, nil
}

// unPEM returns the DER inside a single PEM block of the given type, or data
// itself if it does not start like PEM.
func unPEM(data []byte, typ string) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return data, nil
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		return nil, fmt.Errorf("token: malformed PEM, want one %q block", typ)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("token: PEM block is %q, want %q", block.Type, typ)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("token: PEM block has headers; encrypted PEM is not supported")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("token: data after the %q PEM block", typ)
	}
	return block.Bytes, nil
}

// DeriveSecret returns 32 bytes derived from the private key for one
// purpose, named by label: HKDF-SHA256 (RFC 5869) with the key's PKCS #8
// DER as the input keying material, no salt, and the label as info. The
// issuer keeps one secret file, its issuing key; the keys it needs besides
// (the statement signing key, the roll's sealing key) are derived from it
// with labels of the form "evote/issuer/<purpose>/v1", so each is a
// different key and none can be had from another or from the public key.
func (sk *PrivateKey) DeriveSecret(label string) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(sk.key)
	if err != nil {
		panic("token: encoding a validated RSA key: " + err.Error()) // cannot happen
	}
	defer clear(der)
	out, err := hkdf.Key(sha256.New, der, nil, label, 32)
	if err != nil {
		panic("token: HKDF: " + err.Error()) // cannot happen: 32 bytes of SHA-256
	}
	return out
}
