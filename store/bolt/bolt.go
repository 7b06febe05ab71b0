// Package bolt is the embedded default store.Log, one bbolt file in a data
// directory.
//
// Appends use group commit: concurrent Append calls share one bbolt write
// transaction and one fsync (bbolt's DB.Batch), and each returns only after
// that commit. A refused append (invalid leaf, duplicate key, failed check)
// is recorded and skipped inside the shared transaction, so it neither
// writes anything nor fails the others. Options.NoGroupCommit gives one
// transaction and fsync per append instead, for comparison.
//
// Checkpoints are signed lazily: Checkpoint signs the current tree only if
// the last one handed out does not already cover every committed leaf, and
// one signer runs at a time, so many concurrent appenders share a few
// signatures. Checkpoints are not stored: the note signature is
// deterministic, so CheckpointAt signs the tree of any size again and gets
// the very bytes handed out before (measured: storing each one cost a second
// fsync on every receipt's path and halved casting throughput).
//
// Only one process may open a data directory; a second gets ErrLocked after
// Options.LockTimeout.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
var ErrLocked = errors.New("store is locked by another process")

// Options tune a Log. The zero value is the production default.
type Options struct {
	// NoGroupCommit commits each append in its own transaction and fsync.
	NoGroupCommit bool
	// MaxBatchSize and MaxBatchDelay bound a group commit: a group is
	// committed when it holds MaxBatchSize appends or MaxBatchDelay after
	// it started. Zero means 1000 and 2ms (measured: 2ms gives 3x the
	// throughput of bbolt's 10ms default, 1ms no more than 2ms).
	MaxBatchSize  int
	MaxBatchDelay time.Duration
	// LockTimeout is how long Open waits for another process to release
	// the directory; zero means 2s.
	LockTimeout time.Duration
}

// Log is a store.Log in a bbolt file.
type Log struct {
	db     *bbolt.DB
	signer note.Signer
	commit func(func(*bbolt.Tx) error) error

	signMu sync.Mutex
	latest atomic.Pointer[store.Checkpoint]
}

var _ store.Log = (*Log)(nil)

var (
	bLeaves = []byte("leaves") // 8-byte index -> leaf
	bHashes = []byte("hashes") // 8-byte tlog stored hash index -> hash
	bKeys   = []byte("keys")   // key -> 8-byte index
	bMeta   = []byte("meta")
	kSize   = []byte("size")
	kOrigin = []byte("origin")
	kKey    = []byte("keyhash")
)

// Open opens or creates the log in dir. Checkpoints are signed by signer,
// whose name is the log's origin; a directory created for one origin and
// key refuses any other.
func Open(dir string, signer note.Signer, opts *Options) (*Log, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store/bolt: creating data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store/bolt: %s: %w; stop the other board or use another data directory", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store/bolt: opening %s: %w", path, err)
	}
	if opts.MaxBatchSize > 0 {
		db.MaxBatchSize = opts.MaxBatchSize
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	if opts.MaxBatchDelay > 0 {
		db.MaxBatchDelay = opts.MaxBatchDelay
	}
	l := &Log{db: db, signer: signer, commit: db.Batch}
	if opts.NoGroupCommit {
		l.commit = db.Update
	}
	var kh [4]byte
	binary.BigEndian.PutUint32(kh[:], signer.KeyHash())
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bLeaves, bHashes, bKeys, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bMeta)
		if o := m.Get(kOrigin); o != nil {
			if string(o) != signer.Name() || !bytes.Equal(m.Get(kKey), kh[:]) {
				return fmt.Errorf("store/bolt: %s holds the log %q (key %x), not %q (key %x); open it with its own key", path, o, m.Get(kKey), signer.Name(), kh)
			}
			return nil
		}
		if err := m.Put(kOrigin, []byte(signer.Name())); err != nil {
			return err
		}
		return m.Put(kKey, kh[:])
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// hashReader reads tlog stored hashes in tx.
type hashReader struct{ tx *bbolt.Tx }

func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	b := r.tx.Bucket(bHashes)
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

