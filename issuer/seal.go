package issuer

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// rollKeyLabel names the roll key among the secrets derived from the
// issuing key (token.PrivateKey.DeriveSecret).
const rollKeyLabel = "evote/issuer/roll-key/v1"

// The roll key seals what the roll keeps of a voter besides the code's
// hash: the contact one-time codes go to and an authenticator's secret,
// with XChaCha20-Poly1305, and tags client addresses and one-time codes
// with HMAC-SHA256. It is derived from the issuing key, which is kept
// encrypted at rest, so a copy of the roll file alone holds no e-mail
// address, phone number, TOTP secret, one-time code or client address. The
// additional data binds each sealed value to its voter and field: one
// voter's value moved to another's entry does not open.

// Contact is where a voter's one-time codes go.
type Contact struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"` // as the registry gave it (checkPhone's form)
	Lang  string `json:"lang,omitempty"`  // "it", "en" or ""
}

// errUnsealed means a sealed value did not open: a roll file altered, or
// opened with another issuing key.
var errUnsealed = errors.New("issuer: a sealed roll value does not open with this issuing key (was the roll made with another key, or altered?)")

func sealAD(field, voterID string) []byte {
	return []byte("evote/issuer/roll/v1\x00" + field + "\x00" + voterID)
}

func (is *Issuer) seal(field, voterID string, plain []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(is.rollKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("issuer: reading randomness for a nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, sealAD(field, voterID)), nil
}

func (is *Issuer) open(field, voterID string, sealed []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(is.rollKey)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errUnsealed
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], sealAD(field, voterID))
	if err != nil {
		return nil, errUnsealed
	}
	return plain, nil
}

// SealContact returns c sealed for voterID's entry (RollEntry.Contact).
func (is *Issuer) SealContact(voterID string, c Contact) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return is.seal("contact", voterID, b)
}

// contact opens a voter's contact; ok is false if the entry has none.
func (is *Issuer) contact(rec *RollEntry) (c Contact, ok bool, err error) {
	if rec.Contact == nil {
		return Contact{}, false, nil
	}
	b, err := is.open("contact", rec.VoterID, rec.Contact)
	if err != nil {
		return Contact{}, false, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Contact{}, false, errUnsealed
	}
	return c, true, nil
}
