package service

import (
	"testing"
	"time"
)

// TestLimitsZeroAndNegative pins the one meaning of the limits' values
// every flag of the services relies on: 0 is the service's default, a
// negative value no bound.
func TestLimitsZeroAndNegative(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	// Burst 3 at a rate of 1: three at once, the fourth refused.
	allowed := func(l Limits) int {
		lim := l.Limiter(1, 3, clock)
		if lim == nil {
			return -1
		}
		n := 0
		for range 10 {
			if ok, _ := lim.Allow("a"); ok {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		name string
		l    Limits
		want int // -1: no limiter
	}{
		{"zero: the defaults", Limits{}, 3},
		{"a burst of its own", Limits{Burst: 5}, 5},
		{"rate negative: off", Limits{RatePerSecond: -1}, -1},
		{"burst negative: off", Limits{Burst: -1}, -1},
	} {
		if got := allowed(c.l); got != c.want {
			t.Errorf("%s: %d allowed at once, want %d", c.name, got, c.want)
		}
	}
	if g := (Limits{}).Gate(); g.Cap() != DefaultMaxInFlight {
		t.Errorf("MaxInFlight 0: %d slots, want the default %d", g.Cap(), DefaultMaxInFlight)
	}
	if g := (Limits{MaxInFlight: -1}).Gate(); g != nil {
		t.Errorf("MaxInFlight -1: a gate of %d", g.Cap())
	}
	if u := (Limits{}).Uploads(); u.Max() != DefaultMaxUploadsPerAddress {
		t.Errorf("MaxUploadsPerAddress 0: %d, want the default %d", u.Max(), DefaultMaxUploadsPerAddress)
	}
	if u := (Limits{MaxUploadsPerAddress: -1}).Uploads(); u != nil {
		t.Errorf("MaxUploadsPerAddress -1: a bound of %d", u.Max())
	}
}
