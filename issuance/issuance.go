// Package issuance is the issuer's public count of an election: after
// close, the issuer states how many voters its roll held (eligible) and how
// many eligibility tokens it signed (issued), signs the statement, and the
// board records it as an entry (SPEC.md §8). A verifier then checks that
// the ballots counted are at most the tokens issued, and these at most the
// voters eligible, and reports turnout. The statement holds counts only,
// never who: the roll stays with the issuer.
//
// # The key
//
// The statement is not signed with the issuer's RSA token key: the issuer
// blind-signs whatever value in [1, N) a voter sends it, so any voter could
// have it sign a forged statement. It is signed with an Ed25519 key
// derived from the issuing key ([DeriveKey], HKDF-SHA256 over the key with
// the label [KeyLabel]), which signs nothing else; the manifest names its
// public half (issuance_key), so the statement is the issuer's word and
// only its.
//
// # The entry
//
// The entry's body is canonical JSON, Go's compact encoding of
//
//	{"election_id":"<64 hex>","eligible":E,"issued":I,"time":"<UTC time>","signature":"<base64>"}
//
// with its fields in that order and nothing else, and the signature is
// Ed25519 (RFC 8032, pure) over [Statement.Message]:
//
//	"evote/issuance/v1" || 0x00 || election_id (32) || u64(eligible) || u64(issued) || time (20 ASCII bytes)
//
// [Parse] reads an entry strictly (internal/strictjson, then byte equality
// with the encoding again), and [Entry.Verify] checks it against the
// manifest's key and election. The package imports no server code and
// compiles for the browser: verify, the board, the issuer's tools and the
// command line all read the one format here.
package issuance

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/strictjson"
)

// KeyLabel is the HKDF label of the statement key (token.PrivateKey's
// DeriveSecret): the issuer's one secret file is its issuing key, and this
// key is derived from it, different from every other key so derived.
const KeyLabel = "evote/issuer/statement-key/v1"

// domain separates the statement's signature from every other signature,
// by this key or any other.
const domain = "evote/issuance/v1\x00"

// TimeLayout is the form of a statement's time: UTC, to the second, ending
// in Z (a subset of SPEC.md §4 Times).
const TimeLayout = "2006-01-02T15:04:05Z"

// MaxCount is the largest count a statement holds: JSON numbers above
// 2^63 − 1 are refused by every evote reader (SPEC.md §4).
const MaxCount = math.MaxInt64

// Errors of Verify, which errors.Is tells apart.
var (
	// ErrSignature: the signature does not verify under the manifest's
	// issuance key.
	ErrSignature = errors.New("issuance: the statement's signature does not verify under the manifest's issuance key")
	// ErrOtherElection: the statement is for another election.
	ErrOtherElection = errors.New("issuance: the statement is for another election")
	// ErrCounts: more tokens issued than voters eligible.
	ErrCounts = errors.New("issuance: the statement says more tokens were issued than voters were eligible")
)

// DeriveKey returns the issuer's statement key, derived from its issuing
// key.
func DeriveKey(sk *token.PrivateKey) ed25519.PrivateKey {
	seed := sk.DeriveSecret(KeyLabel)
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed)
}

// Statement is what the issuer states at close.
type Statement struct {
	ElectionID []byte    // the manifest's election ID, 32 bytes
	Eligible   uint64    // voters on the roll
	Issued     uint64    // eligibility tokens signed
	Time       time.Time // when the counts were read; kept to the second, in UTC
}

// check refuses a statement no entry can hold.
func (s Statement) check() error {
	switch {
	case len(s.ElectionID) != 32:
		return fmt.Errorf("issuance: an election ID is 32 bytes, not %d", len(s.ElectionID))
	case s.Eligible > MaxCount || s.Issued > MaxCount:
		return fmt.Errorf("issuance: counts above %d cannot be written", uint64(MaxCount))
	case s.Issued > s.Eligible:
		return fmt.Errorf("%w (%d issued, %d eligible)", ErrCounts, s.Issued, s.Eligible)
	case s.Time.Year() < 0 || s.Time.UTC().Year() > 9999:
		return errors.New("issuance: the time must lie in the years 0000 to 9999")
	}
	return nil
}

// timeString is s.Time as the entry and the signed message hold it.
func (s Statement) timeString() string { return s.Time.UTC().Format(TimeLayout) }

