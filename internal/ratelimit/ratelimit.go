// Package ratelimit is a token bucket per client key (an IP address), shared
// by the issuer and the board so that both refuse a flooding client the same
// way: 429 Too Many Requests with Retry-After.
package ratelimit

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limiter gives each key a bucket of Burst tokens refilled at Rate a second.
// It is safe for concurrent use.
type Limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// MaxBuckets bounds memory: beyond it, full (idle) buckets are dropped.
const MaxBuckets = 1 << 16

// New returns a limiter of rate requests a second and bursts of burst per
// key (burst below 1 counts as 1). now nil means time.Now.
func New(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(max(burst, 1)), now: now, buckets: make(map[string]*bucket)}
}

// Allow takes one token from key's bucket. If none is left it returns false
// and how long until one is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= MaxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
	return false, wait
}

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
		b.last = now
	}
}

// sweep drops buckets that have refilled completely: forgetting them loses
// nothing. If every bucket is busy, it drops all of them rather than grow
// without bound.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		b.refill(now, l.rate, l.burst)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= MaxBuckets {
		clear(l.buckets)
	}
}

// RetryAfter is the whole number of seconds, at least 1, to put in a
// Retry-After header for a wait.
func RetryAfter(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

// RemoteHost is the host part of r.RemoteAddr: the client key to limit by
// when no trusted proxy sits in front.
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
