package ballot

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// Opening is what proves which choices a ballot encrypts: per question, per
// encrypted choice (q.Encrypted() of them; when min == max the last choice
// is implied, not encrypted), the ElGamal randomness r of that ciphertext.
// EncryptOpening returns it with the ballot.
//
// Whoever holds a ballot's opening knows its choices: it is given out only
// to audit a ballot instead of casting it (cast or audit, SPEC.md §10.3),
// and an audited ballot is never cast.
type Opening [][]*ristretto255.Scalar

// ErrOpeningMismatch means a ballot does not encrypt the choices an audit
// claims for it: a ciphertext is not the encryption, with the opening's
// randomness, of the value those choices give it. If the device that
// encrypted the ballot showed those choices, it lied.
var ErrOpeningMismatch = errors.New("ballot: the ballot does NOT encrypt the choices the device showed")

// CheckOpening checks that ballot b of election e encrypts selections
// (selections[q] lists question q's chosen choice indices), as opening o
// proves: the selections obey the manifest's rules (the checks Encrypt
// makes), o has exactly one scalar per encrypted choice of b, and every
// ciphertext equals elgamal.Encrypt(e.Key, m, r), with m 1 for a chosen
// choice and 0 for another and r the opening's scalar. A ciphertext that
// does not is an error wrapping ErrOpeningMismatch, naming the question and
// choice.
//
// b may be a ballot body (ParseBody), as an audited ballot is. It checks
// no proof, token or signature of b: call Verify, or VerifyBody for a
// body, for those.
func CheckOpening(e *Election, b *Ballot, selections [][]int, o Opening) error {
	m := e.Manifest
	picks, err := m.picks(selections)
	if err != nil {
		return fmt.Errorf("ballot: the choices shown are no valid vote: %s", strings.TrimPrefix(err.Error(), "ballot: "))
	}
	if len(b.Questions) != len(m.Questions) {
		return fmt.Errorf("ballot: the ballot has %d questions, the election %d", len(b.Questions), len(m.Questions))
	}
	if len(o) != len(m.Questions) {
		return fmt.Errorf("ballot: the opening has %d row(s), and must have one per question: %d", len(o), len(m.Questions))
	}
	for qi, q := range m.Questions {
		k := q.Encrypted()
		if len(b.Questions[qi].Choices) != k {
			return fmt.Errorf("ballot: question %q: the ballot has %d ciphertexts, the question encrypts %d choices", q.ID, len(b.Questions[qi].Choices), k)
		}
		if len(o[qi]) != k {
			return fmt.Errorf("ballot: question %q: the opening has %d scalar(s), and must have one per encrypted choice: %d", q.ID, len(o[qi]), k)
		}
	}
	for qi, q := range m.Questions {
		for c, ct := range b.Questions[qi].Choices {
			r := o[qi][c]
			if r == nil {
				return fmt.Errorf("ballot: question %q choice %d (%q): the opening has no scalar", q.ID, c, q.Choices[c])
			}
			if !bytes.Equal(elgamal.Encrypt(e.Key, picks[qi][c], r).Bytes(), ct.Bytes()) {
				what := "not chosen"
				if picks[qi][c] == 1 {
					what = "chosen"
				}
				return fmt.Errorf("%w: question %q choice %d (%q) was shown %s, but its ciphertext is not the encryption of %d with the opening's randomness", ErrOpeningMismatch, q.ID, c, q.Choices[c], what, picks[qi][c])
			}
		}
	}
	return nil
}
