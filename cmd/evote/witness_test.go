package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/store"
	"github.com/evote/evote/witness"
	"github.com/evote/evote/witness/httpwitness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestWitnessServe makes a board key and a witness key with the CLI, starts
// evote witness serve on loopback and cosigns through the client; the key at
// rest is age-encrypted.
func TestWitnessServe(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	pass := in("pass")
	os.WriteFile(pass, []byte("s3cret\n"), 0o600)
	secret := []string{"--passphrase-file", pass, "--scrypt-work-factor", "10"}
	must := func(args ...string) {
		t.Helper()
		if _, errs, code := evote(t, args...); code != 0 {
			t.Fatalf("evote %s: exit %d\n%s", strings.Join(args, " "), code, errs)
		}
	}
	must(append(secret, "board", "keygen", "--origin", "board.example/e1", "--key", in("board.key"), "--vkey", in("board.vkey"))...)
	must(append(secret, "witness", "keygen", "--name", "witness.example", "--key", in("witness.key"), "--pub", in("witness.vkey"))...)
	if k := mustRead(t, in("witness.key")); bytes.Contains(k, []byte("PRIVATE+KEY")) {
		t.Fatal("witness key stored in the clear")
	}
	if _, _, code := evote(t, append(secret, "witness", "keygen", "--name", "a b", "--key", in("w2.key"), "--pub", in("w2.vkey"))...); code != 2 {
		t.Fatalf("bad name: exit %d, want 2", code)
	}
	wv, err := witness.NewVerifier(strings.TrimSpace(string(mustRead(t, in("witness.vkey")))))
	if err != nil {
		t.Fatal(err)
	}

	// The board's signer, read back as the board would.
	kr, err := (&globals{passphraseFile: pass}).keyring()
	if err != nil {
		t.Fatal(err)
	}
	skey, err := kr.ReadFile(in("board.key"))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	bv, err := note.NewVerifier(strings.TrimSpace(string(mustRead(t, in("board.vkey")))))
	if err != nil {
		t.Fatal(err)
	}

	serve := func() (string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncWriter{ready: make(chan string, 1)}
		errs := &syncWriter{}
		root := newRoot(out, errs)
		root.SetArgs(append(secret, "witness", "serve", "--key", in("witness.key"), "--log", in("board.vkey"),
			"--state", in("state"), "--listen", "127.0.0.1:0"))
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		select {
		case u := <-out.ready:
			return u, func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("witness serve: %v", err)
				}
			}
		case err := <-done:
			t.Fatalf("witness serve: %v\n%s", err, errs)
		case <-time.After(10 * time.Second):
			t.Fatalf("witness serve did not start:\n%s", errs)
		}
		return "", nil
	}

	var tr memTree
	for i := range 5 {
		tr.add(t, []byte{byte(i)})
	}
	url, stop := serve()
	cp := tr.checkpoint(t, bs)
	lines, err := httpwitness.AddCheckpoint(context.Background(), url, nil, 0, nil, cp.Signed)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.OpenCosigned(append(bytes.Clone(cp.Signed), lines...), bv, []note.Verifier{wv}, 1)
	if err != nil || c.Cosigners[0] != "witness.example" {
		t.Fatalf("cosigned checkpoint: %v", err)
	}
	stop()

	// Restarted, it remembers size 5.
	url, stop = serve()
	defer stop()
	for i := 5; i < 9; i++ {
		tr.add(t, []byte{byte(i)})
	}
	cp = tr.checkpoint(t, bs)
	_, err = httpwitness.AddCheckpoint(context.Background(), url, nil, 0, nil, cp.Signed)
	var ce *httpwitness.ConflictError
	if !errors.As(err, &ce) || ce.Size != 5 {
		t.Fatalf("after restart, old 0: %v, want 409 naming 5", err)
	}
	p, err := tlog.ProveTree(9, 5, &tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := httpwitness.AddCheckpoint(context.Background(), url, nil, 5, p, cp.Signed); err != nil {
		t.Fatal(err)
	}
}

type memTree struct {
	hashes []tlog.Hash
	n      int64
}

func (m *memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTree) add(t *testing.T, leaf []byte) {
	hs, err := tlog.StoredHashes(m.n, store.Leaf(store.Ballot, leaf), m)
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.n++
}

func (m *memTree) checkpoint(t *testing.T, s note.Signer) *store.Checkpoint {
	h, err := tlog.TreeHash(m.n, m)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.SignCheckpoint(s, uint64(m.n), h)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
