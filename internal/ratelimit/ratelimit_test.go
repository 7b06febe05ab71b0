package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(2, 3, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("after the burst: ok %v wait %v, want refused and 500ms", ok, wait)
	}
	if RetryAfter(wait) != 1 || RetryAfter(1500*time.Millisecond) != 2 {
		t.Fatal("RetryAfter does not round up to whole seconds")
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("b limited by a's bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("not refilled after 1/rate")
	}
}

func TestSweepBoundsMemory(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(1, 1, func() time.Time { return now })
	// Distinct keys, one each (string(rune(i)) would fold the surrogates
	// into one U+FFFD key and never reach the bound).
	for i := range MaxBuckets {
		l.Allow(strconv.Itoa(i))
	}
	if n := len(l.buckets); n != MaxBuckets {
		t.Fatalf("%d buckets after %d keys", n, MaxBuckets)
	}
	// Every bucket is busy (each just spent its token): a new key clears
	// them all rather than grow.
	if ok, _ := l.Allow("new"); !ok {
		t.Fatal("a new key is refused")
	}
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after a sweep of busy ones, want 1", n)
	}
	// Idle buckets (refilled) are the ones a sweep drops; a busy one stays.
	for i := range MaxBuckets - 2 {
		l.Allow("idle" + strconv.Itoa(i))
	}
	now = now.Add(2 * time.Second) // every bucket so far refills
	l.Allow("busy")                // spends its token now
	l.Allow("one more")            // the bound: a sweep
	if n := len(l.buckets); n != 2 {
		t.Fatalf("%d buckets after sweeping idle ones, want the busy one and the new one", n)
	}
	if _, ok := l.buckets["busy"]; !ok {
		t.Fatal("the sweep dropped a busy bucket (its client would get a fresh burst)")
	}
}
