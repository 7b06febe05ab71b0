// Package bolt is the embedded default store.Engine: one bbolt file in a
// data directory. It only stores and reads bytes; store.New builds the Log
// over it (validation, group commit, checkpoints, proofs, export), and
// [Open] does both.
//
// The file is laid out as store/SPEC.md says: buckets leaves (8-byte index
// → leaf), hashes (8-byte tlog stored-hash index → 32-byte hash), keys (key
// → 8-byte index) and meta (size, origin, keyhash).
//
// Only one process may open a data directory; a second gets ErrLocked after
// Options.LockTimeout. Within the process, one Engine may serve many Logs.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/evote/evote/store"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// FileName is the database file inside the data directory.
const FileName = "log.db"

// ErrLocked means another process has the data directory open.
var ErrLocked = errors.New("store/bolt: the store is locked by another process")

// Options tune an Engine. The zero value is the production default.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the directory; zero means 2s.
	LockTimeout time.Duration
	// ReadOnly opens the store only to read it (evote board export
	// --store): the file is not changed, not even by the open, and other
	// read-only opens may share it, but not a board, which holds it
	// alone. Update fails, and so does Bind on a store not yet bound.
	ReadOnly bool
}

// Engine is a store.Engine in a bbolt file.
type Engine struct {
	db *bbolt.DB
}

var (
	_ store.Engine    = (*Engine)(nil)
	_ store.KeyLister = (*Engine)(nil)
)

var (
	bLeaves = []byte("leaves") // 8-byte index -> leaf
	bHashes = []byte("hashes") // 8-byte tlog stored hash index -> hash
	bKeys   = []byte("keys")   // key -> 8-byte index
	bMeta   = []byte("meta")
	kSize   = []byte("size")
	kOrigin = []byte("origin")
	kKey    = []byte("keyhash")
)

// Open opens or creates the log in dir, with checkpoints signed by signer
// and the default store.Options: OpenEngine, then store.New.
func Open(dir string, signer note.Signer, opts *Options) (store.Log, error) {
	e, err := OpenEngine(dir, opts)
	if err != nil {
		return nil, err
	}
	l, err := store.New(e, signer, nil)
	if err != nil {
		e.Close()
		return nil, err
	}
	return l, nil
}

