package trustee

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/dkg"
)

// A KeyShare is what a trustee keeps after the ceremony to decrypt the
// tally: its share of the election secret, with the election key and its
// verification key. It is secret: store Marshal's output encrypted.
type KeyShare = dkg.KeyShare

// ParseKeyShare decodes a key share, refusing one whose secret does not
// match its verification key.
func ParseKeyShare(b []byte) (*KeyShare, error) { return dkg.ParseKeyShare(b) }

var (
	// ErrNotSigningKey means the bytes are not a signing key as
	// MarshalSigningKey writes it.
	ErrNotSigningKey = errors.New("trustee: not a trustee signing key (want a PKCS #8 PEM Ed25519 key)")
	// ErrNotPublicKey means the bytes are not a public key as
	// MarshalPublicKey writes it.
	ErrNotPublicKey = errors.New("trustee: not a trustee public key (want 64 hex digits on one line)")
)

// GenerateKey makes a trustee's signing key pair, with which it signs its
// ceremony messages; the manifest names the public half. rnd is
// crypto/rand.Reader when nil.
func GenerateKey(rnd io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return nil, nil, err
	}
	// Never, for a key from a working random source: refused keys are of
	// small order or not canonical, which key generation does not make.
	if err := ballot.CheckTrusteeKey(pub); err != nil {
		return nil, nil, err
	}
	return pub, priv, nil
}

// MarshalSigningKey encodes a trustee's signing key as PKCS #8 PEM. The
// key is secret: store the encoding encrypted.
func MarshalSigningKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseSigningKey decodes what MarshalSigningKey makes; anything else is
// ErrNotSigningKey.
func ParseSigningKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, ErrNotSigningKey
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSigningKey, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, not an Ed25519 key", ErrNotSigningKey, k)
	}
	return key, nil
}

// MarshalPublicKey encodes a trustee's public key as a manifest lists it:
// 64 lower-case hex digits, here on one line of its own.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	return []byte(hex.EncodeToString(pub) + "\n")
}

// ParsePublicKey decodes what MarshalPublicKey makes (hex in either case,
// white space around it allowed): ErrNotPublicKey if it is not that, and
// ballot.CheckTrusteeKey's error if it is a key no manifest may name (of
// small order, which lets anyone sign as that trustee, or not canonical).
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(b))
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != ed25519.PublicKeySize || strings.ContainsAny(s, "\r\n") {
		return nil, ErrNotPublicKey
	}
	if err := ballot.CheckTrusteeKey(k); err != nil {
		return nil, err
	}
	return k, nil
}
