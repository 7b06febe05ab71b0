package invite

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
)

// Sentinels for callers to branch on.
var (
	// ErrInput means the roll or the contacts file is malformed.
	ErrInput = errors.New("invite: malformed input")
	// ErrNotOnRoll means the contacts name a voter the roll does not have.
	ErrNotOnRoll = errors.New("invite: a contact is not on the roll")
)

// Languages are the languages invitations are written in; the first is the
// default, for a contact whose lang is empty or another language.
var Languages = []string{"it", "en"}

// A Voter is one line of the roll joined with its contact.
type Voter struct {
	ID    string
	Code  string // the enrolment code as the roll gives it
	Email string // "" when the contacts give none
	Lang  string // the invitation's language: "it" or "en"
}

// A RollEntry is one line of the roll.
type RollEntry struct{ VoterID, Code string }

// A Contact is one line of the contacts file. Lang is as the file gives
// it, a lower-case ISO 639 code or empty.
type Contact struct{ VoterID, Email, Phone, Lang string }

var (
	rollHeader    = []string{"voter_id", "enrolment_code"}
	contactHeader = []string{"voter_id", "email", "phone", "lang"}
)

func lineErr(line int, format string, a ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrInput, line, fmt.Sprintf(format, a...))
}

// readCSV reads a CSV file with exactly header (a UTF-8 byte-order mark
// before it is allowed, as spreadsheets write one), calling row for each
// line with its line number. Voter ids (the first column) must pass
// [issuer.CheckVoterID] and be unique.
func readCSV(r io.Reader, what string, header []string, row func(line int, rec []string) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(header)
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%w: reading the %s header: %v", ErrInput, what, err)
	}
	head[0] = strings.TrimPrefix(head[0], "\ufeff")
	if strings.Join(head, ",") != strings.Join(header, ",") {
		return fmt.Errorf("%w: the %s header is %q; want exactly %q", ErrInput, what, strings.Join(head, ","), strings.Join(header, ","))
	}
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: reading the %s: %v", ErrInput, what, err)
		}
		line, _ := cr.FieldPos(0)
		if err := issuer.CheckVoterID(rec[0]); err != nil {
			return lineErr(line, "%s", strings.TrimPrefix(err.Error(), "issuer: "))
		}
		if prev, dup := seen[rec[0]]; dup {
			return lineErr(line, "the voter on line %d again", prev)
		}
		seen[rec[0]] = line
		if err := row(line, rec); err != nil {
			return err
		}
	}
}

// ReadRoll reads the roll CSV "voter_id,enrolment_code". Codes must be
// well-formed ([issuerapi.NormalizeCode]); errors name the line, never the
// code.
func ReadRoll(r io.Reader) ([]RollEntry, error) {
	var out []RollEntry
	err := readCSV(r, "roll", rollHeader, func(line int, rec []string) error {
		if _, err := issuerapi.NormalizeCode(rec[1]); err != nil {
			return lineErr(line, "the enrolment code is malformed")
		}
		out = append(out, RollEntry{VoterID: rec[0], Code: rec[1]})
		return nil
	})
	return out, err
}

// ReadContacts reads the contacts CSV "voter_id,email,phone,lang". An
// e-mail address, when given, is a bare address (no display name, no
// spaces, no line breaks); lang is empty or a lower-case ISO 639 code, as
// "evote issuer import" writes it (invitations are in Italian unless it is
// "en").
func ReadContacts(r io.Reader) ([]Contact, error) {
	var out []Contact
	err := readCSV(r, "contacts", contactHeader, func(line int, rec []string) error {
		c := Contact{VoterID: rec[0], Email: rec[1], Phone: rec[2], Lang: rec[3]}
		if c.Email != "" {
			if err := checkAddress(c.Email); err != nil {
				return lineErr(line, "the e-mail address is not a bare address such as name@example.org")
			}
		}
		if c.Lang != "" && (len(c.Lang) < 2 || len(c.Lang) > 3 || strings.IndexFunc(c.Lang, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0) {
			return lineErr(line, "lang is %q; want a lower-case language code such as it or en, or nothing", c.Lang)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func isLanguage(l string) bool {
	for _, x := range Languages {
		if l == x {
			return true
		}
	}
	return false
}

// checkAddress accepts a bare ASCII address, as RFC 5321 paths carry it.
func checkAddress(a string) error {
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" || p.Address != a || strings.ContainsAny(a, " \t\r\n<>\"") {
		return errors.New("not a bare e-mail address")
	}
	for _, r := range a {
		if r < 0x21 || r > 0x7e {
			return errors.New("not an ASCII e-mail address")
		}
	}
	return nil
}

// Join joins the roll with the contacts, in the roll's order. A contact for
// a voter not on the roll is refused ([ErrNotOnRoll]): the two files belong
// to different elections, or one is stale. Voters with no contact get no
// e-mail; voters whose language has no template get the default (it).
func Join(roll []RollEntry, contacts []Contact) ([]Voter, error) {
	byID := make(map[string]Contact, len(contacts))
	for _, c := range contacts {
		byID[c.VoterID] = c
	}
	out := make([]Voter, 0, len(roll))
	for _, e := range roll {
		v := Voter{ID: e.VoterID, Code: e.Code, Lang: Languages[0]}
		if c, ok := byID[e.VoterID]; ok {
			v.Email = c.Email
			if isLanguage(c.Lang) {
				v.Lang = c.Lang
			}
			delete(byID, e.VoterID)
		}
		out = append(out, v)
	}
	if n := len(byID); n > 0 {
		return nil, fmt.Errorf("%w: %d contacts name voters the roll does not have; are the roll and the contacts of the same election?", ErrNotOnRoll, n)
	}
	return out, nil
}
