// Package demo runs a whole election on one machine, through the same HTTP
// APIs and packages a real deployment uses: an issuer and a board as HTTP
// servers on loopback, a key ceremony among three trustees posting through
// the board's API (trustee.RunLocal), voters casting concurrently with
// voter.Client, close, two of three trustees decrypting the aggregate they
// recompute themselves (trustee.Fetch), the tally, the export and an
// independent verification.
//
// With Options.Booth the board also serves the voting booth for the
// browser (package booth), and the election stays open, once the simulated
// voters have cast, until the context ends: people vote in their own
// browsers from the invitation links Run hands to Booth.Ready.
package demo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/trustee"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
)

// Options shape a demo election. The zero value (but for Dir) is usable.
type Options struct {
	Voters    int               // 0 means 100
	Dir       string            // working directory; must be given
	Out       string            // the exported record; "" means Dir/record.evr
	Questions []ballot.Question // extra questions after the default yes/no
	Workers   int               // concurrent voters; 0 means 32
	Seed      uint64            // seeds the voters' choices; 0 means random
	Stdout    io.Writer         // the report; nil means io.Discard
	Progress  *ops.Progress     // drawn while casting; may be nil
	Verify    *ops.Progress     // drawn while verifying; may be nil
	// Booth, if set, keeps the election open for people voting in the
	// browser once the simulated voters have cast.
	Booth *Booth
	// OpenLog and OpenRoll, if set, open the board's log and the issuer's
	// roll (evote demo --store); nil means bbolt files in Dir.
	OpenLog  func(note.Signer) (store.Log, error)
	OpenRoll func() (issuer.Roll, error)
}

// Booth keeps a demo election open for people: the roll holds Links more
// voters than Options.Voters, the board serves a booth built for the
// election at its root, and once the simulated voters have cast Run calls
// Ready and waits until its context ends (the user's Ctrl-C) before it
// closes, tallies, exports and verifies on a context of its own.
type Booth struct {
	Links  int    // voters on the roll kept for people
	Source string // the evote source the booth is compiled from ("" means ".")
	Ready  func(BoothReady)
	// Timeout bounds what follows the wait; 0 means 5 minutes.
	Timeout time.Duration
}

// BoothReady is what people need to vote: the booth's address and the
// invitations of the voters kept for them, with their links.
type BoothReady struct {
	URL         string
	Invitations []booth.Invitation
	Links       []string // Invitations[i]'s link, its code in the fragment
}

// Phase is one timed step.
type Phase struct {
	Name string
	Took time.Duration
}

// Outcome is what a demo did.
type Outcome struct {
	Manifest  *ballot.Manifest
	Expected  [][]uint64 // what was cast, [question][choice]
	Result    *tally.Result
	Report    *verify.Report
	Record    string // the exported record's path
	BoardKey  string // the board verifier key file's path
	Phases    []Phase
	BoardURL  string
	IssuerURL string
	// With Options.Booth: the booth's address, and how many of the
	// counted ballots came through it (the counted ballots minus the
	// simulated voters').
	BoothURL     string
	BoothBallots uint64
}

