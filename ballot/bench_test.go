package ballot

import (
	"fmt"
	"testing"
)

func BenchmarkBallot(b *testing.B) {
	for _, tc := range []struct {
		name string
		q    Question
		sel  []int
	}{
		{"1of2", yesNo, []int{0}},
		{"1of3", pickOne3, []int{1}},
		{"3of10", upTo3, []int{1, 4, 7}},
	} {
		te := newElection(b, tc.q)
		v := newVoter(b, te)
		b.Run(tc.name+"/Encrypt", func(b *testing.B) {
			for b.Loop() {
				v.cast(b, te, tc.sel)
			}
		})
		enc := v.cast(b, te, tc.sel).Bytes()
		b.Run(tc.name+"/Parse", func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(te.Election, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		p, _ := Parse(te.Election, enc)
		b.Run(tc.name+"/Verify", func(b *testing.B) {
			for b.Loop() {
				if err := Verify(te.Election, p); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, n := range []int{256} {
			bs := make([]*Ballot, n)
			for i := range bs {
				bs[i], _ = Parse(te.Election, v.cast(b, te, tc.sel).Bytes())
			}
			b.Run(fmt.Sprintf("%s/VerifyBatch%d", tc.name, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					for _, err := range VerifyBatch(te.Election, bs) {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e3, "µs/ballot")
			})
		}
	}
}
