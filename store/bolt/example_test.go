package bolt_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"golang.org/x/mod/sumdb/note"
)

func Example() {
	dir, _ := os.MkdirTemp("", "evote-board")
	defer os.RemoveAll(dir)
	signer, _ := note.NewSigner(testSKey)
	verifier, _ := note.NewVerifier(testVKey)

	l, err := bolt.Open(dir, signer, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	l.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("manifest"))})

	// A ballot, unique by its token key; a second one with the same token
	// is refused.
	b := store.Append{Leaf: store.Leaf(store.Ballot, []byte("ballot")), Key: []byte("token/abc")}
	i, _ := l.Append(ctx, b)
	_, err = l.Append(ctx, b)
	fmt.Println("second ballot:", err)

	// What a receipt carries: index, checkpoint, inclusion proof.
	cp, _ := l.Checkpoint(ctx)
	proof, _ := l.ProveInclusion(i, cp.Size)

	// What a voter checks, with the board's public key only.
	got, err := store.ParseCheckpoint(cp.Signed, verifier)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ballot", i, "included:", store.VerifyInclusion(got, i, b.Leaf, proof) == nil)
	// Output:
	// second ballot: store: key already in the log: key 746f6b656e2f616263 already points at entry 1
	// ballot 1 included: true
}
