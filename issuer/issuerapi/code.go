package issuerapi

import (
	"errors"
	"strings"
)

// The form of an enrolment code is public (SPEC.md §11): a voter's device
// checks it before asking, so a typing slip is told apart from a wrong code
// without a request, and the issuer refuses any other form.
const (
	// CodeChars is the number of Crockford base32 characters in a code
	// (5 bits each: 100 bits).
	CodeChars = 20
	// CodeAlphabet is Crockford's base32 alphabet, a code's characters.
	CodeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// ErrMalformedCode means a string cannot be an enrolment code: after
// removing dashes and spaces it is not 20 Crockford base32 characters.
var ErrMalformedCode = errors.New("issuerapi: enrolment code must be 20 characters from 0-9 and A-Z without I, L, O, U (dashes and spaces are ignored)")

// NormalizeCode returns the canonical form of a code as a voter may type it:
// upper case, without dashes or spaces, with O read as 0 and I and L as 1.
// It returns [ErrMalformedCode] if the result is not a code.
func NormalizeCode(code string) (string, error) {
	if len(code) > 4*CodeChars {
		return "", ErrMalformedCode
	}
	out := make([]byte, 0, CodeChars)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(CodeAlphabet, c) < 0 {
			return "", ErrMalformedCode
		}
		out = append(out, c)
	}
	if len(out) != CodeChars {
		return "", ErrMalformedCode
	}
	return string(out), nil
}
