package voter

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/evote/evote/internal/strictjson"
	"github.com/gtank/ristretto255"
)

// AuditVersion is the version of the audit data format.
const AuditVersion = 1

// An Audit is a sealed ballot opened instead of cast (cast or audit, the
// Benaloh challenge; SPEC.md §10.3): the ballot's body (ballot.Ballot.Body:
// the ballot without its signature), its fingerprint, the choices the
// voter's device showed for it and the randomness of its ciphertexts.
// Another device checks it (CheckAudit): the ballot encrypts exactly those
// choices, or the device that made it lied. An audited ballot reveals its
// choices, so it must never be cast: the device encrypts again, with fresh
// randomness, and the voter again chooses to cast or to audit.
//
// The signature is withheld, and only the token key's holder can make
// one, so an audited ballot cannot be cast by anyone, not even by the
// device that checks it. Audit data reveals only the choices of a ballot
// that is never cast (and, by its token key, which ballot on the board is
// the voter's, not what it encrypts); it cannot vote.
type Audit struct {
	Version     int     `json:"version"`     // AuditVersion
	ElectionID  string  `json:"election_id"` // hex
	Fingerprint string  `json:"fingerprint"` // hex, ballot.Fingerprint of BallotBody
	BallotBody  string  `json:"ballot_body"` // base64 of the ballot's body: no signature
	Choices     [][]int `json:"choices"`     // per question, as in Ticket.Choices
	// Opening is the ballot's ballot.Opening: per question, per encrypted
	// choice, the ciphertext's randomness as a hex scalar.
	Opening [][]string `json:"opening"`
}

// Audit opens the ticket's sealed ballot instead of casting it: it returns
// the audit data (the ballot's body and fingerprint, the choices it was
// sealed with and its opening; never its signature) and removes the
// ballot, the choices and the opening from the ticket, so that the audited
// ballot can never be cast, from the ticket or from the audit data
// (Receipt and Replaces are left as they were). Seal again to vote. A
// ticket whose ballot has no opening (sent to the board, which clears it)
// cannot be audited: a ballot that may have been cast must not be opened.
func (t *Ticket) Audit() (*Audit, error) {
	if t.Ballot == "" {
		return nil, errors.New("voter: the ticket has no sealed ballot to audit (Seal first)")
	}
	if len(t.Opening) == 0 {
		return nil, errors.New("voter: the ticket's ballot has no opening: it was sent to the board to be cast, and a ballot that may have been cast is never audited (Seal again, and audit the new ballot)")
	}
	body, err := t.ballotBody()
	if err != nil {
		return nil, err
	}
	fp := ballot.Fingerprint(body)
	a := &Audit{
		Version: AuditVersion, ElectionID: t.ElectionID, Fingerprint: hex.EncodeToString(fp[:]),
		BallotBody: base64.StdEncoding.EncodeToString(body), Choices: make([][]int, len(t.Choices)), Opening: make([][]string, len(t.Opening)),
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

// Fingerprint returns the fingerprint of the ticket's sealed ballot
// (ballot.Fingerprint of its body), in hex: what the booth shows for the
// ballot before the voter chooses to cast it or audit it, and what an
// audit of it names (Audit.Fingerprint), so the voter can tell that the
// ballot audited is the one the booth showed.
func (t *Ticket) Fingerprint() (string, error) {
	body, err := t.ballotBody()
	if err != nil {
		return "", err
	}
	fp := ballot.Fingerprint(body)
	return hex.EncodeToString(fp[:]), nil
}

// ballotBody is the body of the ticket's sealed ballot: its encoding less
// the signature, which ends every ballot (SPEC.md §6).
func (t *Ticket) ballotBody() ([]byte, error) {
	if t.Ballot == "" {
		return nil, errors.New("voter: the ticket has no sealed ballot (Seal first)")
	}
	raw, err := decodeBase64("ballot", t.Ballot)
	if err != nil {
		return nil, fmt.Errorf("voter: the ticket's %w", err)
	}
	if len(raw) <= zkp.SchnorrSize {
		return nil, fmt.Errorf("voter: the ticket's ballot is %d bytes: too short to be a ballot", len(raw))
	}
	return raw[:len(raw)-zkp.SchnorrSize], nil
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
// null), version 1, election_id and fingerprint 32 bytes of lower-case
// hex, ballot_body canonical base64, and every opening scalar 32 bytes of
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
	if _, err := decodeHex32("fingerprint", a.Fingerprint); err != nil {
		return err
	}
	if _, err := decodeBase64("ballot_body", a.BallotBody); err != nil {
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
// election ID is e's; the ballot body parses as one of e (ballot.ParseBody);
// its fingerprint is the audit's (the one the voter's device showed, which
// the voter compares); the body is valid (ballot.VerifyBody: the token and
// every proof), so signed by its token key it is a ballot the board would
// accept; and the opening proves the ballot encrypts exactly the audit's
// choices (ballot.CheckOpening). An error wraps ballot.ErrOpeningMismatch
// when the ballot encrypts other choices: the device that sealed it lied
// about the vote. There is no signature to check: the audit withholds it,
// so that the audited ballot can never be cast.
func CheckAudit(e *ballot.Election, a *Audit) error {
	if err := a.wellFormed(); err != nil {
		return fmt.Errorf("voter: the audit data: %w", err)
	}
	if a.ElectionID != hex.EncodeToString(e.Manifest.ID()) {
		return fmt.Errorf("voter: the audited ballot is for election %.16s…, not this one (%x…)", a.ElectionID, e.Manifest.ID()[:8])
	}
	body, _ := decodeBase64("ballot_body", a.BallotBody)
	b, err := ballot.ParseBody(e, body)
	if err != nil {
		return fmt.Errorf("voter: the audited ballot: %w", err)
	}
	if fp := ballot.Fingerprint(body); hex.EncodeToString(fp[:]) != a.Fingerprint {
		return fmt.Errorf("voter: the audited ballot has fingerprint %x, the audit data names %s: it is another ballot", fp, a.Fingerprint)
	}
	if err := ballot.VerifyBody(e, b); err != nil {
		return fmt.Errorf("voter: the audited ballot is not a valid ballot of this election: %w", err)
	}
	o, _ := a.opening()
	if err := ballot.CheckOpening(e, b, a.Choices, o); err != nil {
		return fmt.Errorf("voter: the audited ballot %.16s…: %w", a.Fingerprint, err)
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
