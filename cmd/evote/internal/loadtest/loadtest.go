// Package loadtest drives a running issuer and board over HTTP the way an
// election's busiest hour does, and measures them.
//
// It works in three phases so that the load generator competes with the
// services for the CPU as little as it must: first every voter gets a token
// from the issuer (timed: tokens per second), then every ballot is encrypted
// in advance (not timed), then the ballots are cast from many concurrent
// connections, flat out or at a fixed rate, and each cast's latency is
// recorded from request to checked receipt. Receipts are checked as a voter's
// client would (tracking code, board signature, inclusion proof). The casts
// may go round-robin to several board processes of one election on one
// store (Config.Boards), each receipt checked against the board that gave
// it.
//
// The preset Rousseau2019 replays the busiest day of the platform evote
// replaces (3 September 2019): 79,634 ballots from 117,194 eligible voters,
// of which the first two hours' peak of 29,781 is what the test compresses
// into as short a time as the machine allows.
package loadtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/evote/evote/issuer/issuerapi"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/voter"
	"github.com/gtank/ristretto255"
	"golang.org/x/mod/sumdb/note"
)

// Rousseau2019 is the busiest day of the platform evote replaces.
var Rousseau2019 = Preset{Name: "rousseau-2019", Eligible: 117194, Ballots: 79634, PeakBallots: 29781, PeakHours: 2}

// Preset describes a day to replay.
type Preset struct {
	Name        string
	Eligible    int
	Ballots     int
	PeakBallots int // cast in the first PeakHours hours
	PeakHours   float64
}

// Voter is one roll line handed to a voter.
type Voter struct{ ID, Code string }

// Config sets up a run.
type Config struct {
	Issuer   voter.Issuer // such as an *issuerapi.Client
	Board    voter.Board  // such as a *boardapi.Client
	BoardKey note.Verifier
	// ManifestHash pins the election (voter.Client.ManifestHash).
	ManifestHash [32]byte
	Voters       []Voter // one ballot each
	// Boards, if set, are several boards of the one election (board
	// processes on one store) to cast through instead of Board: cast i
	// goes to Boards[i % len(Boards)], and its receipt is checked against
	// the board that gave it, which first reads and checks the election
	// itself. Board is then not used.
	Boards []voter.Board
	// Connections is the number of concurrent casting clients (default 64).
	Connections int
	// Rate is the target ballots per second; 0 casts flat out.
	Rate float64
	// Progress, if set, is called as ballots are prepared and cast.
	Progress func(phase string, done, total int)
	// BeforeCast and AfterCast, if set, are called just before the timed
	// casting starts and just after its last receipt, outside the timed
	// span: to sample the services' CPU time around it.
	BeforeCast, AfterCast func() error
	// Hold is a number of idle keep-alive connections to hold open against
	// the board (at BoardURL, over TLS with TLS if https) while the ballots
	// are cast: the crowd that sits on the board's page. Each makes one
	// request when opened, one every 30 s, and one after the casting to
	// show it is still held. Both ends of each take a file descriptor.
	Hold     int
	BoardURL string
	TLS      *tls.Config
}

// Report is what a run measured.
type Report struct {
	Tokens         int           `json:"tokens"`
	IssueSeconds   float64       `json:"issue_seconds"`
	TokensPerS     float64       `json:"issue_tokens_per_s"`
	Ballots        int           `json:"ballots"`
	Errors         int           `json:"errors"`
	FirstError     string        `json:"first_error,omitempty"`
	CastSeconds    float64       `json:"cast_seconds"`
	BallotsPerS    float64       `json:"cast_ballots_per_s"`
	TargetRate     float64       `json:"target_rate,omitempty"`
	Connections    int           `json:"connections"`
	P50, P99, P999 time.Duration `json:"-"`
	P50ms          float64       `json:"p50_ms"`
	P99ms          float64       `json:"p99_ms"`
	P999ms         float64       `json:"p999_ms"`

	// PerBoard counts the casts sent to each board, when there were more
	// than one (Config.Boards).
	PerBoard []int `json:"per_board,omitempty"`
	// Hold figures: connections asked for, still held and answering after
	// the casting, and those that could not be opened or were dropped.
	Hold         int     `json:"hold,omitempty"`
	Held         int     `json:"held,omitempty"`
	HoldErrors   int     `json:"hold_errors,omitempty"`
	HoldFirstErr string  `json:"hold_first_error,omitempty"`
	HoldOpenSecs float64 `json:"hold_open_seconds,omitempty"`
}

