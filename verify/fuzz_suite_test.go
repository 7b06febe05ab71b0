package verify_test

import (
	"bytes"
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/verify"
)

// FuzzRecord feeds arbitrary bytes to the verifier as an exported record
// signed by the test board key: it never panics, and a record it passes is
// one the store reader reads whole. The seeds are a real record re-signed
// with the test key, so mutations that keep the signature are explored.
func FuzzRecord(f *testing.F) {
	e, rec, _ := election(f, electiontest.Options{}, 1)
	ls := leaves(f, rec, e.Verifier)
	good := resign(f, ls)
	f.Add(good)
	f.Add(good[:len(good)-10])
	f.Add(resign(f, ls[:len(ls)-1]))
	f.Add(resign(f, ls[:3]))
	_, v := testKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := verify.Record(bytes.NewReader(b), v, verify.Options{Workers: 1})
		if (err == nil) != (rep != nil && rep.OK) {
			t.Fatalf("error %v but report OK=%v", err, rep != nil && rep.OK)
		}
	})
}
