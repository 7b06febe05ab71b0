package service

import (
	"time"

	"github.com/evote/evote/internal/ratelimit"
)

// Limits bound what clients can make a service do: the board's and the
// issuer's handlers take them alike. In every field 0 means the service's
// default and a negative value means no bound.
type Limits struct {
	// RatePerSecond and Burst set the token bucket each client address
	// has for the service's POSTs (429 with Retry-After beyond it). A
	// negative value in either turns the limit off (a bucket of no bound
	// limits nothing); do that only behind a proxy that limits instead.
	RatePerSecond float64
	Burst         int
	// MaxInFlight bounds the expensive requests (casts, tokens) worked on
	// at once: beyond it 503 with Retry-After: 1 at once, never queued
	// (default [DefaultMaxInFlight]). A request takes its slot only once
	// its body is read, so slow uploads hold none.
	MaxInFlight int
	// MaxUploadsPerAddress bounds the POSTs from one client address whose
	// bodies are being read at once: beyond it 429 with Retry-After: 1
	// before the body is read (default [DefaultMaxUploadsPerAddress]).
	MaxUploadsPerAddress int
}

// Limiter returns the per-address rate limiter l sets, with the service's
// default rate and burst standing in for zeros (a zero default burst is
// twice the rate), or nil when the rate or the burst is negative: no
// limit. now nil means time.Now.
func (l Limits) Limiter(defaultRate float64, defaultBurst int, now func() time.Time) *ratelimit.Limiter {
	rate, burst := l.RatePerSecond, l.Burst
	if rate < 0 || burst < 0 {
		return nil
	}
	if rate == 0 {
		rate = defaultRate
	}
	if burst == 0 {
		burst = defaultBurst
	}
	if burst <= 0 {
		burst = int(2 * rate)
	}
	return ratelimit.New(rate, burst, now)
}

// Gate is the in-flight bound l sets.
func (l Limits) Gate() *Gate { return NewGate(l.MaxInFlight) }

// Uploads is the per-address upload bound l sets.
func (l Limits) Uploads() *Uploads { return NewUploads(l.MaxUploadsPerAddress) }
