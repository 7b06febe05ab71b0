package board_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/note"
)

var ctx = context.Background()

func size(t *testing.T, e *electiontest.Election) uint64 {
	n, err := e.Log.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// refused checks that err is errTarget and that the log did not grow.
func refused(t *testing.T, e *electiontest.Election, before uint64, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
	if n := size(t, e); n != before {
		t.Fatalf("%s: refused, but the log grew from %d to %d entries", what, before, n)
	}
}

func TestElection(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	votes := []int{0, 0, 1, 0, 1, 0, 0}
	var receipts []*board.Receipt
	for _, v := range votes {
		receipts = append(receipts, e.Cast(t, e.Voter(t), []int{v}))
	}
	res := e.Tally(t)
	if res.Ballots != 7 || res.Counts[0][0] != 5 || res.Counts[0][1] != 2 {
		t.Fatalf("result %+v, want 7 ballots, 5 yes, 2 no", res)
	}
	// Every receipt's inclusion proof verifies against its checkpoint, and
	// its checkpoint is consistent with the final one.
	final, err := e.Log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range receipts {
		cp, err := store.ParseCheckpoint([]byte(rc.Checkpoint), e.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := e.Log.Leaf(rc.Index)
		proof, _ := boardapi.DecodeHashes(rc.Inclusion)
		if err := store.VerifyInclusion(cp, rc.Index, leaf, proof); err != nil {
			t.Fatalf("receipt for entry %d: %v", rc.Index, err)
		}
		tp, err := e.Log.ProveConsistency(cp.Size, final.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.VerifyConsistency(cp, final, tp); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAttackDoubleVote(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	v := e.Voter(t)
	e.Cast(t, v, []int{0})
	before := size(t, e)
	// The same token again, with a fresh ballot.
	_, err := e.Board.Cast(ctx, e.Ballot(t, v, []int{1}))
	refused(t, e, before, err, board.ErrAlreadyVoted, "second ballot for a token")
}

func TestAttackConcurrentDoubleVote(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	v := e.Voter(t)
	const n = 16
	ballots := make([][]byte, n)
	for i := range ballots {
		ballots[i] = e.Ballot(t, v, []int{i % 2})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range ballots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Board.Cast(ctx, ballots[i])
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, board.ErrAlreadyVoted) {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent ballots for one token accepted, want 1", ok, n)
	}
}

func TestRevotingLastBallotCounts(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{Revoting: ballot.RevotingLastCounts})
	v, w := e.Voter(t), e.Voter(t)
	e.Cast(t, v, []int{0})
	e.Cast(t, w, []int{0})
	if rc := e.Cast(t, v, []int{1}); !rc.Replaced {
		t.Fatal("a replacing ballot's receipt does not say so")
	}
	res := e.Tally(t)
	if res.Ballots != 2 || res.Counts[0][0] != 1 || res.Counts[0][1] != 1 {
		t.Fatalf("result %+v, want 2 ballots counted, 1 yes (w) and 1 no (v's last)", res)
	}
}

func TestAttackForgedToken(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	v := e.Voter(t)
	v.Token.Signature[10] ^= 1
	b, err := ballot.Encrypt(nil, e.Board.Election(), v.Secret, v.Key, v.Token, [][]int{{0}})
	if err == nil {
		t.Fatal("the client encrypted with a forged token")
	}
	_ = b
	// A cheating client sends it anyway: flip the same bit in a valid ballot.
	w := e.Voter(t)
	raw := e.Ballot(t, w, []int{0})
	raw[1+32+32+40] ^= 1 // inside the token's signature
	before := size(t, e)
	_, err = e.Board.Cast(ctx, raw)
	refused(t, e, before, err, board.ErrInvalidBallot, "forged token")
}

func TestAttackTokenFromAnotherElection(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	other := electiontest.New(t, electiontest.Options{}) // same issuer key
	raw := other.Ballot(t, other.Voter(t), []int{0})
	before := size(t, e)
	_, err := e.Board.Cast(ctx, raw)
	refused(t, e, before, err, board.ErrInvalidBallot, "ballot of another election")
}

func TestAttackTamperedBallot(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	raw := e.Ballot(t, e.Voter(t), []int{0})
	for _, off := range []int{0, 40, 400, len(raw) - 300, len(raw) - 40, len(raw) - 1} {
		m := append([]byte(nil), raw...)
		m[off] ^= 0x10
		before := size(t, e)
		_, err := e.Board.Cast(ctx, m)
		refused(t, e, before, err, board.ErrInvalidBallot, "ballot with byte "+string(rune('0'+off%10))+" flipped")
	}
	for _, m := range [][]byte{nil, raw[:100], append(append([]byte(nil), raw...), 0)} {
		before := size(t, e)
		_, err := e.Board.Cast(ctx, m)
		refused(t, e, before, err, board.ErrInvalidBallot, "ballot of wrong length")
	}
}

func TestAttackBallotAfterClose(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	v := e.Voter(t)
	raw := e.Ballot(t, v, []int{0})
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	before := size(t, e)
	_, err := e.Board.Cast(ctx, raw)
	refused(t, e, before, err, board.ErrClosed, "ballot after close")
	_, err = e.Board.CloseVoting(ctx)
	refused(t, e, before, err, board.ErrClosed, "second close")
}

func TestAttackCeremonyAfterOpen(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	before := size(t, e)
	ann := e.Trustees[0].Announcement()
	_, err := e.Board.PostCeremony(ctx, record.Sign(e.Board.Manifest(), e.TrusteeKeys[0], record.KindAnnouncement, ann.Marshal()))
	if err == nil {
		t.Fatal("a ceremony message was accepted after open")
	}
	if size(t, e) != before {
		t.Fatal("the log grew")
	}
	if _, err := e.Board.PostCeremony(ctx, []byte{9, 9, 9}); !errors.Is(err, board.ErrInvalidEntry) {
		t.Fatalf("garbage ceremony message: %v", err)
	}
}

func TestAttackBadPartialDecryption(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	for i := 0; i < 3; i++ {
		e.Cast(t, e.Voter(t), []int{i % 2})
	}
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	el := e.Board.Election()
	ks1, ks2 := e.Shares[0], e.Shares[1]

	// Trustee 1's share computed with trustee 2's secret: the proof against
	// trustee 1's verification key cannot hold.
	wrong, err := tally.Decrypt(el, agg, 1, ks2.Secret, ks2.VerificationKey)
	if err == nil {
		before := size(t, e)
		_, err = e.Board.PostPartial(ctx, wrong.Bytes())
		refused(t, e, before, err, board.ErrInvalidEntry, "partial under another trustee's index")
	}
	// A non-trustee index.
	good, err := tally.Decrypt(el, agg, 1, ks1.Secret, ks1.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	body := good.Bytes()
	nonTrustee := append([]byte{7}, body[1:]...)
	before := size(t, e)
	_, err = e.Board.PostPartial(ctx, nonTrustee)
	refused(t, e, before, err, board.ErrInvalidEntry, "partial from a non-trustee")
	// One flipped bit in the proof.
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-5] ^= 1
	_, err = e.Board.PostPartial(ctx, tampered)
	refused(t, e, before, err, board.ErrInvalidEntry, "partial with a tampered proof")
	// The honest one goes in, once.
	if _, err := e.Board.PostPartial(ctx, body); err != nil {
		t.Fatal(err)
	}
	before = size(t, e)
	_, err = e.Board.PostPartial(ctx, body)
	refused(t, e, before, err, board.ErrInvalidEntry, "the same partial twice")
	// A result before enough partials, and a false result.
	_, err = e.Board.PostResult(ctx, (&tally.Result{Ballots: 3, Counts: [][]uint64{{2, 1}}}).Bytes())
	refused(t, e, before, err, board.ErrInvalidEntry, "result with too few partials")
	s2, _ := tally.Decrypt(el, agg, 2, ks2.Secret, ks2.VerificationKey)
	if _, err := e.Board.PostPartial(ctx, s2.Bytes()); err != nil {
		t.Fatal(err)
	}
	before = size(t, e)
	_, err = e.Board.PostResult(ctx, (&tally.Result{Ballots: 3, Counts: [][]uint64{{1, 2}}}).Bytes())
	refused(t, e, before, err, board.ErrInvalidEntry, "false result")
	// The right counts naming no trustee: no verifier would accept it.
	_, err = e.Board.PostResult(ctx, (&tally.Result{Ballots: 3, Counts: [][]uint64{{2, 1}}}).Bytes())
	refused(t, e, before, err, board.ErrInvalidEntry, "result naming no trustee")
	if _, err := e.Board.PostResult(ctx, (&tally.Result{Ballots: 3, Counts: [][]uint64{{2, 1}}, Trustees: []int{1, 2}}).Bytes()); err != nil {
		t.Fatalf("true result refused: %v", err)
	}
}

func TestReloadKeepsPhase(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	raw := e.Ballot(t, e.Voter(t), []int{0})
	b2, err := board.Load(e.Log)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Election() == nil {
		t.Fatal("a reloaded board forgot it is open")
	}
	if _, err := b2.Cast(ctx, raw); err != nil {
		t.Fatalf("reloaded board refused a valid ballot: %v", err)
	}
}

func TestAttackBallotBeforeOpen(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	raw := e.Ballot(t, e.Voter(t), []int{0})
	skey, _, _ := note.GenerateKey(rand.Reader, "board2.test")
	signer, _ := note.NewSigner(skey)
	log, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	b, err := board.Create(ctx, log, e.Board.Manifest().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Cast(ctx, raw); !errors.Is(err, board.ErrNotOpen) {
		t.Fatalf("ballot before open: got %v, want ErrNotOpen", err)
	}
	if n, _ := log.Size(); n != 1 {
		t.Fatalf("log has %d entries, want only the manifest", n)
	}
	if _, err := b.OpenVoting(ctx); !errors.Is(err, board.ErrCeremonyIncomplete) {
		t.Fatalf("opened with no key ceremony: %v", err)
	}
}

// An election in which nobody voted still has a result: all zero, with no
// trustee needed.
func TestEmptyElectionTallies(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PostIssuance(ctx); err != nil {
		t.Fatal(err)
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tally.Combine(e.Board.Election(), agg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ballots != 0 || res.Counts[0][0] != 0 || res.Counts[0][1] != 0 {
		t.Fatalf("result %+v, want zeros", res)
	}
	if _, err := e.Board.PostResult(ctx, res.Bytes()); err != nil {
		t.Fatalf("the empty result was refused: %v", err)
	}
	bad := &tally.Result{Counts: [][]uint64{{1, 0}}, Trustees: []int{}}
	if _, err := e.Board.PostResult(ctx, bad.Bytes()); err == nil {
		t.Fatal("a non-zero result for an empty election was accepted")
	}
	rep, err := verify.Record(bytes.NewReader(e.Export(t)), e.Verifier, verify.Options{})
	if err != nil || !rep.OK {
		t.Fatalf("the empty election's record does not verify: %v", err)
	}
}

// shared is an engine no Log closes: the test closes it once.
type shared struct{ store.Engine }

func (shared) Close() error { return nil }

// Two boards on one store, as two board processes on one database, agree on
// the phase whichever of them changes it: the one that did not open sees the
// open entry and takes ballots, the one that did not close refuses them
// after close, and the record they make together verifies.
func TestTwoBoardsOneStore(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	// The election's ceremony, to replay on new stores: the same messages
	// qualify the same election key, so e's ballots are ballots there too.
	var ceremony [][]byte
	for i := uint64(1); i < size(t, e); i++ {
		leaf, err := e.Log.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		if store.EntryType(leaf[0]) == store.Ceremony {
			ceremony = append(ceremony, leaf[1:])
		}
	}
	engines := []struct {
		name string
		open func(t *testing.T) store.Engine
	}{
		{"mem", func(*testing.T) store.Engine { return store.NewMemEngine() }},
		{"bolt", func(t *testing.T) store.Engine {
			en, err := bolt.OpenEngine(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return en
		}},
	}
	for _, tc := range engines {
		t.Run(tc.name, func(t *testing.T) {
			en := tc.open(t)
			defer en.Close()
			newLog := func() store.Log {
				l, err := store.New(shared{en}, e.Signer, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
				return l
			}
			logA, logB := newLog(), newLog()
			a, err := board.Create(ctx, logA, e.Board.Manifest().Bytes())
			if err != nil {
				t.Fatal(err)
			}
			b, err := board.Load(logB)
			if err != nil {
				t.Fatal(err)
			}
			phase := func(bd *board.Board, want string) {
				t.Helper()
				if got, err := bd.Phase(); err != nil || got != want {
					t.Fatalf("phase %q (%v), want %q", got, err, want)
				}
			}
			phase(b, "ceremony")
			if _, err := b.Cast(ctx, e.Ballot(t, e.Voter(t), []int{0})); !errors.Is(err, board.ErrNotOpen) {
				t.Fatalf("a cast before open: %v", err)
			}
			for i, msg := range ceremony { // posted through both boards
				if _, err := []*board.Board{a, b}[i%2].PostCeremony(ctx, msg); err != nil {
					t.Fatal(err)
				}
			}

			if _, err := a.OpenVoting(ctx); err != nil {
				t.Fatal(err)
			}
			phase(b, "open")
			if b.Election() == nil || !bytes.Equal(b.Election().Key.Bytes(), a.Election().Key.Bytes()) || b.Opening() == nil {
				t.Fatal("the board that did not open has no election key, or another one")
			}
			if _, err := b.OpenVoting(ctx); !errors.Is(err, board.ErrAlreadyOpen) {
				t.Fatalf("opening again on the other board: %v", err)
			}
			if _, err := b.PostCeremony(ctx, ceremony[0]); !errors.Is(err, board.ErrAlreadyOpen) {
				t.Fatalf("a ceremony message after the other board opened: %v", err)
			}
			if _, err := b.Cast(ctx, e.Ballot(t, e.Voter(t), []int{0})); err != nil {
				t.Fatalf("a cast to the board that did not open: %v", err)
			}
			if _, err := a.Cast(ctx, e.Ballot(t, e.Voter(t), []int{1})); err != nil {
				t.Fatal(err)
			}

			if _, err := b.CloseVoting(ctx); err != nil {
				t.Fatal(err)
			}
			phase(a, "closed")
			before, _ := logA.Size()
			if _, err := a.Cast(ctx, e.Ballot(t, e.Voter(t), []int{0})); !errors.Is(err, board.ErrClosed) {
				t.Fatalf("a cast to the board that did not close: %v, want ErrClosed", err)
			}
			if _, err := a.CloseVoting(ctx); !errors.Is(err, board.ErrClosed) {
				t.Fatalf("closing again on the other board: %v", err)
			}
			if n, _ := logA.Size(); n != before {
				t.Fatalf("refusals grew the log from %d to %d", before, n)
			}
			st, err := e.IssuanceStatement(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.PostIssuance(ctx, st); err != nil {
				t.Fatal(err)
			}

			// The tally, a partial through each board, the result through one.
			agg, err := a.Aggregate()
			if err != nil {
				t.Fatal(err)
			}
			for i, bd := range []*board.Board{a, b} {
				ks := e.Shares[i]
				s, err := tally.Decrypt(bd.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := bd.PostPartial(ctx, s.Bytes()); err != nil {
					t.Fatal(err)
				}
			}
			shares, err := b.Partials()
			if err != nil {
				t.Fatal(err)
			}
			res, err := tally.Combine(b.Election(), agg, shares)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.PostResult(ctx, res.Bytes()); err != nil {
				t.Fatal(err)
			}
			if res.Ballots != 2 || res.Counts[0][0] != 1 || res.Counts[0][1] != 1 {
				t.Fatalf("result %+v, want 2 ballots, 1 yes, 1 no", res)
			}
			var rec bytes.Buffer
			if err := logB.Export(&rec); err != nil {
				t.Fatal(err)
			}
			if rep, err := verify.Record(&rec, e.Verifier, verify.Options{}); err != nil || !rep.OK {
				t.Fatalf("the record the two boards made does not verify: %v", err)
			}
		})
	}
}

// TestAttackCreateRace: board processes started at once on one empty
// store each read size 0; each used to append a manifest, leaving entry 1
// a second manifest and the election dead. The emptiness is decided in
// the append's transaction: one creates, the others get ErrCreated and
// the log holds one entry.
func TestAttackCreateRace(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	skey, _, _ := note.GenerateKey(rand.Reader, "create-race.test")
	signer, _ := note.NewSigner(skey)
	eng := store.NewMemEngine()
	const fronts = 8
	logs := make([]store.Log, fronts)
	for i := range logs {
		l, err := store.New(eng, signer, &store.Options{NoGroupCommit: i%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = l
	}
	var wg sync.WaitGroup
	var created, refused atomic.Int32
	start := make(chan struct{})
	for _, l := range logs {
		wg.Go(func() {
			<-start
			_, err := board.Create(ctx, l, e.Board.Manifest().Bytes())
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, board.ErrCreated):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n, _ := logs[0].Size(); created.Load() != 1 || refused.Load() != fronts-1 || n != 1 {
		t.Fatalf("%d fronts created the board, %d were told it exists; the log holds %d entries", created.Load(), refused.Load(), n)
	}
	if _, err := board.Load(logs[1]); err != nil {
		t.Fatal(err)
	}
}
