package dkg

import (
	"fmt"
	"testing"
)

// BenchmarkCeremony runs a whole honest ceremony, all trustees' work
// together: init, deal, verify, finalise (each finalise runs Qualify).
func BenchmarkCeremony(b *testing.B) {
	for _, p := range [][2]int{{3, 2}, {5, 3}, {10, 6}} {
		b.Run(fmt.Sprintf("%d-of-%d", p[1], p[0]), func(b *testing.B) {
			n, t := p[0], p[1]
			for b.Loop() {
				trustees := make([]*Trustee, n)
				anns := make([]*Announcement, n)
				for i := range trustees {
					var err error
					if trustees[i], anns[i], err = NewTrustee(nil, i+1, n, t); err != nil {
						b.Fatal(err)
					}
				}
				deals := make([]*Deal, n)
				for i, tr := range trustees {
					var err error
					if deals[i], err = tr.Deal(nil, testContext, anns); err != nil {
						b.Fatal(err)
					}
				}
				for _, tr := range trustees {
					if cs, err := tr.Verify(deals); err != nil || len(cs) != 0 {
						b.Fatal(err, cs)
					}
				}
				for _, tr := range trustees {
					if _, _, err := tr.Finalize(anns, deals, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkQualify5of3(b *testing.B) {
	c := newCeremony(b, 5, 3)
	for b.Loop() {
		if _, err := c.qualify(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeal5of3(b *testing.B) {
	c := newCeremony(b, 5, 3)
	for b.Loop() {
		tr, _, _ := NewTrustee(nil, 1, 5, 3)
		anns := append([]*Announcement{tr.Announcement()}, c.anns[1:]...)
		if _, err := tr.Deal(nil, c.ctx, anns); err != nil {
			b.Fatal(err)
		}
	}
}
