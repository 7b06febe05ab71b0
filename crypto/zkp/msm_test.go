package zkp

import (
	"fmt"
	"testing"

	"github.com/gtank/ristretto255"
)

func randomMSM(t testing.TB, n int, halfWeights bool) ([]*ristretto255.Scalar, []*ristretto255.Element) {
	ss := make([]*ristretto255.Scalar, n)
	ps := make([]*ristretto255.Element, n)
	b := NewBatch(nil)
	for i := range ss {
		if halfWeights && i%2 == 0 {
			ss[i] = b.weight()
		} else {
			ss[i] = scalar(t)
		}
		ps[i] = ristretto255.NewIdentityElement().ScalarBaseMult(scalar(t))
	}
	return ss, ps
}

func TestMSMAgreesWithStraus(t *testing.T) {
	for _, n := range []int{1, 2, 191, 192, 193, 700, 2049} {
		ss, ps := randomMSM(t, n, n%2 == 1)
		want := ristretto255.NewIdentityElement().VarTimeMultiScalarMult(ss, ps)
		if msm(ss, ps).Equal(want) != 1 {
			t.Fatalf("n=%d: bucket method disagrees with Straus", n)
		}
		// Forced through the bucket method at every size, every width.
		for _, c := range []int{1, 4, 7, 13} {
			if pippenger(ss, ps, c).Equal(want) != 1 {
				t.Fatalf("n=%d c=%d: bucket method disagrees with Straus", n, c)
			}
		}
	}
	// Zero scalars and repeated points.
	ss, ps := randomMSM(t, 300, false)
	for i := 0; i < 300; i += 3 {
		ss[i] = ristretto255.NewScalar()
		ps[i+1] = ps[0]
	}
	if msm(ss, ps).Equal(ristretto255.NewIdentityElement().VarTimeMultiScalarMult(ss, ps)) != 1 {
		t.Fatal("zero scalars or repeated points: disagreement")
	}
}

// BenchmarkMSM compares edwards25519's Straus with the bucket method, per
// point, with half the scalars 128-bit batch weights as in a batch of proofs.
func BenchmarkMSM(b *testing.B) {
	for _, n := range []int{64, 256, 1024, 4096, 16384} {
		ss, ps := randomMSM(b, n, true)
		b.Run(fmt.Sprintf("Straus/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ristretto255.NewIdentityElement().VarTimeMultiScalarMult(ss, ps)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e3, "µs/point")
		})
		b.Run(fmt.Sprintf("Pippenger/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				pippenger(ss, ps, window(n))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e3, "µs/point")
		})
	}
}