func size(tx *bbolt.Tx) uint64 {
	v := tx.Bucket(bMeta).Get(kSize)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

type view struct {
	tx   *bbolt.Tx
	size uint64
}

func (v view) Size() uint64 { return v.size }

func (v view) Lookup(key []byte) (uint64, bool) {
	if len(key) == 0 {
		return 0, false
	}
	x := v.tx.Bucket(bKeys).Get(key)
	if x == nil {
		return 0, false
	}
	return binary.BigEndian.Uint64(x), true
}

func checkKey(k []byte) error {
	if len(k) == 0 || len(k) > store.MaxKeySize {
		return fmt.Errorf("store/bolt: key of %d bytes; keys are 1 to %d bytes", len(k), store.MaxKeySize)
	}
	return nil
}

// Append implements store.Log.
func (l *Log) Append(ctx context.Context, a store.Append) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if a.Key != nil {
		if err := checkKey(a.Key); err != nil {
			return 0, err
		}
	}
	for _, k := range a.SetKeys {
		if err := checkKey(k); err != nil {
			return 0, err
		}
	}
	var index uint64
	var refused error
	err := l.commit(func(tx *bbolt.Tx) error {
		// This may run more than once (bbolt retries a batch); start clean.
		index, refused = 0, nil
		var err error
		index, refused, err = appendTx(tx, &a)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store/bolt: %w: %w", store.ErrNotStored, err)
	}
	if refused != nil {
		return 0, refused
	}
	return index, nil
}

// appendTx checks and appends a in tx. A refusal is returned as refused and
// writes nothing; err is a storage failure that aborts the transaction.
func appendTx(tx *bbolt.Tx, a *store.Append) (index uint64, refused, err error) {
	n := size(tx)
	if err := store.ValidateLeaf(n, a.Leaf); err != nil {
		return 0, err, nil
	}
	v := view{tx, n}
	if a.Check != nil {
		if err := runCheck(a.Check, v); err != nil {
			return 0, fmt.Errorf("store/bolt: append refused by check: %w", err), nil
		}
	}
	if a.Key != nil && !a.Replace {
		if old, ok := v.Lookup(a.Key); ok {
			return 0, fmt.Errorf("%w: key %x already points at entry %d", store.ErrDuplicate, a.Key, old), nil
		}
	}
	hashes, err := tlog.StoredHashes(int64(n), a.Leaf, hashReader{tx})
	if err != nil {
		return 0, nil, err
	}
	hb := tx.Bucket(bHashes)
	hb.FillPercent = 1 // keys only ever grow
	first := tlog.StoredHashIndex(0, int64(n))
	for i, h := range hashes {
		if err := hb.Put(u64(uint64(first)+uint64(i)), h[:]); err != nil {
			return 0, nil, err
		}
	}
	lb := tx.Bucket(bLeaves)
	lb.FillPercent = 1
	if err := lb.Put(u64(n), a.Leaf); err != nil {
		return 0, nil, err
	}
	kb := tx.Bucket(bKeys)
	if a.Key != nil {
		if err := kb.Put(a.Key, u64(n)); err != nil {
			return 0, nil, err
		}
	}
	for _, k := range a.SetKeys {
		if err := kb.Put(k, u64(n)); err != nil {
			return 0, nil, err
		}
	}
	return n, nil, tx.Bucket(bMeta).Put(kSize, u64(n+1))
}

// runCheck runs check, turning a panic into a refusal of this append only,
// so one faulty check cannot fail or re-run the rest of its group.
func runCheck(check func(store.View) error, v view) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	return check(v)
}

// Size implements store.Log.
func (l *Log) Size() (n uint64, err error) {
	err = l.db.View(func(tx *bbolt.Tx) error { n = size(tx); return nil })
	return n, err
}

// Leaf implements store.Log.
func (l *Log) Leaf(index uint64) (leaf []byte, err error) {
	err = l.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bLeaves).Get(u64(index))
		if v == nil {
			return fmt.Errorf("%w: entry %d; the log holds %d", store.ErrNotFound, index, size(tx))
		}
		leaf = bytes.Clone(v)
		return nil
	})
	return leaf, err
}

// Lookup implements store.Log.
func (l *Log) Lookup(key []byte) (index uint64, ok bool, err error) {
	err = l.db.View(func(tx *bbolt.Tx) error {
		index, ok = view{tx: tx}.Lookup(key)
		return nil
	})
	return index, ok, err
}

// Checkpoint implements store.Log.
func (l *Log) Checkpoint(ctx context.Context) (*store.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, err := l.Size()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the log is empty, so it has no checkpoint; append the manifest first", store.ErrNotFound)
	}
	if cp := l.latest.Load(); cp != nil && cp.Size >= n {
		return cp, nil
	}
	l.signMu.Lock()
	defer l.signMu.Unlock()
	if cp := l.latest.Load(); cp != nil && cp.Size >= n {
		return cp, nil // signed by another caller while we waited
	}
	var root tlog.Hash
	err = l.db.View(func(tx *bbolt.Tx) (err error) {
		n = size(tx)
		root, err = tlog.TreeHash(int64(n), hashReader{tx})
		return err
	})
	if err != nil {
		return nil, err
	}
	cp, err := store.SignCheckpoint(l.signer, n, root)
	if err != nil {
		return nil, err
	}
	l.latest.Store(cp)
	return cp, nil
}

