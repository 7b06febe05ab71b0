// Package demo runs a whole election on one machine, through the same HTTP
// APIs and packages a real deployment uses: an issuer and a board as HTTP
// servers on loopback, a key ceremony among three trustees posting through
// the board's API (trustee.RunLocal), voters casting concurrently with
// voter.Client, close, two of three trustees decrypting the aggregate they
// recompute themselves (trustee.Fetch), the tally, the export and an
// independent verification.
package demo

import (
	"bytes"
	"context"
	"encoding/csv"
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
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	"github.com/evote/evote/issuer/issuerapi"
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
	roll, err := issuerbolt.Open(filepath.Join(o.Dir, "issuer-roll.db"))
	if err != nil {
		return nil, err
	}
	defer roll.Close()
	site, err := sim.StartSite(ctx, sim.SiteOptions{
		Options: sim.Options{
			Dir: filepath.Join(o.Dir, "board"), Issuer: issKey, Title: "evote demo election", Origin: "demo.evote.example/board",
			Questions: append([]ballot.Question{Motion}, o.Questions...), N: 3, T: 2, Revoting: ballot.RevotingRefuse,
		},
		Voters: o.Voters, Roll: roll,
	})
	if err != nil {
		return nil, fmt.Errorf("setting up (keys, roll, servers, key ceremony): %w", err)
	}
	defer site.Stop()
	m, boardKey, shares, rollCSV := site.Board.Manifest(), site.Verifier, site.Shares, site.RollCSV
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
	say("issuer on %s, board on %s, %d voters on the roll", issURL, boardURL, o.Voters)

	// Issuance and casting.
	start = time.Now()
	plan, expected := plan(m, o.Voters, o.Seed)
	out.Expected = expected
	if err := cast(ctx, o, hc, issURL, boardURL, boardKey, m.Hash(), rollCSV, plan); err != nil {
		return nil, err
	}
	phase("issuance + casting", start)

	start = time.Now()
	if _, err := admin.Close(ctx); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	phase("close", start)

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
	for q := range expected {
		if !slices.Equal(expected[q], res.Counts[q]) {
			return out, fmt.Errorf("question %s: the result %v is not what was cast %v", m.Questions[q].ID, res.Counts[q], expected[q])
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

func cast(ctx context.Context, o Options, hc *http.Client, issURL, boardURL string, key note.Verifier, manifestHash [32]byte, rollCSV []byte, plan [][][]int) error {
	rows, err := csv.NewReader(bytes.NewReader(rollCSV)).ReadAll()
	if err != nil {
		return err
	}
	rows = rows[1:]
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
