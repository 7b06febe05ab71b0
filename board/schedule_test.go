package board_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/trustee"
	"golang.org/x/mod/sumdb/note"
)

// The window of the scheduled elections below.
var (
	opensAt  = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	closesAt = time.Date(2026, 6, 1, 20, 0, 0, 0, time.UTC)
)

const (
	opensText  = "2026-06-01T10:00:00+02:00" // opensAt, as a manifest may write it
	closesText = "2026-06-01T20:00:00Z"
)

// fakeClock is a schedule's clock the test moves: After's channels
// receive once the clock is set to or past their time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	c  chan time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(t) {
			kept = append(kept, w)
		} else {
			w.c <- t
		}
	}
	c.waiters = kept
}

func (c *fakeClock) Waiting() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiters) }

// ceremonyBoard is a board in its ceremony whose manifest names the
// window above and min_ballots least: every message of the key ceremony
// is posted but those hold picks (by record.UniqueKey, such as
// "ceremony/2/3", trustee 3's deal), which it returns unposted.
func ceremonyBoard(t *testing.T, least int, hold func(key string) bool) (*board.Board, store.Log, [][]byte) {
	t.Helper()
	ctx := context.Background()
	keys, privs, err := trustee.LocalKeys(nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ballot.NewElectionID(rand.Reader)
	m, err := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "Scheduled", Questions: []ballot.Question{sim.YesNo},
		Trustees: ballot.Trustees{N: 3, T: 2, Keys: keys}, IssuerKey: electiontest.Issuer(t).Public().Bytes(),
		Revoting: ballot.RevotingRefuse, MinBallots: least, Opens: opensText, Closes: closesText,
	})
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, "board.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	log, err := store.New(store.NewMemEngine(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	b, err := board.Create(ctx, log, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var held [][]byte
	if _, err := trustee.RunLocal(ctx, nil, m, privs, func(ctx context.Context, msg []byte) error {
		key, err := record.UniqueKey(m, msg)
		if err != nil {
			return err
		}
		if hold != nil && hold(string(key)) {
			held = append(held, msg)
			return nil
		}
		_, err = b.PostCeremony(ctx, msg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return b, log, held
}

func newSchedule(t *testing.T, b *board.Board, clock *fakeClock, logs *lockedBuffer) *board.Schedule {
	t.Helper()
	s, err := board.NewSchedule(b, board.ScheduleConfig{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now, After: clock.After, Retry: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func phaseOf(t *testing.T, b *board.Board) string {
	t.Helper()
	p, err := b.Phase()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// errorLines are the lines of logs at level ERROR.
func errorLines(logs *lockedBuffer) []string {
	var out []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// TestScheduleOpensAtItsTime: before the opening time nothing happens
// and the next step is at it; at it voting opens, and the schedule then
// waits for the closing time.
func TestScheduleOpensAtItsTime(t *testing.T) {
	b, _, _ := ceremonyBoard(t, 0, nil)
	clock := &fakeClock{now: opensAt.Add(-time.Hour)}
	var logs lockedBuffer
	s := newSchedule(t, b, clock, &logs)
	if o, c := s.Times(); !o.Equal(opensAt) || !c.Equal(closesAt) {
		t.Fatalf("times %v %v, want %v %v", o, c, opensAt, closesAt)
	}
	next, more := s.Step(t.Context())
	if !more || !next.Equal(opensAt) || phaseOf(t, b) != "ceremony" {
		t.Fatalf("an hour early: next %v %v, phase %s; want the opening time and the ceremony", next, more, phaseOf(t, b))
	}
	clock.Set(opensAt)
	s.Step(t.Context())
	if phaseOf(t, b) != "open" {
		t.Fatalf("at the opening time the phase is %s\n%s", phaseOf(t, b), logs.String())
	}
	if !strings.Contains(logs.String(), "voting opened at the manifest's opening time") {
		t.Errorf("the open is not logged:\n%s", logs.String())
	}
	if next, more := s.Step(t.Context()); !more || !next.Equal(closesAt) {
		t.Fatalf("once open: next %v %v, want the closing time", next, more)
	}
}

// TestAttackScheduleOpensWithTrusteeMissing: at the opening time with
// trustee 3's deal missing, the schedule does not open: it logs at ERROR
// naming trustee 3, the log is unchanged, and it tries again later (the
// same reason is not logged at ERROR again at once). Once the deal is
// posted, the next try opens, with every trustee.
func TestAttackScheduleOpensWithTrusteeMissing(t *testing.T) {
	b, log, held := ceremonyBoard(t, 0, func(key string) bool { return key == "ceremony/2/3" })
	if len(held) != 1 {
		t.Fatalf("held %d messages, want trustee 3's deal", len(held))
	}
	clock := &fakeClock{now: opensAt}
	var logs lockedBuffer
	s := newSchedule(t, b, clock, &logs)
	before, _ := log.Size()
	next, more := s.Step(t.Context())
	after, _ := log.Size()
	if phaseOf(t, b) != "ceremony" || after != before {
		t.Fatalf("opened with trustee 3's deal missing: phase %s, log %d → %d entries", phaseOf(t, b), before, after)
	}
	if !more || !next.Equal(opensAt.Add(10*time.Second)) {
		t.Fatalf("next try at %v (%v), want in 10 s", next, more)
	}
	errs := errorLines(&logs)
	if len(errs) != 1 || !strings.Contains(errs[0], "trustee 3") || !strings.Contains(errs[0], "not opening at the manifest's opening time") {
		t.Fatalf("want one ERROR naming trustee 3, got:\n%s", logs.String())
	}
	clock.Set(next)
	s.Step(t.Context())
	if n := len(errorLines(&logs)); n != 1 {
		t.Errorf("the same refusal logged at ERROR %d times 10 s apart", n)
	}
	clock.Set(opensAt.Add(6 * time.Minute))
	s.Step(t.Context())
	if n := len(errorLines(&logs)); n != 2 {
		t.Errorf("the refusal not logged at ERROR again after 6 minutes (%d lines)", n)
	}
	if _, err := b.PostCeremony(t.Context(), held[0]); err != nil {
		t.Fatal(err)
	}
	s.Step(t.Context())
	if phaseOf(t, b) != "open" {
		t.Fatalf("with every deal posted the phase is %s\n%s", phaseOf(t, b), logs.String())
	}
	if q := b.Opening().Qualified(); len(q) != 3 {
		t.Fatalf("opened with trustees %v, want all 3", q)
	}
}

// scheduledElection is an open election whose manifest names the window
// above and min_ballots least.
func scheduledElection(t *testing.T, least int) *electiontest.Election {
	t.Helper()
	e, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), MinBallots: least, Opens: opensText, Closes: closesText})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &electiontest.Election{Election: e}
}

// TestScheduleCloseWaitsForMinBallots: at the closing time with fewer
// ballots counted than min_ballots, the schedule does not close (ERROR
// with both numbers, nothing appended) and tries again; once enough are
// counted it closes.
func TestScheduleCloseWaitsForMinBallots(t *testing.T) {
	e := scheduledElection(t, 2)
	e.Cast(t, e.Voter(t), []int{0})
	clock := &fakeClock{now: closesAt}
	var logs lockedBuffer
	s := newSchedule(t, e.Board, clock, &logs)
	before, _ := e.Log.Size()
	next, more := s.Step(t.Context())
	after, _ := e.Log.Size()
	if phaseOf(t, e.Board) != "open" || after != before || !more || !next.Equal(closesAt.Add(10*time.Second)) {
		t.Fatalf("1 ballot of min_ballots 2: phase %s, log %d → %d, next %v %v", phaseOf(t, e.Board), before, after, next, more)
	}
	if errs := errorLines(&logs); len(errs) != 1 || !strings.Contains(errs[0], "1 ballots are counted, fewer than the 2") || !strings.Contains(errs[0], "--accept-untallied") {
		t.Fatalf("want one ERROR with the counts and the way out, got:\n%s", logs.String())
	}
	e.Cast(t, e.Voter(t), []int{1})
	clock.Set(next)
	if _, more := s.Step(t.Context()); more || phaseOf(t, e.Board) != "closed" {
		t.Fatalf("2 ballots of min_ballots 2: phase %s, more %v\n%s", phaseOf(t, e.Board), more, logs.String())
	}
	if !strings.Contains(logs.String(), "voting closed at the manifest's closing time") {
		t.Errorf("the close is not logged:\n%s", logs.String())
	}
}

// TestScheduleRestart: a board started after its opening time opens at
// once; one started after its closing time closes at once if open, and
// never opens if it was not.
func TestScheduleRestart(t *testing.T) {
	t.Run("past opens", func(t *testing.T) {
		b, log, _ := ceremonyBoard(t, 0, nil)
		clock := &fakeClock{now: opensAt.Add(3 * time.Hour)}
		var logs lockedBuffer
		s := newSchedule(t, b, clock, &logs)
		s.Step(t.Context())
		if phaseOf(t, b) != "open" {
			t.Fatalf("phase %s", phaseOf(t, b))
		}
		// Restarted again, still before the closing time: nothing to do
		// but wait for it.
		b2, err := board.Load(log)
		if err != nil {
			t.Fatal(err)
		}
		size, _ := log.Size()
		if next, more := newSchedule(t, b2, clock, &logs).Step(t.Context()); !more || !next.Equal(closesAt) {
			t.Fatalf("restarted while open: next %v %v", next, more)
		}
		if n, _ := log.Size(); n != size {
			t.Fatal("a restart while open appended")
		}
	})
	t.Run("past closes, open", func(t *testing.T) {
		e := scheduledElection(t, 0)
		clock := &fakeClock{now: closesAt.Add(time.Minute)}
		var logs lockedBuffer
		if _, more := newSchedule(t, e.Board, clock, &logs).Step(t.Context()); more || phaseOf(t, e.Board) != "closed" {
			t.Fatalf("phase %s, more %v", phaseOf(t, e.Board), more)
		}
	})
	t.Run("past closes, never opened", func(t *testing.T) {
		b, log, _ := ceremonyBoard(t, 0, nil)
		clock := &fakeClock{now: closesAt}
		var logs lockedBuffer
		size, _ := log.Size()
		if _, more := newSchedule(t, b, clock, &logs).Step(t.Context()); more || phaseOf(t, b) != "ceremony" {
			t.Fatalf("phase %s, more %v", phaseOf(t, b), more)
		}
		if n, _ := log.Size(); n != size {
			t.Fatal("appended after the closing time")
		}
		if errs := errorLines(&logs); len(errs) != 1 || !strings.Contains(errs[0], "never opened") {
			t.Fatalf("want an ERROR that voting never opened:\n%s", logs.String())
		}
	})
}

// TestScheduleByHand: opening and closing by hand still work, before the
// schedule's times, and the schedule then does only what is left.
func TestScheduleByHand(t *testing.T) {
	b, _, _ := ceremonyBoard(t, 0, nil)
	clock := &fakeClock{now: opensAt.Add(-time.Hour)}
	var logs lockedBuffer
	s := newSchedule(t, b, clock, &logs)
	if _, err := b.OpenVoting(t.Context()); err != nil {
		t.Fatal(err)
	}
	if next, more := s.Step(t.Context()); !more || !next.Equal(closesAt) {
		t.Fatalf("opened by hand early: next %v %v, want the closing time", next, more)
	}
	if _, err := b.CloseVoting(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Set(closesAt)
	if _, more := s.Step(t.Context()); more {
		t.Fatal("closed by hand, but the schedule has more to do")
	}
	if errs := errorLines(&logs); len(errs) != 0 {
		t.Fatalf("errors logged: %v", errs)
	}
}

// TestScheduleRun: Run, on a clock the test moves, waits, opens at the
// opening time, closes at the closing time and returns.
func TestScheduleRun(t *testing.T) {
	b, _, _ := ceremonyBoard(t, 0, nil)
	clock := &fakeClock{now: opensAt.Add(-2 * time.Hour)}
	var logs lockedBuffer
	s := newSchedule(t, b, clock, &logs)
	done := make(chan struct{})
	go func() { s.Run(t.Context()); close(done) }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s\n%s", what, logs.String())
			}
		}
	}
	waitFor("Run waits", func() bool { return clock.Waiting() > 0 })
	if phaseOf(t, b) != "ceremony" {
		t.Fatal("opened early")
	}
	clock.Set(opensAt)
	waitFor("open", func() bool { return phaseOf(t, b) == "open" && clock.Waiting() > 0 })
	clock.Set(closesAt)
	waitFor("closed", func() bool { return phaseOf(t, b) == "closed" })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once closed")
	}
}

// NewSchedule refuses a window that closes before it opens.
func TestScheduleOrder(t *testing.T) {
	e, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Opens: closesText, Closes: opensText})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := board.NewSchedule(e.Board, board.ScheduleConfig{}); !errors.Is(err, board.ErrScheduleOrder) {
		t.Fatalf("closes before opens: %v", err)
	}
}