// OpenEngine opens or creates the store in dir.
func OpenEngine(dir string, opts *Options) (*Engine, error) {
	if opts == nil {
		opts = &Options{}
	}
	path := filepath.Join(dir, FileName)
	if opts.ReadOnly {
		// bbolt would create a missing file even read-only.
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store/bolt: no log in %s: %w", dir, err)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store/bolt: creating data directory: %w", err)
	}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s; stop the other board or use another data directory", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("store/bolt: opening %s: %w", path, err)
	}
	if opts.ReadOnly {
		err := db.View(func(tx *bbolt.Tx) error {
			for _, b := range [][]byte{bLeaves, bHashes, bKeys, bMeta} {
				if tx.Bucket(b) == nil {
					return fmt.Errorf("it has no %s bucket: not a board's log", b)
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("store/bolt: opening %s: %w", path, err)
		}
		return &Engine{db: db}, nil
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bLeaves, bHashes, bKeys, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store/bolt: opening %s: %w", path, err)
	}
	return &Engine{db: db}, nil
}

// Bind implements store.Engine. A store already bound is only read, so
// a read-only one binds to its own key.
func (e *Engine) Bind(ctx context.Context, origin string, keyHash uint32) error {
	var kh [4]byte
	binary.BigEndian.PutUint32(kh[:], keyHash)
	check := func(tx *bbolt.Tx) (bound bool, err error) {
		m := tx.Bucket(bMeta)
		o := m.Get(kOrigin)
		if o == nil {
			return false, nil
		}
		if string(o) != origin || !bytes.Equal(m.Get(kKey), kh[:]) {
			return true, fmt.Errorf("store/bolt: %s holds the log %q (key %x), not %q (key %x); open it with its own key", e.db.Path(), o, m.Get(kKey), origin, kh)
		}
		return true, nil
	}
	var bound bool
	err := e.db.View(func(tx *bbolt.Tx) (err error) { bound, err = check(tx); return err })
	if err != nil || bound {
		return err
	}
	return e.db.Update(func(tx *bbolt.Tx) error {
		if bound, err := check(tx); err != nil || bound {
			return err
		}
		m := tx.Bucket(bMeta)
		if err := m.Put(kOrigin, []byte(origin)); err != nil {
			return err
		}
		return m.Put(kKey, kh[:])
	})
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func size(tx *bbolt.Tx) uint64 {
	v := tx.Bucket(bMeta).Get(kSize)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func hashes(tx *bbolt.Tx, indexes []int64) ([]tlog.Hash, error) {
	b := tx.Bucket(bHashes)
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		v := b.Get(u64(uint64(x)))
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("store/bolt: tree hash %d is missing; the database is damaged, restore it from a backup or an export", x)
		}
		copy(out[i][:], v)
	}
	return out, nil
}

func lookup(tx *bbolt.Tx, key []byte) (uint64, bool) {
	x := tx.Bucket(bKeys).Get(key)
	if len(x) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(x), true
}

// Size implements store.EngineReader.
func (e *Engine) Size(ctx context.Context) (n uint64, err error) {
	err = e.db.View(func(tx *bbolt.Tx) error { n = size(tx); return nil })
	return n, err
}

// Hashes implements store.EngineReader.
func (e *Engine) Hashes(ctx context.Context, indexes []int64) (hs []tlog.Hash, err error) {
	err = e.db.View(func(tx *bbolt.Tx) error { hs, err = hashes(tx, indexes); return err })
	return hs, err
}

// Lookup implements store.EngineReader.
func (e *Engine) Lookup(ctx context.Context, key []byte) (index uint64, ok bool, err error) {
	err = e.db.View(func(tx *bbolt.Tx) error { index, ok = lookup(tx, key); return nil })
	return index, ok, err
}

// keysPerRead is how many keys Keys reads in one read transaction.
const keysPerRead = 4096

// Keys implements store.KeyLister: in key order, keysPerRead keys per
// short read transaction, each copied out before fn sees it.
func (e *Engine) Keys(ctx context.Context, fn func(key []byte, index uint64) error) error {
	var after []byte
	for {
		type kv struct {
			k []byte
			i uint64
		}
		var page []kv
		err := e.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bKeys).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < keysPerRead; k, v = c.Next() {
				if len(v) != 8 {
					return fmt.Errorf("store/bolt: key %x holds no index; the database is damaged, restore it from a backup or an export", k)
				}
				page = append(page, kv{bytes.Clone(k), binary.BigEndian.Uint64(v)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(page) > 0 {
			after = bytes.Clone(page[len(page)-1].k) // before fn, which owns the keys
		}
		for _, p := range page {
			if err := fn(p.k, p.i); err != nil {
				return err
			}
		}
		if len(page) < keysPerRead {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Leaves implements store.Engine: one short read transaction, whose leaves
// are copied out before it ends.
func (e *Engine) Leaves(ctx context.Context, start, end uint64, maxBytes int) ([][]byte, error) {
	var out [][]byte
	err := e.db.View(func(tx *bbolt.Tx) error {
		n := size(tx)
		if start >= n {
			return fmt.Errorf("%w: entry %d; the log holds %d", store.ErrNotFound, start, n)
		}
		end = min(end, n)
		c := tx.Bucket(bLeaves).Cursor()
		total := 0
		j := start
		for k, v := c.Seek(u64(start)); j < end && (j == start || total < maxBytes); k, v = c.Next() {
			if k == nil || binary.BigEndian.Uint64(k) != j {
				return fmt.Errorf("store/bolt: entry %d is missing; the database is damaged, restore it from a backup or an export", j)
			}
			out = append(out, bytes.Clone(v)) // v lives only as long as tx
			total += len(v)
			j++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update implements store.Engine: one bbolt read-write transaction and
// its fsync. (Appends are grouped into one Update by the store.Log above;
// bbolt's own DB.Batch is not needed.)
func (e *Engine) Update(ctx context.Context, fn func(store.Tx) error) error {
	return e.db.Update(func(tx *bbolt.Tx) error { return fn(boltTx{tx}) })
}

// Close implements store.Engine.
func (e *Engine) Close() error { return e.db.Close() }

type boltTx struct{ tx *bbolt.Tx }

func (t boltTx) Size(ctx context.Context) (uint64, error) { return size(t.tx), nil }

func (t boltTx) Hashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return hashes(t.tx, indexes)
}

func (t boltTx) Lookup(ctx context.Context, key []byte) (uint64, bool, error) {
	i, ok := lookup(t.tx, key)
	return i, ok, nil
}

func (t boltTx) Append(ctx context.Context, leaf []byte, hs []tlog.Hash, keys [][]byte) error {
	n := size(t.tx)
	hb := t.tx.Bucket(bHashes)
	hb.FillPercent = 1 // keys only ever grow
	first := uint64(tlog.StoredHashIndex(0, int64(n)))
	for i, h := range hs {
		if err := hb.Put(u64(first+uint64(i)), h[:]); err != nil {
			return fmt.Errorf("store/bolt: %w", err)
		}
	}
	lb := t.tx.Bucket(bLeaves)
	lb.FillPercent = 1
	if err := lb.Put(u64(n), leaf); err != nil {
		return fmt.Errorf("store/bolt: %w", err)
	}
	kb := t.tx.Bucket(bKeys)
	for _, k := range keys {
		if err := kb.Put(k, u64(n)); err != nil {
			return fmt.Errorf("store/bolt: %w", err)
		}
	}
	if err := t.tx.Bucket(bMeta).Put(kSize, u64(n+1)); err != nil {
		return fmt.Errorf("store/bolt: %w", err)
	}
	return nil
}
