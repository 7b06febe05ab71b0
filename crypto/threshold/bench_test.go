package threshold

import (
	"fmt"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
)

func BenchmarkPartialDecrypt(b *testing.B) {
	s := ceremony(b, 5, 3)
	ct := encryptSum(b, s.res.ElectionKey, 1)
	ks := s.shares[0]
	for b.Loop() {
		if _, err := PartialDecrypt(nil, ctx, ks.Index, ks.Secret, ks.VerificationKey, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPartial(b *testing.B) {
	s := ceremony(b, 5, 3)
	ct := encryptSum(b, s.res.ElectionKey, 1)
	ks := s.shares[0]
	p, _ := PartialDecrypt(nil, ctx, ks.Index, ks.Secret, ks.VerificationKey, ct)
	for b.Loop() {
		if err := VerifyPartial(ctx, ks.VerificationKey, ct, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPartials checks one trustee's partials for 100 choices in
// one batch; ns/op is for all 100.
func BenchmarkVerifyPartials100(b *testing.B) {
	s := ceremony(b, 5, 3)
	ks := s.shares[0]
	var cts []*elgamal.Ciphertext
	var ctxs [][]byte
	for i := 0; i < 100; i++ {
		cts = append(cts, encryptSum(b, s.res.ElectionKey, 1))
		ctxs = append(ctxs, fmt.Appendf(nil, "choice %d", i))
	}
	ps, _ := PartialDecryptBatch(nil, ctxs, ks.Index, ks.Secret, ks.VerificationKey, cts)
	for b.Loop() {
		if err := VerifyPartials(ctxs, ks.VerificationKey, cts, ps); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCombine3of5(b *testing.B) {
	s := ceremony(b, 5, 3)
	ct := encryptSum(b, s.res.ElectionKey, 1)
	ps := partials(b, s, ct)[1:4]
	for b.Loop() {
		if _, err := Combine(ct, ps, 3); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewTable(b *testing.B) {
	for _, max := range []uint64{1e4, 1e6, 1e7} {
		b.Run(fmt.Sprint(max), func(b *testing.B) {
			for b.Loop() {
				if _, err := NewTable(max); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLog looks up values near 10^4, 10^6 and 10^7 in a table built
// once for [0, 10^7] (the lookup's cost grows with the value).
func BenchmarkLog(b *testing.B) {
	tab, err := NewTable(1e7)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []uint64{1e4 - 3, 1e6 - 3, 1e7 - 3} {
		e := gm(m)
		b.Run(fmt.Sprint(m), func(b *testing.B) {
			for b.Loop() {
				if got, err := tab.Log(e); err != nil || got != m {
					b.Fatal(got, err)
				}
			}
		})
	}
}

// BenchmarkDiscreteLog is a one-off lookup with its own √max table.
func BenchmarkDiscreteLog(b *testing.B) {
	for _, m := range []uint64{1e4 - 3, 1e6 - 3, 1e7 - 3} {
		e := gm(m)
		b.Run(fmt.Sprint(m), func(b *testing.B) {
			for b.Loop() {
				if got, err := DiscreteLog(e, 1e7); err != nil || got != m {
					b.Fatal(got, err)
				}
			}
		})
	}
}
