package elgamal

import (
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/gtank/ristretto255"
)

func BenchmarkEncrypt(b *testing.B) {
	_, pk := mustKey(b)
	r, _ := RandomScalar(nil)
	for b.Loop() {
		Encrypt(pk, 1, r)
	}
}

func BenchmarkParseCiphertext(b *testing.B) {
	_, pk := mustKey(b)
	enc := encryptRandom(b, pk, 1).Bytes()
	for b.Loop() {
		if _, err := ParseCiphertext(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdd1000(b *testing.B) {
	_, pk := mustKey(b)
	cts := make([]*Ciphertext, 1000)
	for i := range cts {
		cts[i] = encryptRandom(b, pk, 1)
	}
	for b.Loop() {
		Add(cts...)
	}
}

func BenchmarkRerandomize(b *testing.B) {
	_, pk := mustKey(b)
	c := encryptRandom(b, pk, 1)
	r, _ := RandomScalar(nil)
	for b.Loop() {
		Rerandomize(pk, c, r)
	}
}

// The curve library was chosen by these: gtank/ristretto255 (over
// filippo.io/edwards25519) against circl's ristretto255 group, on the
// operations a verifier spends its time in.
func BenchmarkCurve(b *testing.B) {
	x, _ := RandomScalar(nil)
	p := ristretto255.NewIdentityElement().ScalarBaseMult(x)
	enc := p.Bytes()
	b.Run("gtank/ScalarMult", func(b *testing.B) {
		q := ristretto255.NewIdentityElement()
		for b.Loop() {
			q.ScalarMult(x, p)
		}
	})
	b.Run("gtank/ScalarBaseMult", func(b *testing.B) {
		q := ristretto255.NewIdentityElement()
		for b.Loop() {
			q.ScalarBaseMult(x)
		}
	})
	b.Run("gtank/Decode", func(b *testing.B) {
		q := ristretto255.NewIdentityElement()
		for b.Loop() {
			if _, err := q.SetCanonicalBytes(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gtank/VarTimeMSM64", func(b *testing.B) {
		ss := make([]*ristretto255.Scalar, 64)
		ps := make([]*ristretto255.Element, 64)
		for i := range ss {
			ss[i], _ = RandomScalar(nil)
			ps[i] = ristretto255.NewIdentityElement().ScalarBaseMult(ss[i])
		}
		q := ristretto255.NewIdentityElement()
		for b.Loop() {
			q.VarTimeMultiScalarMult(ss, ps)
		}
	})
	g := group.Ristretto255
	cx := g.RandomScalar(nil)
	cp := g.NewElement().MulGen(cx)
	cenc, _ := cp.MarshalBinary()
	b.Run("circl/ScalarMult", func(b *testing.B) {
		q := g.NewElement()
		for b.Loop() {
			q.Mul(cp, cx)
		}
	})
	b.Run("circl/ScalarBaseMult", func(b *testing.B) {
		q := g.NewElement()
		for b.Loop() {
			q.MulGen(cx)
		}
	})
	b.Run("circl/Decode", func(b *testing.B) {
		q := g.NewElement()
		for b.Loop() {
			if err := q.UnmarshalBinary(cenc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
