package threshold

import (
	"bytes"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
)

func FuzzParsePartial(f *testing.F) {
	x, pk, _ := elgamal.GenerateKey(nil)
	r, _ := elgamal.RandomScalar(nil)
	ct := elgamal.Encrypt(pk, 3, r)
	p, err := PartialDecrypt(nil, []byte("fuzz"), 7, x, pk, ct)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.Marshal())
	f.Add(make([]byte, PartialSize))
	f.Add(append([]byte{7}, make([]byte, PartialSize-1)...)) // the trivial partial
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParsePartial(b)
		if err != nil {
			return
		}
		if !bytes.Equal(q.Marshal(), b) {
			t.Fatal("accepted encoding is not canonical")
		}
		_ = VerifyPartial([]byte("fuzz"), pk, ct, q)
	})
}
