package ops

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressOnlyWhenAsked: a bar not enabled (no terminal, no
// --progress) writes nothing at all.
func TestProgressOnlyWhenAsked(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, false, "verifying", "bytes")
	p.Set(1, 10)
	p.Set(10, 10)
	p.Done()
	if p != nil || out.Len() != 0 {
		t.Fatalf("a bar not asked for drew %q", out.String())
	}
}

// TestProgressTimeLeft: the bar shows done of total and, once a second
// has passed, the time left at the rate so far; it ends its line once.
func TestProgressTimeLeft(t *testing.T) {
	var out bytes.Buffer
	clock := time.Unix(1_000_000, 0)
	p := NewProgress(&out, true, "verifying", "ballots")
	p.start, p.now = clock, func() time.Time { return clock }
	p.Set(0, 1000)
	if s := out.String(); !strings.Contains(s, "verifying [") || !strings.Contains(s, "0/1000 ballots") || strings.Contains(s, "left") {
		t.Fatalf("at the start: %q", s)
	}
	clock = clock.Add(30 * time.Second)
	out.Reset()
	p.Set(250, 1000) // a quarter in 30 s: 90 s left
	if s := out.String(); !strings.Contains(s, "250/1000 ballots") || !strings.Contains(s, "1 min 30 s left") || !strings.Contains(s, "[=======  ") {
		t.Fatalf("a quarter through: %q", s)
	}
	clock = clock.Add(50 * time.Millisecond)
	out.Reset()
	p.Set(260, 1000)
	if out.Len() != 0 {
		t.Fatalf("redrawn within a tenth of a second: %q", out.String())
	}
	clock = clock.Add(90 * time.Second)
	p.Set(1000, 1000)
	p.Done()
	p.Done()
	if s := out.String(); !strings.Contains(s, "1000/1000") || strings.Contains(s, "left") || strings.Count(s, "\n") != 1 {
		t.Fatalf("at the end: %q", s)
	}
	out.Reset()
	p.Set(5, 10)
	if out.Len() != 0 {
		t.Fatal("drawn after Done")
	}
}

func TestRemaining(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "1 s", 400 * time.Millisecond: "1 s", 42 * time.Second: "42 s", 200 * time.Second: "3 min 20 s",
		2*time.Hour + 5*time.Minute + 10*time.Second: "2 h 5 min",
	} {
		if got := Remaining(d); got != want {
			t.Errorf("Remaining(%v) = %q, want %q", d, got, want)
		}
	}
}
