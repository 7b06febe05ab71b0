// Package witness is the witness side of the board's log: cosignatures in the
// C2SP tlog-cosignature format (cosignature/v1, Ed25519), the key formats of
// C2SP signed-note, and the check that a checkpoint carries a quorum of them.
//
// A board could show one history of its log to a voter and another to a
// trustee. A witness is an independent party that cosigns a checkpoint only
// if it is consistent with every checkpoint of the same log it cosigned
// before (C2SP tlog-witness), so two inconsistent histories cannot both
// gather a quorum of honest witnesses. This package holds what a verifier
// needs to check that: it links neither net/http nor a database, so the
// voter, verify and the booth may import it. The witness server and its
// client are in witness/httpwitness.
//
// A cosignature/v1 signature line is a note signature whose key ID is
// SHA-256(name || 0x0A || 0x04 || pubkey)[:4] and whose 72 signature bytes
// are an 8-byte big-endian Unix time t followed by the Ed25519 signature of
//
//	cosignature/v1
//	time <t in decimal>
//	<the checkpoint note text>
//
// so a cosignature also says when the witness saw the checkpoint.
package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signed-note signature type of cosignature/v1.
const algCosignatureV1 = 0x04

// sigSize is the length of a cosignature/v1 signature: timestamp || Ed25519.
const sigSize = 8 + ed25519.SignatureSize

// ErrKey means a witness key is malformed or not in canonical form.
var ErrKey = errors.New("witness: malformed witness key")

// now is the clock a Signer reads; tests may replace it.
var now = time.Now

func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 &&
		!strings.Contains(name, "+")
}

func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// parseKey splits name+hash+base64(0x04 || key) and checks every part is
// canonical: a valid name, eight lowercase hex digits, canonical padded base64
// of exactly 1+want bytes with the cosignature/v1 type byte.
func parseKey(s string, want int) (name string, hash uint32, key []byte, err error) {
	parts := strings.SplitN(s, "+", 3)
	if len(parts) != 3 {
		return "", 0, nil, fmt.Errorf("%w: want name+hash+key, three fields joined by '+'", ErrKey)
	}
	name, h, k := parts[0], parts[1], parts[2]
	if !validName(name) {
		return "", 0, nil, fmt.Errorf("%w: name %q is empty or holds a space or '+'", ErrKey, name)
	}
	if len(h) != 8 || strings.ToLower(h) != h {
		return "", 0, nil, fmt.Errorf("%w: key hash %q is not eight lowercase hex digits", ErrKey, h)
	}
	hv, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return "", 0, nil, fmt.Errorf("%w: key hash %q is not eight lowercase hex digits", ErrKey, h)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(k)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != k {
		return "", 0, nil, fmt.Errorf("%w: key is not canonical base64", ErrKey)
	}
	if len(raw) != 1+want {
		return "", 0, nil, fmt.Errorf("%w: key is %d bytes, want %d (type byte and Ed25519 key)", ErrKey, len(raw), 1+want)
	}
	if raw[0] != algCosignatureV1 {
		return "", 0, nil, fmt.Errorf("%w: key type 0x%02x is not cosignature/v1 (0x04)", ErrKey, raw[0])
	}
	return name, uint32(hv), raw[1:], nil
}

// Verifier verifies cosignature/v1 signatures by one witness.
type Verifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

var _ note.Verifier = (*Verifier)(nil)

// NewVerifier parses a witness's verifier key,
// name+hash+base64(0x04 || Ed25519 public key) (C2SP signed-note), and
// refuses one that is not canonical or whose hash is not the key ID of its
// name and key. The result is a *Verifier.
func NewVerifier(vkey string) (note.Verifier, error) {
	name, hash, pub, err := parseKey(vkey, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	if keyHash(name, pub) != hash {
		return nil, fmt.Errorf("%w: key hash %08x does not match the name and key (want %08x)", ErrKey, hash, keyHash(name, pub))
	}
	return &Verifier{name: name, hash: hash, pub: ed25519.PublicKey(bytes.Clone(pub))}, nil
}

// Name is the witness's name.
func (v *Verifier) Name() string { return v.name }

// KeyHash is the witness key's ID.
func (v *Verifier) KeyHash() uint32 { return v.hash }

// String is the verifier key in canonical form.
func (v *Verifier) String() string {
	return fmt.Sprintf("%s+%08x+%s", v.name, v.hash,
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, v.pub...)))
}

