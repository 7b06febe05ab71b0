package ops

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
)

// logLeaves returns every leaf of e's log.
func logLeaves(t *testing.T, e *electiontest.Election) [][]byte {
	t.Helper()
	n, err := e.Log.Size()
	if err != nil {
		t.Fatal(err)
	}
	var ls [][]byte
	for i := uint64(0); i < n; i++ {
		l, err := e.Log.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

// forgedRecord is an export of ls with a checkpoint signed by the board's
// own key: a record the board's operator can make of any entries it likes.
func forgedRecord(t *testing.T, e *electiontest.Election, ls [][]byte) *Record {
	t.Helper()
	root, err := store.TreeHash(ls)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.SignCheckpoint(e.Signer, uint64(len(ls)), root)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := store.NewWriter(&buf)
	for _, l := range ls {
		if err := w.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(cp); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(buf.Bytes(), e.Verifier, nil)
	if err != nil {
		t.Fatalf("the forged record is not even internally consistent: %v", err)
	}
	return rec
}

func checkpointNow(t *testing.T, e *electiontest.Election) *store.Checkpoint {
	t.Helper()
	cp, err := e.Log.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestAttackTrusteeDecryptsForkedRecord: the board's operator makes a
// "closed" record of its own, with its own key, holding only the ballot it
// wants to read (or a few chosen ones), and hands it to the trustees. Each
// way the trustee refuses is tried: the record counts fewer ballots than
// the manifest's min_ballots; it does not extend the checkpoint in the
// trustee's journal or one a voter holds; the trustee already decrypted
// another closed log. The honest record passes the same checks, and the
// trustee's journal is unchanged by every refusal.
func TestAttackTrusteeDecryptsForkedRecord(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{MinBallots: 3})
	ctx := context.Background()
	before := logLeaves(t, e)
	openAt := uint64(len(before)) // the entries so far end with the open entry
	for i := range 6 {
		e.Cast(t, e.Voter(t), []int{i % 2})
	}
	during := checkpointNow(t, e) // what the trustee records while voting goes on
	for range 2 {
		e.Cast(t, e.Voter(t), []int{0})
	}
	if _, err := e.Board.Close(ctx); err != nil {
		t.Fatal(err)
	}
	honest := logLeaves(t, e)
	closeLeaf := store.Leaf(store.Close, record.CloseBody())
	target := honest[openAt] // the first ballot, the one the board wants to read
	others := honest[openAt+1 : openAt+4]

	dir := t.TempDir()
	path := filepath.Join(dir, "trustee.journal")
	j, err := OpenJournal(path, e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Observe(during, nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Save(); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ks := e.Shares[0]

	// One ballot: too few to decrypt, journal or not.
	alone := forgedRecord(t, e, append(append(append([][]byte(nil), before...), target), closeLeaf))
	if _, err := alone.Decrypt(ks); !errors.Is(err, ErrTooFewBallots) {
		t.Fatalf("a closed log of one ballot: got %v, want ErrTooFewBallots", err)
	}
	// Enough chosen ballots, but not the log the trustee saw growing.
	chosen := forgedRecord(t, e, append(append(append(append([][]byte(nil), before...), target), others...), closeLeaf))
	if _, err := chosen.Decrypt(ks); err != nil {
		t.Fatalf("the fork has enough ballots, so only the journal can stop it; Decrypt says %v", err)
	}
	if err := j.Check(chosen, nil); !errors.Is(err, ErrFork) {
		t.Fatalf("a fork with chosen ballots: got %v, want ErrFork", err)
	}
	// A trustee with no journal is saved by a voter's checkpoint.
	fresh, err := OpenJournal(filepath.Join(dir, "none.journal"), e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Check(chosen, nil); err != nil {
		t.Fatalf("with nothing seen, only the record's consistency is checked; got %v", err)
	}
	if err := fresh.Check(chosen, []*store.Checkpoint{during}); !errors.Is(err, ErrFork) {
		t.Fatalf("a fork against a voter's checkpoint: got %v, want ErrFork", err)
	}
	// A log cut back to before a checkpoint seen is refused too.
	cut := forgedRecord(t, e, append(append([][]byte(nil), honest[:openAt+3]...), closeLeaf))
	if err := j.Check(cut, nil); !errors.Is(err, ErrFork) {
		t.Fatalf("a log cut back: got %v, want ErrFork", err)
	}
	if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, saved) {
		t.Fatalf("a refusal changed the journal (%v)", err)
	}

	// The honest record passes; once decrypted, no other closed log does,
	// even one that extends everything the trustee saw.
	real := forgedRecord(t, e, honest)
	if err := j.Check(real, nil); err != nil {
		t.Fatalf("the honest record is refused: %v", err)
	}
	if _, err := real.Decrypt(ks); err != nil {
		t.Fatal(err)
	}
	if err := j.Decrypted(real); err != nil {
		t.Fatal(err)
	}
	j, err = OpenJournal(path, e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	longer := forgedRecord(t, e, append(append(append([][]byte(nil), honest[:len(honest)-1]...), store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{1}))), closeLeaf))
	if err := j.Check(longer, nil); !errors.Is(err, ErrFork) {
		t.Fatalf("a second closed log: got %v, want ErrFork", err)
	}
	if err := j.Check(real, nil); err != nil {
		t.Fatalf("the same closed log again (a retried post) is refused: %v", err)
	}
}

// TestJournalObserve: a journal takes a newer checkpoint only with a proof
// that it extends the one recorded, keeps the newer one when shown an older
// one of the same history, and refuses a checkpoint of another history.
func TestJournalObserve(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j"), e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	first := checkpointNow(t, e)
	if err := j.Observe(first, nil); err != nil {
		t.Fatal(err)
	}
	e.Cast(t, e.Voter(t), []int{0})
	second := checkpointNow(t, e)
	proof, err := e.Log.ProveConsistency(first.Size, second.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Observe(second, nil); !errors.Is(err, ErrFork) {
		t.Fatalf("a newer checkpoint with no proof: got %v, want ErrFork", err)
	}
	if err := j.Observe(second, proof); err != nil || j.Newest.Size != second.Size {
		t.Fatalf("a proven newer checkpoint: %v, newest %d", err, j.Newest.Size)
	}
	if err := j.Observe(first, proof); err != nil || j.Newest.Size != second.Size {
		t.Fatalf("an older checkpoint of the same history: %v, newest %d", err, j.Newest.Size)
	}
	ls := logLeaves(t, e)
	ls[len(ls)-1] = store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{1}))
	root, _ := store.TreeHash(ls)
	other, err := store.SignCheckpoint(e.Signer, uint64(len(ls)), root)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Observe(other, nil); !errors.Is(err, ErrFork) {
		t.Fatalf("another history of the same size: got %v, want ErrFork", err)
	}
}

// TestCombineNoBallots: a closed election no one voted in is tallied with
// no partial decryption at all (there is nothing to decrypt): every count
// is 0 and the result names no trustee.
func TestCombineNoBallots(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	if _, err := e.Board.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(e.Export(t), e.Verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rec.Combine()
	if err != nil {
		t.Fatalf("an empty election does not tally: %v", err)
	}
	if res.Ballots != 0 || len(res.Trustees) != 0 || res.Counts[0][0] != 0 || res.Counts[0][1] != 0 {
		t.Fatalf("empty election: %+v", res)
	}
	if _, err := e.Board.PostResult(context.Background(), res.Bytes()); err != nil {
		t.Fatalf("the board refuses the empty result: %v", err)
	}
}
