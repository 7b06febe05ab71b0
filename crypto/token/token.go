package token

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/cloudflare/circl/blindsign/blindrsa"
	"golang.org/x/crypto/chacha20"
)

const (
	// Domain is the domain-separation tag at the start of every token message.
	Domain = "evote/token/v1"
	// ElectionIDSize is the length of an election ID (the manifest's election_id).
	ElectionIDSize = 32
	// TokenKeySize is the length of a token public key (a ristretto255 element).
	TokenKeySize = 32
	// MessageSize is the length of a token message.
	MessageSize = len(Domain) + 1 + ElectionIDSize + TokenKeySize
	// PrefixSize is the length of the random prefix RFC 9474's randomized
	// variant prepends to the message.
	PrefixSize = 32
)

// Errors callers may want to tell apart with errors.Is.
var (
	// ErrInvalidToken means a token does not verify: it is forged, or was
	// issued for another election, another token key or by another issuer.
	ErrInvalidToken = errors.New("token: signature does not verify for this issuer key, election and token key")
	// ErrMalformed means an encoding or input has the wrong length or form.
	ErrMalformed = errors.New("token: malformed input")
)

// Message returns the message a token signs:
//
//	"evote/token/v1" || 0x00 || electionID || tokenPub
//
// electionID must be [ElectionIDSize] bytes and tokenPub [TokenKeySize]
// bytes; other lengths are refused.
func Message(electionID, tokenPub []byte) ([]byte, error) {
	if len(electionID) != ElectionIDSize {
		return nil, fmt.Errorf("%w: election ID is %d bytes, want %d", ErrMalformed, len(electionID), ElectionIDSize)
	}
	if len(tokenPub) != TokenKeySize {
		return nil, fmt.Errorf("%w: token public key is %d bytes, want %d", ErrMalformed, len(tokenPub), TokenKeySize)
	}
	m := make([]byte, 0, MessageSize)
	m = append(m, Domain...)
	m = append(m, 0)
	m = append(m, electionID...)
	m = append(m, tokenPub...)
	return m, nil
}

// Token is an issued eligibility token: the random prefix RFC 9474 prepended
// to the message, and the issuer's RSA signature on prefix || message.
type Token struct {
	Prefix    [PrefixSize]byte
	Signature []byte
}

// Bytes returns the token's encoding: Prefix || Signature.
func (t *Token) Bytes() []byte {
	out := make([]byte, 0, PrefixSize+len(t.Signature))
	out = append(out, t.Prefix[:]...)
	return append(out, t.Signature...)
}

// ParseToken parses a token issued under pub: exactly [PrefixSize] +
// pub.Size() bytes, the signature an integer below the modulus. It does not
// verify the signature; use [Verify].
func ParseToken(pub *PublicKey, data []byte) (*Token, error) {
	if want := PrefixSize + pub.Size(); len(data) != want {
		return nil, fmt.Errorf("%w: token is %d bytes, want %d for this issuer key", ErrMalformed, len(data), want)
	}
	sig := data[PrefixSize:]
	if new(big.Int).SetBytes(sig).Cmp(pub.key.N) >= 0 {
		return nil, fmt.Errorf("%w: token signature is not below the issuer modulus", ErrMalformed)
	}
	t := &Token{Signature: append([]byte(nil), sig...)}
	copy(t.Prefix[:], data)
	return t, nil
}

// BlindState is what the voter keeps between [Blind] and [Finalize]. It is
// secret (it unlinks the token from the request) and lives in memory only.
type BlindState struct {
	client blindrsa.Client
	state  blindrsa.State
	prefix [PrefixSize]byte
}

// Blind prepares and blinds the token message for electionID and tokenPub
// under the issuer's key, returning the blinded message to send to the
// issuer and the state [Finalize] needs. random supplies the prefix, the
// PSS salt and the blinding factor; nil means crypto/rand.Reader, which is
// what production code must use.
func Blind(random io.Reader, pub *PublicKey, electionID, tokenPub []byte) ([]byte, *BlindState, error) {
	if random == nil {
		random = rand.Reader
	}
	msg, err := Message(electionID, tokenPub)
	if err != nil {
		return nil, nil, err
	}
	c, err := blindrsa.NewClient(variant, pub.key)
	if err != nil {
		return nil, nil, fmt.Errorf("token: %w", err)
	}
	prepared, err := c.Prepare(random, msg)
	if err != nil {
		return nil, nil, fmt.Errorf("token: reading random prefix: %w", err)
	}
	blinded, st, err := c.Blind(random, prepared)
	if err != nil {
		return nil, nil, fmt.Errorf("token: blinding: %w", err)
	}
	bs := &BlindState{client: c, state: st}
	copy(bs.prefix[:], prepared)
	return blinded, bs, nil
}

// SeedSize is the length of a seed for [BlindSeeded].
const SeedSize = 32

