package issuer

import (
	"time"

	"github.com/evote/evote/internal/ratelimit"
)

// limiter is the shared per-address token bucket (package
// internal/ratelimit, which the board uses too): each key may make burst
// requests at once and rate a second after that.
type limiter struct{ *ratelimit.Limiter }

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{ratelimit.New(rate, burst, now)}
}

func (l *limiter) allow(key string) (bool, time.Duration) { return l.Allow(key) }
