package board

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/evote/evote/store"
	"github.com/evote/evote/witness/httpwitness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Witness cosigns the board's checkpoints (C2SP tlog-witness
// add-checkpoint): given the size it last cosigned, a consistency proof
// from that size and a new signed checkpoint, it answers its cosignature
// lines, or refuses. The witness package's HTTP client is one.
type Witness interface {
	AddCheckpoint(ctx context.Context, oldSize uint64, proof tlog.TreeProof, signed []byte) (sigLines []byte, err error)
}

// A WitnessSizeError is a witness's refusal because it last cosigned
// another size than the board sent (409): KnownSize is that size, from
// which the board proves consistency next time.
type WitnessSizeError interface {
	error
	KnownSize() uint64
}

// ErrNoCosigned means no checkpoint of the size asked for has gathered its
// quorum of cosignatures yet.
var ErrNoCosigned = errors.New("board: no checkpoint of that size is cosigned by a quorum of witnesses yet")

// Cosigner gathers witnesses' cosignatures on the board's newest
// checkpoint, round after round while the log grows, and keeps the newest
// one that reaches the manifest's quorum. A witness cosigns a checkpoint
// only if it is consistent with every one it cosigned before, so a board
// that forks its log cannot gather a quorum for two histories; receipts,
// exports and a trustee's decrypt require the quorum (SPEC.md §10.5).
type Cosigner struct {
	log       store.Log
	board     note.Verifier
	verifiers []note.Verifier
	quorum    int
	slots     []*slot
	logger    *slog.Logger

	kick chan struct{}
	mu   sync.Mutex
	cond *sync.Cond
	best []byte // the newest cosigned checkpoint note
	size uint64 // its size
	fail error  // the last round's failure, when no quorum was reached
}

type slot struct {
	w     Witness
	busy  sync.Mutex // held while the witness is asked; known is under it
	known uint64     // the size the witness last cosigned (0: none yet)
}

// NewCosigner returns a cosigner of log's checkpoints (signed by board) by
// ws, whose cosignatures count when they verify under one of verifiers
// (the manifest's witnesses), quorum of them needed. Run drives it.
func NewCosigner(log store.Log, board note.Verifier, ws []Witness, verifiers []note.Verifier, quorum int, logger *slog.Logger) *Cosigner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cosigner{log: log, board: board, verifiers: verifiers, quorum: quorum, logger: logger, kick: make(chan struct{}, 1)}
	c.cond = sync.NewCond(&c.mu)
	for _, w := range ws {
		c.slots = append(c.slots, &slot{w: w})
	}
	return c
}

// Kick asks for a round soon: the log grew.
func (c *Cosigner) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Run gathers cosignatures until ctx ends: a round whenever kicked, and at
// least every interval.
func (c *Cosigner) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer func() {
		c.mu.Lock()
		c.fail = ctx.Err()
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	for {
		c.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		case <-t.C:
		}
	}
}

// witnessTimeout bounds one witness's answer, well under what a receipt
// waits for a cosigned checkpoint (cosignedWait): a witness that is slow
// or silent cannot hold a round back.
const witnessTimeout = 3 * time.Second

// Round asks every witness, at once, to cosign the board's newest
// checkpoint, and keeps it as soon as the witnesses' lines that verify
// reach the quorum; slower witnesses finish in the background (a witness
// still busy with an earlier round is not asked again). Each witness's
// answer is checked on its own, and only its one line that verifies is
// kept: a witness that answers garbage, many lines or lines of other keys
// spoils nothing.
func (c *Cosigner) Round(ctx context.Context) {
	cp, err := c.log.Checkpoint(ctx)
	if err != nil {
		return
	}
	c.mu.Lock()
	have := c.size
	c.mu.Unlock()
	if cp.Size <= have {
		return
	}
	type answer struct {
		line []byte
		name string
	}
	answers := make(chan answer, len(c.slots))
	asked := 0
	for _, s := range c.slots {
		if !s.busy.TryLock() {
			continue
		}
		asked++
		go func() {
			defer s.busy.Unlock()
			actx, cancel := context.WithTimeout(ctx, witnessTimeout)
			defer cancel()
			l, err := c.ask(actx, s, cp)
			if err != nil {
				c.logger.Warn("a witness did not cosign", "witness", fmt.Sprint(s.w), "size", cp.Size, "err", err)
				answers <- answer{}
				return
			}
			line, name := c.verifiedLine(cp, l)
			answers <- answer{line, name}
		}()
	}
	signed := bytes.Clone(cp.Signed)
	got := map[string]bool{}
	for range asked {
		a := <-answers
		if a.line == nil || got[a.name] {
			continue
		}
		signed = append(signed, a.line...)
		got[a.name] = true
		if len(got) >= c.quorum {
			break
		}
	}
	_, err = store.OpenCosigned(signed, c.board, c.verifiers, c.quorum)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.fail = err
		c.logger.Error("the board's checkpoint did not gather its quorum of witness cosignatures", "size", cp.Size, "err", err)
		return
	}
	if cp.Size > c.size {
		c.best, c.size, c.fail = signed, cp.Size, nil
		c.cond.Broadcast()
	}
}

