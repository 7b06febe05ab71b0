package store_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A verifier reads an export file: every leaf in order, then, at io.EOF,
// the checkpoint the whole record was checked against.
func ExampleReader() {
	signer, _ := note.NewSigner(testSKey)
	verifier, _ := note.NewVerifier(testVKey)

	// The board's side: two entries and a checkpoint of them.
	leaves := [][]byte{
		store.Leaf(store.Manifest, []byte("manifest")),
		store.Leaf(store.Ballot, []byte("ballot")),
	}
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	var file bytes.Buffer
	w := store.NewWriter(&file)
	for i, l := range leaves {
		h, _ := tlog.StoredHashes(int64(i), l, r)
		hashes = append(hashes, h...)
		w.Append(l)
	}
	root, _ := tlog.TreeHash(2, r)
	cp, _ := store.SignCheckpoint(signer, 2, root)
	w.Finish(cp)

	// The verifier's side.
	rd := store.NewReader(&file, verifier)
	for {
		leaf, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("entry %d: %v %q\n", rd.Count()-1, store.EntryType(leaf[0]), leaf[1:])
	}
	fmt.Printf("checked against %s, size %d\n", rd.Checkpoint().Origin, rd.Checkpoint().Size)

	// A receipt's inclusion proof checks against the checkpoint alone.
	proof, _ := tlog.ProveRecord(2, 1, r)
	fmt.Println("ballot included:", store.VerifyInclusion(rd.Checkpoint(), 1, leaves[1], proof) == nil)
	// Output:
	// entry 0: manifest "manifest"
	// entry 1: ballot "ballot"
	// checked against evote.example/test-board, size 2
	// ballot included: true
}
