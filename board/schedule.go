package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/evote/evote/ballot"
)

// ScheduleConfig configures a Schedule. The zero value is usable.
type ScheduleConfig struct {
	// Logger receives what the schedule does and every refusal, at Error
	// level; nil discards them.
	Logger *slog.Logger
	// Counter counts the ballots that min_ballots is checked against at
	// closing time; nil makes one of the schedule's own. Give the one the
	// handler's metrics read, so that the log is read once for both.
	Counter *Counter
	// Now and After are the schedule's clock: nil means time.Now and
	// time.After. Tests give a clock they move by hand.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Retry is how long the schedule waits before it tries again after a
	// refusal (a trustee missing at opening time, too few ballots at
	// closing time); 0 means 10 s.
	Retry time.Duration
}

// A Schedule opens and closes voting at the times the manifest names
// (opens, closes: SPEC.md §4). They remain informational for the record:
// the log's entries rule the phases, and a verifier checks no time. But an
// authority that wrote them wants them kept without someone at a terminal
// at 08:00, so the board that serves the election acts on them:
//
//   - at opens, it opens voting only if every trustee is in the ceremony
//     (Board.OpenVoting told to go on without no one). With one missing
//     it logs at Error who and why, and tries again every Retry: an
//     election opened without a trustee has lost that trustee's share for
//     good, a choice for a person (evote board open --without), not a
//     clock;
//   - at closes, it closes voting if the manifest's min_ballots are
//     counted; with fewer it logs that at Error and tries again every
//     Retry, since a close cannot be undone and would leave the election
//     with no result (evote board close --accept-untallied ends it so);
//   - it never opens once closes has passed.
//
// Opening and closing by hand work as before, at any time; the schedule
// reads the phase from the log at each step, so it only ever does what is
// still to do. A board started, or restarted, after a time has passed acts
// at once: it opens when opens has passed and voting is not open, and
// closes when closes has passed and voting is open.
type Schedule struct {
	b             *Board
	opens, closes time.Time // zero: not in the manifest
	log           *slog.Logger
	counter       *Counter
	now           func() time.Time
	after         func(time.Duration) <-chan time.Time
	retry         time.Duration
	// lastRefusal and loggedAt keep a refusal repeated every Retry from
	// filling the log: the same reason is logged at Error again only
	// after refusalRepeat.
	lastRefusal string
	loggedAt    time.Time
}

// refusalRepeat is how often the same refusal is logged at Error again.
const refusalRepeat = 5 * time.Minute

// maxWait bounds one wait of Run, so that a change of the wall clock (a
// machine set right, or resumed from sleep) is noticed within a minute:
// a timer counts elapsed time, the manifest's times are wall-clock times.
const maxWait = time.Minute

// ErrScheduleOrder means the manifest's closes is not after its opens.
var ErrScheduleOrder = errors.New("board: the manifest's closes is not after its opens")

// NewSchedule returns the schedule of b's manifest. It refuses a manifest
// whose closes is not after its opens: the manifest's rules check each
// time's form only (SPEC.md §4), and acting on such a window would open
// and close at once.
func NewSchedule(b *Board, cfg ScheduleConfig) (*Schedule, error) {
	s := &Schedule{b: b, log: cfg.Logger, counter: cfg.Counter, now: cfg.Now, after: cfg.After, retry: cfg.Retry}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.counter == nil {
		s.counter = NewCounter(b)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.retry <= 0 {
		s.retry = 10 * time.Second
	}
	m := b.Manifest()
	var err error
	if m.Opens != "" {
		if s.opens, err = ballot.ParseTime(m.Opens); err != nil {
			return nil, err
		}
	}
	if m.Closes != "" {
		if s.closes, err = ballot.ParseTime(m.Closes); err != nil {
			return nil, err
		}
	}
	if !s.opens.IsZero() && !s.closes.IsZero() && !s.closes.After(s.opens) {
		return nil, fmt.Errorf("%w (opens %s, closes %s)", ErrScheduleOrder, m.Opens, m.Closes)
	}
	return s, nil
}

// Times are the manifest's opens and closes; a zero time is one it does
// not name.
func (s *Schedule) Times() (opens, closes time.Time) { return s.opens, s.closes }

// Run acts on the schedule until it has nothing left to do or ctx is
// done.
func (s *Schedule) Run(ctx context.Context) {
	for ctx.Err() == nil {
		next, more := s.Step(ctx)
		if !more {
			return
		}
		d := min(next.Sub(s.now()), maxWait)
		if d <= 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.after(d):
		}
	}
}

