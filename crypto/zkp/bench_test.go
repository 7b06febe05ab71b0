package zkp

import (
	"fmt"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

func BenchmarkSchnorr(b *testing.B) {
	x, X := key(b)
	p, _ := ProveSchnorr(nil, ctx, x, X)
	b.Run("Prove", func(b *testing.B) {
		for b.Loop() {
			ProveSchnorr(nil, ctx, x, X)
		}
	})
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			if VerifySchnorr(ctx, X, p) != nil {
				b.Fatal("refused")
			}
		}
	})
}

func BenchmarkDLEQ(b *testing.B) {
	x, X := key(b)
	B := ristretto255.NewIdentityElement().ScalarBaseMult(scalar(b))
	Y := ristretto255.NewIdentityElement().ScalarMult(x, B)
	p, _ := ProveDLEQ(nil, ctx, x, X, B, Y)
	b.Run("Prove", func(b *testing.B) {
		for b.Loop() {
			ProveDLEQ(nil, ctx, x, X, B, Y)
		}
	})
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			if VerifyDLEQ(ctx, X, B, Y, p) != nil {
				b.Fatal("refused")
			}
		}
	})
}

func BenchmarkZeroOne(b *testing.B) {
	_, pk := key(b)
	ct, r := encrypt(b, pk, 1)
	p, _ := ProveOr(nil, ctx, pk, ct, r, ZeroOne(), 1)
	enc := p.Bytes()
	b.Run("Prove", func(b *testing.B) {
		for b.Loop() {
			ProveOr(nil, ctx, pk, ct, r, ZeroOne(), 1)
		}
	})
	b.Run("Parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseOr(enc, 2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			if VerifyOr(ctx, pk, ct, ZeroOne(), p) != nil {
				b.Fatal("refused")
			}
		}
	})
	// Batch/N reports the time per proof when N proofs share one check.
	for _, n := range []int{64, 1024} {
		b.Run(fmt.Sprintf("Batch/%d", n), func(b *testing.B) {
			cts := make([]*elgamal.Ciphertext, n)
			ps := make([]*OrProof, n)
			for i := range cts {
				var r *ristretto255.Scalar
				cts[i], r = encrypt(b, pk, uint64(i%2))
				ps[i], _ = ProveOr(nil, ctx, pk, cts[i], r, ZeroOne(), i%2)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt := NewBatch(pk)
				for j := range ps {
					ps[j].AddTo(bt, ctx, pk, cts[j], ZeroOne())
				}
				if !bt.Verify() {
					b.Fatal("refused")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e3, "µs/proof")
		})
	}
}

// question is one encrypted question: a ciphertext and 0/1 proof per
// choice, and a range proof on their sum.
type question struct {
	cts    []*elgamal.Ciphertext
	proofs []*OrProof
	sum    *OrProof
}

func encryptQuestion(b *testing.B, pk *elgamal.PublicKey, choices int, picks []int, min, max uint64) question {
	var q question
	rSum := ristretto255.NewScalar()
	for i := 0; i < choices; i++ {
		m := 0
		for _, p := range picks {
			if p == i {
				m = 1
			}
		}
		r := scalar(b)
		ct := elgamal.Encrypt(pk, uint64(m), r)
		p, err := ProveOr(nil, ctx, pk, ct, r, ZeroOne(), m)
		if err != nil {
			b.Fatal(err)
		}
		q.cts = append(q.cts, ct)
		q.proofs = append(q.proofs, p)
		rSum.Add(rSum, r)
	}
	p, err := ProveOr(nil, ctx, pk, elgamal.Add(q.cts...), rSum, Range(min, max), len(picks)-int(min))
	if err != nil {
		b.Fatal(err)
	}
	q.sum = p
	return q
}

func (q question) verify(bt *Batch, pk *elgamal.PublicKey, min, max uint64) {
	for i, p := range q.proofs {
		p.AddTo(bt, ctx, pk, q.cts[i], ZeroOne())
	}
	q.sum.AddTo(bt, ctx, pk, elgamal.Add(q.cts...), Range(min, max))
}

// BenchmarkQuestion times a whole question in the general shape (a 0/1
// proof a choice plus a range proof on the sum): 1-of-2 and 3-of-10.
func BenchmarkQuestion(b *testing.B) {
	_, pk := key(b)
	for _, tc := range []struct {
		name     string
		choices  int
		picks    []int
		min, max uint64
	}{
		{"1of2", 2, []int{0}, 1, 1},
		{"3of10", 10, []int{1, 4, 7}, 0, 3},
	} {
		b.Run(tc.name+"/EncryptAndProve", func(b *testing.B) {
			for b.Loop() {
				encryptQuestion(b, pk, tc.choices, tc.picks, tc.min, tc.max)
			}
		})
		q := encryptQuestion(b, pk, tc.choices, tc.picks, tc.min, tc.max)
		b.Run(tc.name+"/Verify", func(b *testing.B) {
			for b.Loop() {
				bt := NewBatch(pk)
				q.verify(bt, pk, tc.min, tc.max)
				if !bt.Verify() {
					b.Fatal("refused")
				}
			}
		})
		b.Run(tc.name+"/BatchVerify256", func(b *testing.B) {
			qs := make([]question, 256)
			for i := range qs {
				qs[i] = encryptQuestion(b, pk, tc.choices, tc.picks, tc.min, tc.max)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt := NewBatch(pk)
				for _, q := range qs {
					q.verify(bt, pk, tc.min, tc.max)
				}
				if !bt.Verify() {
					b.Fatal("refused")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(qs))/1e3, "µs/question")
		})
	}
}