// verifiedLine is the one line of a witness's answer that cosigns cp
// under one of the manifest's witness keys, and that witness's name; nil
// if none does.
func (c *Cosigner) verifiedLine(cp *store.Checkpoint, answer []byte) ([]byte, string) {
	for _, line := range bytes.SplitAfter(answer, []byte("\n")) {
		if len(line) == 0 || line[len(line)-1] != '\n' {
			continue
		}
		if cs, err := store.OpenCosigned(append(bytes.Clone(cp.Signed), line...), c.board, c.verifiers, 1); err == nil {
			return line, cs.Cosigners[0]
		}
	}
	return nil, ""
}

// ask gets one witness's cosignature lines for cp, proving consistency
// from the size it last cosigned; after a 409 it learns that size and asks
// once more.
func (c *Cosigner) ask(ctx context.Context, s *slot, cp *store.Checkpoint) ([]byte, error) {
	for try := 0; try < 2; try++ {
		var proof tlog.TreeProof
		if s.known > cp.Size {
			return nil, fmt.Errorf("board: the witness has cosigned size %d, beyond the board's %d", s.known, cp.Size)
		}
		if s.known > 0 && s.known < cp.Size {
			p, err := c.log.ProveConsistency(s.known, cp.Size)
			if err != nil {
				return nil, err
			}
			proof = p
		}
		lines, err := s.w.AddCheckpoint(ctx, s.known, proof, cp.Signed)
		var se WitnessSizeError
		if errors.As(err, &se) && try == 0 {
			s.known = se.KnownSize()
			continue
		}
		if err != nil {
			return nil, err
		}
		s.known = cp.Size
		return lines, nil
	}
	return nil, errors.New("board: the witness keeps refusing the size it last cosigned")
}

// Cosigned returns the newest checkpoint note cosigned by a quorum whose
// size is at least minSize, waiting up to wait for a round to reach it.
func (c *Cosigner) Cosigned(ctx context.Context, minSize uint64, wait time.Duration) ([]byte, error) {
	c.Kick()
	deadline := time.Now().Add(wait)
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	timer := time.AfterFunc(wait, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.size < minSize || c.best == nil {
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			if c.fail != nil {
				return nil, fmt.Errorf("%w (the last round: %v)", ErrNoCosigned, c.fail)
			}
			return nil, ErrNoCosigned
		}
		c.cond.Wait()
	}
	return c.best, nil
}

// HTTPWitness is the witness at url (its add-checkpoint prefix) over HTTP;
// hc nil means http.DefaultClient.
func HTTPWitness(url string, hc *http.Client) Witness { return httpWitness{url, hc} }

type httpWitness struct {
	url string
	hc  *http.Client
}

func (w httpWitness) AddCheckpoint(ctx context.Context, oldSize uint64, proof tlog.TreeProof, signed []byte) ([]byte, error) {
	lines, err := httpwitness.AddCheckpoint(ctx, w.url, w.hc, oldSize, proof, signed)
	var ce *httpwitness.ConflictError
	if errors.As(err, &ce) {
		return nil, sizeError{ce}
	}
	return lines, err
}

func (w httpWitness) String() string { return w.url }

type sizeError struct{ *httpwitness.ConflictError }

func (e sizeError) KnownSize() uint64 { return e.Size }
