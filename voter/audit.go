package voter

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/internal/strictjson"
	"github.com/gtank/ristretto255"
)

// AuditVersion is the version of the audit data format.
const AuditVersion = 1

// An Audit is a sealed ballot opened instead of cast (cast or audit, the
// Benaloh challenge; SPEC.md §10.3): the ballot, the choices the voter's
// device showed for it and the randomness of its ciphertexts. Another
// device checks it (CheckAudit): the ballot encrypts exactly those
// choices, or the device that made it lied. An audited ballot reveals its
// choices, so it must never be cast: the device encrypts again, with fresh
// randomness, and the voter again chooses to cast or to audit.
//
// Audit data is as secret as the ticket: its ballot is valid and signed,
// so whoever holds it could cast it, with its choices known.
type Audit struct {
	Version      int     `json:"version"`       // AuditVersion
	ElectionID   string  `json:"election_id"`   // hex
	TrackingCode string  `json:"tracking_code"` // hex, of Ballot
	Ballot       string  `json:"ballot"`        // base64 of the encoded ballot
	Choices      [][]int `json:"choices"`       // per question, as in Ticket.Choices
	// Opening is the ballot's ballot.Opening: per question, per encrypted
	// choice, the ciphertext's randomness as a hex scalar.
	Opening [][]string `json:"opening"`
}

// Audit opens the ticket's sealed ballot instead of casting it: it returns
// the audit data (the ballot, the choices it was sealed with and its
// opening) and removes the ballot, the choices and the opening from the
// ticket, so that the audited ballot can never be cast from it (Receipt and
// Replaces are left as they were). Seal again to vote. A ticket whose
// ballot has no opening (sent to the board, which clears it) cannot be
// audited: a ballot that may have been cast must not be opened.
func (t *Ticket) Audit() (*Audit, error) {
	if t.Ballot == "" {
		return nil, errors.New("voter: the ticket has no sealed ballot to audit (Seal first)")
	}
	if len(t.Opening) == 0 {
		return nil, errors.New("voter: the ticket's ballot has no opening: it was sent to the board to be cast, and a ballot that may have been cast is never audited (Seal again, and audit the new ballot)")
	}
	raw, err := decodeBase64("ballot", t.Ballot)
	if err != nil {
		return nil, fmt.Errorf("voter: the ticket's %w", err)
	}
	tc := ballot.TrackingCode(raw)
	a := &Audit{
		Version: AuditVersion, ElectionID: t.ElectionID, TrackingCode: hex.EncodeToString(tc[:]),
		Ballot: t.Ballot, Choices: make([][]int, len(t.Choices)), Opening: make([][]string, len(t.Opening)),
	}
	for q, cs := range t.Choices {
		a.Choices[q] = append([]int{}, cs...) // [] for no choice, never null
	}
	for q, rs := range t.Opening {
		a.Opening[q] = append([]string{}, rs...)
	}
	t.Ballot, t.Choices, t.Opening = "", nil, nil
	return a, nil
}

// Marshal encodes the audit data: indented JSON and a final newline.
func (a *Audit) Marshal() []byte {
	c := *a
	c.Choices, c.Opening = make([][]int, len(a.Choices)), make([][]string, len(a.Opening))
	for q := range a.Choices {
		c.Choices[q] = append([]int{}, a.Choices[q]...)
	}
	for q := range a.Opening {
		c.Opening[q] = append([]string{}, a.Opening[q]...)
	}
	b, _ := json.MarshalIndent(&c, "", "  ")
	return append(b, '\n')
}

// ParseAudit decodes audit data strictly: the project's strict JSON
// (internal/strictjson: no unknown or repeated field, every field given, no
// null), version 1, election_id and tracking_code 32 bytes of lower-case
// hex, ballot canonical base64, and every opening scalar 32 bytes of
// lower-case hex, canonical (below the group order). It checks nothing
// against an election: CheckAudit does.
func ParseAudit(b []byte) (*Audit, error) {
	var a Audit
	if err := strictjson.Decode(b, &a); err != nil {
		return nil, fmt.Errorf("voter: audit file: %w", err)
	}
	if err := a.wellFormed(); err != nil {
		return nil, fmt.Errorf("voter: audit file: %w", err)
	}
	return &a, nil
}

