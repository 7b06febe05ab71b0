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
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"filippo.io/edwards25519"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/witness"
	"golang.org/x/mod/sumdb/note"
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
	// IssuanceKey is the Ed25519 public key (32 bytes, base64 in JSON)
	// with which the issuer signs its statement of eligible voters and
	// tokens issued at close (package issuance); left out, the record
	// holds no such counts. It is not the RSA key above, whose blind
	// signatures any voter can have made on any value.
	IssuanceKey []byte `json:"issuance_key,omitempty"`
	Revoting    string `json:"revoting"`
	// MinBallots is the fewest counted ballots whose tally a trustee
	// decrypts; 0 (left out) sets no minimum. A tally of very few ballots
	// tells how each voted, and a board that forks its log to isolate one
	// ballot must then show the trustees this many genuine ones.
	MinBallots int    `json:"min_ballots,omitempty"`
	Opens      string `json:"opens,omitempty"`  // a time (ParseTime), informational: the board's phases rule
	Closes     string `json:"closes,omitempty"` // a time (ParseTime), informational
	// Witnesses are the note verifier keys of the witnesses (C2SP
	// tlog-witness, package witness) whose cosignatures make the board's
	// checkpoints trusted, and WitnessQuorum how many of them a checkpoint
	// needs: voters' receipts, the exported record and a trustee's decrypt
	// require it. Left out, no witness is asked for (a board's word alone).
	Witnesses     []string `json:"witnesses,omitempty"`
	WitnessQuorum int      `json:"witness_quorum,omitempty"`

	raw       []byte
	witnesses []note.Verifier
	hash      [32]byte
	id        []byte
	issuer    *token.PublicKey
	trustees  []ed25519.PublicKey
	issuance  ed25519.PublicKey
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
	// Validate first, so that a missing part is refused by the rule it
	// breaks ("0 questions") rather than by how it encodes ("null").
	c := m
	c.trustees = nil
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("ballot: invalid manifest: %w", err)
	}
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
// strict JSON (internal/strictjson: every field not optional present, no
// unknown or repeated field, no escape in a name, no null, integers in
// shortest form, issuer_key canonical base64), then every rule.
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
	if err := checkText("title", m.Title); err != nil {
		return err
	}
	if m.Title == "" {
		return errors.New("title must be non-empty")
	}
	for _, f := range []struct{ name, v string }{{"opens", m.Opens}, {"closes", m.Closes}} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
		if f.v != "" {
			if _, err := parseTime(f.v); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
		}
	}
	if len(m.Questions) == 0 || len(m.Questions) > MaxQuestions {
		return fmt.Errorf("%d questions, want 1 to %d", len(m.Questions), MaxQuestions)
	}
	seen := map[string]bool{}
	for i, q := range m.Questions {
		if err := checkQuestionID(q.ID); err != nil {
			return fmt.Errorf("question %d: %w", i+1, err)
		}
		if seen[q.ID] {
			return fmt.Errorf("question %d: id %q is also an earlier question's; ids must be unique", i+1, q.ID)
		}
		seen[q.ID] = true
		if err := checkText(fmt.Sprintf("question %q: text", q.ID), q.Text); err != nil {
			return err
		}
		if len(q.Choices) < 2 || len(q.Choices) > MaxChoices {
			return fmt.Errorf("question %q: %d choices, want 2 to %d", q.ID, len(q.Choices), MaxChoices)
		}
		if err := checkChoices(q); err != nil {
			return err
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
	if m.MinBallots < 0 {
		return fmt.Errorf("min_ballots must be 0 (no minimum) or more, not %d", m.MinBallots)
	}
	if err := m.parseWitnesses(); err != nil {
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
	if len(m.IssuanceKey) > 0 {
		if err := checkTrusteeKey(m.IssuanceKey); err != nil {
			return fmt.Errorf("issuance_key is refused: it is %w; evote issuer keygen (or evote issuer pub, for an older key) writes the issuer's in issuer.pub", err)
		}
		m.issuance = ed25519.PublicKey(m.IssuanceKey)
	}
	if n := m.BallotSize(); n > MaxEntrySize {
		return fmt.Errorf("a ballot would be %d bytes, over the %d a log entry holds: ask fewer questions or offer fewer choices", n, MaxEntrySize)
	}
	return nil
}

// ParseTime parses a time as a manifest's opens and closes hold it:
// YYYY-MM-DDTHH:MM:SS followed by Z or by an offset +HH:MM or -HH:MM, the
// subset of RFC 3339's date-time (§5.6) with upper-case T and Z, no
// fraction of a second, second 00 to 59 (no leap second), hour 00 to 23,
// minute 00 to 59, a day that exists in its month (Gregorian calendar,
// year 0000 to 9999) and an offset of at most 23:59. Go's time.Parse with
// time.RFC3339 is not this grammar: it accepts a one-digit hour, a comma
// before a fraction and offsets such as +24:00, and refuses lower-case t
// and z and second 60, which RFC 3339 allows.
func ParseTime(s string) (time.Time, error) {
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("ballot: %w", err)
	}
	return t, nil
}

func parseTime(s string) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%q is not a time of the form 2025-06-01T08:00:00Z or 2025-06-01T10:00:00+02:00 (%s)", s, why)
	}
	// Positions of the fixed characters; every other position up to the
	// offset is an ASCII digit.
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) != len(layout)+1 && len(s) != len(layout)+6 {
		return bad("a time is 20 characters ending in Z, or 25 ending in an offset; no fraction of a second")
	}
	for i := range len(layout) {
		switch c := s[i]; layout[i] {
		case 'd':
			if c < '0' || c > '9' {
				return bad(fmt.Sprintf("character %d must be a digit", i+1))
			}
		default:
			if c != layout[i] {
				return bad(fmt.Sprintf("character %d must be %q", i+1, string(layout[i])))
			}
		}
	}
	num := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	year, month, day := num(0)*100+num(2), num(5), num(8)
	hour, minute, second := num(11), num(14), num(17)
	switch {
	case month < 1 || month > 12:
		return bad("month 01 to 12")
	case day < 1 || day > daysIn(year, month):
		return bad(fmt.Sprintf("day 01 to %02d in that month", daysIn(year, month)))
	case hour > 23:
		return bad("hour 00 to 23")
	case minute > 59:
		return bad("minute 00 to 59")
	case second > 59:
		return bad("second 00 to 59; no leap second")
	}
	zone := time.UTC
	if off := s[len(layout):]; off != "Z" {
		if len(off) != 6 || off[0] != '+' && off[0] != '-' || off[3] != ':' ||
			!isDigits(off[1:3]) || !isDigits(off[4:6]) {
			return bad("the time ends in Z or in an offset +HH:MM or -HH:MM")
		}
		oh, om := num(len(layout)+1), num(len(layout)+4)
		if oh > 23 || om > 59 {
			return bad("an offset's hour is 00 to 23, its minute 00 to 59")
		}
		secs := (oh*60 + om) * 60
		if off[0] == '-' {
			secs = -secs
		}
		zone = time.FixedZone(off, secs)
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, 0, zone), nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// daysIn returns the number of days of month in year (proleptic
// Gregorian calendar).
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// checkText refuses text a terminal or a page could be made to show as
// something else: bytes that are not UTF-8, and every control (Cc: C0,
// DEL, C1, so every terminal escape sequence) and format (Cf: bidirectional
// controls such as U+202E, zero-width characters, U+FEFF...) character,
// and the line and paragraph separators U+2028 and U+2029.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for i, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s holds the control or format character U+%04X at byte %d: a manifest may hold no control, format or line-separator characters (terminal escapes, bidirectional and invisible characters), which can make it show what it does not say; remove it", field, r, i)
		}
	}
	return nil
}

