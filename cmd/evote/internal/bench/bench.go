// Package bench measures evote for researchers: each primitive on its own,
// a whole election end to end (tokens, casting over HTTP, tally, verifying
// the record), and the floor — the time this same machine needs, in this
// same run, for the group operations a ballot's verification cannot avoid
// (decoding its points and its share of one large multi-scalar
// multiplication) — so that every figure can be read as a ratio to what the
// hardware allows rather than as a number from an unknown machine.
//
// Every figure is the median of several runs, with the fastest and slowest
// run beside it: machines are shared and noisy, and a median with its spread
// says how much to trust it.
package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/loadtest"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/threshold"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/crypto/zkp"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"github.com/gtank/ristretto255"
	"golang.org/x/mod/sumdb/note"
)

// Options set the size of a run.
type Options struct {
	Ballots int // ballots in the end-to-end election (default 2,000)
	Runs    int // runs per figure (default 5)
	// Progress, if set, is told what is being measured.
	Progress func(what string)
}

// Figure is one measurement: operations per second over Runs runs.
type Figure struct {
	Name   string  `json:"name"`
	Median float64 `json:"ops_per_s"`
	Min    float64 `json:"min_ops_per_s"`
	Max    float64 `json:"max_ops_per_s"`
	// MicrosPerOp is 1e6 / Median: wall time per operation with all
	// cores available to it.
	MicrosPerOp float64 `json:"us_per_op"`
	// FloorRatio is MicrosPerOp over the floor, for figures that verify
	// ballots.
	FloorRatio float64 `json:"floor_ratio,omitempty"`
}

// Report is a whole run. Its JSON keys are stable: tools read them.
type Report struct {
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	Ballots   int    `json:"ballots"`
	Runs      int    `json:"runs"`

	// FloorMicros is the floor per 1-of-2 ballot, in µs of wall time on
	// all cores: decoding its 8 points and its share of one multi-scalar
	// multiplication over 1,024 ballots' points.
	FloorMicros float64 `json:"floor_us_per_ballot"`

	CastBallotsPerS   float64 `json:"cast_ballots_per_s"`
	CastP50ms         float64 `json:"cast_p50_ms"`
	CastP99ms         float64 `json:"cast_p99_ms"`
	VerifyBallotsPerS float64 `json:"verify_ballots_per_s"`
	VerifyFloorRatio  float64 `json:"verify_floor_ratio"`
	IssueTokensPerS   float64 `json:"issue_tokens_per_s"`
	// IssueTokensEmailPerS and IssueTokensTOTPPerS are tokens issued over
	// HTTP with a second factor: the enrolment code, then a one-time code
	// (two requests; the code handed to an in-memory sender, so the mail
	// server's time is not in it), or an authenticator's code (one
	// request).
	IssueTokensEmailPerS float64 `json:"issue_tokens_email_otp_per_s"`
	IssueTokensTOTPPerS  float64 `json:"issue_tokens_totp_per_s"`
	// BlindSignOverSignPSS is the time of one blind signature over one
	// rsa.SignPSS on a key of the same size, measured in the same run.
	BlindSignOverSignPSS float64 `json:"blind_sign_over_sign_pss"`
	TallySeconds         float64 `json:"tally_seconds"`

	Primitives []Figure `json:"primitives"`
}