// CheckpointAt implements store.Log. Checkpoints are not stored: a note
// signature (Ed25519) is deterministic, so signing the tree of size n again
// gives, byte for byte, the checkpoint handed out for n before. That keeps a
// second fsync off every receipt's path.
func (l *Log) CheckpointAt(n uint64) (*store.Checkpoint, error) {
	if cp := l.latest.Load(); cp != nil && cp.Size == n {
		return cp, nil
	}
	var root tlog.Hash
	err := l.db.View(func(tx *bbolt.Tx) (err error) {
		if cur := size(tx); n == 0 || n > cur {
			return fmt.Errorf("%w: no checkpoint of size %d: the log holds %d entries", store.ErrNotFound, n, cur)
		}
		root, err = tlog.TreeHash(int64(n), hashReader{tx})
		return err
	})
	if err != nil {
		return nil, err
	}
	return store.SignCheckpoint(l.signer, n, root)
}

// ProveInclusion implements store.Log.
func (l *Log) ProveInclusion(index, n uint64) (p tlog.RecordProof, err error) {
	err = l.db.View(func(tx *bbolt.Tx) error {
		if cur := size(tx); index >= n || n > cur {
			return fmt.Errorf("%w: cannot prove entry %d in a tree of size %d; the log holds %d", store.ErrNotFound, index, n, cur)
		}
		p, err = tlog.ProveRecord(int64(n), int64(index), hashReader{tx})
		return err
	})
	return p, err
}

// ProveConsistency implements store.Log.
func (l *Log) ProveConsistency(oldSize, newSize uint64) (p tlog.TreeProof, err error) {
	err = l.db.View(func(tx *bbolt.Tx) error {
		if cur := size(tx); oldSize == 0 || oldSize > newSize || newSize > cur {
			return fmt.Errorf("%w: cannot prove size %d a prefix of size %d; need 0 < old <= new <= %d", store.ErrNotFound, oldSize, newSize, cur)
		}
		p, err = tlog.ProveTree(int64(newSize), int64(oldSize), hashReader{tx})
		return err
	})
	return p, err
}

// Export reads the log in batches of at most exportBatchLeaves leaves or
// exportBatchBytes bytes (one leaf may take a batch past it), each in a
// short read transaction, and writes a batch only after its transaction
// has ended. A write to the network may block for as long as the client
// likes, and bbolt can grow its memory map only once every reader is out:
// an export that wrote inside its transaction let one unread download stop
// every cast and /healthz after about 100 casts, until the write timeout
// (5 minutes) cut it off. A batch is a copy, so a blocked export holds
// memory, never the store: at most 1 MiB and 64 KiB of leaves, plus the
// record writer's 64 KiB buffer. Measured on 100,000 leaves of 300 bytes:
// a batch's transaction lasts 0.35 ms on average (5 ms at worst), and the
// export as a whole is about 10% slower for the copy.
const (
	exportBatchLeaves = 4096
	exportBatchBytes  = 1 << 20
)

// Export implements store.Log: it writes the record up to a fresh
// checkpoint. Leaves below the checkpoint's size never change, so reading
// them over many transactions gives the same bytes as reading them in one.
func (l *Log) Export(w io.Writer) error {
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		return err
	}
	ew := store.NewWriter(w)
	var batch []byte // the batch's leaves, one after the other
	var ends []int   // where each leaf of the batch ends in it
	for i := uint64(0); i < cp.Size; {
		batch, ends = batch[:0], ends[:0]
		err := l.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bLeaves).Cursor()
			end := min(i+exportBatchLeaves, cp.Size)
			j := i
			for k, v := c.Seek(u64(i)); j < end && len(batch) < exportBatchBytes; k, v = c.Next() {
				if k == nil || binary.BigEndian.Uint64(k) != j {
					return fmt.Errorf("store/bolt: entry %d is missing; the database is damaged, restore it from a backup or an export", j)
				}
				batch = append(batch, v...) // v lives only as long as tx
				ends = append(ends, len(batch))
				j++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store/bolt: export: %w", err)
		}
		// The transaction is over: from here on the writes may block.
		start := 0
		for _, e := range ends {
			if err := ew.Append(batch[start:e]); err != nil {
				return fmt.Errorf("store/bolt: export: %w", err)
			}
			start = e
		}
		i += uint64(len(ends))
	}
	if err := ew.Finish(cp); err != nil {
		return fmt.Errorf("store/bolt: export: %w", err)
	}
	return nil
}

// Close implements store.Log.
func (l *Log) Close() error { return l.db.Close() }