// checkQuestionID requires a question id of lower-case ASCII letters,
// digits, '_' and '-': ids name questions in results and on the command
// line (--choose id=choice), where look-alike letters from other scripts
// must not pass for one another.
func checkQuestionID(id string) error {
	if id == "" {
		return errors.New("id must be non-empty")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("id %q holds %q at byte %d: an id is lower-case ASCII letters, digits, '_' and '-' only, such as \"motion\" or \"board-2025\"", id, rune(c), i)
		}
	}
	return nil
}

// checkChoices requires each of q's choice names to be text (checkText),
// non-empty, without leading or trailing white space, and different from
// every other under Unicode case folding ("Yes" and "yes" are one name to
// a voter).
func checkChoices(q Question) error {
	for i, c := range q.Choices {
		field := fmt.Sprintf("question %q: choice %d", q.ID, i+1)
		if err := checkText(field, c); err != nil {
			return err
		}
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("%s is empty or only white space: name every choice", field)
		}
		if strings.TrimSpace(c) != c {
			return fmt.Errorf("%s, %q, begins or ends with white space: remove it", field, c)
		}
		for j, d := range q.Choices[:i] {
			if strings.EqualFold(c, d) {
				return fmt.Errorf("%s, %q, is choice %d, %q, again (names are compared without case): each choice needs its own name", field, c, j+1, d)
			}
		}
	}
	return nil
}