func (o *Options) defaults() {
	if o.Ballots <= 0 {
		o.Ballots = 2000
	}
	if o.Runs <= 0 {
		o.Runs = 5
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// measure runs fn (which does n operations) runs times and returns the
// median, slowest and fastest rate.
func measure(name string, runs, n int, fn func() error) (Figure, error) {
	var rates []float64
	for r := 0; r < runs; r++ {
		start := time.Now()
		if err := fn(); err != nil {
			return Figure{}, fmt.Errorf("bench: %s: %w", name, err)
		}
		rates = append(rates, float64(n)/time.Since(start).Seconds())
	}
	slices.Sort(rates)
	med := rates[len(rates)/2]
	return Figure{Name: name, Median: med, Min: rates[0], Max: rates[len(rates)-1], MicrosPerOp: 1e6 / med}, nil
}

// parallel runs fn(i) for i in [0, n) on every core.
func parallel(n int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// Run measures everything. It needs a writable temporary directory and
// loopback networking.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	rep := &Report{Cores: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), Ballots: o.Ballots, Runs: o.Runs}
	dir, err := os.MkdirTemp("", "evote-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	o.Progress("issuer key and election")
	isk, err := token.GenerateKey(2048)
	if err != nil {
		return nil, err
	}
	e, err := sim.New(sim.Options{Dir: dir + "/board", Issuer: isk})
	if err != nil {
		return nil, err
	}
	defer e.Close()

	o.Progress("floor")
	if rep.FloorMicros, err = floor(o.Runs); err != nil {
		return nil, err
	}
	o.Progress("primitives")
	if rep.Primitives, err = primitives(e, o, rep.FloorMicros, dir); err != nil {
		return nil, err
	}
	var blindUS, pssUS float64
	for _, f := range rep.Primitives {
		switch f.Name {
		case "token_issue":
			blindUS = f.MicrosPerOp
		case "rsa_sign_pss":
			pssUS = f.MicrosPerOp
		}
	}
	rep.BlindSignOverSignPSS = blindUS / pssUS
	o.Progress("tokens over HTTP with a second factor (e-mailed code, TOTP)")
	if err := secondFactor(ctx, o, isk, dir, rep); err != nil {
		return nil, err
	}
	o.Progress(fmt.Sprintf("election: %d voters get tokens and cast over HTTP", o.Ballots))
	if err := endToEnd(ctx, o, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// floor times the group operations inherent to verifying 1-of-2 ballots:
// 8 point decodings each (token key, ciphertext's 2, the 0/1 proof's 4
// commitments, the signature's commitment) and one multi-scalar
// multiplication over all their points with batch-sized scalars, on all
// cores.
func floor(runs int) (float64, error) {
	run := newFloor()
	f, err := measure("floor", runs, floorBallots, run)
	return f.MicrosPerOp, err
}

const floorBallots = 1024

// newFloor prepares the floor's points and returns one timed run of it.
func newFloor() func() error {
	const pts = 8
	encs := make([][]byte, floorBallots*pts)
	scalars := make([]*ristretto255.Scalar, len(encs))
	points := make([]*ristretto255.Element, len(encs))
	for i := range encs {
		s, _ := elgamal.RandomScalar(nil)
		points[i] = ristretto255.NewIdentityElement().ScalarBaseMult(s)
		encs[i] = points[i].Bytes()
		if i%2 == 0 { // half the terms carry only a 128-bit batch weight
			var w [32]byte
			rand.Read(w[:16])
			s, _ = elgamal.ParseScalar(w[:])
		}
		scalars[i] = s
	}
	return func() error {
		if err := parallel(len(encs), func(i int) error {
			_, err := elgamal.ParseElement(encs[i])
			return err
		}); err != nil {
			return err
		}
		zkp.MSM(scalars, points)
		return nil
	}
}

func primitives(e *sim.Election, o Options, floorUS float64, dir string) ([]Figure, error) {
	var out []Figure
	add := func(f Figure, err error) error {
		if err == nil {
			out = append(out, f)
		}
		return err
	}
	el := e.Board.Election()
	const k = 64
	voters := make([]*sim.Voter, k)
	for i := range voters {
		v, err := e.Voter()
		if err != nil {
			return nil, err
		}
		voters[i] = v
	}
	if err := add(measure("encrypt_and_prove_1of2", o.Runs, k, func() error {
		return parallel(k, func(i int) error {
			_, err := e.Ballot(voters[i], []int{i % 2})
			return err
		})
	})); err != nil {
		return nil, err
	}
	const nb = 1024
	bs := make([]*ballot.Ballot, nb)
	for i := range bs {
		raw, err := e.Ballot(voters[i%k], []int{i % 2})
		if err != nil {
			return nil, err
		}
		if bs[i], err = ballot.Parse(el, raw); err != nil {
			return nil, err
		}
	}
	f, err := measure("ballot_verify_1of2", o.Runs, k, func() error {
		return parallel(k, func(i int) error {
			b, err := ballot.Parse(el, bs[i].Bytes())
			if err != nil {
				return err
			}
			return ballot.Verify(el, b)
		})
	})
	f.FloorRatio = f.MicrosPerOp / floorUS
	if err := add(f, err); err != nil {
		return nil, err
	}
	f, err = measure("batch_verify_1of2", o.Runs, nb, func() error {
		// Parse and verify in chunks on every core, as the verifier does.
		const chunk = 512
		return parallel(nb/chunk, func(c int) error {
			part := make([]*ballot.Ballot, chunk)
			for i := range part {
				b, err := ballot.Parse(el, bs[c*chunk+i].Bytes())
				if err != nil {
					return err
				}
				part[i] = b
			}
			for _, err := range ballot.VerifyBatch(el, part) {
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	f.FloorRatio = f.MicrosPerOp / floorUS
	if err := add(f, err); err != nil {
		return nil, err
	}
	m := el.Manifest
	// 128 signatures a run: at 16 the runs were 15 ms each and the ratio to
	// SignPSS swung from 0.96 to 1.27 between runs on a quiet machine.
	blinded := make([][]byte, 128)
	for i := range blinded {
		var err error
		if blinded[i], _, err = token.Blind(rand.Reader, m.Issuer(), m.ID(), voters[i%k].Key.Bytes()); err != nil {
			return nil, err
		}
	}
	if err := add(measure("token_issue", o.Runs, len(blinded), func() error {
		return parallel(len(blinded), func(i int) error {
			_, err := e.Issuer.Sign(blinded[i])
			return err
		})
	})); err != nil {
		return nil, err
	}
	// rsa.SignPSS on a key of the same size, in the same run: the blind
	// signature is the same private operation (CRT on bigmod, checked with
	// the public key), so the two should cost about alike.
	rk, err := rsa.GenerateKey(rand.Reader, m.Issuer().Size()*8)
	if err != nil {
		return nil, err
	}
	digest := sha512.Sum384([]byte("evote bench"))
	if err := add(measure("rsa_sign_pss", o.Runs, len(blinded), func() error {
		return parallel(len(blinded), func(int) error {
			_, err := rsa.SignPSS(rand.Reader, rk, crypto.SHA384, digest[:], &rsa.PSSOptions{SaltLength: 48})
			return err
		})
	})); err != nil {
		return nil, err
	}
	if err := add(measure("token_verify", o.Runs, k, func() error {
		return parallel(k, func(i int) error {
			return token.Verify(m.Issuer(), m.ID(), voters[i].Key.Bytes(), voters[i].Token)
		})
	})); err != nil {
		return nil, err
	}
	ag := tally.NewAggregator(el)
	for _, b := range bs {
		ag.Add(b)
	}
	agg := ag.Aggregate()
	ct := agg.Questions[0][0]
	ks := e.Shares[0]
	ctx := []byte("bench")
	if err := add(measure("partial_decrypt", o.Runs, k, func() error {
		return parallel(k, func(int) error {
			_, err := threshold.PartialDecrypt(nil, ctx, ks.Index, ks.Secret, ks.VerificationKey, ct)
			return err
		})
	})); err != nil {
		return nil, err
	}
	var parts []*threshold.Partial
	for _, s := range e.Shares[:2] {
		p, err := threshold.PartialDecrypt(nil, ctx, s.Index, s.Secret, s.VerificationKey, ct)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	if err := add(measure("combine_2of3", o.Runs, k, func() error {
		return parallel(k, func(int) error {
			_, err := threshold.Combine(ct, parts, 2)
			return err
		})
	})); err != nil {
		return nil, err
	}
	f, err = boardAppend(o, dir)
	if err := add(f, err); err != nil {
		return nil, err
	}
	return out, nil
}

// boardAppend times durable appends of 300-byte leaves from 64 concurrent
// writers with group commit.
func boardAppend(o Options, dir string) (Figure, error) {
	skey, _, err := note.GenerateKey(rand.Reader, "bench.append")
	if err != nil {
		return Figure{}, err
	}
	signer, _ := note.NewSigner(skey)
	const n, writers = 4000, 64
	run := 0
	return measure("board_append", o.Runs, n, func() error {
		run++
		log, err := bolt.Open(fmt.Sprintf("%s/append-%d", dir, run), signer, nil)
		if err != nil {
			return err
		}
		defer log.Close()
		ctx := context.Background()
		if _, err := log.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("{}"))}); err != nil {
			return err
		}
		body := bytes.Repeat([]byte{7}, 300)
		var next atomic.Int64
		var first error
		var once sync.Once
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= n {
					if _, err := log.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, body)}); err != nil {
						once.Do(func() { first = err })
						return
					}
				}
			}()
		}
		wg.Wait()
		return first
	})
}

// endToEnd runs an election: tokens from an issuer and casts to the board,
// both real HTTP servers on loopback, then the tally and the verification
// of the exported record.
func endToEnd(ctx context.Context, o Options, rep *Report) error {
	const conns = 64
	site, err := loadtest.StartLocal(ctx, o.Ballots, o.Ballots, conns)
	if err != nil {
		return err
	}
	defer site.Stop()
	lr, err := loadtest.Run(ctx, site.Config)
	if err != nil {
		return err
	}
	if lr.Errors > 0 {
		return fmt.Errorf("bench: %d of %d casts failed: %s", lr.Errors, lr.Ballots, lr.FirstError)
	}
	rep.CastBallotsPerS, rep.CastP50ms, rep.CastP99ms = lr.BallotsPerS, lr.P50ms, lr.P99ms
	rep.IssueTokensPerS = lr.TokensPerS

	e := site.Election
	o.Progress("tally")
	start := time.Now()
	if _, err := e.Tally(); err != nil {
		return err
	}
	rep.TallySeconds = time.Since(start).Seconds()

	o.Progress("verify the record")
	rec, err := e.Export()
	if err != nil {
		return err
	}
	// The machine's speed drifts (shared hosts), so each verification run
	// is paired with a floor run just before it, and the ratio is the median
	// of the pairs'.
	floorRun := newFloor()
	var rates, ratios []float64
	for r := 0; r < o.Runs; r++ {
		t0 := time.Now()
		if err := floorRun(); err != nil {
			return err
		}
		floorUS := time.Since(t0).Seconds() * 1e6 / floorBallots
		t1 := time.Now()
		res, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{})
		if err != nil {
			return err
		}
		if !res.OK {
			return fmt.Errorf("bench: the record does not verify")
		}
		verifyUS := time.Since(t1).Seconds() * 1e6 / float64(o.Ballots)
		rates = append(rates, 1e6/verifyUS)
		ratios = append(ratios, verifyUS/floorUS)
	}
	slices.Sort(rates)
	slices.Sort(ratios)
	rep.VerifyBallotsPerS = rates[len(rates)/2]
	rep.VerifyFloorRatio = ratios[len(ratios)/2]
	return nil
}