// Run prepares and casts one ballot per voter.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Connections <= 0 {
		cfg.Connections = 64
	}
	boards := cfg.Boards
	if len(boards) == 0 {
		boards = []voter.Board{cfg.Board}
	}
	// One voter client a board, each reading and checking the election
	// from its own board; the first one's election encrypts the ballots.
	vcs := make([]*voter.Client, len(boards))
	var e *ballot.Election
	for i, b := range boards {
		vcs[i] = &voter.Client{Issuer: cfg.Issuer, Board: b, BoardKey: cfg.BoardKey, ManifestHash: cfg.ManifestHash}
		ei, err := vcs[i].Election(ctx)
		if err != nil {
			if len(boards) > 1 {
				return nil, fmt.Errorf("board %d of %d: %w", i+1, len(boards), err)
			}
			return nil, err
		}
		if i == 0 {
			e = ei
		} else if ei.Manifest.Hash() != e.Manifest.Hash() {
			return nil, fmt.Errorf("board %d of %d serves another election than board 1", i+1, len(boards))
		}
	}
	rep := &Report{Connections: cfg.Connections, TargetRate: cfg.Rate}
	var perBoard []atomic.Int64
	if len(boards) > 1 {
		perBoard = make([]atomic.Int64, len(boards))
	}

	// Phase 1: tokens, over HTTP, timed.
	type prepared struct {
		v   Voter
		raw []byte
	}
	items := make([]prepared, len(cfg.Voters))
	tokens := make([]*token.Token, len(cfg.Voters))
	secrets := make([]*ristretto255.Scalar, len(cfg.Voters))
	keys := make([]*elgamal.PublicKey, len(cfg.Voters))
	start := time.Now()
	err := parallel(ctx, len(cfg.Voters), cfg.Connections, func(i int) error {
		x, pk, err := ballot.GenerateTokenKey(nil)
		if err != nil {
			return err
		}
		blinded, st, err := token.Blind(rand.Reader, e.Manifest.Issuer(), e.Manifest.ID(), pk.Bytes())
		if err != nil {
			return err
		}
		sig, err := cfg.Issuer.RequestToken(ctx, issuerapi.Credentials{VoterID: cfg.Voters[i].ID, Code: cfg.Voters[i].Code}, blinded)
		if err != nil {
			return fmt.Errorf("token for %s: %w", cfg.Voters[i].ID, err)
		}
		if tokens[i], err = token.Finalize(st, sig); err != nil {
			return err
		}
		secrets[i], keys[i] = x, pk
		return nil
	}, progress(cfg.Progress, "tokens"))
	if err != nil {
		return nil, err
	}
	rep.Tokens = len(cfg.Voters)
	rep.IssueSeconds = time.Since(start).Seconds()
	rep.TokensPerS = float64(rep.Tokens) / rep.IssueSeconds

	// Phase 2: encrypt every ballot in advance, untimed.
	err = parallel(ctx, len(cfg.Voters), 0, func(i int) error {
		b, err := ballot.Encrypt(nil, e, secrets[i], keys[i], tokens[i], randomSelections(e.Manifest, i))
		if err != nil {
			return err
		}
		items[i] = prepared{cfg.Voters[i], b.Bytes()}
		return nil
	}, progress(cfg.Progress, "ballots"))
	if err != nil {
		return nil, err
	}

	// The held crowd, opened before the casting and checked after it.
	var crowd *holder
	if cfg.Hold > 0 {
		if cfg.BoardURL == "" {
			return nil, errors.New("loadtest: Hold needs BoardURL")
		}
		t0 := time.Now()
		if crowd, err = startHold(ctx, cfg.BoardURL, cfg.TLS, cfg.Hold); err != nil {
			return nil, err
		}
		rep.Hold, rep.HoldOpenSecs = cfg.Hold, time.Since(t0).Seconds()
		if cfg.Progress != nil {
			cfg.Progress("hold", cfg.Hold-int(crowd.failed.Load()), cfg.Hold)
		}
	}

	// Phase 3: cast, timed, each latency from request to checked receipt.
	if cfg.BeforeCast != nil {
		if err := cfg.BeforeCast(); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, len(items))
	var errs atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64
	// At a fixed rate, a dispatcher releases one ballot a tick and latency
	// is measured from the scheduled time, so a board that falls behind
	// shows in it; flat out, each cast is timed from when it is sent.
	release := make(chan time.Time, len(items))
	go func() {
		defer close(release)
		begin := time.Now()
		for i := range items {
			if cfg.Rate <= 0 {
				release <- time.Time{} // flat out: timed from when a connection sends it
				continue
			}
			// Ballot i is due at begin + i/rate, whether or not the ones
			// before it were cast in time (no coordinated omission).
			at := begin.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			release <- at
		}
	}()
	start = time.Now()
	var wg sync.WaitGroup
	var done atomic.Int64
	for c := 0; c < cfg.Connections; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range release {
				if at.IsZero() {
					at = time.Now()
				}
				i := next.Add(1) - 1
				vc := vcs[i%int64(len(vcs))] // round-robin: cast i through board i mod n
				if perBoard != nil {
					perBoard[i%int64(len(vcs))].Add(1)
				}
				if _, err := vc.Cast(ctx, e, items[i].raw); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				lat[i] = time.Since(at)
				if cfg.Progress != nil {
					cfg.Progress("cast", int(done.Add(1)), len(items))
				}
			}
		}()
	}
	wg.Wait()
	rep.CastSeconds = time.Since(start).Seconds()
	if cfg.AfterCast != nil {
		if err := cfg.AfterCast(); err != nil {
			return nil, err
		}
	}
	for i := range perBoard {
		rep.PerBoard = append(rep.PerBoard, int(perBoard[i].Load()))
	}
	if crowd != nil {
		rep.Held = crowd.finish()
		rep.HoldErrors = int(crowd.failed.Load())
		if s, ok := crowd.first.Load().(string); ok {
			rep.HoldFirstErr = s
		}
	}
	rep.Ballots = len(items)
	rep.Errors = int(errs.Load())
	if s, ok := firstErr.Load().(string); ok {
		rep.FirstError = s
	}
	rep.BallotsPerS = float64(rep.Ballots-rep.Errors) / rep.CastSeconds
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	rep.P50, rep.P99, rep.P999 = pct(0.50), pct(0.99), pct(0.999)
	rep.P50ms, rep.P99ms, rep.P999ms = ms(rep.P50), ms(rep.P99), ms(rep.P999)
	if rep.Errors == rep.Ballots && rep.Ballots > 0 {
		return rep, errors.New("loadtest: every cast failed: " + rep.FirstError)
	}
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func progress(fn func(string, int, int), phase string) func(done, total int) {
	if fn == nil {
		return nil
	}
	return func(done, total int) { fn(phase, done, total) }
}

// parallel runs fn(0..n-1) on workers goroutines (0: one a core, times
// two), stopping at the first error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error, prog func(done, total int)) error {
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	var next, done atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
				if prog != nil {
					prog(int(done.Add(1)), n)
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// randomSelections picks a valid answer for every question, varied by i.
func randomSelections(m *ballot.Manifest, i int) [][]int {
	sel := make([][]int, len(m.Questions))
	for q, qu := range m.Questions {
		k := qu.Min
		if qu.Max > qu.Min {
			k += i % (qu.Max - qu.Min + 1)
		}
		for c := 0; c < k; c++ {
			sel[q] = append(sel[q], (i+c)%len(qu.Choices))
		}
	}
	return sel
}

// HTTPClient returns a client tuned for many concurrent connections to one
// host.
func HTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}, Timeout: 60 * time.Second}
}