// BlindSeeded is [Blind] with every random value (the prefix, the PSS salt
// and the blinding factor) drawn from a ChaCha20 keystream keyed by seed: the
// same seed gives the same blinded message and state. A voter's device that
// saves the seed (a secret, like the token key) before it sends the
// blinded message can rebuild the state after a crash or a lost reply, ask
// the issuer again with the same blinded message (which the issuer answers
// with the same signature) and finalize; circl's state itself cannot be
// saved. The seed must be fresh from crypto/rand and used for one token.
func BlindSeeded(seed [SeedSize]byte, pub *PublicKey, electionID, tokenPub []byte) ([]byte, *BlindState, error) {
	var nonce [chacha20.NonceSize]byte // one seed, one stream
	c, err := chacha20.NewUnauthenticatedCipher(seed[:], nonce[:])
	if err != nil {
		return nil, nil, fmt.Errorf("token: %w", err)
	}
	return Blind(keystream{c}, pub, electionID, tokenPub)
}

// keystream reads a ChaCha20 keystream.
type keystream struct{ c *chacha20.Cipher }

func (k keystream) Read(p []byte) (int, error) {
	clear(p)
	k.c.XORKeyStream(p, p)
	return len(p), nil
}

// Finalize unblinds the issuer's blind signature and returns the token. It
// fails if blindSig is not a valid signature on the blinded message, which
// means the issuer (or something between) answered wrongly: do not use the
// token key; ask again with the same blinded message.
func Finalize(state *BlindState, blindSig []byte) (*Token, error) {
	if state == nil {
		return nil, errors.New("token: Finalize needs the state returned by Blind")
	}
	sig, err := state.client.Finalize(state.state, blindSig)
	if err != nil {
		if errors.Is(err, blindrsa.ErrUnexpectedSize) {
			return nil, fmt.Errorf("%w: blind signature is %d bytes, want the issuer modulus length", ErrMalformed, len(blindSig))
		}
		return nil, fmt.Errorf("token: the issuer's blind signature does not verify: %w", err)
	}
	return &Token{Prefix: state.prefix, Signature: sig}, nil
}

// Sign is the issuer's step, RFC 9474 §4.3 BlindSign: it signs a blinded
// message (exactly pk.Public().Size() bytes, an integer in [1, N)) after
// the caller has checked that the voter may have a token, and returns the
// blind signature, exactly the modulus length. The private operation is
// constant-time RSA-CRT on filippo.io/bigmod (see the package doc), and
// its result is checked against the public key before it is returned: an
// input of the wrong length or outside [1, N) gives an error wrapping
// [ErrMalformed], a result that does not check gives [ErrFault].
func (sk *PrivateKey) Sign(blinded []byte) ([]byte, error) {
	if want := sk.pub.Size(); len(blinded) != want {
		return nil, fmt.Errorf("%w: blinded message is %d bytes, want %d (the issuer modulus length)", ErrMalformed, len(blinded), want)
	}
	m := new(big.Int).SetBytes(blinded)
	if m.Sign() == 0 || m.Cmp(sk.key.N) >= 0 {
		return nil, fmt.Errorf("%w: blinded message is not an integer in [1, N)", ErrMalformed)
	}
	return sk.crt.sign(blinded)
}

// Verify checks that tok is the issuer's signature, under pub, on the token
// message for electionID and tokenPub. It returns nil only if so; a forged
// token, or one issued for another election, token key or issuer, gives an
// error wrapping [ErrInvalidToken].
func Verify(pub *PublicKey, electionID, tokenPub []byte, tok *Token) error {
	if tok == nil {
		return fmt.Errorf("%w: no token", ErrMalformed)
	}
	msg, err := Message(electionID, tokenPub)
	if err != nil {
		return err
	}
	if len(tok.Signature) != pub.Size() {
		return fmt.Errorf("%w: token signature is %d bytes, want %d for this issuer key", ErrMalformed, len(tok.Signature), pub.Size())
	}
	prepared := make([]byte, 0, PrefixSize+len(msg))
	prepared = append(prepared, tok.Prefix[:]...)
	prepared = append(prepared, msg...)
	// An RFC 9474 signature is an ordinary RSASSA-PSS signature on the
	// prepared message (RFC 9474 §4.5), so the standard library's verifier,
	// faster than circl's math/big one, checks it; the RFC's test vectors
	// pass through it (TestVectors).
	return verifyPrepared(pub, prepared, tok.Signature)
}

func verifyPrepared(pub *PublicKey, prepared, sig []byte) error {
	digest := sha512.Sum384(prepared)
	if err := rsa.VerifyPSS(pub.key, crypto.SHA384, digest[:], sig, &pssOptions); err != nil {
		return ErrInvalidToken
	}
	return nil
}

// pssOptions are RSABSSA-SHA384-PSS's: SHA-384, and a salt as long as the hash.
var pssOptions = rsa.PSSOptions{SaltLength: sha512.Size384, Hash: crypto.SHA384}
