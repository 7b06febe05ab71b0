package ops

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Progress is a one-line progress bar on a terminal, redrawn at most ten
// times a second: done of total, the rate and, once a second has passed,
// the time left at that rate. Every long step of evote draws this one bar,
// on standard error, and only on a terminal or with --progress (the
// caller's enabled), so that standard output (a --json object, a table)
// stays clean. A nil *Progress does nothing.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	unit  string
	start time.Time
	last  time.Time
	done  bool
	now   func() time.Time // time.Now; a test's clock
}

// NewProgress returns a bar writing to w, or nil when !enabled.
func NewProgress(w io.Writer, enabled bool, label, unit string) *Progress {
	if !enabled {
		return nil
	}
	return &Progress{w: w, label: label, unit: unit, start: time.Now(), now: time.Now}
}

// Set draws the bar at done of total (total 0: unknown).
func (p *Progress) Set(done, total uint64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.done || (now.Sub(p.last) < 100*time.Millisecond && done != total) {
		return
	}
	p.last = now
	const width = 30
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9)
	if total == 0 {
		fmt.Fprintf(p.w, "\r%s %d %s (%.0f/s)   ", p.label, done, p.unit, rate)
		return
	}
	fill := int(float64(width) * float64(done) / float64(total))
	fill = min(max(fill, 0), width)
	left := ""
	if elapsed := now.Sub(p.start); done > 0 && done < total && elapsed >= time.Second {
		left = ", " + Remaining(time.Duration(float64(elapsed)*float64(total-done)/float64(done))) + " left"
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s (%.0f/s%s)   ", p.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total, p.unit, rate, left)
}

// Remaining says a time left as a person reads it: "40 s", "3 min 20 s",
// "2 h 5 min".
func Remaining(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", max(s, 1))
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	return fmt.Sprintf("%d h %d min", s/3600, s%3600/60)
}

// Done ends the bar's line.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.done = true
		fmt.Fprintln(p.w)
	}
}