// Motion is the demo's default question.
var Motion = ballot.Question{ID: "motion", Text: "Adopt the motion?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}

// Run runs the election. It returns an error if any step fails, if the
// result differs from what was cast, or if the record does not verify.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if o.Voters == 0 {
		o.Voters = 100
	}
	if o.Voters < 0 {
		return nil, errors.New("the number of voters must be positive")
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Dir == "" {
		return nil, errors.New("demo: no working directory")
	}
	if o.Out == "" {
		o.Out = filepath.Join(o.Dir, "record.evr")
	}
	if o.Seed == 0 {
		o.Seed = mrand.Uint64()
	}
	links := 0
	if o.Booth != nil {
		if o.Booth.Links < 0 {
			return nil, errors.New("the number of links must not be negative")
		}
		links = o.Booth.Links
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &Outcome{}
	phase := func(name string, start time.Time) {
		out.Phases = append(out.Phases, Phase{name, time.Since(start)})
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Stdout, format+"\n", args...) }

	// The election stood up as a deployment runs it (sim.StartSite): the
	// issuer with a fresh roll and the board, each an HTTP server on
	// loopback, and the key ceremony among three trustees posted through
	// the board's HTTP API.
	start := time.Now()
	issKey, err := token.GenerateKey(token.DefaultKeyBits)
	if err != nil {
		return nil, err
	}
	var roll issuer.Roll
	if o.OpenRoll != nil {
		roll, err = o.OpenRoll()
	} else {
		roll, err = issuerbolt.Open(filepath.Join(o.Dir, "issuer-roll.db"))
	}
	if err != nil {
		return nil, err
	}
	defer roll.Close()
	so := sim.SiteOptions{
		Options: sim.Options{
			Dir: filepath.Join(o.Dir, "board"), Issuer: issKey, Title: "evote demo election", Origin: "demo.evote.example/board",
			Questions: append([]ballot.Question{Motion}, o.Questions...), N: 3, T: 2, Revoting: ballot.RevotingRefuse,
			OpenLog: o.OpenLog,
		},
		Voters: o.Voters + links, Roll: roll,
	}
	boothDir := filepath.Join(o.Dir, "booth")
	if o.Booth != nil {
		// The board's address serves the booth beside its API, so the
		// booth's page reaches the board on its own origin and the issuer
		// (another port) by CORS. The handler reads the directory on each
		// request: the booth is built into it once the site is up.
		if err := os.MkdirAll(boothDir, 0o755); err != nil {
			return nil, err
		}
		so.Front = func(_, boardURL string, api http.Handler) ([]string, http.Handler, error) {
			return []string{boardURL}, booth.Mount(api, booth.Handler(os.DirFS(boothDir))), nil
		}
	}
	site, err := sim.StartSite(ctx, so)
	if err != nil {
		return nil, fmt.Errorf("setting up (keys, roll, servers, key ceremony): %w", err)
	}
	defer site.Stop()
	m, boardKey, shares := site.Board.Manifest(), site.Verifier, site.Shares
	out.Manifest = m
	out.BoardKey = filepath.Join(o.Dir, "board.vkey")
	if err := os.WriteFile(out.BoardKey, []byte(site.VKey+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "manifest.json"), m.Bytes(), 0o644); err != nil {
		return nil, err
	}
	issURL, boardURL := site.IssuerURL, site.BoardURL
	out.BoardURL, out.IssuerURL = boardURL, issURL
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Workers * 2}, Timeout: 2 * time.Minute}
	defer hc.CloseIdleConnections() // before the servers shut down: they wait for open connections
	admin := site.Admin(hc)
	phase("setup, key ceremony (3 trustees, t=2)", start)
	say("issuer on %s, board on %s, %d voters on the roll", issURL, boardURL, o.Voters+links)

	if o.Booth != nil {
		start = time.Now()
		say("compiling the booth's voter client to WebAssembly (half a minute the first time)…")
		b, err := booth.Build(ctx, booth.Options{Manifest: m.Bytes(), BoardKey: site.VKey, Issuer: issURL, Source: o.Booth.Source})
		if err != nil {
			return nil, err
		}
		if err := b.Write(boothDir); err != nil {
			return nil, err
		}
		out.BoothURL = boardURL + "/"
		phase("booth build (WebAssembly)", start)
	}

	// Issuance and casting, by the simulated voters: the roll's first
	// o.Voters.
	start = time.Now()
	plan, expected := plan(m, o.Voters, o.Seed)
	out.Expected = expected
	if err := cast(ctx, o, hc, issURL, boardURL, boardKey, m.Hash(), site.Voters[:o.Voters], plan); err != nil {
		return nil, err
	}
	phase("issuance + casting", start)

	if o.Booth != nil {
		// The roll's last voters are the people's: their links, then the
		// wait for the user to close the election. What follows runs on
		// a context the interrupt that ended the wait does not cancel.
		r := BoothReady{URL: out.BoothURL}
		for _, v := range site.Voters[o.Voters:] {
			inv := booth.Invitation{ElectionID: hex.EncodeToString(m.ID()), VoterID: v[0], Code: v[1]}
			l, err := booth.Link(out.BoothURL, inv)
			if err != nil {
				return nil, err
			}
			r.Invitations = append(r.Invitations, inv)
			r.Links = append(r.Links, l)
		}
		if o.Booth.Ready != nil {
			o.Booth.Ready(r)
		}
		<-ctx.Done()
		timeout := o.Booth.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Minute
		}
		var cancelAfter context.CancelFunc
		ctx, cancelAfter = context.WithTimeout(context.WithoutCancel(parent), timeout)
		defer cancelAfter()
		say("closing the election")
	}

	start = time.Now()
	// The issuer states its counts (eligible voters, tokens issued) on
	// the board right after close: the record shows turnout, and the
	// verifier checks ballots counted ≤ tokens issued ≤ eligible.
	if _, err := site.Close(ctx); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	phase("close and the issuer's counts", start)

	// Trustees 1 and 2 decrypt, each from the record it fetched and
	// re-verified itself; then the tally combines and posts.
	start = time.Now()
	for _, ks := range shares[:2] {
		tl, err := trustee.Fetch(ctx, admin, boardKey, trustee.Options{})
		if err != nil {
			return nil, fmt.Errorf("trustee %d: %w", ks.Index, err)
		}
		s, err := tl.Decrypt(ks)
		if err != nil {
			return nil, fmt.Errorf("trustee %d: %w", ks.Index, err)
		}
		if _, err := admin.PostPartial(ctx, s.Bytes()); err != nil {
			return nil, fmt.Errorf("trustee %d: posting the partial decryption: %w", ks.Index, err)
		}
	}
	tl, err := trustee.Fetch(ctx, admin, boardKey, trustee.Options{})
	if err != nil {
		return nil, err
	}
	res, err := tl.Combine()
	if err != nil {
		return nil, err
	}
	if _, err := admin.PostResult(ctx, res.Bytes()); err != nil {
		return nil, fmt.Errorf("posting the result: %w", err)
	}
	out.Result = res
	phase("tally (2 trustees decrypt, combine)", start)

	start = time.Now()
	if err := export(ctx, admin, o.Out); err != nil {
		return nil, err
	}
	out.Record = o.Out
	phase("export", start)

	start = time.Now()
	f, err := os.Open(o.Out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vo := verify.Options{}
	if o.Verify != nil {
		vo.Progress = o.Verify.Set
	}
	rep, verr := verify.Record(f, boardKey, vo)
	o.Verify.Done()
	out.Report = rep
	phase("verify", start)
	if verr != nil {
		return out, fmt.Errorf("the exported record does not verify: %w", verr)
	}
	if o.Booth != nil {
		// People's choices in the booth are secret: of the result only
		// the simulated voters' part is known. Each of those ballots
		// stands (the board refuses a second ballot per token), so every
		// count is at least theirs; if nobody came through the booth the
		// result must be exactly theirs.
		if res.Ballots < uint64(o.Voters) {
			return out, fmt.Errorf("the result counts %d ballots, fewer than the %d the simulated voters cast", res.Ballots, o.Voters)
		}
		out.BoothBallots = res.Ballots - uint64(o.Voters)
		for q := range expected {
			for c := range expected[q] {
				if res.Counts[q][c] < expected[q][c] {
					return out, fmt.Errorf("question %s: the result %v counts less than the simulated voters cast %v", m.Questions[q].ID, res.Counts[q], expected[q])
				}
			}
		}
	}
	if out.BoothBallots == 0 {
		for q := range expected {
			if !slices.Equal(expected[q], res.Counts[q]) {
				return out, fmt.Errorf("question %s: the result %v is not what was cast %v", m.Questions[q].ID, res.Counts[q], expected[q])
			}
		}
	}
	if !rep.Result.Equal(res) {
		return out, errors.New("the verifier's result differs from the tally's")
	}
	return out, nil
}

