package voter_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	evballot "github.com/evote/evote/ballot"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
)

// leaves returns every leaf of e's log.
func leaves(t *testing.T, e *electiontest.Election) [][]byte { return e.Leaves(t) }

// forgedBoard serves ls as a board's log, every checkpoint properly signed
// with signer: what a board's operator can do with the board's own key. It
// marks the open and close entries as the board does, so the board
// software serves its phases.
func forgedBoard(t *testing.T, signer note.Signer, ls [][]byte) *boardapi.Client {
	t.Helper()
	log, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	for _, l := range ls {
		a := store.Append{Leaf: l}
		switch store.EntryType(l[0]) {
		case store.Open:
			a.SetKeys = [][]byte{[]byte("phase/open")}
		case store.Close:
			a.SetKeys = [][]byte{[]byte("phase/closed")}
		}
		if _, err := log.Append(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	b, err := board.Load(log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(board.NewHandler(b, board.HandlerConfig{}))
	t.Cleanup(srv.Close)
	return boardapi.NewClient(srv.URL, nil)
}

// openIndex is the index of the open entry in ls.
func openIndex(t *testing.T, ls [][]byte) int {
	for i, l := range ls {
		if store.EntryType(l[0]) == store.Open {
			return i
		}
	}
	t.Fatal("no open entry")
	return 0
}

// TestAttackBoardChosenElectionKey: the board keeps the trustees' ceremony
// messages but replaces the open entry with one holding a key whose secret
// the board knows, signing every checkpoint with its own key. A voter who
// encrypted to it would hand the board their vote; the client recomputes
// the ceremony's outcome and refuses before asking the issuer for anything.
func TestAttackBoardChosenElectionKey(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	ls := leaves(t, e)
	oi := openIndex(t, ls)

	// The control: the same forged-board path serving the genuine log is
	// accepted, so the refusal below is the key's doing.
	honest := &voter.Client{Board: forgedBoard(t, e.Signer, ls), BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
	el, err := honest.Election(context.Background())
	if err != nil {
		t.Fatalf("the genuine log is refused: %v", err)
	}
	if !bytes.Equal(el.Key.Bytes(), e.Board.Election().Key.Bytes()) {
		t.Fatal("the genuine log gives another election key")
	}

	_, boardKey, err := elgamal.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(ls[oi][1:], &body); err != nil {
		t.Fatal(err)
	}
	body["election_key"] = hex.EncodeToString(boardKey.Bytes())
	forgedOpen, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	forged := append([][]byte(nil), ls[:oi]...)
	forged = append(forged, store.Leaf(store.Open, forgedOpen))
	bc := forgedBoard(t, e.Signer, forged)
	if info, err := bc.Election(context.Background()); err != nil || info.ElectionKey != hex.EncodeToString(boardKey.Bytes()) {
		t.Fatalf("the forged board does not serve the board's key (%v): the attack is not set up", err)
	}
	c := &voter.Client{Board: bc, BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
	_, err = c.Election(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not what the trustees' ceremony messages decide") {
		t.Fatalf("a board-chosen election key: got %v, want a refusal", err)
	}
	// Vote fails the same way, before any token is requested (the client
	// has no issuer: reaching it would panic).
	if _, err := c.Vote(context.Background(), "voter-1", "code", [][]int{{0}}); err == nil {
		t.Fatal("Vote went on with a board-chosen key")
	}
}

// TestAttackBoardServesAnotherManifest: the board runs a ceremony of its
// own, for a manifest of its own whose trustees are itself, and serves that
// log, consistent and signed with its key. The ceremony decides the key
// correctly, so only the manifest pinned from outside the board tells: the
// client refuses a manifest other than the one whose hash it was given.
func TestAttackBoardServesAnotherManifest(t *testing.T) {
	real := electiontest.New(t, electiontest.Options{})
	own := electiontest.New(t, electiontest.Options{})
	c := &voter.Client{Board: forgedBoard(t, real.Signer, leaves(t, own)), BoardKey: real.Verifier, ManifestHash: real.Board.Manifest().Hash()}
	_, err := c.Election(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refusing to vote there") {
		t.Fatalf("another manifest: got %v, want a refusal", err)
	}
	// With no hash at all the client refuses too: the board's word alone
	// never fixes the election.
	c = &voter.Client{Board: forgedBoard(t, real.Signer, leaves(t, real)), BoardKey: real.Verifier}
	if _, err := c.Election(context.Background()); err != voter.ErrNoManifestHash {
		t.Fatalf("no manifest hash: got %v, want ErrNoManifestHash", err)
	}
}

// TestAttackBoardMislabelsEntries: the board serves its genuine entries but
// an entry between the manifest and the open entry is not a ceremony
// message (a ballot, placed there to shift what the voter reads). It is
// refused.
func TestAttackBoardMislabelsEntries(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	v := e.Voter(t)
	raw := e.Ballot(t, v, []int{0})
	ls := leaves(t, e)
	oi := openIndex(t, ls)
	forged := append([][]byte(nil), ls[:oi]...)
	forged = append(forged, store.Leaf(store.Ballot, raw), ls[oi])
	c := &voter.Client{Board: forgedBoard(t, e.Signer, forged), BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
	if _, err := c.Election(context.Background()); err == nil || !strings.Contains(err.Error(), "not a ceremony message") {
		t.Fatalf("a ballot inside the ceremony: got %v, want a refusal", err)
	}
}

// TestAttackReceiptAfterClose: a board that appends a voter's ballot after
// its close entry (where it cannot count) and hands out a receipt that
// proves the ballot is in its log. The receipt check finds the close entry
// before the ballot and says the ballot does not count; a ballot placed
// before the open entry is refused the same way.
func TestAttackReceiptAfterClose(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	ls := leaves(t, e)
	oi := openIndex(t, ls)
	ballot := store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{0}))
	closeLeaf := store.Leaf(store.Close, record.CloseBody())
	for name, c := range map[string]struct {
		ls   [][]byte
		at   uint64
		want string
	}{
		"after close": {append(append([][]byte(nil), ls[:oi+1]...), closeLeaf, ballot), uint64(oi) + 2, "comes after the close entry"},
		"before open": {append(append(append([][]byte(nil), ls[:oi]...), ballot), ls[oi], closeLeaf), uint64(oi), "not after the board's open entry"},
	} {
		bc := forgedBoard(t, e.Signer, c.ls)
		ctx := context.Background()
		signed, err := bc.Checkpoint(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := store.ParseCheckpoint(signed, e.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := bc.Inclusion(ctx, c.at, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		lh := store.LeafHash(ballot)
		tc := evballot.TrackingCode(ballot[1:])
		rc := &voter.Receipt{ElectionID: hex.EncodeToString(e.Board.Manifest().ID()), TrackingCode: hex.EncodeToString(tc[:]),
			Index: c.at, LeafHash: hex.EncodeToString(lh[:]), Checkpoint: string(signed), Inclusion: boardapi.EncodeHashes(proof)}
		vc := &voter.Client{Board: bc, BoardKey: e.Verifier}
		if _, err := vc.CheckReceipt(ctx, rc); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: got %v, want %q", name, err, c.want)
		}
	}
}

// TestAttackReceiptFromAnotherHistory: the voter reads the election from
// the board's log, then the board puts the ballot in another history it
// signs (one without an earlier ballot) and hands out a receipt that
// proves it there. The receipt's checkpoint is not an extension of the one
// the voter checked the election against: refused as a split view.
func TestAttackReceiptFromAnotherHistory(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	e.Cast(t, e.Voter(t), []int{1})
	ls := leaves(t, e)
	c := &voter.Client{Board: forgedBoard(t, e.Signer, ls), BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
	el, err := c.Election(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Board = forgedBoard(t, e.Signer, ls[:len(ls)-1]) // the last ballot dropped
	_, err = c.Cast(context.Background(), el, e.Ballot(t, e.Voter(t), []int{0}))
	if !errors.Is(err, voter.ErrSplitView) {
		t.Fatalf("a receipt from another history: got %v, want ErrSplitView", err)
	}
}

// TestAttackReceiptNamesAnotherBallot: a receipt whose tracking code (or
// election) was changed, its leaf, index and proofs left as they were, so
// that it borrows another ballot's place in the log: "your code is in the
// log" for a ballot that is not. The check proves the leaf at the index
// and refuses a receipt that does not name it; the genuine one checks.
func TestAttackReceiptNamesAnotherBallot(t *testing.T) {
	_, c, el := auditElection(t)
	tk := sealed(t, c, el, "voter-r", [][]int{{0}, {1}})
	rc, err := c.CastTicket(context.Background(), el, tk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckReceipt(context.Background(), rc); err != nil {
		t.Fatalf("the genuine receipt: %v", err)
	}
	for name, alter := range map[string]func(r *voter.Receipt){
		"another tracking code": func(r *voter.Receipt) { r.TrackingCode = strings.Repeat("0", 64) },
		"another election":      func(r *voter.Receipt) { r.ElectionID = strings.Repeat("ab", 32) },
	} {
		forged := *rc
		alter(&forged)
		if _, err := c.CheckReceipt(context.Background(), &forged); err == nil {
			t.Errorf("%s: the receipt checked", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
