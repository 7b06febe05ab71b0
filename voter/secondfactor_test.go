package voter

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeSecondFactor(t *testing.T) {
	for in, want := range map[string]string{
		"123456":             "123456",
		"123 456":            "123456",
		"123-456":            "123456",
		" 12 34 56 ":         "123456",
		"123\u00a0456":       "123456", // a no-break space, as a mail client groups digits
		"123\u2009456":       "123456", // a thin space
		"123\u2013456":       "123456", // an en dash a phone made of '-'
		"\t000000\n":         "000000",
		"9-9-9-9-9-9":        "999999",
		"0 1 2 - 3 4 5 ":     "012345",
		"12\u202f34\u202f56": "123456",
	} {
		got, err := NormalizeSecondFactor(in)
		if err != nil || got != want {
			t.Errorf("NormalizeSecondFactor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "12345", "1234567", "12345a", "abcdef", "１２３４５６", // full-width digits are not the issuer's
		"123.456", "123_456", "+123456", "12345\u0000", "٣٤٥٦٧٨", // Arabic-Indic digits
		strings.Repeat(" ", 30) + "123456", // too long to be typed by hand
		"1234567890",
	} {
		if got, err := NormalizeSecondFactor(bad); !errors.Is(err, ErrMalformedSecondFactor) {
			t.Errorf("NormalizeSecondFactor(%q) = %q, %v; want ErrMalformedSecondFactor", bad, got, err)
		}
	}
}
