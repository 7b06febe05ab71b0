package issuer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"net/netip"
	"time"
)

// The back-off of wrong codes. See the package documentation, "Enrolment
// codes and guessing", for why a back-off per voter and address rather than
// a lock.
const (
	// FreeFailures is how many wrong codes one address may try for one
	// voter before it waits.
	FreeFailures = 5
	// MaxBackoff is the longest wait: the wait doubles with each wrong
	// code beyond FreeFailures, from one second, up to this.
	MaxBackoff = 15 * time.Minute
	// maxBackoffs bounds the addresses an entry keeps a back-off for; a
	// new one evicts the one whose last wrong code is the oldest.
	maxBackoffs = 16
	// addrTagSize is the length of an address's tag in a Backoff.
	addrTagSize = 12
)

// Backoff is the back-off of one address for one voter.
type Backoff struct {
	// Addr is the address's tag: HMAC-SHA256 under the roll key
	// (seal.go), truncated, so the roll holds no address.
	Addr []byte `json:"a"`
	// Failures counts this address's wrong codes for the voter.
	Failures int `json:"f"`
	// Until is when the address may try again, in Unix seconds; 0 if it
	// need not wait.
	Until int64 `json:"u,omitempty"`
	// Last is the time of its last wrong code, in Unix seconds.
	Last int64 `json:"l"`
}

// backoffWait is the wait after an address's n-th wrong code for a voter.
func backoffWait(n int) time.Duration {
	if n <= FreeFailures {
		return 0
	}
	if k := n - FreeFailures - 1; k < 20 {
		if d := time.Second << k; d < MaxBackoff {
			return d
		}
	}
	return MaxBackoff
}

// addrTag is the tag of a client address in the roll. An IPv6 address
// counts by its /64, the block one subscriber is given: otherwise one home
// has 2^64 addresses to guess from.
func (is *Issuer) addrTag(addr string) []byte {
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		addr = p.String()
	}
	m := hmac.New(sha256.New, is.rollKey)
	m.Write([]byte("evote/issuer/address/v1\x00"))
	m.Write([]byte(addr))
	return m.Sum(nil)[:addrTagSize]
}

// backoff returns the entry's back-off for tag, or nil.
func (rec *RollEntry) backoff(tag []byte) *Backoff {
	for i := range rec.Backoffs {
		if bytes.Equal(rec.Backoffs[i].Addr, tag) {
			return &rec.Backoffs[i]
		}
	}
	return nil
}

// waiting reports whether the address of tag must wait before a code of
// it is tested.
func (rec *RollEntry) waiting(tag []byte, now time.Time) bool {
	b := rec.backoff(tag)
	return b != nil && now.Unix() < b.Until
}

// fail counts a wrong code from the address of tag: the voter's count, the
// address's, and the address's wait.
func (rec *RollEntry) fail(tag []byte, now time.Time) {
	rec.Failures++
	b := rec.backoff(tag)
	if b == nil {
		if len(rec.Backoffs) >= maxBackoffs {
			oldest := 0
			for i := range rec.Backoffs {
				if rec.Backoffs[i].Last < rec.Backoffs[oldest].Last {
					oldest = i
				}
			}
			rec.Backoffs = append(rec.Backoffs[:oldest], rec.Backoffs[oldest+1:]...)
		}
		rec.Backoffs = append(rec.Backoffs, Backoff{Addr: bytes.Clone(tag)})
		b = &rec.Backoffs[len(rec.Backoffs)-1]
	}
	b.Failures++
	b.Last = now.Unix()
	if d := backoffWait(b.Failures); d > 0 {
		b.Until = now.Add(d).Unix()
	}
}

// unfail gives back the wrong code fail counted for the address of tag
// before its code was tested, when the code was right, and the wait that
// count alone set.
func (rec *RollEntry) unfail(tag []byte) {
	if rec.Failures > 0 {
		rec.Failures--
	}
	if b := rec.backoff(tag); b != nil {
		if b.Failures--; b.Failures <= 0 {
			rec.succeed(tag)
		} else if b.Failures <= FreeFailures {
			// The wait, if any, was this attempt's own; a wait the
			// address's other wrong codes set stays.
			b.Until = 0
		}
	}
}

// succeed clears the back-off of the address of tag after a right code.
func (rec *RollEntry) succeed(tag []byte) {
	for i := range rec.Backoffs {
		if bytes.Equal(rec.Backoffs[i].Addr, tag) {
			rec.Backoffs = append(rec.Backoffs[:i], rec.Backoffs[i+1:]...)
			if len(rec.Backoffs) == 0 {
				rec.Backoffs = nil
			}
			return
		}
	}
}
