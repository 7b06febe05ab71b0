// Package ballot defines what an election asks and what a voter answers: the
// manifest (questions, rules, trustees, issuer key; its hash is bound into
// every proof) and the encrypted ballot (ballot.Encrypt, ballot.Parse,
// ballot.Verify, ballot.VerifyBatch), with their canonical encodings.
//
// A ballot is one ciphertext and one 0/1 proof per encrypted choice, a range
// proof per question where the 0/1 proofs alone do not imply the rules, the
// voter's token key and eligibility token, and a Schnorr signature by the
// token key over all of it. Every proof's context binds the manifest hash, the
// election key, the token key and the proof's position, so no part of a
// ballot can be moved to another ballot, question or election.
//
// Where a question has min == max (pick one of n, yes/no), the last choice is
// not encrypted: its count is min·N minus the others' counts. A 1-of-2
// question is then one ciphertext and one 0/1 proof, half the work of the
// naive shape, with no loss: the 0/1 proofs and the range proof on the
// encrypted choices' sum, over {min-1, min}, still force a valid ballot.
package ballot

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/strictjson"
)

// Limits on a manifest, so that a ballot's size and verification cost are
// bounded before any byte of it is read.
const (
	MaxQuestions = 64
	MaxChoices   = 64
	MaxTrustees  = 64
	// MaxEntrySize is the largest body of one log entry (65,535 bytes
	// less the entry-type byte, store.MaxLeafSize): the manifest and every
	// ballot must each fit in one.
	MaxEntrySize    = 1<<16 - 2
	MaxManifestSize = MaxEntrySize
)

// Revoting policies.
const (
	RevotingRefuse     = "refuse"             // a second ballot for a token is refused
	RevotingLastCounts = "last-ballot-counts" // a later ballot replaces the earlier one
)

// Manifest is an election's definition. Its JSON encoding, exactly as
// published on the board, is what its hash covers.
type Manifest struct {
	Version    int        `json:"version"`
	ElectionID string     `json:"election_id"` // 64 hex digits, random
	Title      string     `json:"title"`
	Questions  []Question `json:"questions"`
	Trustees   Trustees   `json:"trustees"`
	IssuerKey  []byte     `json:"issuer_key"` // RSA public key, DER (base64 in JSON)
	Revoting   string     `json:"revoting"`
	Opens      string     `json:"opens,omitempty"`  // RFC 3339, informational: the board's phases rule
	Closes     string     `json:"closes,omitempty"` // RFC 3339, informational

	raw      []byte
	hash     [32]byte
	id       []byte
	issuer   *token.PublicKey
	trustees []ed25519.PublicKey
}

// Question is one question: choose between Min and Max of Choices.
type Question struct {
	ID      string   `json:"id"`
	Text    string   `json:"text"`
	Choices []string `json:"choices"`
	Min     int      `json:"min"`
	Max     int      `json:"max"`
}

// Trustees says how many trustees hold key shares, how many must decrypt,
// and each trustee's Ed25519 public key (hex), with which it signs its key
// ceremony messages: no one else, the board's operator included, can then
// speak for a trustee in the ceremony.
type Trustees struct {
	N    int      `json:"n"`
	T    int      `json:"t"`
	Keys []string `json:"keys"` // one per trustee, in index order (required)
}

// NewManifest validates m, encodes it and returns the parsed result, whose
// Bytes are what the board publishes.
func NewManifest(m Manifest) (*Manifest, error) {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("ballot: encoding manifest: %w", err)
	}
	return ParseManifest(raw)
}

// NewElectionID returns a fresh random election ID in manifest form.
func NewElectionID(rnd io.Reader) (string, error) {
	var id [32]byte
	if _, err := io.ReadFull(rnd, id[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:]), nil
}

// ParseManifest parses and validates a manifest from its published bytes:
// strict JSON (no unknown fields, no trailing data), then every rule.
func ParseManifest(raw []byte) (*Manifest, error) {
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("ballot: manifest is %d bytes, the limit is %d", len(raw), MaxManifestSize)
	}
	var m Manifest
	if err := strictjson.Decode(raw, &m); err != nil {
		return nil, fmt.Errorf("ballot: manifest is not valid JSON of the expected shape: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("ballot: invalid manifest: %w", err)
	}
	m.raw = append([]byte(nil), raw...)
	m.hash = manifestHash(raw)
	return &m, nil
}

