package trustee_test

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
	"github.com/evote/evote/trustee"
)

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
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	honest := logLeaves(t, e)
	closeLeaf := store.Leaf(store.Close, record.CloseBody())
	target := honest[openAt] // the first ballot, the one the board wants to read
	others := honest[openAt+1 : openAt+4]

	dir := t.TempDir()
	path := filepath.Join(dir, "trustee.journal")
	j, err := trustee.OpenJournal(path, e.Verifier)
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
	alone := mustRead(t, e, forgedRecord(t, e, append(append(append([][]byte(nil), before...), target), closeLeaf)), nil)
	if _, err := alone.Decrypt(ks); !errors.Is(err, trustee.ErrTooFewBallots) {
		t.Fatalf("a closed log of one ballot: got %v, want ErrTooFewBallots", err)
	}
	// Enough chosen ballots, but not the log the trustee saw growing.
	chosen := forgedRecord(t, e, append(append(append(append([][]byte(nil), before...), target), others...), closeLeaf))
	if _, err := mustRead(t, e, chosen, nil).Decrypt(ks); err != nil {
		t.Fatalf("the fork has enough ballots, so only the journal can stop it; Decrypt says %v", err)
	}
	if _, err := read(e, chosen, j.Checkpoints()); !errors.Is(err, trustee.ErrFork) {
		t.Fatalf("a fork with chosen ballots: got %v, want ErrFork", err)
	}
	// A trustee with no journal is saved by a voter's checkpoint.
	fresh, err := trustee.OpenJournal(filepath.Join(dir, "none.journal"), e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Check(mustRead(t, e, chosen, fresh.Checkpoints())); err != nil {
		t.Fatalf("with nothing seen, only the record's consistency is checked; got %v", err)
	}
	if _, err := read(e, chosen, fresh.Checkpoints(during)); !errors.Is(err, trustee.ErrFork) {
		t.Fatalf("a fork against a voter's checkpoint: got %v, want ErrFork", err)
	}
	// A log cut back to before a checkpoint seen is refused too.
	cut := forgedRecord(t, e, append(append([][]byte(nil), honest[:openAt+3]...), closeLeaf))
	if _, err := read(e, cut, j.Checkpoints()); !errors.Is(err, trustee.ErrFork) {
		t.Fatalf("a log cut back: got %v, want ErrFork", err)
	}
	// A record read without the journal's checkpoint is no record the
	// journal lets through.
	if err := j.Check(mustRead(t, e, chosen, nil)); err == nil {
		t.Fatal("the journal passed a record not read against its checkpoint")
	}
	if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, saved) {
		t.Fatalf("a refusal changed the journal (%v)", err)
	}

	// The honest record passes; once decrypted, no other closed log does,
	// even one that extends everything the trustee saw.
	real := forgedRecord(t, e, honest)
	tl := mustRead(t, e, real, j.Checkpoints())
	if err := j.Check(tl); err != nil {
		t.Fatalf("the honest record is refused: %v", err)
	}
	if _, err := tl.Decrypt(ks); err != nil {
		t.Fatal(err)
	}
	if err := j.Decrypted(tl); err != nil {
		t.Fatal(err)
	}
	j, err = trustee.OpenJournal(path, e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	longer := forgedRecord(t, e, append(append(append([][]byte(nil), honest[:len(honest)-1]...), store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{1}))), closeLeaf))
	if _, err := read(e, longer, j.Checkpoints()); !errors.Is(err, trustee.ErrFork) {
		t.Fatalf("a second closed log: got %v, want ErrFork", err)
	}
	if err := j.Check(mustRead(t, e, real, j.Checkpoints())); err != nil {
		t.Fatalf("the same closed log again (a retried post) is refused: %v", err)
	}
}

// TestDecryptOnce: a journal that recorded the decryption of one closed log
// refuses any other, even one that extends every checkpoint given.
func TestDecryptOnce(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{MinBallots: 1})
	e.Cast(t, e.Voter(t), []int{0})
	e.Cast(t, e.Voter(t), []int{1})
	if _, err := e.Board.CloseVoting(context.Background()); err != nil {
		t.Fatal(err)
	}
	honest := logLeaves(t, e)
	j, err := trustee.OpenJournal(filepath.Join(t.TempDir(), "j"), e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Decrypted(mustRead(t, e, forgedRecord(t, e, honest), nil)); err != nil {
		t.Fatal(err)
	}
	// Another closed log of the same entries but one ballot: the journal's
	// checkpoint is lost (as when a trustee is handed only a fork), but not
	// the decryption it recorded.
	other := append(append([][]byte(nil), honest[:len(honest)-2]...), store.Leaf(store.Close, record.CloseBody()))
	j.Newest = nil
	if err := j.Check(mustRead(t, e, forgedRecord(t, e, other), nil)); !errors.Is(err, trustee.ErrFork) {
		t.Fatalf("a second closed log: got %v, want ErrFork", err)
	}
}

// TestJournalObserve: a journal takes a newer checkpoint only with a proof
// that it extends the one recorded, keeps the newer one when shown an older
// one of the same history, and refuses a checkpoint of another history.
func TestJournalObserve(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	j, err := trustee.OpenJournal(filepath.Join(t.TempDir(), "j"), e.Verifier)
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
	if err := j.Observe(second, nil); !errors.Is(err, trustee.ErrFork) {
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
	if err := j.Observe(other, nil); !errors.Is(err, trustee.ErrFork) {
		t.Fatalf("another history of the same size: got %v, want ErrFork", err)
	}
}
