package main

import (
	"strings"
	"testing"
)

// TestBoardServeSchedule: a board whose manifest opened in the past acts
// on it as soon as it listens, and with no trustee in the ceremony
// refuses to open, logging at ERROR why; --no-schedule leaves opening to
// evote board open; a window that closes before it opens is refused at
// start, pointing at --no-schedule.
func TestBoardServeSchedule(t *testing.T) {
	s := newServiceSite(t, "2020-01-01T08:00:00Z", "2099-01-01T20:00:00Z")
	log := serveLog(t, func(l string) bool { return strings.Contains(l, "not opening") }, s.board()...)
	var refusal string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "not opening") {
			refusal = l
		}
	}
	for _, want := range []string{"level=ERROR", "2020-01-01T08:00:00Z", "trustee", "evote board open --without"} {
		if !strings.Contains(refusal, want) {
			t.Errorf("the refusal to open lacks %q: %s", want, refusal)
		}
	}
	log = serveLog(t, nil, s.board("--no-schedule")...)
	if strings.Contains(log, "not opening") || !strings.Contains(log, "--no-schedule: voting opens and closes only by hand") {
		t.Errorf("--no-schedule:\n%s", log)
	}

	// election init checks each time's form only; the board refuses to
	// act on a window that closes before it opens.
	bad := newServiceSite(t, "2099-01-02T08:00:00Z", "2099-01-01T20:00:00Z")
	_, errs, code := evote(t, bad.board()...)
	if code != 2 || !strings.Contains(errs, "closes is not after its opens") || !strings.Contains(errs, "--no-schedule") {
		t.Fatalf("closes before opens: exit %d\n%s", code, errs)
	}
	serveLog(t, nil, bad.board("--no-schedule")...)
}