// Step does what the schedule asks for now, if anything, and returns when
// to take the next step, or more false when nothing is left to do (voting
// closed, or no time left to act on).
func (s *Schedule) Step(ctx context.Context) (next time.Time, more bool) {
	now := s.now()
	phase, err := s.b.Phase()
	if err != nil {
		s.refused(now, "cannot read the election's phase from the log: "+err.Error())
		return now.Add(s.retry), true
	}
	switch phase {
	case "ceremony":
		switch {
		case !s.closes.IsZero() && !now.Before(s.closes):
			s.log.Error("schedule: the manifest's closing time has passed and voting never opened; the schedule will not open it (evote board open still can)", "closes", s.b.manifest.Closes)
			return time.Time{}, false
		case s.opens.IsZero() && s.closes.IsZero():
			return time.Time{}, false
		case s.opens.IsZero():
			return s.closes, true // opened by hand, if at all: look again at closing time
		case now.Before(s.opens):
			return s.opens, true
		}
		// OpenVoting, asked to go on without no one, refuses while any
		// trustee is missing and names them: the schedule never decides to
		// leave one behind.
		if _, err := s.b.OpenVoting(ctx); err != nil && !errors.Is(err, ErrAlreadyOpen) {
			s.refused(now, "not opening at the manifest's opening time "+s.b.manifest.Opens+": "+err.Error()+"; the schedule opens only with every trustee in the ceremony and tries again every "+s.retry.String()+" (evote trustee status says what each one waits for; evote board open --without opens without one, saying what the election loses)")
			return now.Add(s.retry), true
		} else if err == nil {
			s.log.Info("schedule: voting opened at the manifest's opening time", "opens", s.b.manifest.Opens)
		}
		s.lastRefusal = ""
		return now, true
	case "open":
		switch {
		case s.closes.IsZero():
			return time.Time{}, false
		case now.Before(s.closes):
			return s.closes, true
		}
		if least := s.b.manifest.MinBallots; least > 0 {
			n, err := s.counter.Read()
			if err != nil {
				s.refused(now, "not closing at the manifest's closing time: cannot count the ballots: "+err.Error())
				return now.Add(s.retry), true
			}
			if n.Counted < uint64(least) {
				s.refused(now, fmt.Sprintf("not closing at the manifest's closing time %s: %d ballots are counted, fewer than the %d the manifest sets as the least a tally may be decrypted from (min_ballots), so the trustees would decrypt no result; voting stays open and the schedule closes it once %d are counted (evote board close --accept-untallied ends it now, with no result)", s.b.manifest.Closes, n.Counted, least, least))
				return now.Add(s.retry), true
			}
		}
		if _, err := s.b.CloseVoting(ctx); err != nil && !errors.Is(err, ErrClosed) {
			s.refused(now, "not closing at the manifest's closing time "+s.b.manifest.Closes+": "+err.Error()+"; trying again every "+s.retry.String())
			return now.Add(s.retry), true
		} else if err == nil {
			s.log.Info("schedule: voting closed at the manifest's closing time", "closes", s.b.manifest.Closes)
		}
		return time.Time{}, false
	}
	return time.Time{}, false
}

// refused logs why the schedule did not act: at Error when the reason is
// new or was last logged refusalRepeat ago, at Debug otherwise.
func (s *Schedule) refused(now time.Time, why string) {
	if why != s.lastRefusal || now.Sub(s.loggedAt) >= refusalRepeat {
		s.log.Error("schedule: " + why)
		s.lastRefusal, s.loggedAt = why, now
		return
	}
	s.log.Debug("schedule: " + why)
}
