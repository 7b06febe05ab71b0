package voter

import (
	"errors"
	"unicode"
)

// SecondFactorDigits is the length of a one-time code: the issuer's
// e-mailed or texted code, and an authenticator app's (RFC 6238, six
// digits).
const SecondFactorDigits = 6

// ErrMalformedSecondFactor is a typed one-time code that cannot be one:
// not six digits once spaces and dashes are dropped. Its form is public,
// so a slip is told apart from a wrong code here, before the issuer
// counts it as a wrong try.
var ErrMalformedSecondFactor = errors.New("voter: a one-time code is 6 digits")

// NormalizeSecondFactor returns the one-time code s as the issuer takes it:
// its six ASCII digits, with the spaces and dashes a voter may type or
// paste from a message ("123 456", "123-456") dropped. Anything else
// matches ErrMalformedSecondFactor.
func NormalizeSecondFactor(s string) (string, error) {
	if len(s) > 4*SecondFactorDigits {
		return "", ErrMalformedSecondFactor
	}
	out := make([]byte, 0, SecondFactorDigits)
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			out = append(out, byte(r))
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
			// A message may group the digits with a (no-break, thin)
			// space, and a phone may turn a typed '-' into a dash.
		default:
			return "", ErrMalformedSecondFactor
		}
	}
	if len(out) != SecondFactorDigits {
		return "", ErrMalformedSecondFactor
	}
	return string(out), nil
}