// CheckTrusteeKey returns an error unless pub is an Ed25519 public key a
// manifest may name for a trustee (see checkTrusteeKey); evote trustee
// keygen and election init check the keys they write and read with it.
func CheckTrusteeKey(pub []byte) error {
	if err := checkTrusteeKey(pub); err != nil {
		return fmt.Errorf("ballot: trustee key %x: %w", pub, err)
	}
	return nil
}

// checkTrusteeKey requires the canonical encoding (RFC 8032 §5.1.3) of a
// curve point that is not of small order. Anyone can make signatures that
// verify under a small-order key (the identity 01 00...00 among them), so a
// manifest naming one would let anyone, the board's operator included,
// speak for that trustee; a non-canonical encoding names a point that has
// another, canonical, encoding, so two strings would be one key. Key
// generation makes neither.
func checkTrusteeKey(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%d bytes, an Ed25519 public key is %d", len(pub), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return errors.New("not the encoding of a point of the curve, so no Ed25519 public key")
	}
	if !bytes.Equal(p.Bytes(), pub) {
		return fmt.Errorf("a non-canonical encoding of the point whose encoding is %x (RFC 8032 refuses it); no key generation makes it", p.Bytes())
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errors.New("a point of small order, under which anyone can make signatures that verify; no key generation makes it")
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
		if err := checkTrusteeKey(b); err != nil {
			return fmt.Errorf("trustees.keys: key %d is refused: it is %w; each trustee makes its own key with evote trustee keygen", i+1, err)
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

// Issuance returns the key the issuer's statement of its counts must
// be signed with, or nil if the manifest names none.
func (m *Manifest) Issuance() ed25519.PublicKey { return m.issuance }

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

// MaxWitnesses bounds a manifest's witnesses.
const MaxWitnesses = 32

// parseWitnesses checks the witness keys (each a cosignature/v1 note
// verifier key, distinct by name) and the quorum (1 to their number, or
// both left out).
func (m *Manifest) parseWitnesses() error {
	if len(m.Witnesses) == 0 {
		if m.WitnessQuorum != 0 {
			return fmt.Errorf("witness_quorum is %d but no witnesses are named", m.WitnessQuorum)
		}
		return nil
	}
	if len(m.Witnesses) > MaxWitnesses {
		return fmt.Errorf("%d witnesses, at most %d", len(m.Witnesses), MaxWitnesses)
	}
	if m.WitnessQuorum < 1 || m.WitnessQuorum > len(m.Witnesses) {
		return fmt.Errorf("witness_quorum must be 1 to %d (the witnesses named), not %d", len(m.Witnesses), m.WitnessQuorum)
	}
	names := map[string]bool{}
	m.witnesses = nil
	for i, k := range m.Witnesses {
		v, err := witness.NewVerifier(k)
		if err != nil {
			return fmt.Errorf("witnesses[%d]: %w", i, err)
		}
		// A cosignature does not sign the witness's name, so one key under
		// two names would count twice toward the quorum.
		pub := k[strings.LastIndexByte(k, '+')+1:]
		if names[v.Name()] || names["key:"+pub] {
			return fmt.Errorf("witnesses[%d]: the name %q or its key is an earlier witness's; each witness once, with a key of its own", i, v.Name())
		}
		names[v.Name()], names["key:"+pub] = true, true
		m.witnesses = append(m.witnesses, v)
	}
	return nil
}

// WitnessVerifiers are the witnesses' keys, parsed, in manifest order.
func (m *Manifest) WitnessVerifiers() []note.Verifier { return m.witnesses }