// plan draws every voter's selections from the seed and counts them.
func plan(m *ballot.Manifest, voters int, seed uint64) ([][][]int, [][]uint64) {
	rnd := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	expected := make([][]uint64, len(m.Questions))
	for q := range m.Questions {
		expected[q] = make([]uint64, len(m.Questions[q].Choices))
	}
	plan := make([][][]int, voters)
	for v := range plan {
		plan[v] = make([][]int, len(m.Questions))
		for qi, q := range m.Questions {
			k := q.Min + rnd.IntN(q.Max-q.Min+1)
			sel := rnd.Perm(len(q.Choices))[:k]
			slices.Sort(sel)
			plan[v][qi] = sel
			for _, c := range sel {
				expected[qi][c]++
			}
		}
	}
	return plan, expected
}

func cast(ctx context.Context, o Options, hc *http.Client, issURL, boardURL string, key note.Verifier, manifestHash [32]byte, rows [][2]string, plan [][][]int) error {
	vc := &voter.Client{Issuer: issuerapi.NewClient(issURL, hc), Board: boardapi.NewClient(boardURL, hc), BoardKey: key, ManifestHash: manifestHash}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var done atomic.Uint64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if _, err := vc.Vote(ctx, rows[i][0], rows[i][1], plan[i]); err != nil {
					once.Do(func() { first = fmt.Errorf("%s: %w", rows[i][0], err); cancel() })
					continue
				}
				o.Progress.Set(done.Add(1), uint64(len(rows)))
			}
		}()
	}
feed:
	for i := range rows {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	o.Progress.Done()
	if first != nil {
		return fmt.Errorf("casting: %w", first)
	}
	return ctx.Err()
}

func export(ctx context.Context, c *boardapi.Client, path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.Export(ctx, f); err != nil {
		f.Close()
		return fmt.Errorf("export: %w", err)
	}
	return f.Close()
}
