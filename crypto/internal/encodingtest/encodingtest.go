// Package encodingtest holds the checks the crypto packages' tests make of
// their strict, canonical encodings (crypto/ceremony's public messages,
// crypto/dkg's secret state): one encoding per value, and nothing else
// accepted. Only tests import it.
package encodingtest

import (
	"bytes"
	"testing"
)

// RoundTrip encodes v, parses the encoding and requires the parsed value
// to encode to the same bytes; it returns the parsed value, so that a test
// goes on with what a reader of the encoding would hold.
func RoundTrip[T any](tb testing.TB, v T, marshal func(T) []byte, parse func([]byte) (T, error)) T {
	tb.Helper()
	enc := marshal(v)
	out, err := parse(enc)
	if err != nil {
		tb.Fatalf("parsing own encoding: %v", err)
	}
	if !bytes.Equal(marshal(out), enc) {
		tb.Fatal("re-encoding differs")
	}
	return out
}

// FuzzCanonical fuzzes parse from the seeds (each also less its last
// byte) and fails on any input it accepts that does not re-encode to
// itself.
func FuzzCanonical[T any](f *testing.F, parse func([]byte) (T, error), marshal func(T) []byte, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)-1])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(marshal(v), b) {
			t.Fatalf("accepted a non-canonical encoding %x", b)
		}
	})
}

// Mutate returns a copy of b with repl written at off.
func Mutate(b []byte, off int, repl []byte) []byte {
	m := append([]byte(nil), b...)
	copy(m[off:], repl)
	return m
}
