package elgamal

import (
	"bytes"
	"testing"
)

// FuzzParseElement checks ParseElement never panics and accepts only the
// canonical encoding of a non-identity element: what it accepts encodes
// back to the same 32 bytes.
func FuzzParseElement(f *testing.F) {
	f.Add(Generator().Bytes())
	f.Add(make([]byte, ElementSize)) // the identity
	f.Add(bytes.Repeat([]byte{0xff}, ElementSize))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseElement(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Bytes(), b) {
			t.Fatalf("accepted a non-canonical encoding %x (canonical %x)", b, e.Bytes())
		}
		if e.Equal(identity) == 1 {
			t.Fatal("accepted the identity")
		}
	})
}