// wellFormed checks the fields' encodings.
func (a *Audit) wellFormed() error {
	if a.Version != AuditVersion {
		return fmt.Errorf("field \"version\" is %d; this is version %d of the audit format", a.Version, AuditVersion)
	}
	if _, err := decodeHex32("election_id", a.ElectionID); err != nil {
		return err
	}
	if _, err := decodeHex32("tracking_code", a.TrackingCode); err != nil {
		return err
	}
	if _, err := decodeBase64("ballot", a.Ballot); err != nil {
		return err
	}
	_, err := a.opening()
	return err
}

// opening decodes the opening's scalars.
func (a *Audit) opening() (ballot.Opening, error) {
	o := make(ballot.Opening, len(a.Opening))
	for q, row := range a.Opening {
		o[q] = make([]*ristretto255.Scalar, len(row))
		for c, s := range row {
			field := fmt.Sprintf("opening[%d][%d]", q, c)
			b, err := decodeHex32(field, s)
			if err != nil {
				return nil, err
			}
			if o[q][c], err = elgamal.ParseScalar(b); err != nil {
				return nil, fmt.Errorf("field %q is not a canonical scalar (it must be below the group order): %v", field, err)
			}
		}
	}
	return o, nil
}

func decodeHex32(field, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 || hex.EncodeToString(b) != s {
		return nil, fmt.Errorf("field %q is not 32 bytes of lower-case hex (64 digits)", field)
	}
	return b, nil
}

func decodeBase64(field, s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 || base64.StdEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("field %q is not canonical base64 (RFC 4648 §4, standard alphabet, = padding, nothing else)", field)
	}
	return b, nil
}

// CheckAudit checks audit data against election e (as Client.Election read
// and checked it), in this order: the format (version, encodings); the
// election ID is e's; the ballot parses as a ballot of e (ballot.Parse);
// its tracking code is the audit's (the one the voter's device showed,
// which the voter compares); the ballot is valid (ballot.Verify: the
// token, every proof, the signature), so it is a ballot the board would
// have accepted; and the opening proves the ballot encrypts exactly the
// audit's choices (ballot.CheckOpening). An error wraps
// ballot.ErrOpeningMismatch when the ballot encrypts other choices: the
// device that sealed it lied about the vote.
func CheckAudit(e *ballot.Election, a *Audit) error {
	if err := a.wellFormed(); err != nil {
		return fmt.Errorf("voter: the audit data: %w", err)
	}
	if a.ElectionID != hex.EncodeToString(e.Manifest.ID()) {
		return fmt.Errorf("voter: the audited ballot is for election %.16s…, not this one (%x…)", a.ElectionID, e.Manifest.ID()[:8])
	}
	raw, _ := decodeBase64("ballot", a.Ballot)
	b, err := ballot.Parse(e, raw)
	if err != nil {
		return fmt.Errorf("voter: the audited ballot: %w", err)
	}
	if tc := ballot.TrackingCode(raw); hex.EncodeToString(tc[:]) != a.TrackingCode {
		return fmt.Errorf("voter: the audited ballot has tracking code %x, the audit data names %s: it is another ballot", tc, a.TrackingCode)
	}
	if err := ballot.Verify(e, b); err != nil {
		return fmt.Errorf("voter: the audited ballot is not a valid ballot of this election: %w", err)
	}
	o, _ := a.opening()
	if err := ballot.CheckOpening(e, b, a.Choices, o); err != nil {
		return fmt.Errorf("voter: the audited ballot %.16s…: %w", a.TrackingCode, err)
	}
	return nil
}

// encodeOpening writes an opening's scalars as hex, as Ticket.Opening
// holds them.
func encodeOpening(o ballot.Opening) [][]string {
	out := make([][]string, len(o))
	for q, row := range o {
		out[q] = make([]string, len(row))
		for c, r := range row {
			out[q][c] = hex.EncodeToString(r.Bytes())
		}
	}
	return out
}