// Verify reports whether sig is this witness's cosignature/v1 of msg, the
// text of a checkpoint note.
func (v *Verifier) Verify(msg, sig []byte) bool {
	if len(sig) != sigSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > math.MaxInt64 {
		return false
	}
	return ed25519.Verify(v.pub, signedMessage(t, msg), sig[8:])
}

func signedMessage(t uint64, msg []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), msg...)
}

// Signer makes cosignature/v1 signatures with a witness's private key.
type Signer struct {
	v    Verifier
	priv ed25519.PrivateKey
}

var _ note.Signer = (*Signer)(nil)

// NewSigner parses a witness's private key,
// PRIVATE+KEY+name+hash+base64(0x04 || Ed25519 seed), the form note signer
// keys take, and refuses one that is not canonical or whose hash is not the
// key ID of its public key. The result is a *Signer.
func NewSigner(skey string) (note.Signer, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, fmt.Errorf("%w: a witness private key starts with PRIVATE+KEY+", ErrKey)
	}
	name, hash, seed, err := parseKey(rest, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if keyHash(name, pub) != hash {
		return nil, fmt.Errorf("%w: key hash %08x does not match the name and key (want %08x)", ErrKey, hash, keyHash(name, pub))
	}
	return &Signer{v: Verifier{name: name, hash: hash, pub: pub}, priv: priv}, nil
}

// GenerateKey makes a new witness key named name from rnd and returns the
// private key (keep it secret) and the verifier key (publish it).
func GenerateKey(rnd io.Reader, name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("%w: name %q is empty or holds a space or '+'", ErrKey, name)
	}
	pub, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return "", "", fmt.Errorf("witness: generating key: %w", err)
	}
	v := Verifier{name: name, hash: keyHash(name, pub), pub: pub}
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, v.hash,
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...)))
	return skey, v.String(), nil
}

// Name is the witness's name.
func (s *Signer) Name() string { return s.v.name }

// KeyHash is the witness key's ID.
func (s *Signer) KeyHash() uint32 { return s.v.hash }

// Verifier returns the verifier of this signer's cosignatures.
func (s *Signer) Verifier() *Verifier { v := s.v; return &v }

// Sign cosigns msg, which must be the text of a checkpoint note, at the
// current time.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	return s.SignAt(now(), msg)
}

// SignAt cosigns msg as seen at time t.
func (s *Signer) SignAt(t time.Time, msg []byte) ([]byte, error) {
	var c log.Checkpoint
	if _, err := c.Unmarshal(msg); err != nil {
		return nil, fmt.Errorf("witness: refusing to cosign a message that is not a checkpoint: %w", err)
	}
	ts := t.Unix()
	if ts < 0 {
		return nil, fmt.Errorf("witness: refusing to cosign at time %d before 1970", ts)
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, sigSize), uint64(ts))
	return append(sig, ed25519.Sign(s.priv, signedMessage(uint64(ts), msg))...), nil
}

// Timestamp returns the Unix time a cosignature/v1 signature says the witness
// cosigned at. It does not verify the signature.
func Timestamp(sig note.Signature) (int64, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(sig.Base64)
	if err != nil {
		return 0, fmt.Errorf("witness: cosignature of %q is not base64", sig.Name)
	}
	if len(raw) != 4+sigSize {
		return 0, fmt.Errorf("witness: cosignature of %q is %d bytes, want %d", sig.Name, len(raw), 4+sigSize)
	}
	t := binary.BigEndian.Uint64(raw[4:])
	if t > math.MaxInt64 {
		return 0, fmt.Errorf("witness: cosignature of %q has time %d out of range", sig.Name, t)
	}
	return int64(t), nil
}
