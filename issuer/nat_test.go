package issuer

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/evote/evote/internal/service"
)

// natRefusals runs phones voters behind one address, each arriving at a
// time spread evenly at random over window and sending requests token
// requests one second apart (the enrolment code, then the one-time code),
// through a per-address limiter of rate and burst, and returns the share
// of requests refused (429).
func natRefusals(rate float64, burst, phones, requests int, window time.Duration) float64 {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: the same arrivals every run
	var at []time.Time
	for range phones {
		t := start.Add(time.Duration(rng.Int64N(int64(window))))
		for r := range requests {
			at = append(at, t.Add(time.Duration(r)*time.Second))
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	var now time.Time
	l := service.Limits{RatePerSecond: rate, Burst: burst}.Limiter(DefaultRatePerSecond, DefaultBurst, func() time.Time { return now })
	refused := 0
	for _, t := range at {
		now = t
		if ok, _ := l.Allow("198.51.100.1"); !ok {
			refused++
		}
	}
	return float64(refused) / float64(len(at))
}

// TestNATLimits: thousands of phones share one address behind a carrier's
// NAT. The per-address limit's defaults must let them all through at the
// rates an election's busiest moments bring (an invitation mail read by
// everyone at once; the last minutes), while the old defaults (5/s, burst
// 20) refused most of them. The limit is not what stops guessing (the
// codes' 100 bits and the per-voter back-off do: package doc); it keeps
// one address from taking more than a tenth of the issuer (about 1,000
// tokens/s on 2 cores, BENCHMARKS.md). The table is in README.md.
func TestNATLimits(t *testing.T) {
	for _, tc := range []struct {
		phones int
		window time.Duration
		// wantZero: the defaults must refuse nothing.
		wantZero bool
	}{
		{2000, time.Minute, true},
		{5000, 5 * time.Minute, true},
		{10000, 10 * time.Minute, true},
		{20000, 2 * time.Minute, false}, // 333 requests/s from one address: beyond a tenth of the issuer
	} {
		old := natRefusals(5, 20, tc.phones, 2, tc.window)
		now := natRefusals(0, 0, tc.phones, 2, tc.window)
		t.Logf("%6d phones behind one address in %-5v (%4.0f requests/s): refused %5.1f%% at 5/s burst 20, %5.1f%% at the defaults (%d/s burst %d)",
			tc.phones, tc.window, float64(2*tc.phones)/tc.window.Seconds(), 100*old, 100*now, DefaultRatePerSecond, DefaultBurst)
		if tc.wantZero && now != 0 {
			t.Errorf("%d phones in %v: the defaults refuse %.1f%% of their requests", tc.phones, tc.window, 100*now)
		}
		if !tc.wantZero && now == 0 {
			t.Errorf("%d phones in %v: the defaults refuse nothing; the limit bounds no address", tc.phones, tc.window)
		}
	}
}