// Message returns the bytes the issuer signs (see the package doc).
func (s Statement) Message() []byte {
	out := make([]byte, 0, len(domain)+32+16+len(TimeLayout))
	out = append(out, domain...)
	out = append(out, s.ElectionID...)
	out = binary.BigEndian.AppendUint64(out, s.Eligible)
	out = binary.BigEndian.AppendUint64(out, s.Issued)
	return append(out, s.timeString()...)
}

// Entry is a signed statement, as the board records it.
type Entry struct {
	Statement
	Signature []byte // Ed25519, 64 bytes
	raw       []byte
}

// body is the entry's JSON, fields in this order.
type body struct {
	ElectionID string `json:"election_id"`
	Eligible   uint64 `json:"eligible"`
	Issued     uint64 `json:"issued"`
	Time       string `json:"time"`
	Signature  []byte `json:"signature"`
}

// Sign signs s with the issuer's statement key (DeriveKey). It refuses a
// statement no entry can hold, among them one with more tokens issued
// than voters eligible.
func Sign(key ed25519.PrivateKey, s Statement) (*Entry, error) {
	s.Time = s.Time.UTC().Truncate(time.Second)
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("issuance: not an Ed25519 private key")
	}
	s.ElectionID = bytes.Clone(s.ElectionID)
	e := &Entry{Statement: s, Signature: ed25519.Sign(key, s.Message())}
	raw, err := json.Marshal(body{ElectionID: hex.EncodeToString(s.ElectionID), Eligible: s.Eligible, Issued: s.Issued, Time: s.timeString(), Signature: e.Signature})
	if err != nil {
		return nil, err
	}
	e.raw = raw
	return e, nil
}

// Bytes returns the entry's body, its canonical encoding. Do not modify it.
func (e *Entry) Bytes() []byte { return e.raw }

// Parse reads an entry's body strictly: strict JSON of exactly the fields
// above, an election ID of 64 lower-case hex digits, counts of at most
// MaxCount, the time in TimeLayout (a real date and time, UTC, no
// fraction), a 64-byte signature, and the whole byte-equal to its
// canonical encoding. It checks no signature: see Verify.
func Parse(b []byte) (*Entry, error) {
	var j body
	if err := strictjson.Decode(b, &j); err != nil {
		return nil, fmt.Errorf("issuance: not a statement's JSON: %w", err)
	}
	id, err := hex.DecodeString(j.ElectionID)
	if err != nil || len(id) != 32 || hex.EncodeToString(id) != j.ElectionID {
		return nil, errors.New("issuance: election_id must be 64 lower-case hex digits")
	}
	t, err := time.Parse(TimeLayout, j.Time)
	// time.Parse takes a one-digit hour or day too; only its own form is
	// the statement's.
	if err != nil || t.Format(TimeLayout) != j.Time {
		return nil, fmt.Errorf("issuance: the time %q is not of the form %s (UTC, to the second)", j.Time, TimeLayout)
	}
	if len(j.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("issuance: the signature is %d bytes, an Ed25519 signature is %d", len(j.Signature), ed25519.SignatureSize)
	}
	e := &Entry{Statement: Statement{ElectionID: id, Eligible: j.Eligible, Issued: j.Issued, Time: t}, Signature: j.Signature}
	if e.Eligible > MaxCount || e.Issued > MaxCount {
		return nil, fmt.Errorf("issuance: counts above %d are not read", uint64(MaxCount))
	}
	canon, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return nil, errors.New("issuance: the statement is not in its canonical encoding (compact JSON, its fields in order, nothing before or after)")
	}
	e.raw = canon
	return e, nil
}

// Verify checks the entry is the issuer's statement for the election with
// ID electionID: the signature verifies under key (the manifest's
// issuance_key) and no more tokens are issued than voters are eligible.
// Its errors wrap ErrOtherElection, ErrSignature or ErrCounts.
func (e *Entry) Verify(key ed25519.PublicKey, electionID []byte) error {
	switch {
	case !bytes.Equal(e.ElectionID, electionID):
		return fmt.Errorf("%w: it names election %x, this one is %x", ErrOtherElection, e.ElectionID, electionID)
	case len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, e.Message(), e.Signature):
		return ErrSignature
	case e.Issued > e.Eligible:
		return fmt.Errorf("%w (%d issued, %d eligible)", ErrCounts, e.Issued, e.Eligible)
	}
	return nil
}

// Turnout is counted ballots as a share of eligible voters, 0 to 1 (0
// when no voter is eligible).
func Turnout(counted, eligible uint64) float64 {
	if eligible == 0 {
		return 0
	}
	return float64(counted) / float64(eligible)
}
