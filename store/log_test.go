package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/store"
)

var ctx = context.Background()

// failing is an engine whose commits fail while fail is set, as a full
// disk would.
type failing struct {
	store.Engine
	mu   sync.Mutex
	fail bool
}

var errDiskFull = errors.New("disk full")

func (f *failing) Update(ctx context.Context, fn func(store.Tx) error) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if !fail {
		return f.Engine.Update(ctx, fn)
	}
	return f.Engine.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errDiskFull // fn's writes are rolled back
	})
}

// A storage failure fails every append of its group with ErrNotStored,
// stores none of them, and the same appends succeed once it is over.
func TestLogStorageFailure(t *testing.T) {
	s, _ := testKeys(t)
	e := &failing{Engine: store.NewMemEngine()}
	l, err := store.New(e, s, &store.Options{MaxBatchDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, nil)}); err != nil {
		t.Fatal(err)
	}
	e.fail = true
	appendMany := func() []error {
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = l.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, fmt.Append(nil, i)), Key: fmt.Append(nil, "k", i)})
			})
		}
		wg.Wait()
		return errs
	}
	for i, err := range appendMany() {
		if !errors.Is(err, store.ErrNotStored) || !errors.Is(err, errDiskFull) {
			t.Fatalf("append %d on a failing disk: %v, want ErrNotStored wrapping the engine's error", i, err)
		}
	}
	if n, _ := l.Size(); n != 1 {
		t.Fatalf("size %d after failed appends, want 1", n)
	}
	if _, ok, _ := l.Lookup([]byte("k0")); ok {
		t.Fatal("a failed append's key was stored")
	}
	e.mu.Lock()
	e.fail = false
	e.mu.Unlock()
	for i, err := range appendMany() {
		if err != nil {
			t.Fatalf("append %d retried: %v", i, err)
		}
	}
}

type keepOpen struct{ store.Engine }

func (keepOpen) Close() error { return nil }

// Close commits the appends already submitted before it closes the
// engine, and refuses appends after it.
func TestLogCloseCommitsPending(t *testing.T) {
	s, _ := testKeys(t)
	e := store.NewMemEngine()
	l, err := store.New(keepOpen{e}, s, &store.Options{MaxBatchDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	appended := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, nil)})
		appended <- err
	}()
	time.Sleep(50 * time.Millisecond) // the append waits in its group, for an hour
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-appended; err != nil {
		t.Fatalf("an append pending at Close: %v", err)
	}
	if n, _ := e.Size(ctx); n != 1 {
		t.Fatalf("size %d after Close, want the pending append", n)
	}
	if _, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, nil)}); err == nil {
		t.Fatal("append after Close")
	}
}
