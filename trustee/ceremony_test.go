package trustee_test

import (
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/trustee"
	"golang.org/x/mod/sumdb/note"
)

// ceremonyBoard is a board of m in its key ceremony over HTTP, its log
// signed by signer.
type ceremonyBoard struct {
	log    store.Log
	client *boardapi.Client
}

func newCeremonyBoard(t *testing.T, m *ballot.Manifest, signer note.Signer) *ceremonyBoard {
	t.Helper()
	l, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b, err := board.Create(t.Context(), l, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(board.NewHandler(b, board.HandlerConfig{}))
	t.Cleanup(srv.Close)
	return &ceremonyBoard{log: l, client: boardapi.NewClient(srv.URL, nil)}
}

// post appends messages to the log as they are.
func (cb *ceremonyBoard) post(t *testing.T, msgs ...trustee.Message) {
	t.Helper()
	for _, m := range msgs {
		if _, err := cb.client.PostCeremonyMessage(t.Context(), m.Body); err != nil {
			t.Fatal(err)
		}
	}
}

func boardKey(t *testing.T, origin string) (note.Signer, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, v
}

// TestFetchCeremony: a trustee reads the ceremony from the board, each
// message with its entry and sender, tells a message the board holds from
// another in its place, and records the board's checkpoint in its journal.
func TestFetchCeremony(t *testing.T) {
	m, keys := manifest(t, 2, 2)
	signer, verifier := boardKey(t, "board.fetch.test")
	cb := newCeremonyBoard(t, m, signer)
	t1, ann1, _ := trustee.New(nil, m, 1, keys[0])
	_, ann2, _ := trustee.New(nil, m, 2, keys[1])
	cb.post(t, ann1, ann2)
	j, err := trustee.OpenJournal(filepath.Join(t.TempDir(), "j"), verifier)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := trustee.FetchCeremony(t.Context(), cb.client, verifier, m, j)
	if err != nil {
		t.Fatal(err)
	}
	if len(ob.Entries) != 2 || ob.Entries[1].Index != 2 || ob.Entries[1].From != 2 || ob.Entries[1].Kind != record.KindAnnouncement || ob.Open != nil {
		t.Fatalf("entries %+v", ob.Entries)
	}
	if e, same, ok := ob.Holding(ann1); !ok || !same || e.Index != 1 {
		t.Fatalf("holding trustee 1's announcement: %v %v %v", e, same, ok)
	}
	_, other, _ := trustee.New(nil, m, 1, keys[0])
	if _, same, ok := ob.Holding(other); !ok || same {
		t.Fatal("another announcement of trustee 1 is taken for the one on the board")
	}
	d, err := t1.Deal(nil, ob.Ceremony)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := ob.Holding(d); ok {
		t.Fatal("a deal not on the board is held")
	}
	if j.Newest == nil || j.Newest.Size != 3 {
		t.Fatalf("the journal holds %v", j.Newest)
	}
}

// TestAttackFetchCeremony: a board that shows a trustee a ceremony other
// than the one it recorded (a fork: ErrFork), another election's log, or
// an open entry the ceremony does not decide, is refused.
func TestAttackFetchCeremony(t *testing.T) {
	m, keys := manifest(t, 2, 2)
	signer, verifier := boardKey(t, "board.fork.test")
	real, fork := newCeremonyBoard(t, m, signer), newCeremonyBoard(t, m, signer)
	_, ann1, _ := trustee.New(nil, m, 1, keys[0])
	_, ann2, _ := trustee.New(nil, m, 2, keys[1])
	_, ann1b, _ := trustee.New(nil, m, 1, keys[0])
	real.post(t, ann1, ann2)
	fork.post(t, ann1b, ann2)
	j, _ := trustee.OpenJournal(filepath.Join(t.TempDir(), "j"), verifier)
	if _, err := trustee.FetchCeremony(t.Context(), real.client, verifier, m, j); err != nil {
		t.Fatal(err)
	}
	if _, err := trustee.FetchCeremony(t.Context(), fork.client, verifier, m, j); !errors.Is(err, trustee.ErrFork) {
		t.Fatalf("a fork of the ceremony: %v, want ErrFork", err)
	}

	other, _ := manifest(t, 2, 2)
	if _, err := trustee.FetchCeremony(t.Context(), real.client, verifier, other, nil); err == nil || !strings.Contains(err.Error(), "not this election's manifest") {
		t.Fatalf("another election's board: %v", err)
	}
	if _, err := trustee.FetchCeremony(t.Context(), real.client, func() note.Verifier { _, v := boardKey(t, "board.fork.test"); return v }(), m, nil); err == nil {
		t.Fatal("a checkpoint under another key")
	}

	// A board whose operator appends an open entry of its own making
	// (the group's generator as the key) to two announcements, which
	// decide no key.
	lying := newCeremonyBoard(t, m, signer)
	lying.post(t, ann1, ann2)
	g := "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
	forged := []byte(`{"election_key":"` + g + `","verification_keys":["` + g + `","` + g + `"],"qualified":[1]}`)
	if _, err := lying.log.Append(t.Context(), store.Append{Leaf: store.Leaf(store.Open, forged)}); err != nil {
		t.Fatal(err)
	}
	if _, err := trustee.FetchCeremony(t.Context(), lying.client, verifier, m, nil); err == nil || !strings.Contains(err.Error(), "decides no key") {
		t.Fatalf("an open entry the ceremony does not decide: %v", err)
	}
}
