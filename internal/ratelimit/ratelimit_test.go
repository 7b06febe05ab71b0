package ratelimit

import (
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
	for i := range MaxBuckets + 10 {
		l.Allow(string(rune(i)) + "x")
	}
	if n := len(l.buckets); n > MaxBuckets {
		t.Fatalf("%d buckets, more than %d", n, MaxBuckets)
	}
}
