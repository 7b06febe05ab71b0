package bolt_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/evote/evote/store"
	"github.com/evote/evote/store/storetest"
)

func leaf300(i int) []byte {
	b := make([]byte, 300)
	copy(b, fmt.Sprint("ballot ", i))
	return store.Leaf(store.Ballot, b[:299])
}

// BenchmarkAppend appends 300-byte leaves with unique keys from 64
// goroutines per core, with and without group commit (the conformance
// suite's benchmark, on bbolt).
func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, newEngine) }

// fill returns a log of n 300-byte leaves.
func fill(b *testing.B, n int) store.Log {
	l := open(b, b.TempDir(), nil)
	mustAppend(b, l, store.Append{Leaf: manifest()})
	const par = 256
	errs := make(chan error, par)
	for w := range par {
		go func() {
			for i := w + 1; i < n; i += par {
				if _, err := l.Append(ctx, store.Append{Leaf: leaf300(i)}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range par {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return l
}

func BenchmarkProveInclusion(b *testing.B) {
	l := fill(b, 100_000)
	defer l.Close()
	cp, _ := l.Checkpoint(ctx)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := l.ProveInclusion(uint64(i*7919)%cp.Size, cp.Size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExportImport100k exports a 100,000-leaf log and reads it back.
func BenchmarkExportImport100k(b *testing.B) {
	l := fill(b, 100_000)
	defer l.Close()
	_, v := keys(b)
	var buf bytes.Buffer
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if err := l.Export(&buf); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
	b.Run("import", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		for b.Loop() {
			r := store.NewReader(bytes.NewReader(buf.Bytes()), v)
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
