package store_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/evote/evote/store"
)

// FuzzParseCheckpoint checks ParseCheckpoint never panics and accepts only
// the one canonical encoding: whatever it accepts, SignCheckpoint writes
// back byte for byte.
func FuzzParseCheckpoint(f *testing.F) {
	s, v := testKeys(f)
	m := newTree(f, 5, 10)
	for _, n := range []int{1, 2, 5} {
		f.Add(m.checkpoint(f, s, n).Signed)
	}
	f.Add([]byte("evote.example/test-board\n1\nAAAA\n\n— evote.example/test-board AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := store.ParseCheckpoint(b, v)
		if err != nil {
			return
		}
		again, err := store.SignCheckpoint(s, cp.Size, cp.Hash)
		if err != nil || !bytes.Equal(again.Signed, b) {
			t.Fatalf("accepted a non-canonical checkpoint:\n%q\nwant\n%q", b, again.Signed)
		}
	})
}

// FuzzReader checks the export reader never panics and that whatever it
// accepts, the Writer writes back byte for byte.
func FuzzReader(f *testing.F) {
	s, v := testKeys(f)
	small, err := os.ReadFile("testdata/small.record")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add(record(f, newTree(f, 1, 3), s))
	f.Add(record(f, newTree(f, 9, 30), s))
	f.Add(small[:40])
	f.Add([]byte(store.Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := store.NewReader(bytes.NewReader(b), v)
		var out bytes.Buffer
		w := store.NewWriter(&out)
		for {
			l, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if r.Checkpoint() != nil {
					t.Fatal("checkpoint returned after an error")
				}
				return
			}
			if err := w.Append(l); err != nil {
				t.Fatalf("reader returned leaf %d the writer refuses: %v", r.Count()-1, err)
			}
		}
		if err := w.Finish(r.Checkpoint()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatal("accepted record is not what the Writer writes")
		}
	})
}