func manifestHash(raw []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("evote/manifest/v1\x00"))
	h.Write(raw)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func (m *Manifest) validate() error {
	if m.Version != 1 {
		return fmt.Errorf("version %d, this software reads version 1", m.Version)
	}
	id, err := hex.DecodeString(m.ElectionID)
	if err != nil || len(id) != 32 || hex.EncodeToString(id) != m.ElectionID {
		return errors.New("election_id must be 64 lower-case hex digits (32 random bytes)")
	}
	m.id = id
	if !utf8.ValidString(m.Title) || m.Title == "" {
		return errors.New("title must be non-empty UTF-8")
	}
	if len(m.Questions) == 0 || len(m.Questions) > MaxQuestions {
		return fmt.Errorf("%d questions, want 1 to %d", len(m.Questions), MaxQuestions)
	}
	seen := map[string]bool{}
	for i, q := range m.Questions {
		if q.ID == "" || seen[q.ID] {
			return fmt.Errorf("question %d: id must be non-empty and unique", i)
		}
		seen[q.ID] = true
		if len(q.Choices) < 2 || len(q.Choices) > MaxChoices {
			return fmt.Errorf("question %q: %d choices, want 2 to %d", q.ID, len(q.Choices), MaxChoices)
		}
		if q.Min < 0 || q.Max < 1 || q.Min > q.Max || q.Max > len(q.Choices) {
			return fmt.Errorf("question %q: need 0 <= min <= max <= %d and max >= 1, have min %d max %d", q.ID, len(q.Choices), q.Min, q.Max)
		}
	}
	if m.Trustees.T < 1 || m.Trustees.T > m.Trustees.N || m.Trustees.N > MaxTrustees {
		return fmt.Errorf("trustees: need 1 <= t <= n <= %d, have n %d t %d", MaxTrustees, m.Trustees.N, m.Trustees.T)
	}
	if err := m.parseTrusteeKeys(); err != nil {
		return err
	}
	if m.Revoting != RevotingRefuse && m.Revoting != RevotingLastCounts {
		return fmt.Errorf("revoting must be %q or %q, not %q", RevotingRefuse, RevotingLastCounts, m.Revoting)
	}
	if m.issuer, err = token.ParsePublicKey(m.IssuerKey); err != nil {
		return fmt.Errorf("issuer_key: %w", err)
	}
	if !bytes.Equal(m.issuer.Bytes(), m.IssuerKey) {
		return errors.New("issuer_key must be the key's PKIX DER (base64 in JSON), not PEM")
	}
	if n := m.BallotSize(); n > MaxEntrySize {
		return fmt.Errorf("a ballot would be %d bytes, over the %d a log entry holds: ask fewer questions or offer fewer choices", n, MaxEntrySize)
	}
	return nil
}

func (m *Manifest) parseTrusteeKeys() error {
	if len(m.Trustees.Keys) != m.Trustees.N {
		return fmt.Errorf("trustees.keys: %d keys for %d trustees; it must list every trustee's Ed25519 public key, in index order", len(m.Trustees.Keys), m.Trustees.N)
	}
	seen := map[string]bool{}
	for i, k := range m.Trustees.Keys {
		b, err := hex.DecodeString(k)
		if err != nil || len(b) != ed25519.PublicKeySize || hex.EncodeToString(b) != k {
			return fmt.Errorf("trustees.keys: key %d must be 64 lower-case hex digits (an Ed25519 public key)", i+1)
		}
		if seen[k] {
			return fmt.Errorf("trustees.keys: key %d is also another trustee's", i+1)
		}
		seen[k] = true
		m.trustees = append(m.trustees, ed25519.PublicKey(b))
	}
	return nil
}

// TrusteeKey returns trustee i's (1-based) ceremony signing key, or nil if
// i is not in 1..n.
func (m *Manifest) TrusteeKey(i int) ed25519.PublicKey {
	if i < 1 || i > len(m.trustees) {
		return nil
	}
	return m.trustees[i-1]
}

// Bytes returns the manifest exactly as published. Do not modify it.
func (m *Manifest) Bytes() []byte { return m.raw }

// Hash returns SHA-256("evote/manifest/v1" || 0x00 || published bytes).
func (m *Manifest) Hash() [32]byte { return m.hash }

// ID returns the 32-byte election ID.
func (m *Manifest) ID() []byte { return m.id }

// Issuer returns the identity authority's token-signing key.
func (m *Manifest) Issuer() *token.PublicKey { return m.issuer }

// Encrypted returns how many of question q's choices a ballot encrypts: all
// of them, or all but the last when min == max (the last is implied).
func (q Question) Encrypted() int {
	if q.Min == q.Max {
		return len(q.Choices) - 1
	}
	return len(q.Choices)
}

// SumRange returns the values the encrypted choices' sum must lie in, and
// whether a range proof is needed at all (it is not when the 0/1 proofs
// already imply the range).
func (q Question) SumRange() (lo, hi uint64, needed bool) {
	k := q.Encrypted()
	lo, hi = uint64(q.Min), uint64(q.Max)
	if q.Min == q.Max && q.Min > 0 {
		lo = uint64(q.Min - 1) // the implied last choice adds 0 or 1
	}
	if hi > uint64(k) {
		hi = uint64(k)
	}
	return lo, hi, !(lo == 0 && hi == uint64(k))
}
